"""What retrieval and answering need from an index, whatever holds it (local files or Milvus): `Store`.

Callers never see rows, matrices or a backend's own index objects: they ask for chunks and clauses by id,
for the best chunks of a dense or lexical search (optionally among some documents), and for a term's
document frequency. The catalog (one small record per document, no text) and the tokenizer and bridge
(corpus-learnt, small) are held in memory; texts, chunks, clauses and vectors are looked up by id.

Ordering contract (so every backend gives the same answers): searches return (chunk_id, score) best
first, ties broken by the chunk's position in the index (documents in the order they were added, chunks
in document order); `chunks_of` and `clauses_of` return document order.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Collection, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..bridge import TermBridge
from ..chunking import Chunk, Clause
from ..documents import DocumentMetadata, PlanDocument
from ..encoders import EmbedderInfo
from ..numbers import relative_years_written
from ..tokenize import Tokenizer

__all__ = ["Store", "DocumentRecord", "DocumentView", "ClauseBlock", "record_of", "records_of", "text_years",
           "section_years", "index_order"]

# "2025年" written in a document's text, as the year filter reads it (ASCII digits only, like `f"{y}年" in text`).
_TEXT_YEAR = re.compile(r"(?=([0-9]{4})年)")


def text_years(text: str) -> frozenset[int]:
    """Every 4-digit y such that f"{y}年" occurs in `text` (overlapping digit runs included: "12025年" holds 2025年)."""
    return frozenset(int(y) for y in _TEXT_YEAR.findall(text))


# A year a section heading names ("一、2024年工作回顾"), as retrieval's section-year boost reads it. A change here
# changes what indexes record: bump rag.documents.PIPELINE_VERSION with it.
_SECTION_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")


def section_years(section: str) -> tuple[int, ...]:
    """The years a chunk's section heading names, in order."""
    return tuple(int(y) for y in _SECTION_YEAR.findall(section))


def _section_year_runs(chunks: Sequence[Chunk]) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    """(first chunk, end chunk, years) for each run of a document's chunks under headings naming the same years."""
    runs: list[tuple[int, int, tuple[int, ...]]] = []
    for n, chunk in enumerate(chunks):
        years = section_years(chunk.section)
        if runs and runs[-1][1] == n and runs[-1][2] == years:
            runs[-1] = (runs[-1][0], n + 1, years)
        elif years:
            runs.append((n, n + 1, years))
    return tuple(runs)


@dataclass(frozen=True)
class DocumentRecord:
    """What is known of an indexed document without reading its text: small, kept in memory for every document."""

    doc_id: str
    source: str
    sha256: str
    sidecar_sha256: str
    metadata: DocumentMetadata
    characters: int  # len(text)
    chunks: int  # how many chunks it has in the index
    text_years: frozenset[int] = field(default=frozenset())  # see text_years(), plus the years 去年/明年 name
    # (first chunk, end chunk, years) for the runs of chunks whose section headings name years (section_years());
    # None in a record an older policy-rag wrote: retrieval then reads the chunks' headings
    section_years: tuple[tuple[int, int, tuple[int, ...]], ...] | None = None

    def years_in_section(self, number: int) -> tuple[int, ...] | None:
        """The years the heading of this document's chunk `number` names (None: this record does not know)."""
        if self.section_years is None:
            return None
        i = bisect.bisect_right(self.section_years, number, key=lambda run: run[0]) - 1
        return self.section_years[i][2] if i >= 0 and number < self.section_years[i][1] else ()

    def to_dict(self) -> dict:
        row = {"doc_id": self.doc_id, "source": self.source, "sha256": self.sha256,
               "sidecar_sha256": self.sidecar_sha256, "metadata": self.metadata.to_dict(),
               "characters": self.characters, "chunks": self.chunks, "text_years": sorted(self.text_years)}
        if self.section_years is not None:
            row["section_years"] = [[lo, hi, list(years)] for lo, hi, years in self.section_years]
        return row

    @classmethod
    def from_dict(cls, row: dict) -> "DocumentRecord":
        """A record from its stored form; ValueError/KeyError/TypeError when the row is not one."""
        names = [row["doc_id"], row["source"], row["sha256"], row.get("sidecar_sha256", "")]
        if not all(isinstance(v, str) for v in names) or not isinstance(row["metadata"], dict):
            raise ValueError(f"not a document record: {str(row)[:80]}")
        return cls(*names, DocumentMetadata.from_dict(row["metadata"]), int(row["characters"]), int(row["chunks"]),
                   frozenset(int(y) for y in row.get("text_years", ())),
                   None if row.get("section_years") is None else
                   tuple((int(lo), int(hi), tuple(int(y) for y in years)) for lo, hi, years in row["section_years"]))


