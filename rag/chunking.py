"""Structure-aware chunking for Chinese plans, plus clause units for quoting.

A `Chunk` is a run of content lines under one section (一、 > (一) > 1.), at most ~chunk_size
characters; its `header` (title, city, year, section path) is prepended for embedding and BM25 so
that a chunk which never names its city is still found by a question that does.
A `Clause` is a comma/sentence-level piece of a chunk: the unit an answer quotes verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from .documents import PlanDocument

__all__ = ["Chunk", "Clause", "chunk_document", "chunk_doc_id", "make_chunk_id", "make_clause_id", "chunk_in_batches",
           "heading_level", "split_clauses"]

HEADING_PATTERNS = (
    re.compile(r"^[一二三四五六七八九十]{1,3}\s*[、.．]"),  # 一、
    re.compile(r"^[(（][一二三四五六七八九十]{1,3}[)）]"),  # (一)
    re.compile(r"^\d{1,2}\s*(?:[、．]|\.(?!\d))"),  # 1. / 1、 (not "2.0")
)
SENTENCE_END = "。；;！？!?"
CLAUSE_END = SENTENCE_END + ",，"
MIN_CLAUSE_CHARS = 8
CONTINUATION = re.compile(r"\s*(?:达到?|突破|超过|其中|较上年|同比)")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    section: str  # "三、重点工作 > (五)… > 15. 打响成果转化越快转品牌"
    start: int
    end: int
    text: str  # the content lines joined by "\n" (cruft lines between them are left out)
    header: str

    @property
    def indexed_text(self) -> str:
        return f"{self.header}\n{self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Clause:
    clause_id: str
    chunk_id: str
    doc_id: str
    start: int
    end: int
    text: str
    # the enclosing sentence (split on 。；), used as context when judging what a clause is about
    sentence_start: int
    sentence_end: int

    def to_dict(self) -> dict:
        return asdict(self)


# Markdown wraps the same numbered headings: "## 一、总体要求", "**1. 创新主体培育。**"
MARKDOWN_MARK = re.compile(r"^\s*(?:#{1,6}\s*|\*\*|__)")


def _unmarked(line: str) -> str:
    return MARKDOWN_MARK.sub("", line, 1)


def heading_level(line: str) -> int | None:
    line = _unmarked(line)
    for level, pattern in enumerate(HEADING_PATTERNS, start=1):
        if pattern.match(line):
            return level
    return None


def _is_bare_heading(line: str) -> bool:
    """A short heading with no figure and no sentence end ("三、主要措施"), as opposed to a numbered
    target line ("(二)力争启动中试基地建设2个以上")."""
    line = _unmarked(line).replace("**", "")
    body = HEADING_PATTERNS[0].sub("", HEADING_PATTERNS[1].sub("", HEADING_PATTERNS[2].sub("", line, 1), 1), 1)
    return len(line) <= 30 and not re.search(r"\d", body) and not line.rstrip().endswith(tuple(SENTENCE_END))


def _heading_title(line: str) -> str:
    line = _unmarked(line).replace("**", "").strip()
    if len(line) <= 30:
        return line
    cut = min((i for i in (line.find(c) for c in "。，,；;") if i > 0), default=-1)
    if 0 < cut <= 30:
        return line[:cut]
    return line[:24] + "…"


def split_clauses(text: str, base: int = 0) -> list[tuple[int, int, int, int]]:
    """(start, end, sentence_start, sentence_end) of each clause in `text`, offsets shifted by `base`."""
    out = []
    sent_start = 0
    pieces: list[tuple[int, int]] = []
    piece_start = 0
    for i, ch in enumerate(text):
        if ch in CLAUSE_END:
            if ch == "," and 0 < i < len(text) - 3 and text[i - 1].isdigit() and text[i + 1:i + 4].isdigit():
                continue  # a thousands separator ("8,650家"), not a clause break
            pieces.append((piece_start, i + 1))
            piece_start = i + 1
            if ch in SENTENCE_END:
                out.extend(_merge(pieces, text, sent_start, i + 1, base))
                pieces, sent_start = [], i + 1
    if piece_start < len(text):
        pieces.append((piece_start, len(text)))
    out.extend(_merge(pieces, text, sent_start, len(text), base))
    return out


def _merge(pieces, text, sent_start, sent_end, base):
    merged: list[list[int]] = []
    for s, e in pieces:
        # "技术合同交易额增长30%,达32亿元以上": a piece that continues the previous one's subject stays with it.
        if merged and (merged[-1][1] - merged[-1][0] < MIN_CLAUSE_CHARS or CONTINUATION.match(text, s)):
            merged[-1][1] = e
        else:
            merged.append([s, e])
    if len(merged) > 1 and merged[-1][1] - merged[-1][0] < MIN_CLAUSE_CHARS:
        last = merged.pop()
        merged[-1][1] = last[1]
    out = []
    for s, e in merged:
        # Trim whitespace, Markdown emphasis and a trailing delimiter: quotes end on content, not on "，".
        while s < e and (text[s].isspace() or text[s] in "*_"):
            s += 1
        while e > s and (text[e - 1].isspace() or text[e - 1] in CLAUSE_END or text[e - 1] in "*_"):
            e -= 1
        if e - s >= 2:
            out.append((base + s, base + e, base + sent_start, base + sent_end))
    return out


def _context_header(doc: PlanDocument, section: str) -> str:
    m = doc.metadata
    parts = [f"《{m.title}》"]
    if m.city:
        parts.append(f"{m.city}市")
    if m.period:
        parts.append(m.period)
    if m.year:
        parts.append(f"{m.year}年")
    head = " ".join(parts)
    return f"{head} | {section}" if section else head


def chunk_document(doc: PlanDocument, chunk_size: int = 300) -> tuple[list[Chunk], list[Clause]]:
    """Split a document's clean spans into section-aware chunks and their clauses."""
    path: list[tuple[int, str]] = []  # (level, title) stack
    groups: list[tuple[str, list[tuple[int, int]]]] = []  # (section, spans)
    for start, end in doc.spans:
        line = doc.text[start:end]
        level = heading_level(line)
        if level is not None:
            path = [p for p in path if p[0] < level] + [(level, _heading_title(line))]
            section = " > ".join(t for _, t in path)
            if _is_bare_heading(line):  # it lives in the header, not as content
                groups.append((section, []))
                continue
            groups.append((section, [(start, end)]))
            continue
        section = " > ".join(t for _, t in path)
        if not groups or groups[-1][0] != section:
            groups.append((section, []))
        groups[-1][1].append((start, end))

    chunks: list[Chunk] = []
    clauses: list[Clause] = []
    for section, spans in groups:
        for piece in _pack(doc.text, spans, chunk_size):
            chunk_id = make_chunk_id(doc.doc_id, len(chunks))
            text = "\n".join(doc.text[s:e] for s, e in piece)
            chunk = Chunk(chunk_id, doc.doc_id, section, piece[0][0], piece[-1][1], text,
                          _context_header(doc, section))
            chunks.append(chunk)
            for s, e in piece:
                for cs, ce, ss, se in split_clauses(doc.text[s:e], base=s):
                    clauses.append(Clause(make_clause_id(chunk_id, len(clauses)), chunk_id, doc.doc_id,
                                          cs, ce, doc.text[cs:ce], ss, se))
    return chunks, clauses


