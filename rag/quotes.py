"""The quote an answer shows, shaped after its clauses are chosen: a support measure with its condition and cap,
or a clause widened to its whole sentence (lists and names follow the words a question matches)."""

from __future__ import annotations

import re
from dataclasses import replace

from .answer import ScoredClause, covered_groups, has_figure, term_weights
from .chunking import Clause
from .numbers import cap_words
from .query import Query
from .stores.base import Store

__all__ = ["widen_to_sentence", "with_its_cap"]

# A measure's condition: "对首次认定的高新技术企业", "对绩效评价为优秀的新型研发机构".
CONDITION = re.compile(r"^\s*对[^，,；;。]{2,40}的(?:[\u4e00-\u9fff]{1,8})?\s*$")
# The clause right after another in its sentence.
NEXT_CLAUSE = re.compile(r"[，,、]\s*([^，,；;。！？\n]{2,40})")


def with_its_cap(index: Store, chosen: ScoredClause) -> ScoredClause:
    """A support measure's clause with the cap that follows it in its sentence ("按实际交易额的3%给予补贴" +
    "，单个企业每年最高50万元"): a subsidy quoted without its cap says more than the plan does. A measure's
    condition ("对绩效评价为优秀的新型研发机构") is quoted with the measure it sets ("，每家每年给予最高1000万元…")."""
    c = chosen.clause
    text = index.document(c.doc_id).text
    simplify = index.tokenizer.simplify
    end = c.end
    if not chosen.has_figure and CONDITION.match(simplify(c.text)):
        m = NEXT_CLAUSE.match(text, end, c.sentence_end)
        if not m or not has_figure(m.group(1)):
            return chosen
        end = m.end(1)
    elif not chosen.has_figure:
        return chosen
    m = NEXT_CLAUSE.match(text, end, c.sentence_end)
    if m and cap_words().search(simplify(m.group(1))) and has_figure(m.group(1)):
        end = m.end(1)
    if end == c.end:
        return chosen
    wide = Clause(c.clause_id + ">", c.chunk_id, c.doc_id, c.start, end, text[c.start:end],
                  c.sentence_start, c.sentence_end)
    return replace(chosen, clause=wide, has_figure=True)


def widen_to_sentence(index: Store, chosen: ScoredClause, max_chars: int = 160,
                      query: Query | None = None) -> ScoredClause:
    """The clause's whole sentence when it is short enough: lists ("鉴水、金柯桥、曹娥江…") and names
    usually follow the clause that matches the question's words.

    With `query`, the words the sentence itself holds count as the clause's own: in "2月20日上午，全市科技创新
    大会在市民中心召开" the date answers a question about the 大会 the next clause names."""
    c = chosen.clause
    text = index.document(c.doc_id).text
    start, end = c.sentence_start, c.sentence_end
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in "。；;,，"):
        end -= 1
    if end - start > max_chars or (start, end) == (c.start, c.end):
        return chosen
    wide = Clause(c.clause_id + "+", c.chunk_id, c.doc_id, start, end, text[start:end], c.sentence_start,
                  c.sentence_end)
    widened = replace(chosen, clause=wide, has_figure=has_figure(wide.text))
    if query is not None and query.term_groups:
        own = chosen.own_groups | covered_groups(query.term_groups, index.tokenizer.simplify(wide.text).lower())
        weights = term_weights(index, query)
        widened = replace(widened, own_groups=frozenset(own), own=sum(weights[i] for i in own) / sum(weights))
    return widened