def index_order(documents: Sequence[PlanDocument]) -> list[PlanDocument]:
    """The order a full build writes documents in: grouped by place, in the given order within a place, plans
    with no place last. Division codes nest (330000 > 330600 > 330602), so a county's plans sit beside its
    city's and a province's. Most questions name a place, and retrieval searches that place's plans only: kept
    together they lie in one segment and in one run of rows, where a corpus in arrival order spreads them over
    segments that are each searched in turn."""
    from ..question_places import place_code

    codes = [place_code(d.metadata) for d in documents]
    order = sorted(range(len(documents)), key=lambda i: (codes[i] is None, codes[i] or "", i))
    return [documents[i] for i in order]


def record_of(doc: PlanDocument, chunks: Sequence[Chunk]) -> DocumentRecord:
    """The record of a document and its chunks (in document order)."""
    # ...and the years its 去年/今年/明年 name: a question about 2023 may be answered by a 2024 report's 去年.
    return DocumentRecord(doc.doc_id, doc.source, doc.sha256, doc.sidecar_sha256, doc.metadata, len(doc.text),
                          len(chunks), text_years(doc.text) | relative_years_written(doc.text, doc.metadata.dated),
                          _section_year_runs(chunks))


def records_of(documents: Sequence[PlanDocument], chunks: Sequence[Chunk]) -> list[DocumentRecord]:
    """record_of() for each document, its chunks picked from `chunks` (any documents', each in document order)."""
    per_doc: dict[str, list[Chunk]] = {d.doc_id: [] for d in documents}
    for c in chunks:
        if c.doc_id in per_doc:
            per_doc[c.doc_id].append(c)
    return [record_of(d, per_doc[d.doc_id]) for d in documents]


# A chunk's clauses (document order) and their vectors, one float32 row per clause.
ClauseBlock = tuple[list[Clause], np.ndarray]


@runtime_checkable
class Store(Protocol):
    """An index snapshot: what retrieval and answering read. Writes (add/remove) are the backend's own
    functions (rag/stores/__init__.py); a snapshot never changes under its reader."""

    backend: str  # "local" | "milvus"
    manifest: dict  # format/pipeline version, embedder, chunk_size, counts, backend parameters
    tokenizer: Tokenizer  # the corpus-learnt user dictionary
    bridge: TermBridge  # English -> Chinese corpus terms
    catalog: Mapping[str, DocumentRecord]  # doc_id -> record, in the order documents were added

    @property
    def embedder(self) -> EmbedderInfo: ...

    @property
    def documents(self) -> Mapping[str, PlanDocument]:
        """doc_id -> document with its text, read by id on access (a view over `catalog`; iterating it reads
        every text, so the library itself uses `catalog` and `document`)."""
        ...

    def document(self, doc_id: str) -> PlanDocument:
        """The stored document with its text (KeyError when not indexed)."""
        ...

    def chunk_count(self) -> int:
        """Chunks in the index (the N of BM25's IDF)."""
        ...

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked (KeyError for an unknown id)."""
        ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in document order (empty for an unknown document)."""
        ...

    def clauses_of(self, chunk_ids: Sequence[str]) -> dict[str, ClauseBlock]:
        """chunk_id -> (its clauses in document order, their float32 vectors (n, dimension))."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
                     ) -> list[tuple[str, float]]:
        """The k chunks most similar (inner product) to `vector`, among `doc_ids`' chunks (all when None)."""
        ...

    def lexical_search(self, tokens: Sequence[str], k: int, doc_ids: Collection[str] | None = None
                       ) -> list[tuple[str, float]]:
        """The k chunks with the highest BM25 score (> 0) for these tokens (a token counted once per
        occurrence in `tokens`), among `doc_ids`' chunks (all when None)."""
        ...

    def doc_freq(self, token: str) -> int:
        """How many chunks contain `token` (exactly as tokenised; 0 when none)."""
        ...


class DocumentView(Mapping):
    """`store.documents`: doc_id -> PlanDocument, each read by id when asked for."""

    def __init__(self, store: Store):
        self._store = store

    def __getitem__(self, doc_id: str) -> PlanDocument:
        if doc_id not in self._store.catalog:
            raise KeyError(doc_id)
        return self._store.document(doc_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store.catalog)

    def __len__(self) -> int:
        return len(self._store.catalog)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._store.catalog
