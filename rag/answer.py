"""The default (no-LLM) answerer: choose the clause(s) that answer, quote them verbatim, or refuse.

Clause score = the IDF-weighted share of the question's key terms in the clause itself and in its
sentence/section, plus the clause's embedding similarity (relative to the other candidates), plus a
bonus for holding a figure when the question names a target or ratio.

Refusal is explainable; each rule below stops a near-miss figure from being shown:
1. the question names a place no document covers (杭州, Hangzhou) and no corpus city   (assistant.py)
2. no plan of the named city covers, or mentions, the year asked                     (retrieval.py)
3. a sentence naming only other years ("2024年度 … 2.4%") never answers   (rag/clause_years.py year_consistent)
4. the best clause's *support* is below `min_support`: support is the IDF-weighted share of the
   question's key terms found in the clause's sentence and section (English questions reach Chinese
   forms through the glossary and the CC-CEDICT bridge); a question with no key terms at all uses
   its embedding similarity instead                                                   (select_clauses)
5. the question names a corpus indicator (科技企业孵化器) and the passage names none of them
6. a how-many question: the clause holding the figure must itself name something asked about, and if
   the plan names the indicator without any figure, nothing is answered
7. a target question answered without a figure needs twice the usual support
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .chunking import Clause
from .numbers import (asks_about_applications, asks_for_new, counts_applications, has_figure_in,
                      has_figure_of_kind, is_bare_figure, is_flow, is_stock)
from .places import gazetteer, to_simplified, townships_named, zone_asked, zones_named
from .query import Query
from .vocabulary import load_measures
from .retrieval import ScoredChunk
from .stores.base import Store

__all__ = ["ScoredClause", "covered_groups", "has_figure", "metadata_clause", "score_clauses", "select_clauses", "span_clause",
           "term_weights"]

# Dense similarity of e5-small between an unrelated and a matching clause spans roughly 0.78..0.90
# (used as support only for a question with no key terms at all).
DENSE_FLOOR, DENSE_CEIL = 0.80, 0.90
MAX_CLAUSES = 3


@dataclass(frozen=True)
class ScoredClause:
    clause: Clause
    score: float
    support: float  # 0..1, see module docstring
    covered: frozenset[int]  # indexes of the query term groups this clause's context covers
    chunk_rank: int
    lexical: float  # IDF-weighted share of key terms in the clause's sentence + section
    dense: float  # cosine(question, clause)
    has_figure: bool
    own: float = 0.0  # IDF-weighted share of key terms in the clause itself
    own_groups: frozenset[int] = frozenset()  # the query term groups found in the clause itself
    indicator_ok: bool = True  # the question names no indicator, or the clause's context names one of them


# A list number ("11、", "(三)") or a year is not a figure; "92亿元", "3.3%", "200家", "520" are.
LIST_NUMBER = re.compile(r"^\s*(?:[(（]?\d{1,2}[)）.、．]|[(（][一二三四五六七八九十]+[)）])\s*")
YEAR_TOKEN = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:\s*年度?|(?=[-—–~至到]))")
# A figure: a digit, or a Chinese numeral with a measure word ("六个产业集群", "三家"; not "二十大") — a lone 一 ("一批",
# "一个中心") is an article more often than a count, so it needs 百/千/万 after it.
FIGURE = re.compile(r"\d|(?:[二两三四五六七八九十]|一[百千万])[一二三四五六七八九十百千万]*(?:个|家|项|所|名|件|座|条|类|批|支|种)")
SENTENCE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")


def has_figure(text: str) -> bool:
    return bool(FIGURE.search(YEAR_TOKEN.sub("", LIST_NUMBER.sub("", text))))


def doc_freq(index: Store, token: str) -> int:
    """In how many chunks the BM25 index saw `token` (lowercased, else as written; 0 when never)."""
    return index.doc_freq(token.lower()) or index.doc_freq(token)


SENTENCE_OPENING_MAX = 8  # characters of a sentence's opening phrase that governs its clauses ("上半年，", "2024年，")
# A group that is only a dictionary's guess at an English word counts this much of its IDF.
GUESSED_WEIGHT = 0.25


def term_weights(index: Store, query: Query) -> list[float]:
    """IDF of each term group (its rarest form), from the BM25 index's document frequencies."""
    n = index.chunk_count()
    idfs = []
    for group in query.term_groups:
        best = 0.0
        for t in group:
            df = doc_freq(index, t)
            # A term the corpus never uses (often a tokenisation fragment) counts like a common one.
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 1.0
            best = max(best, idf)
        idfs.append(best * (GUESSED_WEIGHT if group in query.guessed else 1.0))
    return idfs


