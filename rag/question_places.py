"""Places named in a question, at any level, in any script: 绍兴 / 紹興 / Shaoxing / 浙江省 / 洞头区 / 洞头 —
and near-misses of indexed places (赣洲, 鹰谭, Ganzou), which are resolved and reported as assumptions.

`PlaceCatalog` knows which documents each place has; it is built from the documents' own metadata.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .metadata import DocumentMetadata
from .places import Place, gazetteer, pinyin_key, possible_pinyin_keys

__all__ = ["PlaceCatalog", "PlaceMention", "find_places", "place_code", "place_label"]

_LATIN_WORD = re.compile(r"(?<![A-Za-z])([A-Z][a-z]+)(?:'s)?(?![a-z])")  # "Changyang县" too
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_SUFFIXED = re.compile(r"[\u4e00-\u9fff]{2,3}[县区旗]")
_LEVEL_WORD = re.compile(r"\s+(District|County|City|Banner|Province|Prefecture|League)\b|\s*([县区市旗盟州省])", re.I)
_CJK_LEVEL = {"县": "county", "区": "district", "市": "city", "旗": "banner", "盟": "league", "州": "prefecture",
              "省": "province"}
# What stands between a place and its parent written after it: "Duolun County (多伦县) in Xilingol".
_QUALIFIER = re.compile(r"(?:\s*(?:district|county|city|banner|prefecture|league))?[\s)）]*(?:in|of|,|，)\s*", re.I)
# Capitalised English words that are not place names even when they sound like one.
NOT_PLACES = {"what", "which", "when", "where", "how", "the", "science", "technology", "plan", "work", "points",
              "target", "according", "does", "document", "city", "province", "china", "chinese", "year", "district",
              "county", "compare", "and", "who", "is", "are", "was", "list", "tell", "give", "show", "please", "in",
              "for", "of", "by", "to", "did", "do", "has", "have", "many", "much", "new", "high", "national"}


@dataclass(frozen=True)
class PlaceCatalog:
    """The places the indexed plans are for (division codes), and which documents each place has."""

    doc_places: dict[str, str | None]  # doc_id -> the plan's place code (None when no place was found)

    @classmethod
    def from_metadata(cls, metas: "dict[str, DocumentMetadata] | list[DocumentMetadata]") -> "PlaceCatalog":
        items = metas.items() if isinstance(metas, dict) else enumerate(metas)
        return cls({str(k): place_code(m) for k, m in items})

    @functools.cached_property
    def indexed(self) -> frozenset[str]:
        """Codes of every place that has a plan and of every place above one (a province with a city plan)."""
        gaz = gazetteer()
        return frozenset(a.code for c in self.doc_places.values() if c for a in gaz.lineage(gaz.get(c)))

    @functools.cached_property
    def own(self) -> frozenset[str]:
        """Codes of the places that have a plan of their own."""
        return frozenset(c for c in self.doc_places.values() if c)

    @functools.cached_property
    def sound_keys(self) -> dict[str, Place]:
        """pinyin key -> place, for every place with a plan or above one (near-misses resolve to these)."""
        gaz = gazetteer()
        keys: dict[str, Place] = {}
        for code in sorted(self.indexed):
            keys.setdefault(pinyin_key(gaz.get(code).short), gaz.get(code))
        return keys

    @functools.cached_property
    def sound_candidates(self) -> frozenset[str] | None:
        """Every key the name of a place in `sound_keys` could have (places.possible_pinyin_keys); None: unknown."""
        gaz = gazetteer()
        out: set[str] = set()
        for code in self.indexed:
            keys = possible_pinyin_keys(gaz.get(code).short)
            if keys is None:
                return None
            out |= keys
        return frozenset(out)

    @functools.cached_property
    def word_like_shorts(self) -> tuple[tuple[str, str], ...]:
        """(short form, code) of the places with a plan whose short form is usually an ordinary word (大同,
        中山; places.json "not_names"): found once per catalog, not per question (2,645 places at 1M chunks)."""
        gaz = gazetteer()
        return tuple((p.short, c) for c in sorted(self.own)
                     if (p := gaz.get(c)).short != p.name and p.short in gaz.not_names)

    def may_sound_like_a_place(self, word: str) -> bool:
        """False when no reading of `word` is a reading of an indexed place's name, so `sound_keys` cannot hold
        its key: most words are settled so, without importing pypinyin."""
        if self.sound_candidates is None or (keys := possible_pinyin_keys(word)) is None:
            return True
        return not keys.isdisjoint(self.sound_candidates)

    @functools.cached_property
    def _docs_by_place(self) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """(place code -> its own plans, place code -> the plans of it and of every place inside it): computed
        once per catalog, so a question costs a look-up, not a pass over every document (7,800 at 1M chunks)."""
        gaz = gazetteer()
        at: dict[str, list[str]] = {}
        within: dict[str, list[str]] = {}
        for d, c in self.doc_places.items():
            if c:
                at.setdefault(c, []).append(d)
                for a in gaz.lineage(gaz.get(c)):
                    within.setdefault(a.code, []).append(d)
        return ({c: frozenset(ds) for c, ds in at.items()}, {c: frozenset(ds) for c, ds in within.items()})

    def docs_at(self, code: str) -> set[str]:
        """The plans of exactly this place."""
        return set(self._docs_by_place[0].get(code, ()))

    def docs_within(self, code: str) -> set[str]:
        """The plans of this place and of every place inside it."""
        return set(self._docs_by_place[1].get(code, ()))

    @property
    def cities(self) -> list[str]:
        """Labels of the places that have plans (绍兴, 温州市洞头区, 浙江省)."""
        gaz = gazetteer()
        return sorted({gaz.label(gaz.get(c)) for c in self.own})

    @property
    def english(self) -> dict[str, str]:
        """label -> English name, for every place that has a plan and the places above it."""
        gaz = gazetteer()
        return {gaz.label(gaz.get(c)): gaz.english(gaz.get(c)) for c in self.indexed}

    def resolve(self, name: str) -> Place | None:
        """A place written by a user (a filter value, 绍兴 / Shaoxing / 洞头区): indexed places first."""
        mentions, _ = find_places(name, self)
        if mentions:
            return gazetteer().get(mentions[0].code)
        return None


def place_code(m: DocumentMetadata) -> str | None:
    """The division code of a document's place (older indexes recorded only city/province names)."""
    gaz = gazetteer()
    if m.place_code and m.place_code in gaz.places:
        return m.place_code
    for name, levels in ((m.district, ("county",)), (m.city, ("city", "province")), (m.province, ("province",))):
        if name:
            found = [p for p in gaz.lookup(name) if p.level in levels]
            if found:
                return found[0].code
    return None


