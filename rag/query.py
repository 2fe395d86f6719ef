"""Question analysis: language, cities (Chinese, Traditional, pinyin/English), years, plan kind, figure intent.

City names come from the indexed documents' own metadata; pinyin aliases are derived with pypinyin,
so a new city's document is understood in English without editing any list here. Place names that
are *not* in the corpus (杭州, Hangzhou) are detected too, so the answerer can refuse instead of
answering with another city's figure.
"""

from __future__ import annotations

import unicodedata
import re
from dataclasses import dataclass, field, replace

from .metadata import plan_kinds
from .numbers import (asked_figure_kind, asked_unit, asks_for_flow, quantity_suffixes, relative_year_offset,
                      without_negated)
from .places import gazetteer, generic_places, is_township, names_natural_feature
from .question_places import PlaceCatalog, find_places, unresolved_english_places
from .bridge import TermBridge
from .tokenize import Tokenizer
from .vocabulary import load_glossary, load_measures, load_name_heads, load_synonyms

__all__ = ["Query", "PlaceCatalog", "CityCatalog", "analyse_query", "load_glossary"]

CityCatalog = PlaceCatalog  # the name before places had levels

# Asking for a figure ("多少", "how many"), not merely naming an indicator ("比重", "target").
FIGURE_HINTS = re.compile(
    r"多少|几[个家项所名人件场次座]|百分之|几成|"
    r"how (?:many|much)|what (?:(?:total|overall|combined) )?(?:percentage|share|proportion|amount|number|figure)|"
    r"\bfigures?\b|\bamount\b|\b(?:the|a) (?:total )?number of\b|\bhow large\b|\bhow big\b|"
    # "What one-off grant does Hainan give…": a sum of money
    r"\b(?:what|which) (?:[\w-]+ ){0,2}(?:grant|subsidy|reward|bonus|award|allowance|payment|funding|prize)s?\b",
    re.I)
# Naming a target or a ratio: a clause with a figure is more likely the answer (a scoring hint, never a refusal rule).
PREFERS_FIGURE = re.compile(r"目标|指标|比重|比例|占比|增长|达到|\btargets?\b|\bgoals?\b|\bshare\b|\brate\b|\bgrowth\b|"
                            r"\bintensity\b|\bratio\b", re.I)
# Asking for names or a list ("哪些城市", "which programme"): the whole sentence is the better quote.
NAMES_HINTS = re.compile(r"哪些|哪几|哪[个一]|什么|名称|叫什么|是谁|分别是|\bwhich\b|\bname\b|\bnames\b|\blist\b|\bwho\b|\bcalled\b|"
                         r"\bwhat (?:is|are) the (?:name|names)\b", re.I)
