"""Reading a table row by its column headers: "8　科技进步贡献率（%）　56　62　预期性" under
"序号　指标　2020年　2025年　属性" says 2025年: 62%.

Plans put their main indicators in tables (Markdown pipe tables, DOCX tables written as `| a | b |`, and
PDF or text tables whose cells are separated by ideographic spaces, tabs or runs of spaces). A row's numbers
mean nothing without its header: the year of a column and the unit in the label cell ("（%）", "(家)") or in a
单位 column.
`read_row` finds the row around a span, the header row above it, and pairs each numeric cell with its
column's header and the row's unit. The header row is cited beside the row, so every figure and year
an answer states stands in a quoted passage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RowReading", "read_row"]

PIPE = re.compile(r"\s*\|\s*")
GAP = re.compile(r"[\u3000\t]+|\s{2,}")  # ideographic spaces, tabs, or 2+ spaces between cells
NUMBER_CELL = re.compile(r"^[+-]?\d[\d,\s]*(?:\.\d+)?$")
UNIT = re.compile(r"[（(]\s*([^()（）]{1,6}?)\s*[）)]\s*$")
YEAR = re.compile(r"(?:19|20)\d{2}")
SEPARATOR_ROW = re.compile(r"^\|?\s*:?-{3,}")
UNIT_HEADERS = ("单位", "计量单位", "单 位", "Unit", "unit")
MAX_HEADER_DISTANCE = 40  # lines between a row and its header (a page break may sit between them)


@dataclass(frozen=True)
class RowReading:
    header: tuple[int, int]  # span of the header row in the document text
    cells: tuple[tuple[str, str], ...]  # (column header, value with unit): ("2025年", "62%")

    def for_years(self, years: tuple[int, ...]) -> tuple[tuple[str, str], ...]:
        """Only the columns of the years asked about, when the header names them; else every column."""
        picked = tuple(c for c in self.cells if any(str(y) in c[0] for y in years))
        return picked or self.cells


def _cells(line: str) -> tuple[str, list[str]] | None:
    """("pipe" | "gap", cells) of a table line, or None when the line is no table row."""
    stripped = line.strip()
    if stripped.startswith("|") and stripped.count("|") >= 3:
        return "pipe", [c.strip() for c in PIPE.split(stripped.strip("|").strip())]
    cells = [c for c in GAP.split(stripped) if c]
    return ("gap", cells) if len(cells) >= 3 else None


def _line_at(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def read_row(text: str, start: int, end: int) -> RowReading | None:
    """The reading of the table row holding text[start:end], or None when it is not in a table row
    with a header above it."""
    row_start, row_end = _line_at(text, start)
    if end > row_end:
        return None
    row = _cells(text[row_start:row_end])
    if row is None or not any(NUMBER_CELL.match(c) for c in row[1]):
        return None
    kind, cells = row
    at, seen = row_start, 0
    while at > 0 and seen < MAX_HEADER_DISTANCE:
        s, e = _line_at(text, at - 1)
        at, seen = s, seen + 1
        line = text[s:e]
        if kind == "pipe" and SEPARATOR_ROW.match(line.strip()):
            continue
        found = _cells(line)
        if found is None or found[0] != kind:
            continue  # page furniture, a caption, a wrapped label: look further up
        header = found[1]
        if any(NUMBER_CELL.match(c) for c in header):
            continue  # another data row
        if len(header) < len(cells) or not any(YEAR.search(h) for h in header) and len(header) != len(cells):
            return None
        unit_match = next((UNIT.search(c) for c in cells if UNIT.search(c)), None)
        unit = unit_match.group(1) if unit_match else ""
        # ...or in a unit column: "| 指标 | 单位 | 2020年 | 2025年 |" over "| 高新技术企业数 | 家 | 236 | 450 |"
        unit_col = next((i for i, h in enumerate(header) if h.strip() in UNIT_HEADERS), None)
        if not unit and unit_col is not None and unit_col < len(cells) and not NUMBER_CELL.match(cells[unit_col]):
            unit = cells[unit_col].strip()
        pairs = tuple((header[i], re.sub(r"\s+", "", cells[i]) + unit) for i in range(len(cells))
                      if NUMBER_CELL.match(cells[i]) and i < len(header) and not _is_index_column(header[i]))
        return RowReading((s + len(line) - len(line.lstrip()), e - (len(line) - len(line.rstrip()))), pairs) \
            if pairs else None
    return None


def _is_index_column(name: str) -> bool:
    return name.strip() in ("序号", "No.", "No", "#", "编号")
