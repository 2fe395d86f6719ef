"""Table rows read by their column headers (rag/tables.py)."""

from rag.tables import read_row

GAP_TABLE = ("表1\u3000“十四五”科技创新主要指标\n序号\u3000指标\u30002020年\u30002025年\u3000属性\n— 1 —\n"
             "吉林省“十四五”科技创新发展规划（节选）\n1\u3000全社会研发经费投入强度（%）\u30001.30\u30002.0\u3000预期性\n"
             "4\u3000高新技术企业数量（家）\u30002460\u30005000\u3000预期性\n8\u3000科技进步贡献率（%）\u300056\u300062\u3000预期性\n")
PIPE_TABLE = ("| 序号 | 指标 | 2023年完成 | 2024年目标 |\n|---|---|---|---|\n| 1 | 技术合同成交额(亿元) | 152.3 | 170 |\n"
              "| 7 | 省级以上科技企业孵化器(家) | 41 | 45 |\n")


def _read(text, needle):
    i = text.index(needle)
    return read_row(text, i, i + len(needle))


def test_a_row_separated_by_ideographic_spaces_is_read_under_its_header_across_page_furniture():
    r = _read(GAP_TABLE, "科技进步贡献率（%）")
    assert GAP_TABLE[slice(*r.header)] == "序号\u3000指标\u30002020年\u30002025年\u3000属性"
    assert r.cells == (("2020年", "56%"), ("2025年", "62%"))  # the 序号 column is no figure
    assert r.for_years((2025,)) == (("2025年", "62%"),) and r.for_years((2030,)) == r.cells
    assert _read(GAP_TABLE, "高新技术企业数量").cells[1] == ("2025年", "5000家")


def test_a_pipe_row_and_its_header():
    r = _read(PIPE_TABLE, "省级以上科技企业孵化器")
    assert PIPE_TABLE[slice(*r.header)] == "| 序号 | 指标 | 2023年完成 | 2024年目标 |"
    assert r.for_years((2023,)) == (("2023年完成", "41家"),)
    assert _read(PIPE_TABLE, "技术合同成交额").cells == (("2023年完成", "152.3亿元"), ("2024年目标", "170亿元"))


def test_text_that_is_no_table_row_is_not_read():
    assert _read("全市技术合同成交额达到38亿元，高新技术企业420家。\n", "38亿元") is None
    assert _read("| 1 | 2 | 3 |\n", "1 | 2") is None  # no header above the row


def test_a_unit_column_gives_the_rows_unit():
    table = ("| 指标 | 单位 | 2020年基期值 | 2022年实际值 | 2025年目标值 | 进度评价 |\n|---|---|---|---|---|---|\n"
             "| 全社会研发投入强度 | % | 1.31 | 1.52 | 2.0 | 滞后 |\n| 高新技术企业数 | 家 | 236 | 358 | 450 | 超前 |\n")
    assert _read(table, "全社会研发投入强度").for_years((2025,)) == (("2025年目标值", "2.0%"),)
    assert _read(table, "高新技术企业数").for_years((2025,)) == (("2025年目标值", "450家"),)