def place_label(m: DocumentMetadata) -> str | None:
    """How answers name a document's place: 绍兴, 温州市洞头区, 湖南省 (None when it has none)."""
    code = place_code(m)
    return gazetteer().label(gazetteer().get(code)) if code else None


@dataclass(frozen=True)
class PlaceMention:
    start: int
    surface: str  # as written in the question
    code: str
    assumed: bool = False  # a near-miss (赣洲) read as an indexed place (赣州)


def _prefer(places, catalog: PlaceCatalog) -> Place | None:
    """Of several places one name may mean, an indexed one, else one above an indexed one, else the highest."""
    for pool in ([p for p in places if p.code in catalog.own], [p for p in places if p.code in catalog.indexed],
                 list(places)):
        if pool:
            return pool[0]
    return None


def find_places(text: str, catalog: PlaceCatalog) -> tuple[list[PlaceMention], list[tuple[int, int]]]:
    """Places named in a Simplified question, in order, and the spans they occupy.

    County short forms (洞头) are read only for counties that have a plan; other short forms are read at
    province and city level. A two- or three-character word that is no place but sounds exactly like an
    indexed place's name (赣洲 → 赣州) is read as that place, marked `assumed`."""
    gaz = gazetteer()
    out: list[PlaceMention] = []
    spans: list[tuple[int, int]] = []
    for m in gaz.mentions(text, short_levels=("province", "city", "county")):
        places = [p for p in m.places if m.suffixed or p.level != "county" or p.code in catalog.own]
        if p := _prefer(places, catalog):
            out.append(PlaceMention(m.start, m.surface, p.code))
            spans.append((m.start, m.end))
    # A short form that is usually an ordinary word (大同, 中山; places.json "not_names") names the place in
    # a question when that place has a plan of its own: "大同2024年…" asks about the indexed 大同.
    for short, code in catalog.word_like_shorts:
        for m in re.finditer(re.escape(short), text):
            if not any(s < m.end() and m.start() < e for s, e in spans):
                out.append(PlaceMention(m.start(), short, code))
                spans.append(m.span())
    out.sort(key=lambda pm: pm.start)
    spans.sort()
    taken = [range(s, e) for s, e in spans]
    # Near-misses of indexed places, by sound: only words that are no place name at all, and only whole words:
    # with thousands of places indexed, some always sound like a stretch across two words ("合同成交额" holds
    # tong-cheng, 桐城), so a near-miss must start where a word does and end where one does or at a level word
    # (赣洲市 is one word to jieba).
    starts, ends = _word_bounds(text) if _CJK_RUN.search(text) else (set(), set())
    for run in _CJK_RUN.finditer(text):
        for size in (3, 2):
            for i in range(run.start(), run.end() - size + 1):
                if any(i in r or i + size - 1 in r for r in taken):
                    continue
                if i not in starts or not (i + size in ends or text[i + size:i + size + 1] in _CJK_LEVEL):
                    continue
                word = text[i:i + size]
                if not catalog.may_sound_like_a_place(word):
                    continue
                place = catalog.sound_keys.get(pinyin_key(word))
                if place is not None and not gaz.lookup(word) and len(place.short) == size and not _common_word(word):
                    out.append(PlaceMention(i, word, place.code, assumed=True))
                    spans.append((i, i + size))
                    taken.append(range(i, i + size))
    # A suffixed name no place has, one character off an indexed place with the same suffix (恒台县 for
    # 桓台县: a look-alike, not a homophone), when exactly one indexed place is that close.
    for m in _SUFFIXED.finditer(text):
        if any(m.start() in r or m.end() - 1 in r for r in taken) or gaz.lookup(m.group(0)):
            continue
        word = m.group(0)
        close = {c for c in catalog.indexed if (p := gaz.get(c)) and len(p.name) == len(word)
                 and p.name[-1] == word[-1] and sum(a != b for a, b in zip(p.name, word)) == 1}
        if len(close) == 1:
            out.append(PlaceMention(m.start(), word, close.pop(), assumed=True))
            spans.append(m.span())
            taken.append(range(*m.span()))
    # English and pinyin: "Shaoxing", "Gan Zhou", "Zhejiang Province", "Dongtou District", "Ganzou".
    words = [m for m in _LATIN_WORD.finditer(text) if m.group(1).lower() not in NOT_PLACES]
    i = 0
    while i < len(words):
        m = words[i]
        if any(m.start() in r for r in taken):
            i += 1
            continue
        # "Gan Zhou": two adjacent capitalised syllables may be one name.
        pair = words[i + 1] if i + 1 < len(words) and text[m.end():words[i + 1].start()] in (" ", "-") else None
        for group, name in (([m, pair], m.group(1) + pair.group(1)) if pair else (None, None), ([m], m.group(1))):
            if group is None:
                continue
            level_word = _LEVEL_WORD.match(text, group[-1].end())
            suffix = (level_word.group(1) or "").lower() or _CJK_LEVEL.get(level_word.group(2)) if level_word else None
            p, exact = _latin_place(name, catalog, suffix=suffix)
            if p is not None:
                out.append(PlaceMention(m.start(), text[m.start():group[-1].end(1)], p.code,
                                        assumed=not exact and p.code in catalog.own))
                # "Enshi Prefecture": the level word belongs to the name, it is not a term to search for.
                spans.append((m.start(), level_word.end() if level_word else group[-1].end()))
                i += len(group) - 1
                break
        i += 1
    out.sort(key=lambda pm: pm.start)
    # "成都武侯区", "温州市洞头区": a place written right before one inside it only qualifies it.
    gaz_contains = gaz.contains
    kept = [pm for i, pm in enumerate(out)
            if not (i + 1 < len(out) and re.fullmatch(r"(?:'s)?\s*|市", text[pm.start + len(pm.surface):out[i + 1].start])
                    and gaz_contains(gaz.get(pm.code), gaz.get(out[i + 1].code)) and pm.code != out[i + 1].code)
            # ...and so does one written right after it: "Duolun County (多伦县) in Xilingol", "多伦县，锡林郭勒盟".
            and not (i > 0 and _QUALIFIER.fullmatch(text[out[i - 1].start + len(out[i - 1].surface):pm.start])
                     and gaz_contains(gaz.get(pm.code), gaz.get(out[i - 1].code)) and pm.code != out[i - 1].code)]
    return kept, spans


