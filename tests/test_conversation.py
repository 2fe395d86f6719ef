"""Follow-up questions read against the conversation (rag/conversation.py), through the real assistant."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from rag.conversation import user_turns
from rag.errors import InvalidQuestionError

SHAOXING_Q = "绍兴2025年技术交易额目标是多少?"


def _turns(*pairs):
    out = []
    for q, a in pairs:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return out


def test_history_is_read_in_every_usual_shape():
    dicts = _turns((SHAOXING_Q, "450亿元"), ("那赣州呢?", "…"))
    lc = [HumanMessage(SHAOXING_Q), AIMessage("450亿元"), HumanMessage("那赣州呢?"), AIMessage("…")]
    pairs = [[SHAOXING_Q, "450亿元"], ["那赣州呢?", "…"]]
    multimodal = [{"role": "user", "content": [{"type": "text", "text": SHAOXING_Q}]},
                  {"role": "assistant", "content": "450亿元"}, {"role": "user", "content": "那赣州呢?"}]
    for history in (dicts, lc, pairs, multimodal):
        assert user_turns(history) == [SHAOXING_Q, "那赣州呢?"]
    assert user_turns(None) == [] and user_turns([]) == []
    for bad in ("绍兴", [42], {"role": "user"}):
        with pytest.raises(InvalidQuestionError, match="history"):
            user_turns(bad)


@pytest.mark.parametrize("history", [
    _turns((SHAOXING_Q, "450亿元")),
    [HumanMessage(SHAOXING_Q), AIMessage("450亿元")],
    [[SHAOXING_Q, "450亿元"]],
])
def test_a_follow_up_naming_only_a_new_place_inherits_the_rest(assistant, history):
    a = assistant.ask("那赣州呢?", history=history)
    assert a.question == "赣州2025年技术交易额目标是多少?"
    assert a.answer.startswith("（按上文理解为：赣州2025年技术交易额目标是多少?）")
    assert a.citations and all(c.city == "赣州" for c in a.citations)
    for c in a.citations:
        assert assistant.index.documents[c.doc_id].text[c.start:c.end] == c.quote


def test_follow_ups_chain_and_a_full_question_ignores_history(assistant):
    history = _turns((SHAOXING_Q, "450亿元"), ("那赣州呢?", "…"))
    a = assistant.ask("2015年呢?", history=history)
    assert a.question == "赣州2015年技术交易额目标是多少?" and a.refused  # no Ganzhou plan covers 2015
    a = assistant.ask("南昌2015年呢?", history=history)
    assert a.question == "南昌2015年技术交易额目标是多少?"
    full = "鹰潭2025年科技型中小企业入库数目标是多少?"
    a = assistant.ask(full, history=history)
    assert a.question == full and "按上文" not in a.answer and "520" in a.answer


def test_english_follow_ups(assistant):
    history = _turns(("What is Shaoxing's 2025 technology transaction target?", "45 billion yuan"))
    a = assistant.ask("And Ganzhou?", history=history)
    assert "Ganzhou" in a.question and "2025" in a.question and a.answer.startswith("(Read with the previous")
    assert a.citations and all(c.city == "赣州" for c in a.citations)
    a = assistant.ask("And Yingtan?", history=_turns((SHAOXING_Q, "450亿元")))  # a Chinese question goes on in Chinese
    assert a.question == "鹰潭2025年技术交易额目标是多少?"


def test_a_follow_up_that_changes_what_is_asked_keeps_the_place_and_year(assistant):
    a = assistant.ask("那研发投入强度呢?", history=_turns((SHAOXING_Q, "450亿元")))
    assert a.question.startswith("绍兴2025年") and "研发投入强度" in a.question
    assert a.citations and all(c.city == "绍兴" for c in a.citations)


def test_a_follow_up_that_compares_adds_the_place(assistant):
    a = assistant.ask("和赣州比呢?", history=_turns((SHAOXING_Q, "450亿元")))
    assert a.question == "绍兴和赣州2025年技术交易额目标是多少?"
    assert {c.city for c in a.citations} == {"绍兴", "赣州"}