def _core(index: Store, term: str) -> str:
    """The rarest (highest-IDF) proper part of a term (jieba search mode), lowercased; the term when it has none."""
    parts = [p for p in index.tokenizer.search_tokens(term) if p != term.lower()] or [term.lower()]
    seen = [p for p in parts if doc_freq(index, p) > 0] or parts
    return min(seen, key=lambda p: doc_freq(index, p) or 10**9).lower()


def _names_other_part(text: str, place_code: str | None, question: str) -> bool:
    """Whether a (Simplified) passage names a town, zone or place inside the plan's own place that the question
    does not name (by its first two characters: 银川 for 银川市)."""
    gaz = gazetteer()
    place = gaz.get(place_code) if place_code else None
    zones = zones_named(text)
    parts = [p for p in townships_named(text) if p not in zones] + (gaz.named_below(text, place) if place else [])
    return any(p[:2] not in question for p in parts) or any(not zone_asked(z, question) for z in zones)


def covered_groups(groups, text: str) -> frozenset[int]:
    """The indexes of the term groups one of whose forms `text` (lowercased) holds."""
    return frozenset(i for i, g in enumerate(groups) if any(t.lower() in text for t in g))


# A group matched only by a form that is part of the group's own head term (研发投入 in 研发投入强度) is weaker
# evidence: "研发投入占营收比重" is another indicator than the R&D intensity asked for. The head without its
# measure word (高新技术企业 for 高新技术企业总数) is as good as the head.
PART_FORM_MATCH = 0.5


def _strengths(groups, text: str, covered: frozenset[int]) -> dict[int, float]:
    measures = load_measures()
    out = {}
    for i in covered:
        head, *forms = [t.lower() for t in groups[i]]
        weak = {f for f in forms if f != head and f in head and head.removeprefix(f) not in measures}
        out[i] = PART_FORM_MATCH if all(f in weak for f in [head, *forms] if f in text) else 1.0
    return out