# A place's figure for every year of its plans ("…and Xiangyang (each year)", "襄阳每年"): no year of its own.
EVERY_YEAR = re.compile(r"每年|逐年|年均|\b(?:each|every|per) year\b|\bannual(?:ly)?\b|\ba year\b", re.I)
# A short Chinese word in quotes.
QUOTED = re.compile(r"[“\"「『‘]([\u4e00-\u9fff]{1,8})[”\"」』’]")
# An English question asking what something is called.
CALLED = re.compile(r"\b(?:called|named|the name of|what is its name)\b", re.I)
KIND_HINTS = {
    "十四五": re.compile(r"十四五|14th[- ]five|fourteenth[- ]five|2021\s*[-–—~至到]\s*2025", re.I),
    "工作要点": re.compile(r"工作要点|要点|work[- ]points|key[- ]points|annual (?:s&t )?work plan", re.I),
    "工作意见": re.compile(r"工作意见|work opinions?|opinions? on", re.I),
    "实施方案": re.compile(r"实施方案|implementation plan|implementation scheme", re.I),
}
# Questions about the document itself, answered from its metadata (with the span it was read from).
METADATA_HINTS = {
    "doc_number": re.compile(r"发文字号|文号|发文号|document (?:reference )?number|reference number|file number", re.I),
    # The web page's publication date (发布日期), which can differ from the date the plan was signed.
    "published": re.compile(r"发布日期|发布时间|网页.{0,6}日期|publication date|published (?:date|on)|"
                            r"web ?page\b.*\bdate|date\b.*\bweb ?page", re.I),
    # The colophon's (版记) 印发 date, which can differ from the date the notice was signed.
    "printed": re.compile(r"版记|colophon|\bprinted\b|印发日期", re.I),
    "outlet": re.compile(r"哪(?:家|个|一家)(?:报纸|报社|媒体|网站)|(?:报纸|媒体|报社)是|消息来源|新闻来源|来源是|"
                         r"\bwhich (?:newspaper|paper|outlet|media|news ?paper|website)\b|\breported by\b|"
                         r"\bnews source\b|\bsource of (?:the|this) (?:news|report|article)\b", re.I),
    "reporter": re.compile(r"记者是谁|哪位记者|哪个记者|记者叫什么|作者是谁|\breporters?\b|\bjournalists?\b|"
                           r"\bwho wrote\b|\bwho reported\b|\bauthor of (?:the|this) (?:news|report|article)\b", re.I),
    "speaker": re.compile(r"谁作的?(?:政府工作)?报告|(?:报告|讲话)(?:是|由)谁作|作报告的是|报告人|谁(?:代表|在会上)?作(?:了)?(?:政府工作)?报告|"
                          r"\bwho (?:delivered|gave|presented|made|read)\b|\b(?:delivered|presented) by\b", re.I),
    "venue": re.compile(r"(?:在)?(?:哪|什么)(?:一|个)?(?:次|届)?(?:会议|大会|会)上|在哪次会|会议名称|"
                        r"\b(?:at|in) (?:which|what) (?:meeting|session|congress|conference)\b|"
                        r"\bwhich (?:meeting|session|congress)\b", re.I),
    "issue_date": re.compile(r"成文日期|发布日期|落款日期|落款时间|报送日期|哪一?天|什么时候(?:印发|发布|成文|出台|报送)|何时|"
                             r"\bwhen\b.*\b(?:issued|published|released|dated|signed|submitted)\b|"
                             r"\b(?:issued|submitted|signed)\b.*\band when\b|issue date|"
                             r"date of (?:issue|issuance|publication)|what date", re.I),
    "issuer": re.compile(r"发文机关|发文单位|印发单位|发布单位|制定单位|哪(?:个|两个|几个|些)(?:部门|单位|机关|机构)"
                         r"(?:联合)?(?:印发|发布|制定|出台|发)|"
                         r"(?:部门|单位|机关|机构)是(?:哪个|哪些|什么|谁)|由谁|由哪(?:个|两个|几个|些)|"
                         r"谁(?:印发|发布|制定|出台|发)|which (?:body|agency|department|office|authority|organi[sz]ation)"
                         r"\b.*\b(?:issued|submitted)|who (?:issued|submitted)|(?:issued|submitted) by (?:whom|which|what)|issuing (?:body|authority|agency|department)", re.I),
}
# Questions about the corpus itself or a whole plan, answered from metadata and structure (rag/overview.py).
INTENT_HINTS = {
    "corpus": re.compile(r"(?:这些|所有|全部|收录|库里|一共|总共|共有|有多少|有几)\S{0,4}?(?:份|个|篇)?(?:文件|文档|规划|计划)|"
                         r"(?:哪些|哪几个)(?:城市|地方|地区|省份?|区县)|涉及(?:哪些|哪几个)|(?:有|收录了?)(?:哪些|哪几份|几份)(?:规划|文件|文档|计划)|"
                         r"\b(?:how many|which|what) (?:documents|plans|files|cities|places|provinces)\b|"
                         r"\blist (?:the |all )?(?:documents|plans|files)\b", re.I),
    "outline": re.compile(r"总结一下|概括|概述|主要内容|讲了什么|说了什么|有哪些(?:部分|方面|重点)|主要(?:任务|措施)有哪些|"
                          r"\bsummari[sz]e\b|\bsummary\b|\boverview\b|\bmain (?:points|parts|contents?)\b|"
                          r"\bwhat is .{0,40}\babout\b", re.I),
}
# An event the text reports ("大会哪天召开"): its date is in the text, not the document's own date.
# ("signed" is left out: a document is signed too, and its date is the document's own.)
EVENT_WORDS = re.compile(r"召开|举行|举办|开幕|闭幕|启动|开工|签约|\b(?:held|convened|opened|took place|launched)\b",
                         re.I)
