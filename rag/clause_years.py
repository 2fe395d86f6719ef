"""Which year a clause is about, and dropping clauses that would answer for another year.

A clause is about the years it names itself (not a base a change is measured from: 较2022年增长…), else the
year last named before it in its paragraph (not a comparison base: 较2023年底的3050家), else the year of the short
heading of the bulleted list it is in, else 去年/今年/明年 counted from the document's date, else its section's.
"""

from __future__ import annotations

import re
import unicodedata

from .answer import LIST_NUMBER, SENTENCE_YEAR, ScoredClause
from .numbers import asks_for_target, relative_year_offset
from .stores.base import Store

__all__ = ["year_consistent", "targets_before_bases"]


def year_consistent(index: Store, scored: list[ScoredClause], years: tuple[int, ...],
                    relative_year: int | None = None) -> list[ScoredClause]:
    """Drop clauses that would answer for the wrong year.

    A clause is about the years it names itself, else the year last named before it in its paragraph
    ("2023年全市…，技术合同成交额达到268亿元"), else the years of its section heading ("一、2023年工作总结").
    - a clause about other years only ("2024年度 … 2.4%") does not answer a 2025 question;
    - a plan that does not cover the year asked may answer only where the year is named
      (a 2015 plan mentioning "2016-2020年"); a multi-year plan's figures are for its target year.
    With no years but a `relative_year` ("去年": -1), each document's own year counts from its date.
    """
    if not years and relative_year is None:
        return scored
    asked = years
    out = []
    for s in scored:
        c = s.clause
        doc = index.document(c.doc_id)
        if not asked:
            dated = doc.metadata.dated
            if not dated:
                out.append(s)
                continue
            years = (int(dated[:4]) + relative_year,)
        named, inner = _years_about(index, doc, c)
        # Years inside the clause add to the year it is about; alone they only let it answer for them.
        named = named | inner if named else (inner if inner & set(years) else set())
        para_start = doc.text.rfind("\n", 0, c.start) + 1
        before = doc.text[para_start:c.start]
        sentence = doc.text[c.sentence_start:c.sentence_end]
        plan_years = doc.metadata.years
        covers = any(y in plan_years and (len(plan_years) == 1 or y == plan_years[-1]) for y in years)
        covers = covers or (not asked and relative_year == 0)  # "this year": the document's own year
        if named and not named & set(years) and not _range_covers(before + sentence, years):
            continue
        if covers or named & set(years):
            out.append(s)
    return out


def _years_about(index: Store, doc, c) -> tuple[set[int], set[int]]:
    """(the years a clause is about, years named inside it before a later figure); see the module docstring."""
    # Years read the same in Traditional and Simplified (年, digits): no conversion needed here.
    named, inner = _clause_years(c.text)
    para_start = doc.text.rfind("\n", 0, c.start) + 1
    before = doc.text[para_start:c.start]
    if not named and (earlier := _governing_year(before) or _list_heading_year(doc.text, para_start)
                      or _relative_year(doc.text[c.sentence_start:c.end], doc.metadata)
                      or _relative_year(before, doc.metadata, last=True)):
        named = {earlier}
    if not named and c.chunk_id:
        named = {int(y) for y in SENTENCE_YEAR.findall(index.chunks([c.chunk_id])[0].section)}
    return named, inner


def targets_before_bases(index: Store, scored: list[ScoredClause], question: str) -> list[ScoredClause]:
    """For a question asking a target with no year ("研发投入强度的目标是多少"), drop a clause about a year before
    its plan was dated ("2023年，…全区全社会研发投入强度为1.02%": the base) when another clause with a figure says
    as much of the question ("…力争达到1.5%")."""
    if not asks_for_target(question):
        return scored
    past = set()
    for s in scored:
        doc = index.document(s.clause.doc_id)
        meta = doc.metadata
        plan_year = int(meta.dated[:4]) if meta.dated else (min(meta.years) if meta.years else None)
        named, _ = _years_about(index, doc, s.clause)
        if plan_year and named and max(named) < plan_year:
            past.add(id(s))
    if not past:
        return scored
    return [s for s in scored if id(s) not in past or not any(
        id(o) not in past and o.has_figure and o.own_groups >= s.own_groups for o in scored)]