def score_clauses(index: Store, query: Query, query_vector: np.ndarray, chunks: list[ScoredChunk]
                  ) -> list[ScoredClause]:
    weights = term_weights(index, query)
    total = sum(weights)
    asks_new = query.asks_flow and query.prefers_figure and asks_for_new(query.simplified)
    asks_applications, asks_results = asks_about_applications(query.simplified)
    # Groups naming a corpus indicator (技术合同成交额, 科技企业孵化器 …): a passage about another indicator
    # does not answer, however many other words it shares with the question.
    indicators = index.tokenizer.indicator_terms
    # A dictionary's guess at an English word names one only through its first, closest form: "academicians" ->
    # 院士/两院院士 does, "spend" -> 消费/支出/科学技术支出 does not.
    named = [i for i, g in enumerate(query.term_groups)
             if any(t.lower() in indicators and (g not in query.guessed or g[0].lower() in t.lower()) for t in g)]
    # A group whose every form is part of another named indicator (交易额 inside 技术合同交易额) is no
    # indicator of its own: letting it pass would let 技术交易额 answer for 技术合同成交额.
    indicator_groups = frozenset(
        i for i in named if not any(j != i and all(any(t.lower() in u.lower() and t.lower() != u.lower()
                                                       for u in query.term_groups[j]) for t in query.term_groups[i])
                                    for j in named))
    # An indicator is also recognised by its most specific part (科技企业孵化器 -> 孵化器, 占GDP比重 -> gdp),
    # so "中试基地建设" still matches a plan that says "中试基地".
    cores = {i: tuple(_core(index, t) for t in query.term_groups[i]) for i in indicator_groups}
    # ...unless the passage names another indicator around that part: 交易额 is the core of 技术合同交易额,
    # but a passage saying 技术交易额 is about a different indicator.
    # Found lazily: only a clause whose context matches a core but not the indicator itself needs them.
    rivals: dict[int, tuple[str, ...]] = {}

    def rivals_of(i: int) -> tuple[str, ...]:
        if i not in rivals:
            holding = frozenset().union(*(index.tokenizer.indicators_containing(c) for c in cores[i] if c))
            rivals[i] = tuple(t for t in holding
                              if not any(t in f.lower() or f.lower() in t for f in query.term_groups[i]))
        return rivals[i]

    # "…的工程叫什么": the clause must itself hold a quoted name with that head (see vocabulary.load_name_heads).
    name_groups = frozenset(i for i, g in enumerate(query.term_groups) if all("”" in t for t in g)) \
        if query.wants_names else frozenset()

    simplify = index.tokenizer.simplify
    blocks = index.clauses_of([sc.chunk.chunk_id for sc in chunks])
    vectors = [blocks[sc.chunk.chunk_id][1] for sc in chunks if blocks[sc.chunk.chunk_id][0]]
    all_sims = np.concatenate(vectors) @ query_vector if vectors else np.zeros(1)
    sim_lo, sim_hi = float(all_sims.min()), float(all_sims.max())
    out = []
    for sc in chunks:
        chunk = sc.chunk
        doc = index.document(chunk.doc_id)
        header = (chunk.header + " " + chunk.section).lower()
        clauses, clause_vectors = blocks[chunk.chunk_id]
        if not clauses:
            continue
        sims = clause_vectors @ query_vector
        for clause, sim in zip(clauses, sims):
            # Traditional documents are matched in Simplified, like the question.
            text = simplify(clause.text).lower()
            # A numbered item's lead sentence ("11.实施“桓英聚才”工程。") is about what the rest of its
            # paragraph says, so its context runs to the paragraph's end.
            sent_end = clause.sentence_end
            if LIST_NUMBER.match(clause.text):
                para_end = doc.text.find("\n", clause.end)
                sent_end = max(sent_end, para_end if para_end >= 0 else len(doc.text))
            context = simplify(doc.text[clause.sentence_start:sent_end] + " " + header).lower()
            own = covered_groups(query.term_groups, text)
            if clause.start > clause.sentence_start:
                # "上半年，全区认定登记技术合同2 316项，技术合同成交额203.6亿元": a short opening phrase with no figure
                # (a time, a scope) governs every clause of its sentence (at half strength in lexical_own: the
                # clause itself does not hold the word, see _strengths).
                opening = doc.text[clause.sentence_start:clause.start].lstrip()
                cut = min((opening.find(c) for c in "，,：:" if c in opening), default=-1)
                if 0 < cut <= SENTENCE_OPENING_MAX and not has_figure(opening[:cut]):
                    own = own | covered_groups(query.term_groups, simplify(opening[:cut]).lower())
            flow_text = text  # what the figure itself says: "净增112家，总数达到836家" is a total
            if clause.start > clause.sentence_start and is_bare_figure(simplify(clause.text)):
                # "高新技术企业达到900家，2023年底为486家", "技术合同成交额达到312.5亿元，较2022年增长21.6%": a bare
                # figure is about the clause before it, and is quoted with it.
                head = doc.text[clause.sentence_start:clause.start].rstrip("，,；; 　")
                lead = clause.sentence_start + max(head.rfind(c) for c in "，,；;") + 1
                # start at the first clause after the lead (not at markup such as "** " before it)
                lead = min([other.start for other in clauses if lead <= other.start < clause.start], default=lead)
                before_own = covered_groups(query.term_groups, simplify(doc.text[lead:clause.start]).lower())
                own = own | before_own
                if before_own:
                    # ...and is as close to the question as that clause is (its own vector holds only a figure)
                    sim = max([float(sim)] + [float(v) for other, v in zip(clauses, sims)
                                              if other.start <= lead < other.end])
                    clause = Clause(clause.clause_id + "<", clause.chunk_id, clause.doc_id, lead, clause.end,
                                    doc.text[lead:clause.end], clause.sentence_start, clause.sentence_end)
                    text = simplify(clause.text).lower()
            ctx = covered_groups(query.term_groups, context)
            strength = _strengths(query.term_groups, text, own)
            lexical_own = sum(weights[i] * strength[i] for i in own) / total if total else 0.0
            lexical_ctx = sum(weights[i] for i in ctx) / total if total else 0.0
            # Relative to this question's candidates: cross-lingual similarities sit in a narrow band
            # (0.76–0.83 for English questions), so only their order carries information.
            dense = (float(sim) - sim_lo) / (sim_hi - sim_lo) if sim_hi > sim_lo else 0.0
            figure = has_figure(clause.text)
            heading = 0.1 if LIST_NUMBER.match(clause.text) else 0.0  # "7. 推动…" names a topic, rarely answers
            title = index.catalog[clause.doc_id].metadata.evidence.get("title")
            if title and clause.start < title[1] and title[0] < clause.end:
                heading += 0.3  # the plan's own title shares the question's words but answers nothing
            if name_groups and not name_groups & own:
                heading += 0.3
            # "有多少家孵化器" asks for the total (达到41家), not what was added in the year (新增4家).
            if not query.asks_flow and query.prefers_figure and figure and is_flow(flow_text):
                heading += 0.1
            # ...and "新认定多少家" what was added (新认定40家), not the total (总数达到210家).
            stock_for_new = asks_new and figure and is_stock(flow_text)
            if asks_new and figure and not is_flow(flow_text):
                heading += 0.1
            # "认定申报620家" counts applications, not enterprises certified or in force.
            applications = figure and not asks_applications and counts_applications(flow_text)
            if applications:
                heading += 0.15
            # "2023年周庄镇、新桥镇…分别达到68家", "到2025年银川市高新技术企业达到320家" in a plan of 宁夏: a figure
            # of a town, zone or city inside the plan's place is not the place's own, unless that part is asked about.
            # "分县市看，凯里市高新技术企业达到41家，技术合同成交额3.1亿元": the part named earlier in the sentence.
            lead_in = simplify(doc.text[clause.sentence_start:clause.start]).lower()
            if figure and _names_other_part(lead_in + text, doc.metadata.place_code, query.simplified):
                heading += 0.2
            # "达到多少家": a figure in 家 answers before one in 万元.
            unit = 0.1 if query.unit and figure and has_figure_in(text, query.unit) else 0.0
            score = (0.45 * lexical_own + 0.25 * lexical_ctx + 0.35 * dense - heading + unit
                     + (0.25 if query.prefers_figure and figure else 0.0) + 0.05 / (1 + sc.rank))
            # Support is lexical whenever the question has key terms: embedding similarity is too flat
            # (0.87–0.93 for right and wrong clauses alike) to tell "answered" from "not in the documents".
            support = lexical_ctx if total else _unit(float(sim))
            indicator_ok = not (applications and asks_results or stock_for_new) and (not indicator_groups or any(
                i in ctx or (any(c and c in context for c in cores[i]) and not any(r in context for r in rivals_of(i)))
                for i in indicator_groups))
            out.append(ScoredClause(clause, score, support, ctx, sc.rank, lexical_ctx, float(sim), figure,
                                    lexical_own, own, indicator_ok))
    out.sort(key=lambda s: -s.score)
    # A clause quoted whole by another that scores as well ("…年均增长10%以上" inside "…年均增长10%以上，到2025年
    # 达到44亿元") adds nothing the other does not say.
    joined = [s for s in out if s.clause.clause_id.endswith("<")]
    return [s for s in out if not any(o is not s and o.score >= s.score and o.clause.doc_id == s.clause.doc_id
                                      and o.clause.start <= s.clause.start and s.clause.end <= o.clause.end
                                      for o in joined)]