WHEN_WORDS = re.compile(r"哪一?天|哪日|几月几日|什么时候|何时|日期|\bwhen\b|\bwhat date\b|\bwhich day\b|\bon what day\b", re.I)
WHEN_PRINTED = re.compile(r"(?:哪一?天|何时|什么时候|几月几日)印发|印发(?:于|的)?(?:哪一?天|时间)")
# "…大会的新闻稿什么时候发布的": the when belongs to the publishing, not to the event the text reports.
PUBLISHING_WHEN = re.compile(r"(?:哪一?天|哪日|几月几日|什么时候|何时)(?:印发|发布|发出|成文|出台|刊发|刊登)|"
                             r"(?:印发|发布|刊发|刊登)(?:于|的)?(?:哪一?天|时间|日期)|"
                             r"\bwhen\b.*\b(?:issued|published|released|posted)\b", re.I)
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
YEAR_PART = re.compile(r"((?:19|20)\d{2}\s*年)[底末初中]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Query:
    text: str  # as asked
    simplified: str  # Traditional -> Simplified
    lang: str  # "zh" | "en" | "mixed"
    places: tuple[str, ...]  # division codes of the places named, in order of mention
    unknown_places: tuple[str, ...]  # labels of places named that no document is for or inside
    years: tuple[int, ...]
    kinds: tuple[str, ...]  # plan kinds/periods named: 十四五, 工作要点 ...
    wants_figure: bool
    terms: tuple[str, ...]  # content tokens for matching (Chinese, incl. glossary expansions)
    term_groups: tuple[tuple[str, ...], ...] = field(default=())  # each group: alternative forms of one idea
    asks_for: str | None = None  # "issue_date" / "issuer": a question about the document itself
    prefers_figure: bool = False  # names a target/ratio: favour clauses with figures when scoring
    wants_names: bool = False  # asks which/what names: quote the whole sentence, not one comma clause
    # Per-place years and plan kinds for comparisons ("赣州十四五实施方案和南昌2015年…"): code -> (years, kinds)
    scopes: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...] = ()
    # Names read as a near-miss of an indexed place: (as written, the place assumed), e.g. ("赣洲", "赣州")
    assumed: tuple[tuple[str, str], ...] = ()
    intent: str | None = None  # "corpus" (which plans are indexed) | "outline" (what a plan is about)
    asks_for_all: tuple[str, ...] = ()  # every metadata field asked for ("由哪个机关印发?文号是什么?")
    # The kind of figure asked for ("percent", "money", "people"; rag/data/figure_kinds.json), None when unsaid
    figure_kind: str | None = None
    asks_flow: bool = True  # asks what is added in a period ("新增多少家"); False: a total ("有多少家")
    unit: str | None = None  # the counting unit asked in ("多少家" -> 家), None when unsaid
    # "去年" / "last year" with no year written: the year before each plan's own date (-1), None when unsaid
    relative_year: int | None = None
    # Term groups that are only CC-CEDICT's guesses at an English word ("send" -> 派出/派遣/反馈/发电): weaker
    # evidence for or against a passage than a glossary term or the question's own Chinese words
    guessed: frozenset[tuple[str, ...]] = frozenset()

    def for_city(self, place: str | None) -> "Query":
        """This query narrowed to one place's years and kinds (unchanged for single-place questions)."""
        for code, years, kinds in self.scopes:
            if code == place:
                return replace(self, years=years, kinds=kinds)
        return self

    @property
    def cities(self) -> tuple[str, ...]:
        """Labels of the places named (绍兴, 温州市洞头区, 浙江省)."""
        gaz = gazetteer()
        return tuple(gaz.label(gaz.get(c)) for c in self.places)

    @property
    def is_english(self) -> bool:
        return self.lang == "en"


def _language(text: str) -> str:
    cjk = len(CJK.findall(text))
    latin_words = [w for w in LATIN_WORD.findall(text) if w.lower() not in {"r", "d", "gdp", "r&d"}]
    if cjk == 0:
        return "en"
    if len(latin_words) >= 3 and cjk <= 6:
        return "en"
    return "mixed" if latin_words else "zh"


def _period_end_year(text: str) -> tuple[int, ...]:
    """"十四五末", "by the end of its 14th Five-Year period": the period's last year (its targets' year)."""
    data = plan_kinds()
    for period, (_, last) in data["periods"].items():
        en = data["period_en"].get(period)
        if re.search(r"%s[”\"’]?\s*(?:时期|期)?末" % period, text) or en and re.search(
                r"\bend of (?:the |its |their )?(?:%s)" % en, text, re.I):
            return (last,)
    return ()


