import pytest

from rag.numbers import (asked_figure_kind, asks_for_flow, is_flow, find_amounts, has_figure_of_kind, number_values, render_amount_en,
                         ungrounded_numbers)


def test_amounts_render_in_english():
    assert find_amounts("实现技术交易额450亿元") == [("450亿元", 4.5e10)]
    assert render_amount_en(4.5e10) == "45 billion yuan"
    assert render_amount_en(3.9e8) == "390 million yuan"
    assert render_amount_en(1.6e7) == "16 million yuan"


def test_grounding_compares_values_across_scripts():
    assert 4.5e10 in number_values("450亿元") and 4.5e10 in number_values("45 billion yuan")
    assert ungrounded_numbers("“实现技术交易额450亿元” (450亿元 = 45 billion yuan)", "实现技术交易额450亿元") == []
    assert ungrounded_numbers("target is 460亿元", "实现技术交易额450亿元") == ["460亿"]
    assert ungrounded_numbers("新增三十家", "新增30家") == []
    # list markers like 一是 / 十四五 are not figures
    assert ungrounded_numbers("一是十四五", "") == []


def test_dates_rendered_in_iso_are_grounded_in_their_scraped_form():
    assert ungrounded_numbers("“2022317”[1]（日期：2022-03-17）", "2022317") == []
    assert ungrounded_numbers("（日期：2022-03-18）", "2022317") != []


@pytest.mark.parametrize("question, kind", [
    ("到2026年,桓台县希望高科技产业在规模以上工业产出里占几成?", "percent"),
    ("What share of GDP does Guangxi aim to spend on R&D by 2025?", "percent"),
    ("绍兴2025年研发投入强度目标是多少?", "percent"),
    ("How much lending secured on patents does Luoyang expect in 2024?", "money"),
    ("南昌2015年安排了多少万元市科技发展专项经费?", "money"),
    ("昆山2024年准备请多少位专家到企业当科技副总?", "people"),
    ("How many science and technology commissioners will Enshi send out?", "people"),
    ("Compare the number of science and technology commissioners Enshi and Nanchang send out.", "people"),
    ("绍兴2025年技术交易额目标是多少?", None),  # unsaid: any figure may answer
    ("How many incubators does Shaoxing plan?", "count"),  # a count: any figure but money, a share or a date
    ("How much R&D spending (in money, not intensity) did Zhengding report?", "money"),
    ("研发经费投入是多少亿元（而不是强度）？", "money"),
    ("What one-off grant does Hainan give a newly recognised proof-of-concept centre?", "money"),
])
def test_the_kind_of_figure_a_question_asks_for(question, kind):
    assert asked_figure_kind(question) == kind


@pytest.mark.parametrize("text, kind, holds", [
    ("高新技术产业产值占比达到62%", "percent", True),
    ("比重提高2个百分点", "percent", True),
    ("占比达到六成", "percent", True),
    ("设立规模5000万元的风险补偿资金", "percent", False),
    ("设立规模5000万元的风险补偿资金", "money", True),
    ("全年知识产权质押融资额达到12亿元", "money", True),
    ("选聘“科技副总”150名", "people", True),
    ("每万名就业人员中研发人员达到18人年", "people", True),
    ("2024年新增孵化器3家", "people", False),  # 2024年 is a year, 3家 are enterprises
])
def test_figures_are_told_apart_by_kind(text, kind, holds):
    assert has_figure_of_kind(text, kind) is holds


def test_an_unknown_figure_kind_says_where_kinds_live():
    with pytest.raises(ValueError, match="figure_kinds.json"):
        has_figure_of_kind("12亿元", "weight")


def test_totals_and_what_was_added_are_told_apart():
    assert asks_for_flow("余杭区2023年新增了多少家孵化器?") and asks_for_flow("How many new incubators will Yuhang add?")
    assert not asks_for_flow("余杭区2023年底有多少家孵化器?")
    assert not asks_for_flow("How many incubators did Yuhang have at the end of 2023?")
    assert is_flow("新增省级以上科技企业孵化器4家") and not is_flow("全区省级以上科技企业孵化器达到41家")