# An English name that says it is a place: "Foo County", "Foo's" (possessive), not read as any division.
_NAMED_PLACE = re.compile(r"(?<![A-Za-z&])([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)(?:'s\b|\s+(?:District|County|City|Banner|"
                          r"Prefecture|League|Province)\b)"
                          # ...or the subject of "does Foo aim" ("in Foo" is too often "in March", "in Chapter 3")
                          r"|\b(?:does|did|do|will|should|would|can|could|has|have) "
                          r"([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)\b(?!['’]s)")
_NOT_PLACE_NAMES = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                    "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                    "sunday", "english", "chinese", "pinyin", "five", "year", "s&t"}


def unresolved_english_places(text: str, taken: list[tuple[int, int]]) -> tuple[str, ...]:
    """Names an English question gives as places ("Foo County", "Foo's target") that no division was read
    from: no plan can be theirs, and answering from the others' plans would answer for the wrong place."""
    out = []
    for m in _NAMED_PLACE.finditer(text):
        group = 1 if m.group(1) else 2
        words = m.group(group).replace("-", " ").split()
        if any(a < m.end(group) and m.start(group) < b for a, b in taken) \
                or any(w.lower() in NOT_PLACES or w.lower() in _NOT_PLACE_NAMES for w in words):
            continue
        out.append(m.group(group))
    return tuple(dict.fromkeys(out))