def make_chunk_id(doc_id: str, n: int) -> str:
    """The id of a document's n-th chunk: a store that knows a document's chunk count knows its chunk ids."""
    return f"{doc_id}#{n}"


def make_clause_id(chunk_id: str, n: int) -> str:
    """The id of a document's n-th clause (numbered over the document), which lies in chunk `chunk_id`: a
    chunk's clauses are numbered consecutively, so a store keeping each chunk's first number and count can
    look its clauses up by id."""
    return f"{chunk_id}/{n}"


def chunk_doc_id(chunk_id: str) -> str:
    """The document of a chunk, read from its id (chunk_document numbers a document's chunks "<doc_id>#<n>")."""
    return chunk_id.rpartition("#")[0]


def chunk_in_batches(documents: Iterable[PlanDocument], chunk_size: int, max_chunks: int
                     ) -> Iterator[tuple[list[PlanDocument], list[Chunk], list[Clause]]]:
    """(documents, their chunks, their clauses) in document order, in runs of at most `max_chunks` chunks (a
    document with more is a run of its own), so a full build holds one run in memory, not the corpus. Nothing
    for no documents."""
    docs: list[PlanDocument] = []
    chunks: list[Chunk] = []
    clauses: list[Clause] = []
    for doc in documents:
        c, cl = chunk_document(doc, chunk_size)
        if docs and len(chunks) + len(c) > max_chunks:
            yield docs, chunks, clauses
            docs, chunks, clauses = [], [], []
        docs.append(doc)
        chunks.extend(c)
        clauses.extend(cl)
    if docs:
        yield docs, chunks, clauses


def _pack(text: str, spans: list[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    """Group spans into pieces of at most ~size characters; a span longer than size is cut at sentence ends."""
    units: list[tuple[int, int]] = []
    for s, e in spans:
        if e - s <= size:
            units.append((s, e))
            continue
        cur = s
        while e - cur > size:
            window = text[cur:cur + size]
            cut = max(window.rfind(c) for c in SENTENCE_END)
            if cut < size // 3:
                cut = max(window.rfind(c) for c in CLAUSE_END)
            if cut < size // 3:
                cut = size - 1
            units.append((cur, cur + cut + 1))
            cur += cut + 1
        if cur < e:
            units.append((cur, e))
    pieces: list[list[tuple[int, int]]] = []
    length = 0
    for u in units:
        if pieces and length + (u[1] - u[0]) <= size:
            pieces[-1].append(u)
            length += u[1] - u[0]
        else:
            pieces.append([u])
            length = u[1] - u[0]
    return pieces
