from rag.numbers import find_amounts, number_values, render_amount_en, ungrounded_numbers


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
