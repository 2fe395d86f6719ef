"""Answers that come from the documents' metadata and structure rather than one passage:
which plans are indexed ("这些文件一共有几份?", "Which cities are covered?") and what a plan is about
("总结一下鹰潭的工作意见", "Summarise Shaoxing's plan"). Each line still cites a verbatim span: a plan's
title where it was read, a section heading where it stands.
"""

from __future__ import annotations

import re

from .answer import span_clause
from .citations import Answer, cite
from .messages import join, say
from .query import Query
from .stores.base import Store

__all__ = ["corpus_answer", "outline_answer"]

# A top-level heading of a Chinese plan: 一、 二、 … on a line of its own.
TOP_HEADING = re.compile(r"^[ \t#*]*([一二三四五六七八九十]{1,3}、[^\n。]{2,40})\s*$", re.M)
MAX_HEADINGS = 8


def corpus_answer(index: Store, query: Query, doc_ids: list[str], labels: dict[str, str | None]) -> Answer:
    """The indexed plans (those of a named place, when one is named), one cited line each."""
    en = query.is_english
    citations, lines = [], []
    docs = sorted(doc_ids, key=lambda d: (labels.get(d) or "", index.catalog[d].metadata.year or 0))
    for doc_id in docs:
        m = index.catalog[doc_id].metadata
        where = ", ".join(str(x) for x in (labels.get(doc_id), m.year) if x) if en else \
            "，".join(str(x) for x in (labels.get(doc_id), m.year) if x)
        marker = ""
        if "title" in m.evidence:
            s, e = m.evidence["title"]
            c = cite(index, span_clause(index, doc_id, s, e, "meta/title"), len(citations) + 1, 1.0)
            citations.append(c)
            marker = f"[{c.number}]"
        lines.append(f"- 《{m.title}》{marker}" + (f" ({where})" if en else f"（{where}）") * bool(where))
    places = sorted({v for v in labels.values() if v})
    head = say("corpus_list", en, n=len(docs))
    if places:
        head += " " + say("corpus_places", en, places=join(places, en))
    return Answer(query.text, "\n".join([head, *lines]), False, citations, query.lang, support=1.0)


def outline_answer(index: Store, query: Query, doc_ids: list[str], label_of) -> Answer | None:
    """Each plan's top-level section headings (一、… 二、…), cited where they stand; None when a plan has none."""
    en = query.is_english
    citations, lines = [], []
    for doc_id in doc_ids:
        doc = index.document(doc_id)
        spans = doc.spans
        heads = [m for m in TOP_HEADING.finditer(doc.text)
                 if any(s <= m.start(1) < e for s, e in spans)][:MAX_HEADINGS]
        if not heads:
            continue
        lines.append(say("outline", en, label=label_of(doc_id)))
        for m in heads:
            c = cite(index, span_clause(index, doc_id, m.start(1), m.end(1), f"outline/{m.start(1)}"),
                     len(citations) + 1, 1.0)
            citations.append(c)
            lines.append(f"- “{c.quote}”[{c.number}]")
    if not citations:
        return None
    return Answer(query.text, "\n".join(lines), False, citations, query.lang, support=1.0)