@pytest.mark.parametrize("text, bare", [
    ("2023年底为486家", True), ("总数达到836家", True), ("上年为2.41%", True), ("（2023年为2.41%）", True),
    ("较2022年增长21.6%", True), ("同比增长9.8%", True), ("较2023年底的3050家实现翻番", False),
    ("高新技术企业达到900家", False), ("其中国家级3家", False), ("2023年", False), ("到2025年达到44亿元", True),
    ("到2025年全区技术合同成交额达到40亿元", False), ("新认定168家", True), ("申报320家", True),
])
def test_a_bare_figure_is_about_the_clause_before_it(text, bare):
    from rag.numbers import is_bare_figure

    assert is_bare_figure(text) == bare


def test_the_counting_unit_a_question_asks_in():
    from rag.numbers import asked_unit, has_figure_in

    assert asked_unit("到2026年全区高新技术企业要达到多少家？") == "家"
    assert asked_unit("新建几个研发平台？") == "个" and asked_unit("技术合同成交额目标是多少?") is None
    assert has_figure_in("高新技术企业达到900家", "家") and not has_figure_in("给予30万元奖励", "家")


def test_a_relative_year_word_and_its_offset():
    from rag.numbers import relative_year_offset

    assert relative_year_offset("长阳县去年一共往研究开发里投了多少钱？") == -1
    assert relative_year_offset("How many people will Yancheng bring in this year?") == 0
    assert relative_year_offset("较上年提高0.18个百分点") is None  # a comparison base
    assert relative_year_offset("up 12% over last year") is None
    assert relative_year_offset("技术合同成交额达到40亿元") is None


def test_a_how_many_question_asks_for_a_count_never_money_or_a_share():
    from rag.numbers import asked_figure_kind, has_figure_of_kind

    assert asked_figure_kind("how many high-tech enterprises did hunnan district have in total?") == "count"
    assert asked_figure_kind("how many researchers per 10,000 workers?") == "people"  # a more specific kind first
    assert asked_figure_kind("how many billion yuan?") == "money"
    assert asked_figure_kind("what total number of high-tech enterprises does golmud aim for?") == "count"
    assert asked_figure_kind("by how much does it aim to increase the number of project applications?") is None
    assert has_figure_of_kind("全区高新技术企业总数达到1 268家", "count")
    assert has_figure_of_kind("2025年力争引进高新技术企业10", "count")  # a count written with no unit
    assert not has_figure_of_kind("全年兑现各类资金4680万元", "count")
    assert not has_figure_of_kind("研发投入占比4.5%", "count") and not has_figure_of_kind("2025年3月5日", "count")


def test_asking_only_what_is_new():
    from rag.numbers import asks_for_new

    assert asks_for_new("今年新认定多少家高新技术企业") and asks_for_new("How many will it newly certify?")
    assert not asks_for_new("今年高新技术企业总数目标") and not asks_for_new("annual R&D spending")
    assert not asks_for_new("what is the total, not the new ones?")


def test_applications_and_stocks_are_told_apart():
    from rag.numbers import asks_about_applications, counts_applications, is_stock

    assert asks_about_applications("上半年有多少家企业申报高企认定") == (True, True)
    assert asks_about_applications("How many were newly certified?") == (False, True)
    assert asks_about_applications("绍兴有多少家高新技术企业") == (False, False)
    assert counts_applications("2025年度高新技术企业认定申报620家") and not counts_applications("新认定40家")
    assert is_stock("有效期内高新技术企业总数2 864家") and not is_stock("新认定高新技术企业40家")
    assert not is_stock("高新技术企业达到700家")  # a target level: neither said to be new nor a stock outright


def test_a_document_covers_the_years_its_relative_words_name():
    from rag.numbers import relative_years_written

    assert relative_years_written("去年茶叶综合产值182.6亿元。今年力争突破200亿元。", "2024-04-12") == {2023, 2024}
    assert relative_years_written("较上年增长9.8%", "2024-04-12") == frozenset()  # a comparison base
    assert relative_years_written("去年产值100亿元", None) == frozenset()