def _unit(sim: float) -> float:
    return min(1.0, max(0.0, (sim - DENSE_FLOOR) / (DENSE_CEIL - DENSE_FLOOR)))


def span_clause(index: Store, doc_id: str, start: int, end: int, tag: str) -> Clause:
    """A quotable clause for any span of a stored document (its chunk is the one holding the span)."""
    doc = index.document(doc_id)
    chunks = index.chunks_of(doc_id)
    chunk = next((c for c in chunks if c.start <= start < c.end), chunks[0] if chunks else None)
    line_start = doc.text.rfind("\n", 0, start) + 1
    line_end = doc.text.find("\n", end)
    return Clause(f"{doc_id}#{tag}", chunk.chunk_id if chunk else "", doc_id, start, end, doc.text[start:end],
                  line_start, len(doc.text) if line_end < 0 else line_end)


def metadata_clause(index: Store, doc_id: str, field: str) -> ScoredClause | None:
    """The span a metadata field (issue date, issuer) was read from, as a quotable clause."""
    doc = index.catalog[doc_id]
    # No separate page or colophon date: the plan's own date is the best the text gives (and back).
    fallback = {"published": ("issue_date",), "printed": ("issue_date",), "issue_date": ("printed", "published")}
    if field not in doc.metadata.evidence:
        field = next((f for f in fallback.get(field, ()) if f in doc.metadata.evidence), field)
    span = doc.metadata.evidence.get(field)
    if not span:
        return None
    clause = span_clause(index, doc_id, *span, f"meta/{field}")
    return ScoredClause(clause, 1.0, 1.0, frozenset(), 0, 1.0, 1.0, False)


