"""Document metadata from arbitrary plan text: title, place (at its own level, with its parents), years,
period, issuer, issue date and kind — each with the span of the stored text it was read from.

All matching runs on a copy of the text made Simplified and half-width one character for one
(`紹興` → `绍兴`, `２０２６` → `2026`), so every span found in the copy is a span of the original.
Plan kinds, periods and issuer suffixes are data (`rag/data/plan_kinds.json`); places come from the
gazetteer (`rag.places`).

How each field is found (first rule that applies wins):
- title: the HTML `<h1>`/`<title>`; a heading line ending in a plan kind (a 关于印发《X》的通知 cover letter
  yields to the plan's own title line); the 《X》 of a notice line; the first substantive short line.
- place: the most specific place named in the title; else in the issuer line; else the place named most
  often at the level the text speaks of itself (全省 / 全市 / 全区·全县), names with their suffix
  (九江市) counting double. A county's short form (洞头) counts only with its suffix, so no place is read
  from inside another word.
- years: a period in the title (十四五, 2023—2027年), else the title's years, else a period or the commonest
  year in the opening lines. `year` is the last of them (the target year).
- the publication record (issuer, issue date, 印发 date, page date, 文号, 来源, speaker): see rag/publication.py.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace, fields
from importlib import resources

from .places import Gazetteer, Mention, Place, gazetteer, scope_words, to_simplified
from .publication import (CN_DATE, find_doc_number, find_issue_date, find_issuer, find_outlet, find_printed,
                          find_published, find_reporter, find_speaker, find_venue, issuer_line)

# The publication record's fields and their finders (rag/publication.py), in the order they are read.
RECORD_FINDERS = {"issuer": find_issuer, "issue_date": find_issue_date, "doc_number": find_doc_number,
                  "published": find_published, "printed": find_printed, "outlet": find_outlet,
                  "reporter": find_reporter, "speaker": find_speaker, "venue": find_venue}

__all__ = ["DocumentMetadata", "extract_metadata", "plan_kinds", "place_fields", "normalise_text"]


@dataclass(frozen=True)
class DocumentMetadata:
    title: str
    city: str | None = None  # prefecture city, short form (绍兴); for a district plan its parent city
    province: str | None = None  # short form (浙江)
    year: int | None = None  # the year the plan is for (the last target year for multi-year plans)
    years: tuple[int, ...] = ()  # every year the plan covers
    period: str | None = None  # e.g. "十四五"
    issuer: str | None = None
    issue_date: str | None = None  # ISO date the plan was signed/issued (成文日期, signature date)
    published: str | None = None  # ISO date the page was published (发布日期), when the text gives one
    doc_number: str | None = None  # 发文字号, e.g. 洛科〔2024〕9号
    printed: str | None = None  # ISO date of the colophon's (版记) 印发 line
    outlet: str | None = None  # the page's 来源: an outlet (恩施日报) or an office ("source" is the file)
    speaker: str | None = None  # who delivered a report ("区长　周明远" -> 周明远)
    reporter: str | None = None  # a news page's byline ("记者 顾明远" -> 顾明远)
    venue: str | None = None  # the meeting a report was delivered at ("县第十七届人民代表大会第四次会议")
    kind: str | None = None  # 工作要点 / 工作意见 / 实施方案 / 行动方案 / 规划 / 工作总结 / 新闻 ...
    place: str | None = None  # the plan's own place, official name: 洞头区 / 温州市 / 浙江省
    level: str | None = None  # "province" | "city" | "county"
    district: str | None = None  # official name of the county-level place, for a district/county plan
    place_code: str | None = None  # division code of `place`
    # field -> (start, end) of the text it was read from, so a metadata answer can be cited verbatim
    evidence: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def dated(self) -> str | None:
        """The date 去年/今年 count from: the page's publication, else the signature, else the colophon's."""
        return self.published or self.issue_date or self.printed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["years"] = list(self.years)
        d["evidence"] = {k: list(v) for k, v in self.evidence.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DocumentMetadata":
        evidence = {k: tuple(v) for k, v in (d.get("evidence") or {}).items()}
        known = {f.name for f in fields(cls)}  # a field a newer version added is ignored, not fatal
        return cls(**{**{k: v for k, v in d.items() if k in known}, "years": tuple(d.get("years") or ()),
                      "evidence": evidence})


@functools.lru_cache(maxsize=1)
def plan_kinds() -> dict:
    return json.loads(resources.files("rag").joinpath("data/plan_kinds.json").read_text(encoding="utf-8"))


_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def normalise_text(text: str) -> str:
    """Simplified and half-width, one character for one: offsets into the result are offsets into `text`."""
    return to_simplified(text).translate(_FULLWIDTH)


# ---------------------------------------------------------------- patterns

YEAR = r"((?:19|20)\d{2})"
RANGE = re.compile(YEAR + r"\s*年?\s*[-—–~至到]+\s*" + YEAR + r"\s*年")
TITLE_YEAR = re.compile(YEAR + r"\s*年")
HTML_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S | re.I)
HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
MADE_TITLE = re.compile(r"(?:制定|印发|出台)了?《?([^，。,《》\s]{4,40}?(?:%s))》?(?:如下|。|，|,)")
NOTICE_TITLE = re.compile(r"(?:关于)?(?:印发|发布|出台|制定)了?《([^《》\n]{4,60})》")
SENTENCE_END = re.compile(r"[。；;，,：:！!？?]$")


@functools.lru_cache(maxsize=1)
def _kind_words() -> list[tuple[str, str]]:
    """(Chinese form, kind) pairs, in the order kinds are tried."""
    return [(w, k["kind"]) for k in plan_kinds()["kinds"] for w in k["zh"]]


# ---------------------------------------------------------------- the whole extraction


def extract_metadata(text: str, spans: tuple[tuple[int, int], ...], fallback_title: str) -> DocumentMetadata:
    norm = normalise_text(text)
    title, title_span = _find_title(text, norm, spans)
    if title is None:
        title, title_span = fallback_title, None
    ntitle = normalise_text(title)
    evidence: dict[str, tuple[int, int]] = {}
    if title_span:
        evidence["title"] = title_span

    record = {name: finder(norm) for name, finder in RECORD_FINDERS.items()}
    for name, (_, span) in record.items():
        if span:
            evidence[name] = span
    issuer, issuer_span = record["issuer"]
    if issuer_span and issuer == norm[issuer_span[0]:issuer_span[1]]:
        issuer = text[issuer_span[0]:issuer_span[1]]
    doc_number = text[record["doc_number"][1][0]:record["doc_number"][1][1]] if record["doc_number"][1] else None

    head = "\n".join(norm[s:e] for s, e in spans[:15])
    period, years = _find_years(ntitle, head)
    kind = _find_kind(ntitle, norm)
    if kind == "新闻" and not TITLE_YEAR.search(ntitle) and (dated := record["published"][0] or record["issue_date"][0]):
        # A news item whose headline names no year is of the year it was published ("全州科技创新大会召开" on
        # 2025-03-06), not of the year its text mentions most (the 2024 results it reports).
        period, years = None, (int(dated[:4]),)

    gaz = gazetteer()
    place, place_span = _find_place(gaz, norm, title_span, issuer_span, ntitle, record["venue"][1])
    fields = place_fields(gaz, place)
    if place_span:
        evidence["place"] = place_span
    if issuer and place and issuer.startswith(("市", "区", "县", "省")):
        issuer = place.name + issuer[1:] if issuer[0] == place.name[-1] else issuer  # 市科技局 -> 鹰潭市科技局
    return DocumentMetadata(title=title, year=years[-1] if years else None, years=years, period=period,
                            issuer=issuer, issue_date=record["issue_date"][0], published=record["published"][0],
                            doc_number=doc_number, printed=record["printed"][0], outlet=record["outlet"][0],
                            speaker=record["speaker"][0], reporter=record["reporter"][0], venue=record["venue"][0], kind=kind, evidence=evidence, **fields)


def place_fields(gaz: Gazetteer, place: Place | None) -> dict:
    """The metadata fields of a place: its own name and level, its city and province (short forms)."""
    if place is None:
        return {"city": None, "province": None, "place": None, "level": None, "district": None, "place_code": None}
    city = gaz.city_of(place)
    province = gaz.get(place.province)
    return {"city": city.short if city else None, "province": province.short, "place": place.name,
            "level": place.level, "district": place.name if place.level == "county" else None,
            "place_code": place.code}


def apply_override(metadata: DocumentMetadata, override: dict) -> DocumentMetadata:
    """A sidecar's fields win; naming a place (`place`, `district`, `city` or `province`) re-derives the others."""
    unknown = set(override) - {f.name for f in fields(DocumentMetadata)}
    if unknown:  # a typo ("ctiy") must not be dropped silently
        raise TypeError(f"unknown field(s) {', '.join(sorted(unknown))}; use title, place, city, province, year, "
                        "issuer, issue_date, kind …")
    merged = DocumentMetadata.from_dict({**metadata.to_dict(), **override})
    gaz = gazetteer()
    for key in ("place", "district", "city", "province"):
        if override.get(key):
            found = gaz.lookup(normalise_text(str(override[key])))
            if key == "city":
                found = tuple(p for p in found if p.level == "city" or p.municipality) or found
            if found:
                return replace(merged, **{**place_fields(gaz, found[0]),
                                          **{k: v for k, v in override.items() if k in ("city", "province")}})
    return merged


