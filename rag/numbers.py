"""Figures in text: find them, render Chinese amounts in English, and compare numbers across scripts.

Used by the answerer (English renderings), the grounding check of generated answers and the eval's
groundedness metric, so all three agree on what "the same number" means.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

__all__ = ["asked_figure_kind", "asks_for_flow", "is_flow", "find_amounts", "has_figure_of_kind", "render_amount_en", "number_values",
           "ungrounded_numbers"]

# (Traditional 億/萬 too: amounts are read from quotes as the documents write them.)
CN_UNITS = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "萬億": 1e12, "億": 1e8, "萬": 1e4}
AMOUNT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(万亿|萬億|亿|億|万|萬|千)?元")
NUMBER_RE = re.compile(r"(?<![\d.])(\d+(?:,\d{3})*(?:\.\d+)?)\s*(万亿|萬億|亿|億|万|萬|千|trillion|billion|million|thousand)?", re.I)
EN_UNITS = {"trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3}


def find_amounts(text: str) -> list[tuple[str, float]]:
    """Money amounts written the Chinese way: [("450亿元", 4.5e10), ...]."""
    out = []
    for m in AMOUNT_RE.finditer(text):
        value = float(m.group(1)) * CN_UNITS.get(m.group(2) or "", 1.0)
        out.append((m.group(0), value))
    return out


def _fmt(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def render_amount_en(value: float) -> str:
    """4.5e10 -> "45 billion yuan"."""
    for name, scale in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if value >= scale:
            return f"{_fmt(value / scale)} {name} yuan"
    return f"{_fmt(value)} yuan"


def number_values(text: str) -> set[float]:
    """Every number in `text` as plain values, with and without its Chinese/English scale word.

    "450亿元" gives {450, 4.5e10}; "45 billion" gives {45, 4.5e10}: the two agree on 4.5e10.
    Chinese numerals are converted with cn2an first ("三十家" -> 30).
    """
    text = _cn_numerals_to_arabic(text)
    values = set()
    for m in NUMBER_RE.finditer(text):
        base = float(m.group(1).replace(",", ""))
        values.add(round(base, 6))
        unit = (m.group(2) or "").lower()
        scale = CN_UNITS.get(unit) or EN_UNITS.get(unit)
        if scale:
            values.add(round(base * scale, 2))
    return values


def ungrounded_numbers(answer: str, evidence: str) -> list[str]:
    """Numbers in `answer` that appear in no form in `evidence` (empty list = grounded)."""
    allowed = number_values(evidence)
    out = []
    answer = re.sub(r"\[\d+\]", " ", answer)  # citation markers [1] are not figures
    answer = ISO_DATE.sub(lambda m: " " if _date_in(m, evidence) else m.group(0), answer)
    for m in NUMBER_RE.finditer(_cn_numerals_to_arabic(answer)):
        if not number_values(m.group(0)) & allowed:
            out.append(m.group(0).strip())
    return out


CN_COUNT_RE = re.compile(r"[零一二三四五六七八九十百千两〇]+(?=[万亿]?[家个项所名人元件台户倍])")


ISO_DATE = re.compile(r"((?:19|20)\d{2})-(\d{2})-(\d{2})")


def _date_in(m: re.Match, evidence: str) -> bool:
    """An ISO date counts as grounded when the evidence writes the same date in any usual form
    ("2022-03-17", "2022317" as scraped, "20220317", "2022年3月17日")."""
    y, mo, d = m.group(1), m.group(2), m.group(3)
    forms = {f"{y}-{mo}-{d}", f"{y}{int(mo)}{d}", f"{y}{mo}{d}", f"{y}年{int(mo)}月{int(d)}日", f"{y}.{mo}.{d}"}
    return any(f in evidence for f in forms)


def _cn_numerals_to_arabic(text: str) -> str:
    """Chinese numerals that count something ("三十家") become digits; "一是"/"十四五" are left alone."""
    if not CN_COUNT_RE.search(text):
        return text
    import cn2an

    def convert(m: re.Match) -> str:
        try:
            return str(cn2an.cn2an(m.group(0), "smart"))
        except (ValueError, KeyError):
            return m.group(0)

    return CN_COUNT_RE.sub(convert, text)


# ---------------------------------------------------------------- kinds of figure (rag/data/figure_kinds.json)

YEAR_WORD = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*年度?")


@functools.lru_cache(maxsize=None)
def _data(name: str) -> dict:
    """A data file of rag/data/ (figure kinds, flow words, relative years), read once."""
    return json.loads((resources.files("rag") / "data" / name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _flow_pattern(key: str) -> re.Pattern:
    """One list of rag/data/flow_words.json as an alternation (case-insensitive for English words)."""
    return re.compile("|".join(_data("flow_words.json")[key]), re.I)


@functools.lru_cache(maxsize=1)
def _figure_kinds() -> tuple[tuple[str, re.Pattern, re.Pattern], ...]:
    data = _data("figure_kinds.json")
    return tuple((k["kind"], re.compile("|".join(k["asked"]), re.I), re.compile("|".join(k["written"]), re.I))
                 for k in data["kinds"])


@functools.lru_cache(maxsize=1)
def _negated() -> re.Pattern:
    data = _data("figure_kinds.json")
    return re.compile("|".join(data["negated"]), re.I)


def without_negated(question: str) -> str:
    """`question` with what it says is not asked blanked out ("(in money, not intensity)" -> "(in money,  )")."""
    return _negated().sub(lambda m: " " * len(m.group(0)), question)


@functools.lru_cache(maxsize=1)
def _bare_figure() -> re.Pattern:
    data = _data("figure_kinds.json")
    alt = lambda words: "|".join(sorted(map(re.escape, words), key=len, reverse=True))  # noqa: E731
    return re.compile(r"^\s*[（(]?\s*(?:%s)?\s*(?:(?:%s)?\s*(?:19|20)\d{2}\s*年[底末初]?度?)?\s*(?:%s)?\s*(?:%s)?\s*[\d.,，\s]+\s*"
                      r"(?:%%|％|个百分点|[万亿千百]*(?:家|个|元|人|项|件|所|名|座|人年)|[万亿千百]+)?\s*[）)]?\s*$"
                      % (alt(data["bare_figure_bases"]), alt(data["bare_figure_time_leads"]), alt(data["bare_figure_leads"]), alt(data["bare_figure_verbs"])))


def is_bare_figure(text: str) -> bool:
    """A clause holding only a figure with a time or lead word ("2023年底为486家", "总数达到836家")."""
    return bool(_bare_figure().match(text))


@functools.lru_cache(maxsize=1)
def _count_units() -> tuple[str, ...]:
    data = _data("figure_kinds.json")
    return tuple(sorted(data["count_units"], key=len, reverse=True))


def asked_unit(question: str) -> str | None:
    """The counting unit a Chinese question asks in ("达到多少家" -> 家, "几个" -> 个), or None."""
    units = "|".join(map(re.escape, _count_units()))
    m = re.search(r"(?:多少|几)(?:万|千|百)?(%s)" % units, question)
    return m.group(1) if m else None


def has_figure_in(text: str, unit: str) -> bool:
    """Whether `text` states a number in `unit` ("900家" for 家; "6000家" but not "30万元" for 家)."""
    return bool(re.search(r"(?:\d|[一二三四五六七八九十百千万两])\s*(?:万|千|百)?\s*" + re.escape(unit), text))


def asked_figure_kind(question: str) -> str | None:
    """The kind of figure a question asks for ("percent", "money", "people"), or None when it does not say.

    `question` is Simplified Chinese or English; the first kind in the data file that matches wins. What
    the question says it does not want ("not intensity") does not count.
    """
    lowered = without_negated(question.lower())
    return next((kind for kind, asked, _ in _figure_kinds() if asked.search(lowered)), None)


@functools.lru_cache(maxsize=1)
def quantity_suffixes() -> tuple[str, ...]:
    """Endings that make an indicator's name a quantity ("额", "率", "强度"; rag/data/figure_kinds.json)."""
    data = _data("figure_kinds.json")
    return tuple(data["quantity_suffixes"])