def select_clauses(scored: list[ScoredClause], min_support: float, wants_figure: bool = False,
                   prefers_figure: bool = False, figure_kind: str | None = None) -> list[ScoredClause]:
    """The best clause, plus up to two more from the same document that cover key terms it does not.

    When a figure is asked for, the best supported clause *with* a figure is preferred; if none is
    close, nothing is selected: the plan names the indicator but sets no figure for it. When the
    question says what kind of figure (a share, money, people), only a clause with such a figure answers:
    "占几成" is never answered with "5000万元".
    """
    if wants_figure and figure_kind:
        # (in Simplified: "18.7億元" is money too)
        scored = [s for s in scored if has_figure_of_kind(to_simplified(s.clause.text), figure_kind)]
    # For a how-many question the clause holding the figure must itself name something asked about:
    # a figure from a neighbouring clause is another indicator's figure.
    scored = [s for s in scored if s.support >= min_support and s.indicator_ok and (s.own > 0 or not wants_figure)]
    # A target question answered without a figure ("达到全省平均水平") needs twice the usual support, in the
    # clause's own words: "加大企业研发投入…" sits beside the 2024 R&D-intensity figure but names no target.
    if prefers_figure and scored and not scored[0].has_figure and min(scored[0].support, scored[0].own) < 2 * min_support:
        scored = [s for s in scored if s.has_figure]
    if not scored:
        return []
    if wants_figure and not scored[0].has_figure:
        # A figure from a clause that shares no key term with the question is a neighbour's figure.
        with_figure = [s for s in scored if s.has_figure and s.own > 0 and s.score >= 0.7 * scored[0].score]
        if not with_figure:
            return []
        scored = with_figure + [s for s in scored if s not in with_figure]
    chosen = [scored[0]]
    covered = set(scored[0].own_groups)
    for s in scored[1:]:
        if len(chosen) >= MAX_CLAUSES:
            break
        # "新增多少个绿色园区和多少家绿色工厂": a second clause joins when it itself names another asked-for thing.
        new = set(s.own_groups) - covered
        if new and s.score >= 0.6 * chosen[0].score and (s.has_figure or not wants_figure) \
                and s.clause.doc_id == chosen[0].clause.doc_id:
            chosen.append(s)
            covered |= new
    return chosen