def _latin_place(name: str, catalog: PlaceCatalog, suffix: str | None = None) -> tuple[Place | None, bool]:
    """(the place a pinyin name means, whether it is spelled exactly); near-misses only for indexed places.

    A bare pinyin word is read as a county only when that county has a plan ("Dongtou"); followed by its
    level ("Linping District") it is read as any county with that name, so a place with no plan is refused
    by name instead of being ignored."""
    gaz = gazetteer()
    county_suffixes = {"district": "区", "county": "县", "city": "市", "banner": "旗"}
    candidates = [c for c in gaz.by_pinyin(name) if c.level != "county" or c.code in catalog.own
                  or (suffix in county_suffixes and c.name.endswith(county_suffixes[suffix]))]
    exact = [p for p in candidates if name.lower() in _pinyin_readings(p.short)
             or name.lower() in {e.lower().replace(" ", "") for e in gaz.exonyms(p)}]  # Golmud, Karamay
    if exact:
        return _prefer(exact, catalog), True
    near = [p for p in candidates if p.code in catalog.indexed]
    if near:
        return _prefer(near, catalog), False
    return _spelled_like(name, catalog), False


# A name spelled unlike its pinyin ("Xilingol" for 锡林郭勒, xilinguole) still reads as an indexed place when
# it is this close to that one place's pinyin and to no other's.
SPELLING_RATIO = 0.8


def _spelled_like(name: str, catalog: PlaceCatalog) -> Place | None:
    from difflib import SequenceMatcher

    if len(name) < 5:
        return None
    gaz, spelled = gazetteer(), name.lower()
    close = {code for code in catalog.indexed
             if SequenceMatcher(None, spelled, _plain_pinyin(gaz.get(code).short)).ratio() >= SPELLING_RATIO}
    return gaz.get(close.pop()) if len(close) == 1 else None


@functools.lru_cache(maxsize=4096)
def _pinyin_readings(chinese: str) -> frozenset[str]:
    """Every toneless reading of a name: 长阳 is "changyang" as well as pypinyin's "zhangyang"."""
    from itertools import islice, product

    from pypinyin import Style, pinyin

    syllables = pinyin(chinese, style=Style.NORMAL, heteronym=True)
    return frozenset(islice(("".join(combo) for combo in product(*syllables)), 64)) | {_plain_pinyin(chinese)}


@functools.lru_cache(maxsize=4096)
def _plain_pinyin(chinese: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(chinese))


@functools.lru_cache(maxsize=1)
def _word_freq() -> dict[str, int]:
    from .tokenize import _default_jieba

    return _default_jieba().FREQ


def _word_bounds(text: str) -> tuple[set[int], set[int]]:
    """Where jieba's words start and end in `text` (its own dictionary, as _common_word's)."""
    from .tokenize import _default_jieba  # initialised with its cache in policy-rag's folder, not /tmp

    words = list(_default_jieba().tokenize(text))
    return {s for _, s, _ in words}, {e for _, _, e in words}


def _common_word(word: str) -> bool:
    """A word jieba's dictionary knows as an ordinary word (not a near-miss of a place name)."""
    return _word_freq().get(word, 0) > 0
