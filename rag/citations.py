"""`Citation` and `Answer`: what every interface (library, CLI, UI, eval) returns.

A citation's `quote` is always `document.text[start:end]` of the stored document; `check_offsets`
verifies that against an index, and `Answer.to_dict()` is the JSON contract of `rag ask --json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .chunking import Clause
from .question_places import place_label
from .stores.base import Store

__all__ = ["Citation", "Answer", "cite", "check_offsets"]


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] marker in the answer
    doc_id: str
    source: str  # document path relative to the repository root
    title: str
    city: str | None
    year: int | None
    section: str
    quote: str  # verbatim: document text[start:end]
    start: int
    end: int
    score: float
    context_start: int  # the enclosing sentence, for showing the quote in its passage
    context_end: int
    chunk_id: str = ""
    place: str | None = None  # the plan's own place as answers name it: 绍兴, 温州市洞头区, 湖南省
    page: int | None = None  # 1-based page the quote starts on (PDF); None for formats without pages

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    lang: str = "zh"
    mode: str = "extractive"  # "extractive" | "llm" | "extractive (LLM answer failed grounding)"
    reason: str | None = None  # why it refused, or what was left out
    support: float = 0.0  # 0..1: how well the best passage covers the question (see answer.py)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "lang": self.lang,
            "mode": self.mode,
            "reason": self.reason,
            "support": round(self.support, 4),
        }


def cite(index: Store, clause: Clause, number: int, score: float) -> Citation:
    doc = index.document(clause.doc_id)
    chunk = index.chunks([clause.chunk_id])[0]
    m = doc.metadata
    return Citation(
        number=number, doc_id=doc.doc_id, source=doc.source, title=m.title, city=m.city, year=m.year,
        section=chunk.section, quote=doc.text[clause.start:clause.end], start=clause.start, end=clause.end,
        score=round(float(score), 4), context_start=clause.sentence_start, context_end=clause.sentence_end,
        chunk_id=clause.chunk_id, place=place_label(m), page=doc.page_at(clause.start),
    )



def check_offsets(index: Store, citation: Citation) -> bool:
    return citation.doc_id in index.catalog and \
        index.document(citation.doc_id).text[citation.start:citation.end] == citation.quote
