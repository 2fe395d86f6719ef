"""Question analysis: language, cities (Chinese, Traditional, pinyin/English), years, plan kind, figure intent.

City names come from the indexed documents' own metadata; pinyin aliases are derived with pypinyin,
so a new city's document is understood in English without editing any list here. Place names that
are *not* in the corpus (杭州, Hangzhou) are detected too, so the answerer can refuse instead of
answering with another city's figure.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from importlib import resources

from .documents import PROVINCES, DocumentMetadata
from .bridge import TermBridge
from .tokenize import Tokenizer

__all__ = ["Query", "CityCatalog", "analyse_query", "load_glossary"]

# Asking for a figure ("多少", "how many"), not merely naming an indicator ("比重", "target").
FIGURE_HINTS = re.compile(
    r"多少|几[个家项所名人件场次座]|百分之|几成|"
    r"how (?:many|much)|what (?:percentage|share|proportion|amount|number|figure)|\bfigures?\b|\bamount\b",
    re.I)
# Naming a target or a ratio: a clause with a figure is more likely the answer (a scoring hint, never a refusal rule).
PREFERS_FIGURE = re.compile(r"目标|指标|比重|比例|占比|增长|达到|\btargets?\b|\bgoals?\b|\bshare\b|\brate\b|\bgrowth\b|"
                            r"\bintensity\b|\bratio\b", re.I)
# Asking for names or a list ("哪些城市", "which programme"): the whole sentence is the better quote.
NAMES_HINTS = re.compile(r"哪些|哪几|哪[个一]|什么|名称|叫什么|是谁|分别是|\bwhich\b|\bname\b|\bnames\b|\blist\b|\bwho\b|"
                         r"\bwhat (?:is|are) the (?:name|names)\b", re.I)
KIND_HINTS = {
    "十四五": re.compile(r"十四五|14th[- ]five|fourteenth[- ]five|2021\s*[-–—~至到]\s*2025", re.I),
    "工作要点": re.compile(r"工作要点|要点|work[- ]points|key[- ]points|annual (?:s&t )?work plan", re.I),
    "工作意见": re.compile(r"工作意见|work opinions?|opinions? on", re.I),
    "实施方案": re.compile(r"实施方案|implementation plan|implementation scheme", re.I),
}
# Questions about the document itself, answered from its metadata (with the span it was read from).
METADATA_HINTS = {
    "issue_date": re.compile(r"成文日期|发布日期|印发日期|落款日期|落款时间|哪一?天|什么时候(?:印发|发布|成文|出台)|何时|"
                             r"\bwhen\b.*\b(?:issued|published|released|dated|signed)\b|issue date|"
                             r"date of (?:issue|issuance|publication)|what date", re.I),
    "issuer": re.compile(r"发文机关|发文单位|印发单位|哪个(?:部门|单位|机关|机构)(?:印发|发布|制定|出台)|由谁|"
                         r"谁(?:印发|发布|制定|出台)|which (?:body|agency|department|office|authority|organi[sz]ation)"
                         r"\b.*\bissued|who issued|issued by|issuing (?:body|authority|agency|department)", re.I),
}
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Provinces are not "places outside the corpus" (江西省鹰潭市); the four municipalities are cities, so they are.
PROVINCES_ONLY = frozenset(PROVINCES) - {"北京", "上海", "天津", "重庆"}
# Words that look like pinyin place names in English questions but are not places.
NOT_PLACES = {"what", "which", "when", "where", "how", "the", "science", "technology", "plan", "work", "points",
              "target", "according", "does", "document", "city", "province", "china", "chinese", "year"}


@dataclass(frozen=True)
class CityCatalog:
    """Cities of the corpus with their aliases (中文, 市-suffixed, Traditional, pinyin)."""

    aliases: dict[str, str]  # alias (lowercase) -> canonical Chinese city name
    english: dict[str, str]  # canonical -> English name ("Shaoxing")

    @classmethod
    def from_metadata(cls, metas: list[DocumentMetadata]) -> "CityCatalog":
        from pypinyin import lazy_pinyin

        try:
            import opencc

            s2t = opencc.OpenCC("s2t").convert
        except Exception:  # pragma: no cover
            s2t = lambda s: s  # noqa: E731
        aliases, english = {}, {}
        for m in metas:
            if not m.city:
                continue
            city = m.city
            py = lazy_pinyin(city)
            english[city] = "".join(py).capitalize()
            for alias in (city, city + "市", s2t(city), s2t(city) + "市", "".join(py), " ".join(py), "-".join(py)):
                aliases[alias.lower()] = city
        return cls(aliases, english)

    @property
    def cities(self) -> list[str]:
        return sorted(set(self.aliases.values()))


@dataclass(frozen=True)
class Query:
    text: str  # as asked
    simplified: str  # Traditional -> Simplified
    lang: str  # "zh" | "en" | "mixed"
    cities: tuple[str, ...]  # corpus cities named, in order of mention
    unknown_places: tuple[str, ...]  # places named that no document covers
    years: tuple[int, ...]
    kinds: tuple[str, ...]  # plan kinds/periods named: 十四五, 工作要点 ...
    wants_figure: bool
    terms: tuple[str, ...]  # content tokens for matching (Chinese, incl. glossary expansions)
    term_groups: tuple[tuple[str, ...], ...] = field(default=())  # each group: alternative forms of one idea
    asks_for: str | None = None  # "issue_date" / "issuer": a question about the document itself
    prefers_figure: bool = False  # names a target/ratio: favour clauses with figures when scoring
    wants_names: bool = False  # asks which/what names: quote the whole sentence, not one comma clause
    # Per-city years and plan kinds for comparisons ("赣州十四五实施方案和南昌2015年…"): city -> (years, kinds)
    scopes: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...] = ()

    def for_city(self, city: str | None) -> "Query":
        """This query narrowed to one city's years and kinds (unchanged for single-city questions)."""
        for name, years, kinds in self.scopes:
            if name == city:
                return replace(self, years=years, kinds=kinds)
        return self

    @property
    def is_english(self) -> bool:
        return self.lang == "en"


