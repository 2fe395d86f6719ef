"""`HybridRetriever`: policy-rag's retrieval as a LangChain `BaseRetriever`.

    retriever = assistant.retriever                       # k, fetch_k, reranker from the assistant's settings
    docs = retriever.invoke("绍兴2025年技术交易额目标是多少?")           # exactly k Documents (fewer only if fewer match)
    docs = retriever.invoke("…", k=2, city="绍兴", year=2025)        # per call: k, and the place/year filters

Each `Document` is one chunk: `page_content` is its text and `metadata` carries chunk_id, doc_id, source, title,
city, year, section, start/end (offsets into the stored document) and the fused score.

It is a module of its own because LangChain's retriever base class imports its tracers and langsmith; the
answering path (rag/retrieval.py, `rag ask`) does not need them.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .errors import InvalidQuestionError
from .planner import plan_question
from .query import PlaceCatalog, analyse_query
from .retrieval import ScoredChunk, eligible_documents, retrieve
from .stores.base import Store

__all__ = ["HybridRetriever", "to_document"]


class HybridRetriever(BaseRetriever):
    """LangChain retriever over a policy-rag index. Build it with `Assistant.retriever` or directly."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Store
    embedder: object
    catalog: PlaceCatalog
    k: int = 5
    fetch_k: int = 30
    city: str | None = None
    year: int | None = None
    reranker: object | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None,
                                k: int | None = None, city: str | None = None, year: int | None = None
                                ) -> list[Document]:
        """The k best chunks for `query` (k, city and year given to `invoke` override the retriever's own)."""
        k = self.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidQuestionError(f"k must be a positive whole number like 5, not {k!r}")
        city = city or self.city
        year = year or self.year
        q = analyse_query(query, self.catalog, self.index.tokenizer, self.index.bridge)
        vec = self.embedder.embed_queries([q.simplified])[0]
        # The same place rules as Assistant.ask: a place's own plans; an unknown filter matches nothing.
        place = self.catalog.resolve(self.index.tokenizer.simplify(city)) if city else None
        plan = plan_question(q, self.catalog, place) if place or not city else None
        docs = set().union(*(sub.docs for sub in plan.subquestions)) if plan else set()
        allowed = eligible_documents(self.index, q, docs, year)
        # retrieve() adds each ranker's own top hits after the fused top k, for the answerer to look at too;
        # a retriever asked for k documents returns the k best by fused score (or by the reranker's).
        chunks = retrieve(self.index, q, vec, k=k, fetch_k=max(self.fetch_k, k), allowed=allowed,
                          reranker=self.reranker)[:k]
        return [to_document(self.index, sc) for sc in chunks]


def to_document(index: Store, sc: ScoredChunk) -> Document:
    c = sc.chunk
    doc = index.catalog[c.doc_id]
    m = doc.metadata
    return Document(
        page_content=c.text,
        id=c.chunk_id,
        metadata={"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": doc.source, "title": m.title, "city": m.city,
                  "year": m.year, "section": c.section, "start": c.start, "end": c.end, "score": sc.score},
    )
