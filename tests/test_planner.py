"""Which plans answer a question (rag/planner.py), end to end: a place with no plan of its own."""

from __future__ import annotations

import pytest

# An invented prefecture news item that names two of its counties with figures of their own.
ENSHI_NEWS = ("恩施州召开2024年全州科技创新大会\n发布时间:2024-02-28 08:45    来源:恩施日报    作者:记者 向晓岚\n\n"
              "本报讯 2月27日,全州科技创新大会在恩施市召开。会议部署了2024年重点任务。\n"
              "2024年全州选派科技特派员1500名。\n"
              "从县市看，2024年利川市高新技术企业达到31家，建始县选派科技特派员120名。\n")


@pytest.fixture(scope="module")
def enshi(built, tmp_path_factory):
    from .conftest import assistant_with

    return assistant_with(built, tmp_path_factory.mktemp("enshi"), {"enshi_2024_st_conference_news.txt": ENSHI_NEWS})


def test_a_place_with_no_plan_is_answered_only_by_a_passage_of_a_plan_above_it_that_names_it(enshi):
    a = enshi.ask("利川市2024年有多少家高新技术企业?")  # a county-level city inside 恩施州, named in its news
    assert not a.refused and "31家" in a.answer and "利川" in a.answer.split("\n")[0], a.answer
    assert all("利川" in c.quote for c in a.citations)
    for c in a.citations:
        assert enshi.index.document(c.doc_id).text[c.start:c.end] == c.quote


def test_a_figure_a_plan_above_does_not_give_for_the_place_is_refused(enshi):
    # "建始县选派科技特派员120名" shares the sentence but is 建始's; 1500名 is the prefecture's
    a = enshi.ask("利川市2024年选派多少名科技特派员?")
    assert a.refused and "1500" not in a.answer and "120" not in a.answer and "利川" in a.answer, a.answer
    assert enshi.ask("利川市的科技规划是哪个部门发的?").refused  # it has no plan to have an issuer


def test_a_prefecture_question_is_not_answered_with_a_countys_figure(enshi):
    a = enshi.ask("恩施州2024年选派多少名科技特派员?")
    assert "1500名" in a.answer and "120名" not in a.answer, a.answer