@functools.lru_cache(maxsize=1)
def load_glossary() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """English phrase -> Chinese forms, longest phrases first."""
    rows = []
    text = resources.files("rag").joinpath("data/glossary.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, zh = line.split("\t", 1)
        rows.append((en.strip().lower(), tuple(z.strip() for z in zh.split(",") if z.strip())))
    rows.sort(key=lambda r: -len(r[0]))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def load_synonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Chinese shorthand -> the full forms plans write (rag/data/synonyms.tsv)."""
    rows = []
    text = resources.files("rag").joinpath("data/synonyms.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            short, forms = line.split("\t", 1)
            rows.append((short.strip(), tuple(f.strip() for f in forms.split(",") if f.strip())))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def _pinyin_places() -> dict[str, str]:
    """pinyin -> Chinese for jieba's common place names (ns), to spot "Hangzhou" as a place not in the corpus."""
    from pypinyin import lazy_pinyin
    import jieba

    out = {}
    path = jieba.get_dict_file()
    with path as f:
        for raw in f:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3 and parts[2] == "ns" and 2 <= len(parts[0]) <= 3 and int(parts[1]) >= 200:
                name = parts[0][:-1] if parts[0].endswith("市") and len(parts[0]) == 3 else parts[0]
                if len(name) >= 2:
                    out.setdefault("".join(lazy_pinyin(name)), name)
    return out


def _language(text: str) -> str:
    cjk = len(CJK.findall(text))
    latin_words = [w for w in LATIN_WORD.findall(text) if w.lower() not in {"r", "d", "gdp", "r&d"}]
    if cjk == 0:
        return "en"
    if len(latin_words) >= 3 and cjk <= 6:
        return "en"
    return "mixed" if latin_words else "zh"


def analyse_query(question: str, catalog: CityCatalog, tokenizer: Tokenizer, bridge: TermBridge | None = None
                  ) -> Query:
    simplified = tokenizer.simplify(question)
    lowered = simplified.lower()
    lang = _language(simplified)

    found: list[tuple[int, str]] = []
    for alias, city in catalog.aliases.items():
        pattern = re.escape(alias) if CJK.search(alias) else r"\b" + re.escape(alias) + r"(?:'s)?\b"
        if m := re.search(pattern, lowered):
            found.append((m.start(), city))
    first_mention: dict[str, int] = {}
    for pos, city in sorted(found):
        first_mention.setdefault(city, pos)
    cities = tuple(first_mention)

    unknown = _unknown_places(simplified, catalog, tokenizer)
    years = tuple(dict.fromkeys(int(y) for y in YEAR_RE.findall(simplified)))
    kinds = tuple(k for k, pattern in KIND_HINTS.items() if pattern.search(simplified))
    wants_figure = bool(FIGURE_HINTS.search(simplified))

    city_words = {a for a in catalog.aliases} | set(cities) | {p.split(' ')[0] for p in unknown}
    city_words |= {p + '市' for p in city_words}
    groups: list[tuple[str, ...]] = []
    for tok in tokenizer(simplified):
        if tok in city_words or re.fullmatch(r"(?:19|20)\d{2}年?", tok) or not CJK.search(tok) and tok.isascii() and lang != "zh" \
                and tok not in {"r&d", "gdp"}:
            continue
        groups.append((tok,))
    if lang != "zh":
        rest = lowered
        for en, zh in load_glossary():
            if re.search(r"(?<![a-z])" + re.escape(en) + r"(?![a-z])", rest):
                groups.append(zh)
                rest = rest.replace(en, " ")
        if bridge is not None:
            # The hand glossary wins where it matches; CC-CEDICT fills in the rest of the question.
            for g in bridge.groups(rest):
                if not any(set(g) & set(x) for x in groups):
                    groups.append(g)
    # Shorthand ("高企", "规上") also matches the full forms the plans write.
    for short, forms in load_synonyms():
        if short.lower() in lowered:
            hit = next((g for g in groups if short.lower() in (t.lower() for t in g)), None)
            if hit is not None:
                groups[groups.index(hit)] = tuple(dict.fromkeys(hit + forms))
            elif not any(set(forms) & set(g) for g in groups):
                groups.append(tuple(dict.fromkeys((short,) + forms)))
    # Plan kinds (十四五, 工作要点 …) choose the document; they are not what a passage must say.
    kind_words = {"十四五", "工作要点", "要点", "工作意见", "意见", "实施方案", "方案", "规划", "五年规划"}
    groups = [g for g in groups if not set(g) <= kind_words]
    groups = _merge_alternatives(simplified, groups, tokenizer.user_terms)
    groups = list(dict.fromkeys(groups))
    # One idea, one group: drop a group whose forms all appear in another ("GDP" beside "gdp / GDP / 地区生产总值").
    lowered_sets = [{t.lower() for t in g} for g in groups]
    groups = [g for i, g in enumerate(groups)
              if not any(j != i and lowered_sets[i] <= lowered_sets[j] and (lowered_sets[i] != lowered_sets[j] or j < i)
                         for j in range(len(groups)))]
    terms = tuple(dict.fromkeys(t for g in groups for t in g))
    scopes = _city_scopes(simplified, first_mention, years, kinds) if len(cities) > 1 else ()
    asks_for = next((name for name, pattern in METADATA_HINTS.items() if pattern.search(simplified)), None)
    if asks_for:
        wants_figure = False
    prefers_figure = wants_figure or (not asks_for and bool(PREFERS_FIGURE.search(simplified)))
    wants_names = not wants_figure and bool(NAMES_HINTS.search(simplified))
    return Query(question, simplified, lang, cities, unknown, years, kinds, wants_figure, terms, tuple(groups),
                 asks_for, prefers_figure, wants_names, scopes)


def _merge_alternatives(text: str, groups: list[tuple[str, ...]], terms: list[str]) -> list[tuple[str, ...]]:
    """Indicator terms written as alternatives ("技术合同成交额、技术交易额", "技术合同(技术交易)") form one group."""
    present = [t for t in terms if t in text]
    for a in present:
        for b in present:
            if a != b and re.search(re.escape(a) + r"\s*[、/／或(（]\s*" + re.escape(b), text):
                ga = next((g for g in groups if a in g), None)
                gb = next((g for g in groups if b in g), None)
                if ga and gb and ga != gb:
                    groups = [g for g in groups if g not in (ga, gb)] + [tuple(dict.fromkeys(ga + gb))]
    return groups


def _city_scopes(text: str, first_mention: dict[str, int], years: tuple[int, ...], kinds: tuple[str, ...]):
    """Give each named city the years and plan kinds written after it and before the next city.

    "赣州“十四五”实施方案和南昌2015年…" -> 赣州: 十四五; 南昌: 2015. Years/kinds before the first city
    apply to all; a city with none of its own ("鹰潭和绍兴2025年") shares the ones that follow it.
    """
    order = sorted(first_mention.items(), key=lambda kv: kv[1])
    year_pos = [(m.start(), int(m.group(1))) for m in YEAR_RE.finditer(text)]
    kind_pos = [(m.start(), k) for k, pattern in KIND_HINTS.items() for m in pattern.finditer(text)]
    bounds = [pos for _, pos in order] + [len(text)]
    shared_years = tuple(y for p, y in year_pos if p < bounds[0])
    shared_kinds = tuple(k for p, k in kind_pos if p < bounds[0])
    own = []
    for i, (city, pos) in enumerate(order):
        ys = tuple(dict.fromkeys(y for p, y in year_pos if pos <= p < bounds[i + 1]))
        ks = tuple(dict.fromkeys(k for p, k in kind_pos if pos <= p < bounds[i + 1]))
        own.append([city, ys, ks])
    for i, scope in enumerate(own):
        if not scope[1] and not scope[2]:  # inherit from the next city that has its own
            nxt = next((o for o in own[i + 1:] if o[1] or o[2]), None)
            if nxt:
                scope[1], scope[2] = nxt[1], nxt[2]
    return tuple((c, tuple(dict.fromkeys(shared_years + ys)) or years if not (ys or ks) else
                  tuple(dict.fromkeys(shared_years + ys)), tuple(dict.fromkeys(shared_kinds + ks)))
                 for c, ys, ks in own)


def _unknown_places(simplified: str, catalog: CityCatalog, tokenizer: Tokenizer) -> tuple[str, ...]:
    known = set(catalog.aliases) | set(catalog.cities)
    out = []
    for token, flag in tokenizer.tagged(simplified):
        if len(token) == 2 and token.endswith(("市", "省", "县", "区")):  # 城市, 全省, 本县: not names
            continue
        word = token[:-1] if token.endswith("市") and len(token) >= 3 else token
        if flag == "ns" and len(word) >= 2 and word not in known and word not in PROVINCES_ONLY \
                and not word.endswith(("省", "国")) and word not in {"中国", "全国", "全省", "全市", "国内", "国外"} \
                and (token.endswith("市") or len(word) <= 3):
            if not any(word in k or k in word for k in known):
                out.append(word)
    for w in LATIN_WORD.findall(simplified):
        lw = w.lower().removesuffix("'s")
        if w[0].isupper() and lw not in NOT_PLACES and lw not in catalog.aliases:
            zh = _pinyin_places().get(lw)
            if zh and zh not in known and zh not in PROVINCES_ONLY:
                out.append(f"{zh} ({w.removesuffix(chr(39) + 's')})")
    return tuple(dict.fromkeys(out))