def analyse_query(question: str, catalog: PlaceCatalog, tokenizer: Tokenizer, bridge: TermBridge | None = None
                  ) -> Query:
    simplified = tokenizer.simplify(unicodedata.normalize("NFKC", question))
    lowered = simplified.lower()
    lang = _language(simplified)

    mentions, place_spans = find_places(simplified, catalog)
    first_mention: dict[str, int] = {}
    for pm in mentions:
        first_mention.setdefault(pm.code, pm.start)
    places = tuple(first_mention)
    gaz = gazetteer()
    unknown = tuple(gaz.label(gaz.get(c)) for c in places if not catalog.docs_within(c))
    unknown += _foreign_places(simplified, tokenizer, place_spans)
    if lang != "zh":
        unknown += unresolved_english_places(simplified, place_spans)
    assumed = tuple(dict.fromkeys((pm.surface, gaz.label(gaz.get(pm.code))) for pm in mentions if pm.assumed))
    years = tuple(dict.fromkeys(int(y) for y in YEAR_RE.findall(simplified))) or _period_end_year(simplified)
    kinds = tuple(k for k, pattern in KIND_HINTS.items() if pattern.search(simplified))
    wants_figure = bool(FIGURE_HINTS.search(simplified))
    figure_kind = None

    # Place names choose documents; they are not words a passage must contain.
    city_words = {simplified[s:e].lower() for s, e in place_spans}
    city_words |= {n.lower() for c in places for n in (gaz.get(c).name, gaz.get(c).short)}
    city_words |= {w + suffix for w in city_words for suffix in ("市", "州", "盟", "区", "县", "旗", "省")}
    groups: list[tuple[str, ...]] = []
    bridged: set[str] = set()  # forms CC-CEDICT gave for an English word (a dictionary's guesses, not the plans')
    wanted = without_negated(simplified)  # "(in money, not intensity)": intensity is no word to search for
    wanted = YEAR_PART.sub(lambda m: m.group(1) + " ", wanted)  # "2023年底有多少家": 底 is when, not what
    for tok in tokenizer(wanted):
        if tok in city_words or re.fullmatch(r"(?:19|20)\d{2}年?", tok) or not CJK.search(tok) and tok.isascii() and lang != "zh" \
                and tok not in {"r&d", "gdp"}:
            continue
        groups.append((tok,))
    # A word the asker puts in quotes ("发多少钱的“券”") is one they want found, however short: the
    # tokenizer drops single characters.
    for quoted in QUOTED.findall(wanted):
        if quoted.lower() not in city_words and not any(quoted in t for g in groups for t in g):
            groups.append((quoted,))
    if lang != "zh":
        rest = wanted.lower()
        for s, e in place_spans:  # "Enshi Prefecture" is a place, not words to translate
            rest = rest[:s] + " " * (e - s) + rest[e:]
        # ...and "government work report", "five-year plan" name the kind of plan, which chooses documents.
        for kind in plan_kinds()["kinds"]:
            for pattern in kind["en"]:
                rest = re.sub(r"(?<![a-z])(?:%s)(?![a-z])" % pattern, lambda m: " " * len(m.group(0)), rest)
        for en, zh in load_glossary():
            if re.search(r"(?<![a-z])" + re.escape(en) + r"(?![a-z])", rest):
                groups.append(zh)
                rest = rest.replace(en, " ")
        if bridge is not None:
            # The hand glossary wins where it matches; CC-CEDICT fills in the rest of the question.
            for g in bridge.groups(rest):
                if not any(set(g) & set(x) for x in groups):
                    groups.append(g)
                    bridged.update(g)
    # Shorthand ("高企", "规上") also matches the full forms the plans write.
    for short, forms in load_synonyms():
        if short.lower() in lowered:
            hit = next((g for g in groups if short.lower() in (t.lower() for t in g)), None)
            if hit is not None:
                groups[groups.index(hit)] = tuple(dict.fromkeys(hit + forms))
            elif not any(set(forms) & set(g) for g in groups):
                groups.append(tuple(dict.fromkeys((short,) + forms)))
    # "高新技术企业总数" asked, "高新技术企业数量" written: a term's stem without its measure word also matches.
    measures = load_measures()
    groups = [tuple(dict.fromkeys(g + tuple(t[:-len(m)] for t in g for m in measures
                                            if t.endswith(m) and len(t) - len(m) >= 4)))
              for g in groups]
    # Plan kinds (十四五, 工作要点 …) choose the document; they are not what a passage must say.
    # (Every kind's long names from rag/data/plan_kinds.json; of the short ones only those that rarely mean
    # anything else: 计划 and 总结 are also words of content, "人才计划".)
    kind_words = {"十四五", "工作要点", "要点", "工作意见", "意见", "实施方案", "方案", "规划", "五年规划"} | {
        w for k in plan_kinds()["kinds"] for w in k["zh"] if len(w) >= 4}
    groups = [g for g in groups if not set(g) <= kind_words]
    # So do issuers ("昆山市科技局实施的…"): the bureau issued the plan, its name is not in the answer.
    issuers = tuple(plan_kinds()["issuer_suffixes"])
    groups = [g for g in groups if not all(t.endswith(issuers) for t in g)]
    groups = _merge_alternatives(simplified, groups, tokenizer.user_terms)
    groups = list(dict.fromkeys(groups))
    # One idea, one group: drop a group whose forms all appear in another ("GDP" beside "gdp / GDP / 地区生产总值").
    lowered_sets = [{t.lower() for t in g} for g in groups]
    groups = [g for i, g in enumerate(groups)
              if not any(j != i and lowered_sets[i] <= lowered_sets[j] and (lowered_sets[i] != lowered_sets[j] or j < i)
                         for j in range(len(groups)))]
    terms = tuple(dict.fromkeys(t for g in groups for t in g))
    scopes = _city_scopes(simplified, first_mention, years, kinds) if len(places) > 1 else ()
    metadata_fields = tuple(name for name, pattern in METADATA_HINTS.items() if pattern.search(simplified))
    # 发布日期 / 印发日期 read as the document's date too; the page's or the colophon's is the one meant.
    # "报告是谁作的" reads as who issued it too; the one who delivered it is meant.
    for narrower, wider in (("published", "issue_date"), ("printed", "issue_date"), ("speaker", "issuer")):
        if narrower in metadata_fields:
            metadata_fields = tuple(f for f in metadata_fields if f != wider)
    # "哪天印发的" may mean the date the notice was signed or the colophon's 印发 date: answer both (the same
    # date is quoted once when a plan has no colophon).
    if WHEN_PRINTED.search(simplified) and "issue_date" in metadata_fields and "printed" not in metadata_fields:
        metadata_fields = metadata_fields + ("printed",)
    if EVENT_WORDS.search(simplified) and WHEN_WORDS.search(simplified) and not PUBLISHING_WHEN.search(simplified):
        # "大会是哪天召开的" asks when an event the text reports took place, not when the document is dated:
        # a date from the text answers it.
        metadata_fields = tuple(f for f in metadata_fields if f != "issue_date")
        wants_figure, figure_kind = True, "date"
    asks_for = metadata_fields[0] if metadata_fields else None
    if asks_for:
        wants_figure = False
    intent = None if asks_for or wants_figure and not re.search(r"几份|多少份|how many (?:documents|plans|files)",
                                                               simplified, re.I) \
        else next((name for name, pattern in INTENT_HINTS.items() if pattern.search(simplified)), None)
    # "What was Tianjin's technology transaction value (技术交易额) in 2024?": naming a quantity asks for its figure.
    names_quantity = any(t.endswith(quantity_suffixes()) and CJK.search(t) for g in groups
                         if not set(g) <= bridged for t in g)
    prefers_figure = wants_figure or (not asks_for and (bool(PREFERS_FIGURE.search(simplified)) or names_quantity))
    wants_names = not wants_figure and bool(NAMES_HINTS.search(simplified))
    if wants_names:
        # "人才计划叫什么名字": the answer is a quoted name with the same head (“玉峰英才计划”, “桓英聚才”工程).
        plain = simplified
        for kind in plan_kinds()["kinds"]:  # "行动方案" names the plan, not a 行动 to name
            for word in kind["zh"]:
                plain = plain.replace(word, " ") if len(word) > 2 else plain
        # ...or in English: "What is the talent programme called?", "Which talent programme does … implement?"
        asks_called = bool(CALLED.search(plain))
        named = [h for h, _ in load_name_heads() if re.search(r"[\u4e00-\u9fff]" + h, plain)]
        in_english = [h for h, english in load_name_heads() if h not in named and any(
            re.search(r"\b%ss?\b" % w, plain, re.I) and asks_called
            or re.search(r"\b(?:what|which)\s+(?:[\w&-]+\s+){0,3}%ss?\b" % w, plain, re.I) for w in english)]
        groups = groups + [(h + "”", "”" + h) for h in named]
        if in_english:  # "programme" may be a 计划 or a 工程: one asked-for name with either head
            groups.append(tuple(t for h in in_english for t in (h + "”", "”" + h)))
        terms = tuple(dict.fromkeys(t for g in groups for t in g))
    if figure_kind is None and wants_figure:
        figure_kind = asked_figure_kind(simplified)
    return Query(question, simplified, lang, places, unknown, years, kinds, wants_figure, terms, tuple(groups),
                 asks_for, prefers_figure, wants_names, scopes, assumed, intent, metadata_fields, figure_kind,
                 asks_for_flow(simplified), asked_unit(simplified) if wants_figure else None,
                 None if years else relative_year_offset(simplified),
                 frozenset(g for g in groups if set(g) <= bridged))


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
    # "…and Xiangyang (each year)": every year of its plans, not another city's years
    every = {i for i, (_, ys, _) in enumerate(own) if not ys and EVERY_YEAR.search(text[order[i][1]:bounds[i + 1]])}
    for i, scope in enumerate(own):
        if not scope[1] and not scope[2] and i not in every:  # inherit from the next city that has its own
            nxt = next((o for o in own[i + 1:] if o[1] or o[2]), None)
            if nxt:
                scope[1], scope[2] = nxt[1], nxt[2]
    return tuple((c, () if i in every else
                  tuple(dict.fromkeys(shared_years + ys)) or years if not (ys or ks) else
                  tuple(dict.fromkeys(shared_years + ys)), tuple(dict.fromkeys(shared_kinds + ks)))
                 for i, (c, ys, ks) in enumerate(own))