@functools.lru_cache(maxsize=1)
def cap_words() -> re.Pattern:
    """Words setting a cap on a support measure ("最高", "不超过"; rag/data/figure_kinds.json)."""
    data = _data("figure_kinds.json")
    return re.compile("|".join(map(re.escape, data["cap_words"])))


def has_figure_of_kind(text: str, kind: str) -> bool:
    """Whether `text` holds a figure of that kind ("62%" is a percent, "12亿元" money, "150名" people)."""
    written = next((w for k, _, w in _figure_kinds() if k == kind), None)
    if written is None:
        raise ValueError(f"unknown figure kind {kind!r}; the kinds are in rag/data/figure_kinds.json")
    return bool(written.search(YEAR_WORD.sub(" ", text)))


def asks_for_new(question: str) -> bool:
    """Whether a question asks only what is new ("新认定多少家", "newly certify"), never the total."""
    return bool(_flow_pattern("asked_new").search(without_negated(question.lower())))


def is_stock(text: str) -> bool:
    """Whether a clause's figure is a stock outright ("有效期内高新技术企业总数2 864家"), not what was added."""
    return not is_flow(text) and bool(_flow_pattern("stock_written").search(text))


def asks_about_applications(question: str) -> tuple[bool, bool]:
    """(asks about applications, asks for results) of a question ("申报了多少家" / "新认定多少家", "certified")."""
    lowered = without_negated(question.lower())
    return (bool(_flow_pattern("applications_asked").search(lowered)),
            bool(_flow_pattern("results_asked").search(lowered)))


