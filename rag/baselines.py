"""Reference systems the eval scores next to policy-rag, on the same set, with the same embedder.

- `TutorialRAG` ("LangChain tutorial RAG"): `RecursiveCharacterTextSplitter(chunk_size=500,
  chunk_overlap=50, add_start_index=True)` over each document's stored text, an `InMemoryVectorStore`
  with our embedder, and the top-1 chunk returned as both the answer and its single citation.
- `ChatchatHybrid` ("Chatchat-style hybrid"): a Chinese recursive splitter (separators
  ["\\n\\n", "\\n", "。", "！", "？", "；", ",", "，", ""], chunk_size=250, chunk_overlap=50), BM25 over
  jieba tokens (bm25s + `rag.tokenize.Tokenizer()` without a user dictionary) and dense cosine
  similarity, each min-max normalised over all chunks and fused 0.5/0.5; top-1 chunk as answer and citation.

Neither analyses the query, filters by city/year or refuses: they are what a team gets from the
tutorials, and show what policy-rag's extra stages are worth. Both split the *stored* document text
from the index, so their citation offsets point into the same text as ours. Indexes live in memory
only and take a few seconds to build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BaselineAnswer", "BaselineCitation", "TutorialRAG", "ChatchatHybrid", "build_baselines",
           "TUTORIAL_LABEL", "HYBRID_LABEL", "CHINESE_SEPARATORS"]

TUTORIAL_LABEL = "LangChain tutorial RAG"
HYBRID_LABEL = "Chatchat-style hybrid"
CHINESE_SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", ",", "，", ""]


@dataclass(frozen=True)
class BaselineCitation:
    doc_id: str
    source: str
    title: str
    quote: str
    start: int
    end: int


@dataclass
class BaselineAnswer:
    question: str
    answer: str
    refused: bool = False
    citations: list[BaselineCitation] = field(default_factory=list)
    ranked: list[BaselineCitation] = field(default_factory=list)  # the top-k chunks, for recall@k / MRR


def _split(index, splitter) -> list[tuple[str, str, int]]:
    """(doc_id, chunk text, start offset in the stored text) for every chunk of every document."""
    out = []
    for doc_id in index.catalog:
        doc = index.document(doc_id)
        for d in splitter.create_documents([doc.text], metadatas=[{"doc_id": doc_id}]):
            out.append((doc_id, d.page_content, int(d.metadata.get("start_index", -1))))
    return out


def _citation(index, doc_id: str, text: str, start: int) -> BaselineCitation:
    doc = index.catalog[doc_id]
    return BaselineCitation(doc_id, doc.source, doc.metadata.title, text, start, start + len(text))


class TutorialRAG:
    """The LangChain RAG tutorial's retrieval, answering with the top-1 chunk."""

    label = TUTORIAL_LABEL

    def __init__(self, index, embedder, *, k: int = 5):
        from langchain_core.vectorstores import InMemoryVectorStore
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        t0 = time.perf_counter()
        self.index, self.k = index, k
        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50, add_start_index=True)
        self.chunks = _split(index, splitter)
        self.store = InMemoryVectorStore(embedding=embedder)
        self.store.add_texts([c[1] for c in self.chunks],
                             metadatas=[{"doc_id": d, "start": s} for d, _, s in self.chunks])
        self.build_seconds = time.perf_counter() - t0

    def ask(self, question: str) -> BaselineAnswer:
        hits = self.store.similarity_search(question, k=self.k)
        ranked = [_citation(self.index, h.metadata["doc_id"], h.page_content, h.metadata["start"]) for h in hits]
        top = ranked[:1]
        return BaselineAnswer(question, top[0].quote if top else "", False, top, ranked)


class ChatchatHybrid:
    """Chinese recursive splitting, BM25 (jieba) + dense, min-max fused 0.5/0.5, top-1 chunk answer."""

    label = HYBRID_LABEL

    def __init__(self, index, embedder, *, k: int = 5):
        import bm25s
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from .tokenize import Tokenizer

        t0 = time.perf_counter()
        self.index, self.embedder, self.k = index, embedder, k
        splitter = RecursiveCharacterTextSplitter(separators=CHINESE_SEPARATORS, chunk_size=250, chunk_overlap=50,
                                                  add_start_index=True)
        self.chunks = _split(index, splitter)
        self.tokenizer = Tokenizer()
        self.bm25 = bm25s.BM25()
        self.bm25.index([self.tokenizer(c[1]) or ["∅"] for c in self.chunks], show_progress=False)
        self.vectors = np.asarray(embedder.embed_passages([c[1] for c in self.chunks]), dtype=np.float32)
        self.build_seconds = time.perf_counter() - t0

    @staticmethod
    def _minmax(x: np.ndarray) -> np.ndarray:
        lo, hi = float(x.min()), float(x.max())
        return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)

    def scores(self, question: str) -> np.ndarray:
        tokens = self.tokenizer(question)
        bm25 = np.asarray(self.bm25.get_scores(tokens), dtype=np.float64) if tokens \
            else np.zeros(len(self.chunks))
        dense = self.vectors @ np.asarray(self.embedder.embed_queries([question])[0], dtype=np.float32)
        return 0.5 * self._minmax(bm25) + 0.5 * self._minmax(dense.astype(np.float64))

    def ask(self, question: str) -> BaselineAnswer:
        fused = self.scores(question)
        order = np.argsort(-fused, kind="stable")[: self.k]
        ranked = [_citation(self.index, *self.chunks[i]) for i in order]
        top = ranked[:1]
        return BaselineAnswer(question, top[0].quote if top else "", False, top, ranked)


def build_baselines(index, embedder, *, k: int = 5) -> list:
    """Both baselines over `index`'s stored texts, embedding with `embedder` (the same object as ours)."""
    return [TutorialRAG(index, embedder, k=k), ChatchatHybrid(index, embedder, k=k)]