def _foreign_places(text: str, tokenizer: Tokenizer, taken: list[tuple[int, int]]) -> tuple[str, ...]:
    """Places outside China's divisions (东京, 纽约) that jieba tags as place names, and townships below the
    gazetteer's levels (周庄镇): no plan can be theirs."""
    out, pos = [], 0
    tagged = list(tokenizer.tagged(text))
    merged: list[tuple[str, str]] = []
    for token, flag in tagged:
        # "新桥 / 街道", "水东 / 镇": jieba often splits a township name from its suffix
        if merged and CJK.match(merged[-1][0]) and len(merged[-1][0]) >= 2 and is_township(merged[-1][0] + token) \
                and len(token) <= 2 and not is_township(merged[-1][0]):
            merged[-1] = (merged[-1][0] + token, "ns")
        else:
            merged.append((token, flag))
    for token, flag in merged:
        start = text.find(token, pos)
        pos = start + len(token) if start >= 0 else pos
        # jieba tags some township names as person names (周庄镇/nr): the suffix says what they are.
        if flag != "ns" and not is_township(token) or len(token) < 2 or start < 0 \
                or any(a < start + len(token) and start < b for a, b in taken) \
                or names_natural_feature(text, start + len(token)):
            continue
        word = token[:-1] if token.endswith("市") and len(token) >= 3 else token
        if len(word) >= 2 and word not in generic_places() and not word.endswith(("省", "国")) and len(word) <= 4 \
                and not gazetteer().lookup(word) and not gazetteer().lookup(token):
            out.append(word)
    return tuple(dict.fromkeys(out))


# A question that names its plan by title ("渝北区科技型企业倍增行动方案提出，到2026年高新技术企业…") has chosen the
# document with those words; inside that plan they are everywhere and say nothing about which passage answers.
TITLE_QUOTE_MIN = 6


def without_title_words(query: Query, titles: list[str]) -> Query:
    """`query` without the term groups it only uses inside a quote of one of `titles` (unchanged if that is all)."""
    from difflib import SequenceMatcher

    text = query.simplified
    best = (0, 0)
    for title in titles:
        m = SequenceMatcher(None, text, title, autojunk=False).find_longest_match(0, len(text), 0, len(title))
        if m.size > best[1] - best[0]:
            best = (m.a, m.a + m.size)
    start, end = best
    if end - start < TITLE_QUOTE_MIN:
        return query
    outside = (text[:start] + " " + text[end:]).lower()
    inside = text[start:end].lower()
    keep = [g for g in query.term_groups
            if not any(t.lower() in inside for t in g) or any(t.lower() in outside for t in g)]
    if len(keep) == len(query.term_groups) or not keep:
        return query
    return replace(query, term_groups=tuple(keep), terms=tuple(dict.fromkeys(t for g in keep for t in g)))
