"""Hybrid retrieval: dense (FAISS) + BM25, reciprocal-rank fused, filtered and boosted by city/year/kind.

The LangChain face of this, `HybridRetriever` (a `BaseRetriever`), lives in rag/retriever.py: LangChain's
retriever module imports its tracers and langsmith (~0.6 s), which `rag ask` never needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .chunking import Chunk, chunk_doc_id
from .query import Query
from .stores.base import Store, section_years

__all__ = ["ScoredChunk", "CrossEncoderReranker", "retrieve", "eligible_documents",
           "preferred_documents", "plans_compared"]

RRF_K = 60
ENSURE_TOP = 2  # each ranker's own top-n always reach the answerer
KIND_BOOST = 0.5  # in units of one top RRF rank: a plan named by kind ("十四五", "工作要点") wins ties clearly
# A chunk under a heading naming the year asked ("一、2024年工作回顾" for a 2024 question) over one under another
# year's heading in the same plan (review vs plan sections of a report); half a kind match.
SECTION_YEAR_BOOST = 0.25


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float  # cosine similarity of the question and the chunk
    rank: int


def eligible_documents(index: Store, query: Query, docs: set[str] | frozenset[str] | None = None,
                       year: int | None = None) -> set[str]:
    """Among `docs` (all when None), the plans covering (or mentioning) the year asked; a plan named by kind
    ("十四五实施方案", "工作要点") narrows to that plan when one of them is it."""
    years = (year,) if year else query.years
    out = set()
    for doc_id in (index.catalog if docs is None else [d for d in docs if d in index.catalog]):
        if years and not any(y in index.catalog[doc_id].metadata.years or _mentions_year(index, doc_id, y)
                             for y in years):
            continue
        out.add(doc_id)
    by_kind = {d for d in out if _kind_match(index, d, query)}
    return by_kind or out


def _mentions_year(index: Store, doc_id: str, year: int) -> bool:
    """f"{year}年" is written in the document (the catalog knows every 4-digit year a text writes so)."""
    if 1000 <= year <= 9999:
        return year in index.catalog[doc_id].text_years
    return f"{year}年" in index.document(doc_id).text


def _kind_match(index: Store, doc_id: str, query: Query) -> bool:
    if not query.kinds:
        return False
    m = index.catalog[doc_id].metadata
    return any(k == m.period or k == m.kind or k in m.title for k in query.kinds)


class CrossEncoderReranker:
    """Optional second stage: a sentence-transformers CrossEncoder re-scores the fused candidates."""

    def __init__(self, model: str, *, allow_download: bool = False):
        from .encoders import resolve_model_path
        from .errors import EmbedderUnavailableError

        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise EmbedderUnavailableError(
                f"reranker {model!r} needs sentence-transformers: pip install torch==2.13.0 'policy-rag[st]'") from exc
        try:
            self._model = CrossEncoder(resolve_model_path(model), device="cpu", local_files_only=not allow_download)
        except Exception as exc:  # noqa: BLE001 - HF/OS errors alike
            raise EmbedderUnavailableError(f"cannot load reranker {model!r}: download it once or pass a local "
                                           f"path ({type(exc).__name__}: {exc})") from exc
        self.name = model

    def rerank(self, question: str, candidates: list[ScoredChunk], k: int) -> list[ScoredChunk]:
        if not candidates:
            return []
        scores = self._model.predict([(question, c.chunk.indexed_text) for c in candidates], show_progress_bar=False)
        order = np.argsort(-np.asarray(scores, dtype=np.float64))[:k]
        return [ScoredChunk(candidates[i].chunk, float(scores[i]), candidates[i].dense, r) for r, i in enumerate(order)]


def _annual_plan_for(index: Store, doc_id: str, query: Query) -> bool:
    """"Ganzhou's 2025 target" without a plan named means the 2025 plan, not the five-year plan ending in 2025."""
    years = index.catalog[doc_id].metadata.years
    return not query.kinds and len(years) == 1 and years[0] in query.years


def plans_compared(index: Store, query: Query, allowed: set[str]) -> list[set[str]]:
    """Distinct plans named by kind in one question ("2025 work points … vs the 14th Five-Year scheme"):
    one document set per plan, in question order; fewer than two means no plan-vs-plan comparison."""
    sets: list[set[str]] = []
    for kind in query.kinds:
        docs = {d for d in allowed if _kind_match(index, d, replace(query, kinds=(kind,)))}
        if docs and all(docs.isdisjoint(s) for s in sets):
            sets.append(docs)
    return sets


def _years_asked(index: Store, doc_id: str, query: Query) -> set[int]:
    """The years the question asks about, "去年" counted from the plan's date."""
    if query.years or query.relative_year is None:
        return {int(y) for y in query.years}
    meta = index.catalog[doc_id].metadata
    return {int(meta.dated[:4]) + query.relative_year} if meta.dated else set()