# ---------------------------------------------------------------- title


SECTION_NUMBER = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d{1,2}[、.．](?!\d))")


def _find_title(text: str, norm: str, spans) -> tuple[str | None, tuple[int, int] | None]:
    for pattern in (HTML_H1, HTML_TITLE):
        if m := pattern.search(text):
            inner = re.sub(r"<[^>]+>", "", m.group(1))
            # "Title_某某市人民政府" / "Title - 网站": the site name is not part of the title.
            cut = re.split(r"\s*[_|｜]\s*|\s+[-—]\s+", inner.strip())[0].strip()
            if len(cut) >= 4 and (start := text.find(cut, m.start(1))) >= 0:
                return cut, (start, start + len(cut))
    lines = [(s, e, norm[s:e].strip()) for s, e in spans[:20]]
    # A news page: the headline, then a byline or source line (来源 / 记者 / 发布时间).
    kinds = [w for w, _ in _kind_words()]
    heading = re.compile(r"^[^，。,；;:：]{4,70}?(?:%s)(?:\s*[(（][^()（）]{4,20}[)）])?$" % "|".join(map(re.escape, kinds)))
    # The byline is often page furniture (not in the clean spans), so look at the raw text just below;
    # a plan's own page has a 发布时间 line too, so a headline is one that names no plan and no notice.
    first = lines[0][2] if lines else ""
    if first and _title_like(first) and not heading.match(first) and not NOTICE_TITLE.search(first) and any(
            sign in norm[lines[0][1]:lines[0][1] + 200] for sign in plan_kinds()["news_signs"][:3] + ["来源", "发布时间"]):
        return _strip(text, lines[0][0], lines[0][1])
    # A numbered section ("一、2024年工作回顾") is no title, however it ends; a title may start with its kind
    # ("政府工作报告（科技创新部分摘编）").
    heading = re.compile(heading.pattern.replace("{4,70}?", "{0,70}?", 1))
    candidates = [(s, e, ln) for s, e, ln in lines if heading.match(ln) and not SECTION_NUMBER.match(ln)]
    # A cover letter ("关于印发《X》的通知") comes before the plan's own title line: prefer the latter.
    plain = [c for c in candidates if not c[2].startswith("关于")]
    if plain:
        s, e, _ = plain[0]
        return _strip(text, s, e)
    for s, e, ln in lines[:8]:
        if m := NOTICE_TITLE.search(ln):
            return text[s + m.start(1):s + m.end(1)], (s + m.start(1), s + m.end(1))
    body = norm[:3000]
    made = re.compile(MADE_TITLE.pattern % "|".join(map(re.escape, kinds)))
    if m := made.search(body):
        return text[m.start(1):m.end(1)], m.span(1)
    if m := NOTICE_TITLE.search(body):
        return text[m.start(1):m.end(1)], m.span(1)
    for s, e, ln in lines[:6]:
        if _title_like(ln):
            return _strip(text, s, e)
    return None, None


