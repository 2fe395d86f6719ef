"""Answer rules that need no index: what counts as a figure, which years a clause is about."""

from __future__ import annotations

import pytest

from rag.answer import ScoredClause, has_figure
from rag.clause_years import _clause_years


@pytest.mark.parametrize("text, expected", [
    ("技术合同成交额突破92亿元", True), ("六个产业集群", True), ("新增三家省级基地", True),
    ("建设一批创新型县", False), ("打造一个中心", False), ("深入贯彻党的二十大精神", False),
    ("2025年全市科技工作要点", False), ("(三)强化企业创新主体地位", False),
])
def test_what_counts_as_a_figure(text, expected):
    assert has_figure(text) is expected


@pytest.mark.parametrize("clause, lead, inner", [
    ("2024年度全社会研发投入强度2.4%", {2024}, set()),                          # the year before its figure
    ("高新技术企业总数达到 3 600 家，其中 2024 年新认定 420 家", set(), {2024}),  # figure first: year unknown
    ("技术合同成交额达到92亿元，比2024年增长10%", set(), set()),  # 2024 is only the base of the change
    ("全市研发投入持续增长", set(), set()),
])
def test_which_years_a_clause_is_about(clause, lead, inner):
    assert _clause_years(clause) == (lead, inner)


def test_a_comparison_base_year_does_not_set_what_a_clause_is_about():
    from rag.clause_years import _governing_year

    before = ("到２０２６年，全区科技型企业达到６０００家，较2023年底的3050家实现翻番；高新技术企业达到900家，"
              "2023年底为486家；全社会研发投入强度达到3.0%（2023年为2.41%），")
    assert _governing_year(before) == 2026
    assert _governing_year("2023年，全市技术合同成交额达到268亿元；2024年，") == 2024
    assert _governing_year("全市技术合同成交额达到268亿元，") is None


def test_a_term_matched_only_by_a_part_of_its_head_is_weaker_evidence():
    """"R&D intensity" is 研发投入强度 or 占GDP比重; 研发投入 alone (研发投入占营收比重) is another indicator."""
    from rag.answer import PART_FORM_MATCH, _strengths

    groups = (("研发投入强度", "研发经费投入强度", "研发投入", "强度", "占GDP比重"), ("高新技术企业总数", "高新技术企业"),
              ("实验室", "重点实验室"))
    assert _strengths(groups, "规上工业企业研发投入占营收比重4.0%", frozenset({0}))[0] == PART_FORM_MATCH
    assert _strengths(groups, "全社会r&d经费占gdp比重达到3.3%", frozenset({0}))[0] == 1.0
    assert _strengths(groups, "高新技术企业达到900家", frozenset({1}))[1] == 1.0  # the head less its measure word
    assert _strengths(groups, "加快建设江西省实验室鹰潭中心", frozenset({2}))[2] == 1.0


def test_a_bulleted_list_is_about_the_year_of_its_short_heading():
    from rag.clause_years import _list_heading_year

    text = "正文。\n\n【链接】\n2023年江阴科技创新“成绩单”\n·新增专精特新中小企业87家\n·技术合同登记额达到103亿元\n"
    line = text.index("·技术合同")
    assert _list_heading_year(text, line) == 2023
    assert _list_heading_year(text, text.index("正文")) is None  # not a list line
    # a blank line between the list and a line above ends the list: that line is no heading
    loose = "2023年工作总结\n\n·新增87家\n"
    assert _list_heading_year(loose, loose.index("·")) is None
    # ...unless the list is spaced out throughout: then the heading may be spaced from it too
    spaced = "2023年全州科技创新工作亮点\n\n1.新增省级平台2个。\n\n2.技术合同成交额48.6亿元。\n\n3.选派科技特派员1260名。\n"
    assert _list_heading_year(spaced, spaced.index("3.")) == 2023


def test_last_year_and_this_year_count_from_the_documents_date():
    from rag.clause_years import _relative_year
    from rag.documents import DocumentMetadata

    page = DocumentMetadata(title="page", published="2024-02-21")
    assert _relative_year("據了解，去年全市財政科技支出達到18.7億元", page) == 2023
    assert _relative_year("今年将设立总规模20亿元的母基金", page) == 2024
    assert _relative_year("较上年提高0.18个百分点", page) is None  # a comparison base, not the year meant
    assert _relative_year("去年全市…", DocumentMetadata(title="undated")) is None
    # the paragraph before a clause: its last relative word ("會議指出，去年全市…。全市全社會研發投入強度達到1.41%")
    assert _relative_year("會議指出，去年全市上下深入實施創新驅動發展戰略，成效明顯。", page, last=True) == 2023
    assert _relative_year("去年…；今年全市将", page, last=True) == 2024


def test_a_traditional_amount_is_money():
    from rag.numbers import find_amounts

    assert find_amounts("財政科技支出達到18.7億元") == [("18.7億元", 1.87e9)]


def test_a_comparison_base_year_is_not_the_year_a_change_is_about():
    from rag.clause_years import _clause_years

    assert _clause_years("较2022年增长21.6%") == (set(), set())  # the paragraph's year (2023) decides
    assert _clause_years("2024年度研发投入强度2.4%")[0] == {2024}
    assert _clause_years("较2023年底的3050家实现翻番")[0] == {2023}  # the base's own value: about 2023


def test_a_target_question_is_not_answered_by_a_figureless_clause_whose_own_words_miss_the_question():
    """"加大企业研发投入…" sits in a sentence about R&D intensity (its context covers the question) but names no
    target itself: without a figure, a target question needs the clause's own words to carry it."""
    from rag.answer import select_clauses
    from rag.chunking import Clause

    def scored(text, support, own, figure):
        c = Clause("d#1", "d#0", "d", 0, len(text), text, 0, len(text))
        return ScoredClause(c, 1.0, support, frozenset({0, 1}), 0, support, 0.8, figure, own, frozenset({0}))

    vague = scored("加大企业研发投入推动规上企业研发投入扩面提质", support=0.65, own=0.1, figure=False)
    assert select_clauses([vague], 0.25, wants_figure=False, prefers_figure=True) == []
    plain = scored("研发投入强度达到全省平均水平", support=0.65, own=0.6, figure=False)
    assert select_clauses([plain], 0.25, wants_figure=False, prefers_figure=True) == [plain]