def counts_applications(text: str) -> bool:
    """Whether a clause's figure counts applications ("高新技术企业认定申报620家")."""
    return bool(_flow_pattern("applications_written").search(text))


def asks_for_target(question: str) -> bool:
    """Whether a question asks for a plan's target ("目标是多少", "what is the goal"), not a result."""
    return bool(_flow_pattern("target_asked").search(question.lower()))


def asks_for_flow(question: str) -> bool:
    """Whether a question asks what is added in a period ("新增多少家", "how many new") rather than a total."""
    return bool(_flow_pattern("asked").search(question.lower()))


def is_flow(text: str) -> bool:
    """Whether a clause states what is added in a period ("新增孵化器4家") rather than a total ("达到41家")."""
    return bool(_flow_pattern("written").search(text))


@functools.lru_cache(maxsize=1)
def relative_year_words() -> dict[str, dict[str, int]]:
    """Words naming a year relative to a document's date, by language: {"zh": {"去年": -1, …}, "en": {…}}."""
    data = _data("relative_years.json")
    return {"zh": data["zh"], "en": data["en"]}


@functools.lru_cache(maxsize=1)
def relative_year_pattern() -> re.Pattern:
    """A relative year word that is not a comparison base ("较上年", "比去年同期", "than last year")."""
    words = relative_year_words()
    zh = "|".join(sorted(map(re.escape, words["zh"]), key=len, reverse=True))
    en = "|".join(sorted(map(re.escape, words["en"]), key=len, reverse=True))
    return re.compile(r"(?<![比较同与])(%s)(?!度?[比同])|(?<!than )(?<!over )(?<!from )\b(%s)\b" % (zh, en), re.I)


def relative_years_written(text: str, dated: str | None) -> frozenset[int]:
    """The years the relative year words of `text` name, counted from the document's date `dated` ("2024-03-01"):
    a news item of 2024 saying "去年茶叶综合产值182.6亿元" reports on 2023."""
    if not dated or not dated[:4].isdigit():
        return frozenset()
    words = relative_year_words()
    return frozenset(int(dated[:4]) + (words["zh"][m.group(1)] if m.group(1) else words["en"][m.group(2).lower()])
                     for m in relative_year_pattern().finditer(unicodedata.normalize("NFKC", text)))


def relative_year_offset(text: str, last: bool = False) -> int | None:
    """The offset from a document's year the first (or `last`) relative year word of `text` names (去年 -> -1)."""
    found = list(relative_year_pattern().finditer(text)) if last else [relative_year_pattern().search(text)]
    m = found[-1] if found else None
    if not m:
        return None
    words = relative_year_words()
    return words["zh"][m.group(1)] if m.group(1) else words["en"][m.group(2).lower()]
