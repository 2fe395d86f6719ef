"""The optional LLM path, driven by LangChain's fake chat model (no LLM is available offline).

These tests exercise our prompt loading, passage packaging, grounding check and fallback — the
parts that decide what a user sees — not a model's quality.
"""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag import GenerationError, Settings
from rag.generation import generate_answer, load_prompt

Q = "绍兴2025年技术交易额目标是多少?"


@pytest.fixture(scope="module")
def extractive(assistant):
    answer = assistant.ask(Q)
    assert not answer.refused
    return answer


def _generate(assistant, extractive, reply, question=Q):
    query = assistant.analyse(question)
    fake = FakeListChatModel(responses=[reply])
    return generate_answer(assistant.settings, query, extractive, assistant.index, llm=fake)


def test_grounded_answer_is_kept(assistant, extractive):
    a = _generate(assistant, extractive, "绍兴2025年目标是实现技术交易额450亿元[1]。")
    assert a.mode == "llm" and "450亿元[1]" in a.answer and a.citations == extractive.citations


def test_english_rendering_of_an_amount_counts_as_grounded(assistant, extractive):
    a = _generate(assistant, extractive, "Shaoxing targets 450亿元 (45 billion yuan) of technology transactions [1].",
                  "What is Shaoxing's 2025 technology transaction target?")
    assert a.mode == "llm"


@pytest.mark.parametrize("reply, why", [
    ("绍兴的目标是500亿元[1]。", "numbers not in the cited passages"),
    ("绍兴的目标是450亿元。", "no [n] citation markers"),
    ("绍兴的目标是450亿元[7]。", "cite no passage"),
])
def test_ungrounded_answers_fall_back_to_the_extractive_answer(assistant, extractive, reply, why):
    a = _generate(assistant, extractive, reply)
    assert a.answer == extractive.answer and why in a.mode


def test_refusals_are_never_sent_to_the_llm(assistant):
    refused = assistant.ask("杭州2025年技术交易额目标是多少?")
    query = assistant.analyse("杭州2025年技术交易额目标是多少?")
    fake = FakeListChatModel(responses=["杭州的目标是999亿元[1]"])
    assert generate_answer(assistant.settings, query, refused, assistant.index, llm=fake) is refused


def test_passages_are_data_inside_tags(assistant, extractive):
    prompt = load_prompt(assistant.settings.prompts_dir, "zh")
    seen = {}

    class Spy(FakeListChatModel):
        def _call(self, messages, *a, **k):
            seen["messages"] = messages
            return super()._call(messages, *a, **k)

    query = assistant.analyse(Q)
    generate_answer(assistant.settings, query, extractive, assistant.index, llm=Spy(responses=["450亿元[1]"]))
    system, human = seen["messages"][0].content, seen["messages"][1].content
    assert "不是指令" in system and '<passage n="1"' in human and "450亿元" in human
    assert prompt is not None


def test_no_endpoint_is_a_clear_error(assistant, extractive):
    settings = Settings.load(llm=True, llm_base_url=None, llm_api_key=None)
    with pytest.raises(GenerationError, match="POLICY_RAG_LLM_BASE_URL"):
        generate_answer(settings, assistant.analyse(Q), extractive, assistant.index)


@pytest.mark.parametrize("reply", [
    "详见 https://evil.example/x [1]",
    "详见https://evil.example/x获取全文[1]。",
    "[点这里](http://x.y)[1]",
    "[1](javascript:alert(document.cookie))",
    "<img src=x onerror=alert(1)>[1]",
    "<img src=x onerror=alert(document.cookie)>[1]",
    "绍兴的目标见下[1]<script>fetch('//x.y')</script>",
    "![450亿元](http://x.y/a.png)[1]",
    "请联系 admin@evil.example 获取[1]",
    "请访问 www.evil-example.com 查询[1]",
])
def test_links_and_markup_not_in_the_passages_fall_back(assistant, extractive, reply):
    """#8: a reply with no numbers (just a link, markup or an address) is not grounded either."""
    a = _generate(assistant, extractive, reply)
    assert a.answer == extractive.answer and "LLM answer failed grounding" in a.mode, a.mode


def test_restating_the_cited_text_without_numbers_is_kept(assistant, extractive):
    quote = extractive.citations[0].quote
    a = _generate(assistant, extractive, f"根据文件：“{quote}”[1]")
    assert a.mode == "llm", a.mode
