"""A document's publication record: who issued it, when, under what number, where it was reported, who spoke.

Each finder takes the normalised text (Simplified, half-width: `rag.metadata.normalise_text`, one
character for one, so spans are spans of the stored text) and returns (value, span). The words that end
an issuing body's name and the titles of officials who deliver reports are data (`rag/data/plan_kinds.json`).

- issuer: a 发文机关 field, an issuer line (…科学技术局, …人民政府办公厅), a 来源 field.
- issue_date: 成文日期 field, a signature date (2024年2月26日, 二〇二四年二月二十六日, scraped 2022317), 发布日期.
- published: the web page's 发布日期/发布时间.
- printed: the colophon's (版记) 印发 date: "桓台县人民政府办公室      2024年4月3日印发".
- doc_number: 发文字号 (洛科〔2024〕9号).
- outlet: the 来源 field of a page (恩施日报, 市科技局).
- reporter: the byline's 记者/作者 of a news page ("记者 顾明远").
- speaker: who delivered a report: a line holding only an official's title and a name ("区长　周明远").
- venue: the meeting a report or speech was delivered at: "——2024年1月11日在县第十七届人民代表大会第四次会议上".
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from importlib import resources

__all__ = ["CN_DATE", "find_doc_number", "find_issue_date", "find_issuer", "find_outlet", "find_printed",
           "find_published", "find_reporter", "find_speaker", "find_venue", "iso_date", "issuer_line"]

Found = tuple[str | None, tuple[int, int] | None]

ISO_DATE = re.compile(r"(?:成文日期|发文日期|印发日期|报送日期)[:：][*_\s]*(\d{4})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})(?:\s*日)?")
PUBLISHED_DATE = re.compile(r"(?:发布日期|发布时间|时间)[:：]\s*(\d{4})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})(?:\s*日)?")
COMPACT_DATE = re.compile(r"^\s*(20\d{2}|19\d{2})(\d{2,4})\s*$", re.M)  # scraped "2022317" = 2022-03-17
# A line (or an HTML element's line: "…科学技术局<br>2024年3月12日</p>") holding only the date.
CN_DATE = re.compile(r"(?:^|>)[ \t　]*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日[ \t　]*(?=$|<)", re.M)
CN_NUMERAL_DATE = re.compile(r"^\s*([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日\s*$",
                             re.M)
SOURCE_FIELD = re.compile(r"(?:信息来源|来源)[:：]\s*([\u4e00-\u9fff]{2,24})")
FIELD_LABEL = re.compile(r"发布时间|发布日期|作者|编辑|责任编辑|浏览|点击|字号|时间")
# 发文字号: issuer abbreviation, the year in brackets, a serial number: 洛科〔2024〕9号, 桓政办发[2024]11号.
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}\s*[〔\[【(（]\s*(?:19|20)\d{2}\s*[〕\]】)）]\s*\d{1,4}\s*号")


@functools.lru_cache(maxsize=1)
def _record_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(issuer suffixes, speaker titles), longest first."""
    data = json.loads((resources.files("rag") / "data" / "plan_kinds.json").read_text(encoding="utf-8"))
    by_len = lambda words: tuple(sorted(words, key=len, reverse=True))  # noqa: E731
    return by_len(data["issuer_suffixes"]), by_len(data.get("speaker_titles", ()))


@functools.lru_cache(maxsize=1)
def _issuer_field() -> re.Pattern:
    """A labelled issuer field of a page or notice: "发文机关：…", "发布机构：鞏義市科學技術局"."""
    data = json.loads((resources.files("rag") / "data" / "plan_kinds.json").read_text(encoding="utf-8"))
    labels = "|".join(sorted(map(re.escape, data["issuer_field_labels"]), key=len, reverse=True))
    # "**报送单位：** 安吉县科学技术局", "<td>发文机关：</td><td>襄阳市人民政府办公室</td>"
    return re.compile(r"(?:%s)[:：](?:[*_\s]|<[^<>]{0,80}>)*([^\s:：*_<>]{2,30})" % labels)


@functools.lru_cache(maxsize=1)
def issuer_line() -> re.Pattern:
    """A line holding only an issuing body, or two to four issuing jointly ("天津市统计局　天津市科学技术局")."""
    one = r"(?:中共)?[\u4e00-\u9fff]{2,16}?(?:%s)" % "|".join(_record_words()[0])
    return re.compile(r"(?:^|>)[ \t　]*(%s(?:[ \t　、]+%s){0,3})[ \t　]*(?=$|<)" % (one, one), re.M)


@functools.lru_cache(maxsize=1)
def _issuer_dated_line() -> re.Pattern:
    """"(广西壮族自治区人民政府办公厅2021年10月15日印发 …)": the issuer opens a line and the date follows it."""
    return re.compile(r"^[\s(（]*((?:中共)?[\u4e00-\u9fff]{2,16}?(?:%s))\s*(?:19|20)\d{2}\s*年" % "|".join(_record_words()[0]),
                      re.M)


@functools.lru_cache(maxsize=1)
def _printed_line() -> re.Pattern:
    """The colophon's last line: the printing office, then "2024年4月3日印发"."""
    return re.compile(r"((?:中共)?[\u4e00-\u9fff]{2,24}?(?:%s))[\s　]*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*印发"
                      % "|".join(_record_words()[0]))