BASE_BEFORE = re.compile(r"(?:较|比|相比|同比|与)\s*$")  # "较2023年底的3050家": a comparison base
CHANGE_AFTER = re.compile(r"\s*(?:底|末)?\s*(?:增长|提高|上升|下降|减少|增加|翻番|翻一番|多|少)")
BASE_AFTER = re.compile(r"^\s*(?:底|末)?\s*(?:为|的)")  # "2023年底为486家", "（2023年为2.41%）"


def _governing_year(before: str) -> int | None:
    """The year last named before a clause in its paragraph that sets what the clause is about: "到2026年，…；
    技术合同成交额达到80亿元" is about 2026 even after "较2023年底的3050家" and "（2023年为2.41%）",
    which name a comparison base, not the year of what follows."""
    text = re.sub(r"（[^（）]*）|\([^()]*\)", lambda m: " " * len(m.group(0)), unicodedata.normalize("NFKC", before))
    for m in reversed(list(SENTENCE_YEAR.finditer(text))):
        if BASE_BEFORE.search(text[max(0, m.start() - 3):m.start()]) or BASE_AFTER.match(text[m.end():m.end() + 4]):
            continue
        return int(m.group(1))
    return None


def _relative_year(text: str, meta, last: bool = False) -> int | None:
    """The year "去年/今年/明年" in `text` means, counted from the date the document was published or signed
    ("去年全市财政科技支出达到18.7亿元" in a page published in 2024 is about 2023; "较上年" is a comparison base).
    With `last`, the last such word of `text` (the paragraph before a clause: "会议指出，去年全市…。全市…达到1.41%")."""
    dated = meta.dated
    offset = relative_year_offset(unicodedata.normalize("NFKC", text), last=last)
    if not dated or offset is None:
        return None
    return int(dated[:4]) + offset


BULLET = re.compile(r"^[ \t　]*(?:[·•▪●○◆\-*]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）])")
LIST_HEADING_MAX = 40


def _list_heading_year(text: str, line_start: int) -> int | None:
    """The year of the short line heading a bulleted list the clause's line belongs to: "2023年江阴科技创新“成绩单”"
    above "·技术合同登记额（输出）…达到103亿元"."""
    line_end = text.find("\n", line_start)
    if not BULLET.match(text[line_start:line_end if line_end >= 0 else len(text)]):
        return None
    pos = line_start
    blank = loose = False  # a blank line just above; one between two items (a list spaced out throughout)
    while pos > 0:
        start = text.rfind("\n", 0, pos - 1) + 1
        line = text[start:pos].strip()
        if not line:
            blank = True
        elif BULLET.match(line):
            loose, blank = loose or blank, False
        else:
            if blank and not loose:
                return None  # a blank line ends a tight list before any heading
            m = SENTENCE_YEAR.search(line) if len(line) <= LIST_HEADING_MAX else None
            return int(m.group(1)) if m else None
        pos = start
    return None


def _clause_years(text: str) -> tuple[set[int], set[int]]:
    """(years named before the clause's first figure, years named before a later figure).

    "2024年度…2.4%" is about 2024; "总数达到3 600家，其中2024年新认定420家" is about whatever year its
    paragraph is about (the first figure comes before any year) *and* about 2024."""
    body = LIST_NUMBER.sub(lambda m: " " * len(m.group(0)), text)
    # "较2022年增长21.6%": the change is the year the paragraph is about; 2022 is only what it is measured from.
    years = [y for y in SENTENCE_YEAR.finditer(body)
             if not (BASE_BEFORE.search(body[max(0, y.start() - 3):y.start()]) and CHANGE_AFTER.match(body, y.end()))]
    figures = [m.start() for m in re.finditer(r"\d", body) if not any(y.start() <= m.start() < y.end() for y in years)]
    first = figures[0] if figures else len(body)
    lead = {int(y.group(1)) for y in years if y.start() < first}
    inner = {int(y.group(1)) for y in years if y.start() >= first and any(f > y.end() for f in figures)}
    return lead, inner


def _range_covers(sentence: str, years: tuple[int, ...]) -> bool:
    for a, b in re.findall(r"((?:19|20)\d{2})\s*[-—–~至到]\s*((?:19|20)\d{2})", sentence):
        if any(int(a) <= y <= int(b) for y in years):
            return True
    return False