def _title_like(line: str) -> bool:
    return (6 <= len(line) <= 60 and not SENTENCE_END.search(line) and bool(re.search(r"[\u4e00-\u9fff]{4}", line))
            and not CN_DATE.match(line) and not issuer_line().match(line))


def _strip(text: str, s: int, e: int) -> tuple[str, tuple[int, int]]:
    while s < e and text[s] in " \t#*《":
        s += 1
    while e > s and text[e - 1] in " \t#*》":
        e -= 1
    return text[s:e], (s, e)


# ---------------------------------------------------------------- years, kind


def _find_years(title: str, head: str) -> tuple[str | None, tuple[int, ...]]:
    periods = plan_kinds()["periods"]
    period = next((p for p in periods if p in title), None)
    if period:
        first, last = periods[period]
        return period, tuple(range(first, last + 1))
    if m := RANGE.search(title):
        a, b = int(m.group(1)), int(m.group(2))
        if a <= b <= a + 10:
            return None, tuple(range(a, b + 1))
    found = tuple(dict.fromkeys(int(y) for y in TITLE_YEAR.findall(title)))
    if found:
        return None, tuple(sorted(found))
    if m := RANGE.search(head):
        a, b = int(m.group(1)), int(m.group(2))
        if a <= b <= a + 10:
            return next((p for p in periods if p in head[:200]), None), tuple(range(a, b + 1))
    counted = Counter(int(y) for y in TITLE_YEAR.findall(head))
    return None, ((counted.most_common(1)[0][0],) if counted else ())


