"""Rendering chosen clauses as a cited answer, or a refusal, in the question's language.

`compose_answer` quotes each clause verbatim with its [n] marker, labels it with its plan and place, and adds
what the quote alone does not say: an English rendering of amounts (450亿元 = 45 billion yuan), a metadata
field's normalised value, and a table row's reading by its header (which is cited too). Choosing the clauses
is rag/answer.py's job.
"""

from __future__ import annotations

from .answer import ScoredClause, span_clause
from .chunking import Clause
from .citations import Answer, Citation, cite
from .messages import say
from .numbers import find_amounts, render_amount_en
from .query import Query
from .question_places import place_label as label_of
from .stores.base import Store
from .tables import read_row

__all__ = ["compose_answer", "place_label", "plan_label", "refusal"]


def refusal(query: Query, reason_zh: str, reason_en: str, support: float = 0.0) -> Answer:
    text = say("refusal", query.is_english, reason=reason_en if query.is_english else reason_zh)
    return Answer(query.text, text, True, [], query.lang, reason=reason_en, support=support)


def place_label(index: Store, doc_id: str) -> str | None:
    """How answers name a plan's place: 绍兴, 温州市洞头区, 浙江省 (None when the plan's place is unknown)."""
    return label_of(index.catalog[doc_id].metadata)


def plan_label(index: Store, doc_id: str, english_names: dict[str, str] | None) -> str:
    """《title》（place） in Chinese; "Shaoxing's《title》" when `english_names` (label -> English) is given."""
    m = index.catalog[doc_id].metadata
    label = place_label(index, doc_id)
    if english_names is not None:
        name = english_names.get(label) if label else None
        return f"{name}'s《{m.title}》" if name else f"《{m.title}》"
    short = (m.city if m.level == "city" else None) or label
    return f"《{m.title}》" + (f"（{label}）" if label and short not in m.title else "")


def _metadata_note(index: Store, clause: Clause, english: bool) -> str:
    """A quoted metadata span gets its normalised value: “2022317” -> (2022-03-17)."""
    if "#meta/" not in clause.clause_id:
        return ""
    field = clause.clause_id.rsplit("/", 1)[-1]
    value = getattr(index.catalog[clause.doc_id].metadata, field, None)
    if not value or value in clause.text:
        return ""
    label = {"issue_date": ("date", "日期"), "published": ("published", "发布日期"), "issuer": ("issuer", "发文机关"),
             "doc_number": ("document number", "发文字号"), "printed": ("printed", "印发日期"),
             "outlet": ("source", "来源"), "speaker": ("delivered by", "报告人"), "reporter": ("reporter", "记者"),
             "venue": ("delivered at", "会议")}[field]
    return f" ({label[0]}: {value})" if english else f"（{label[1]}：{value}）"


def _table_note(index: Store, clause: Clause, query: Query, citations: list[Citation]) -> str:
    """A quoted table row read by its header, which is cited too: “8　科技进步贡献率（%）　56　62”[1]（[2] 2025年：62%）."""
    reading = read_row(index.document(clause.doc_id).text, clause.start, clause.end)
    if reading is None:
        return ""
    header = cite(index, span_clause(index, clause.doc_id, *reading.header, "table-header"), len(citations) + 1, 0.0)
    citations.append(header)
    cells = reading.for_years(query.years)
    if query.is_english:
        return f" ([{header.number}] " + "; ".join(f"{h}: {v}" for h, v in cells) + ")"
    return f"（[{header.number}] " + "；".join(f"{h}：{v}" for h, v in cells) + "）"


def compose_answer(index: Store, query: Query, groups: list[tuple[str | None, list[ScoredClause]]],
                   missing: list[str], english_names: dict[str, str] | None = None) -> Answer:
    """Render chosen clauses as a cited answer. `groups` holds (city, clauses) in question order;
    `english_names` (city -> "Shaoxing", from the CityCatalog) labels English answers."""
    citations: list[Citation] = []
    lines = []
    for _city, clauses in groups:
        if not clauses:
            continue
        doc_id = clauses[0].clause.doc_id
        quotes = []
        for s in clauses:
            c = cite(index, s.clause, len(citations) + 1, s.score)
            citations.append(c)
            quotes.append(f"“{c.quote}”[{c.number}]" + _metadata_note(index, s.clause, query.is_english)
                          + _table_note(index, s.clause, query, citations))
        label = plan_label(index, doc_id, (english_names or {}) if query.is_english else None)
        if query.is_english:
            line = say("according_to", True, label=label, quotes="; ".join(quotes))
            amounts = [f"{raw} = {render_amount_en(v)}" for s in clauses for raw, v in find_amounts(s.clause.text)]
            if amounts:
                line += " (" + "; ".join(dict.fromkeys(amounts)) + ")"
        else:
            line = say("according_to", False, label=label, quotes="；".join(quotes))
        lines.append(line)
    if missing:
        lines.append(say("not_stated", query.is_english, items="; ".join(missing)))
    support = min((g[1][0].support for g in groups if g[1]), default=0.0)
    return Answer(query.text, "\n".join(lines), False, citations, query.lang, support=support,
                  reason=("; ".join(missing) if missing else None))