@functools.lru_cache(maxsize=1)
def _speaker_line() -> re.Pattern:
    """A line (or HTML element) holding only a title and a 2–4 character name: "区长　周明远", "代市长 李华"."""
    return re.compile(r"(?:^|>)[ \t　]*((?:代理?)?(?:%s))[ \t　]+([\u4e00-\u9fff]{2,4})[ \t　]*(?=$|<)"
                      % "|".join(_record_words()[1]), re.M)


def find_issuer(norm: str) -> Found:
    if m := _issuer_field().search(norm):
        return m.group(1), m.span(1)
    if m := issuer_line().search(norm):
        return m.group(1), m.span(1)
    if m := _issuer_dated_line().search(norm[:3000]):
        return m.group(1), m.span(1)
    if m := SOURCE_FIELD.search(norm):
        suffixes = _record_words()[0] + ("局", "厅")
        value = m.group(1)
        cut = max((value.find(s) + len(s) for s in suffixes if s in value), default=0)
        if cut:
            return value[:cut], (m.start(1), m.start(1) + cut)
    return None, None


_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}


def _cn_number(s: str) -> int:
    if "十" not in s:
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    tens, _, ones = s.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def find_issue_date(norm: str) -> Found:
    """(ISO date, span it was read from): 成文日期 field, else a signature date line, else 发布日期, else the
    date a report was delivered ("——2025年1月9日在…会议上")."""
    if m := ISO_DATE.search(norm):
        return iso_date(*m.groups()), m.span(0)
    for m in COMPACT_DATE.finditer(norm):
        year, rest = m.group(1), m.group(2)
        for split in (1, 2):  # "317" -> 3-17 ; "1105" -> 11-05
            iso = iso_date(year, rest[:split], rest[split:])
            if iso and len(rest[split:]) <= 2:
                return iso, (m.start(1), m.end(2))
    if m := CN_DATE.search(norm):
        return iso_date(*m.groups()), (m.start(1), m.end(3) + 1)
    if m := CN_NUMERAL_DATE.search(norm):
        iso = iso_date(str(_cn_number(m.group(1))), str(_cn_number(m.group(2))), str(_cn_number(m.group(3))))
        if iso:
            return iso, (m.start(1), m.end(3) + 1)
    found = find_published(norm)
    if found[0] is None and (m := DATELINE_DATE.search(norm[:5000])):
        return iso_date(*m.groups()), (m.start(1), m.end(0))
    return found


def find_published(norm: str) -> Found:
    if m := PUBLISHED_DATE.search(norm):
        return iso_date(*m.groups()), m.span(0)
    return None, None


def find_printed(norm: str) -> Found:
    """The colophon's 印发 date (the last one in the text: the colophon closes a 公文)."""
    last = None
    for last in _printed_line().finditer(norm):
        pass
    if last is None:
        return None, None
    return iso_date(*last.groups()[1:]), last.span(0)


def find_doc_number(norm: str) -> Found:
    if m := DOC_NUMBER.search(norm[:5000]):
        return m.group(0), m.span()
    return None, None


def find_outlet(norm: str) -> Found:
    """The page's 来源 (an outlet such as 恩施日报, or an office)."""
    if m := SOURCE_FIELD.search(norm):
        # A scraped info line runs its fields together: "来源:市科学技术局发布时间:2022-03-17".
        value = FIELD_LABEL.split(m.group(1), maxsplit=1)[0]
        if len(value) >= 2:
            return value, (m.start(0), m.start(1) + len(value))
    return None, None


# A news byline: "记者 顾明远　通讯员 陆欣", "作者:记者 向晓岚" (never "记者从会上获悉": the name stands alone).
# "作者：记者 顾明远", "记者 艾力·买买提" (a name of two parts joined by a middle dot); never the word 记者 itself.
BYLINE = re.compile(r"(?:作者[:：][ \t]*(?:记者[ \t]*)?|记者[ \t]+)(?!记者|通讯员)"
                    r"([\u4e00-\u9fff]{2,3}|[\u4e00-\u9fff]{1,6}[·•‧・][\u4e00-\u9fff]{1,6})(?=[ \t]|$|<)", re.M)


def find_reporter(norm: str) -> Found:
    """The reporter (or author) named in a page's byline, in its opening part."""
    if m := BYLINE.search(norm[:3000]):
        return m.group(1), (m.start(0), m.end(1))
    return None, None


def find_speaker(norm: str) -> Found:
    """Who delivered a report: the first title-and-name line in the opening part of the text."""
    if not _record_words()[1]:
        return None, None
    if m := _speaker_line().search(norm[:5000]):
        return m.group(2), (m.start(1), m.end(2))
    return None, None


# A report's or speech's dateline: "——2024年1月11日在县第十七届人民代表大会第四次会议上" (the date may be missing),
# on a line of its own or in an HTML element ("<p …>——2025年1月20日在…上</p>").
VENUE_LINE = re.compile(r"(?:^|>)[>\s　]*[—-]{1,2}\s*(?:(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*)?在"
                        r"([\u4e00-\u9fff0-9、“”（）()]{4,40}?(?:会议|大会|会|论坛|座谈会|典礼))上", re.M)


DATELINE_DATE = re.compile(r"(?:^|>)[>\s　]*[—-]{1,2}\s*((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?=\s*在)", re.M)


def find_venue(norm: str) -> Found:
    """The meeting a report was delivered at, from its dateline in the opening part of the text."""
    if m := VENUE_LINE.search(norm[:5000]):
        return m.group(1), m.span(1)
    return None, None


def iso_date(y: str, m: str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None