def _find_kind(title: str, norm: str) -> str | None:
    for word, kind in _kind_words():
        if word in title:
            return kind
    if any(sign in norm[:3000] for sign in plan_kinds()["news_signs"]):
        return "新闻"
    return None


# ---------------------------------------------------------------- place


def _find_place(gaz: Gazetteer, norm: str, title_span, issuer_span, title: str, venue_span=None
                ) -> tuple[Place | None, tuple[int, int] | None]:
    mentions = gaz.mentions(norm)
    if title_span is None or norm[title_span[0]:title_span[1]] != title:
        # The title came from elsewhere (file name, HTML title attribute): read its places on their own.
        title_mentions = gaz.mentions(title)
    else:
        title_mentions = [m for m in mentions if title_span[0] <= m.start < title_span[1]]
    # A county-level short form that opens the title names the plan's place ("江阴召开…大会", "寿光市…"): at the
    # start of a title it is no part of another word. Only an unambiguous one (和平 names several districts).
    at = title_span[0] if title_span and norm[title_span[0]:title_span[1]] == title else None
    # ...unless it is how a plan speaks of its own place: "全州科技创新大会召开" is the prefecture's, not 全州县's.
    scope_opening = any(title.startswith(w) for ws in scope_words().values() for w in ws)
    for m in gaz.mentions(title, short_levels=("province", "city", "county")):
        if scope_opening:
            break
        if m.start == 0 and len(m.places) == 1 and m.places[0].level == "county" and not any(
                t.end > (at or 0) for t in title_mentions if (t.start - (at or 0)) == 0):
            title_mentions = [replace(m, start=m.start + at, end=m.end + at) if at is not None else m] + title_mentions
        break
    resolved = _resolve(gaz, mentions + title_mentions)
    # ...then the issuer, then the congress a report was delivered at ("在格尔木市第十六届人民代表大会…上").
    for chosen in (title_mentions,
                   [m for m in mentions if issuer_span and issuer_span[0] <= m.start < issuer_span[1]],
                   [m for m in mentions if venue_span and venue_span[0] <= m.start < venue_span[1]]):
        places = [resolved[id(m)] for m in chosen if resolved.get(id(m))]
        if places:
            # "温州市洞头区…方案": the most specific place named there is the plan's.
            best = max(places, key=lambda p: (len(gaz.lineage(p)), -places.index(p)))
            span = next((m.start, m.end) for m in chosen if resolved.get(id(m)) == best)
            return best, (span if chosen is not title_mentions or title_span else None)

    score: Counter[str] = Counter()
    first: dict[str, tuple[int, int]] = {}
    for m in mentions:
        p = resolved.get(id(m))
        if p is not None:
            score[p.code] += 2 if m.suffixed else 1
            first.setdefault(p.code, (m.start, m.end))
    if not score:
        return None, None
    level = _self_level(title) or _self_level(norm)
    # The level the text speaks of itself at (全市 …) is worth a few mentions, not all of them:
    # a city plan says 全省 too ("走在全省前列").
    ranked = sorted(score, key=lambda c: (-(score[c] + (3 if gaz.get(c).level == level else 0)), first[c][0]))
    best = gaz.get(ranked[0])
    return best, first[best.code]


def _resolve(gaz: Gazetteer, mentions: list[Mention]) -> dict[int, Place]:
    """Each mention's place: where a name is ambiguous (西湖区, 海南), the one whose parents the text names."""
    named = {p.code for m in mentions for p in m.places if len(m.places) == 1}
    out = {}
    for m in mentions:
        if len(m.places) == 1:
            out[id(m)] = m.places[0]
            continue
        backed = [p for p in m.places if any(a.code in named for a in gaz.lineage(p)[:-1])]
        if len(backed) == 1:
            out[id(m)] = backed[0]
        elif m.places[0].level != m.places[1].level:
            out[id(m)] = m.places[0]  # 海南: the province before the prefecture of the same short name
    return out


def _self_level(norm: str) -> str | None:
    """The level a plan speaks of itself at: 全省 / 全市 / 全区·全县 counted over the text."""
    words = scope_words()
    counts = {level: sum(norm.count(w) for w in ws) for level, ws in words.items()}
    level, n = max(counts.items(), key=lambda kv: kv[1])
    return level if n else None