def _section_names_year(index: Store, chunk: Chunk, query: Query) -> bool:
    """Whether the chunk's section heading names the year asked (written, or "去年" counted from the plan's date)."""
    years = _years_asked(index, chunk.doc_id, query)
    return bool(years) and not years.isdisjoint(section_years(chunk.section))


def preferred_documents(index: Store, query: Query, allowed: set[str]) -> set[str]:
    """Among `allowed`, the annual plans for the year asked when no plan kind is named (else all of them)."""
    annual = {d for d in allowed if _annual_plan_for(index, d, query)}
    return annual or allowed


def retrieve(index: Store, query: Query, query_vector: np.ndarray, *, k: int, fetch_k: int,
             allowed: set[str] | None = None, reranker: CrossEncoderReranker | None = None) -> list[ScoredChunk]:
    """Top-k chunks among `allowed` documents (all when None), fused from dense and BM25 rankings.

    With a reranker, the fused top 3k are re-scored by the CrossEncoder and its top k are returned."""
    if allowed is not None and not any(index.catalog[d].chunks for d in allowed if d in index.catalog):
        return []
    dense_hits = index.dense_search(query_vector, fetch_k, doc_ids=allowed)
    dense_sim = dict(dense_hits)
    dense_rank = [c for c, _ in dense_hits]
    # chunk_id -> fused score, in the order the chunks were first ranked (ties keep that order)
    fused: dict[str, float] = {}
    bm25_rank: list[str] = []
    for r, c in enumerate(dense_rank):
        fused[c] = fused.get(c, 0.0) + 1.0 / (RRF_K + r + 1)
    if query.terms:
        # Query terms are re-tokenised like the corpus ("技术合同交易额" -> 技术 / 合同 / 交易额 when it is not a
        # corpus term), so BM25 can match the parts of a term the index never saw whole.
        tokens = list(dict.fromkeys(tok for t in query.terms for tok in [t.lower(), *index.tokenizer.search_tokens(t)]))
        bm25_rank = [c for c, _ in index.lexical_search(tokens, fetch_k, doc_ids=allowed)]
        for r, c in enumerate(bm25_rank):
            fused[c] = fused.get(c, 0.0) + 1.0 / (RRF_K + r + 1)
    for c in fused:  # the chunk's document is in its id: no chunk is read for this boost
        doc_id = chunk_doc_id(c)
        if _kind_match(index, doc_id, query) or _annual_plan_for(index, doc_id, query):
            fused[c] += KIND_BOOST / (RRF_K + 1)
    n_top = k * 3 if reranker else k
    # Fusion favours chunks both rankers half-like; each ranker's own top 2 are kept as well, so a clear
    # BM25 hit (the only chunk with "技术合同交易额") is not lost to a noisy cross-lingual dense ranking.
    ensured = dense_rank[:ENSURE_TOP] + bm25_rank[:ENSURE_TOP]
    if SECTION_YEAR_BOOST and (query.years or query.relative_year is not None):
        _boost_section_years(index, query, fused, SECTION_YEAR_BOOST / (RRF_K + 1), n_top, ensured)
    top = sorted(fused, key=lambda c: -fused[c])[:n_top]
    for c in ensured:
        if c not in top:
            top.append(c)
    chunks = dict(zip(top, index.chunks(top)))  # only what is returned is read
    # dense: the chunk's similarity when the dense ranking reached it, else -1
    fused_top = [ScoredChunk(chunks[c], fused[c], dense_sim.get(c, -1.0), r) for r, c in enumerate(top)]
    return reranker.rerank(query.simplified, fused_top, k) if reranker else fused_top


def _boost_section_years(index: Store, query: Query, fused: dict[str, float], boost: float, n_top: int,
                         ensured: list[str]) -> None:
    """Add `boost` to the candidates whose section heading names the year asked. The catalog records which
    chunks' headings name which years, so no chunk is read (at 1M chunks a question then reads a median of 8, the
    ones it returns). An index written before it did has its headings read, only for the candidates the boost
    could lift into the top n (a median of 34 a question at 1M) and the `ensured` ones, which are returned
    whatever their score."""
    unknown = []
    for c in fused:
        doc_id, _, number = c.rpartition("#")
        years = _years_asked(index, doc_id, query)
        if years:
            named = index.catalog[doc_id].years_in_section(int(number))
            if named is None:
                unknown.append(c)
            elif not years.isdisjoint(named):
                fused[c] += boost
    if unknown:  # one scoring below the n-th score by more than the boost stays out of the top with or without it
        bar = sorted(fused.values(), reverse=True)[min(n_top, len(fused)) - 1]
        read = [c for c in unknown if fused[c] + boost >= bar or c in ensured]
        for c, chunk in zip(read, index.chunks(read)):
            if _section_names_year(index, chunk, query):
                fused[c] += boost


def __getattr__(name: str):
    """`from rag.retrieval import HybridRetriever` still works; the class loads LangChain only when asked for."""
    if name in ("HybridRetriever", "to_document"):
        from . import retriever

        return getattr(retriever, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
