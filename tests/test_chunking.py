"""Structure-aware chunks and clause units."""

from __future__ import annotations

import pytest

from rag.chunking import chunk_document, chunk_in_batches, heading_level, split_clauses
from rag.documents import load_documents

from .conftest import DOCUMENTS, REPO


@pytest.fixture(scope="module")
def chunked():
    documents, _ = load_documents(DOCUMENTS, root=REPO)
    return {d.doc_id: (d, *chunk_document(d, 300)) for d in documents}


@pytest.mark.parametrize("line, level", [
    ("一、总体思路", 1), ("(一)实施全社会研发投入强攻行动", 2), ("（三）强化宣传引导", 2),
    ("1.加大财政科技投入", 3), ("15. 打响成果转化越快转品牌", 3), ("31、加强反腐倡廉建设", 3),
    ("2.0建设行动", None), ("2025年是“十四五”规划收官", None), ("一是聚焦创新主体", None),
    # Markdown wraps the same numbering (unseen .md plans had no sections at all before)
    ("## 一、2023年工作总结", 1), ("### (二)重点工作进展", 2), ("**1. 创新主体培育提质扩量。** 深入实施", 3),
    ("# 昆山市2024年工作计划", None),
])
def test_heading_levels(line, level):
    assert heading_level(line) == level


def test_every_clause_and_chunk_points_into_the_stored_text(chunked):
    for doc, chunks, clauses in chunked.values():
        assert chunks and clauses
        for cl in clauses:
            assert doc.text[cl.start:cl.end] == cl.text
            assert cl.sentence_start <= cl.start < cl.end <= cl.sentence_end
        for ch in chunks:
            assert doc.text[ch.start:ch.end].startswith(ch.text.split("\n")[0])
            assert len(ch.text) <= 300 + 10 * ch.text.count("\n")


def test_section_path_and_header(chunked):
    doc, chunks, clauses = chunked["shaoxing_2025_st_innovation_work_points"]
    clause = next(c for c in clauses if "450亿元" in c.text)
    assert clause.text == "实现技术交易额450亿元"
    chunk = next(c for c in chunks if c.chunk_id == clause.chunk_id)
    assert chunk.section.startswith("三、重点工作 > (四)")
    assert "15. 打响成果转化越快转品牌" in chunk.section
    # The header names city and year, so a chunk that never says "绍兴市" is still found by "绍兴…" questions.
    assert "绍兴市" in chunk.header and "2025年" in chunk.header


def test_clauses_keep_a_figure_with_its_subject():
    text = "技术合同交易额增长30%,达32亿元以上;新增高新技术企业45家,总数达322家。"
    pieces = [text[s:e] for s, e, _, _ in split_clauses(text)]
    assert "技术合同交易额增长30%,达32亿元以上" in pieces
    assert any(p.startswith("新增高新技术企业45家") for p in pieces)
    assert all(not p.endswith(("，", ",", "。", ";")) for p in pieces)


def test_markdown_sections_reach_the_clauses_and_emphasis_stays_out_of_quotes():
    from rag.documents import PlanDocument, clean_spans
    from rag.metadata import extract_metadata

    text = ("# 某市2023年工作总结和2024年工作计划\n\n## 一、2023年工作总结\n\n"
            "**1. 创新主体培育。** 有效高新技术企业总数达到3105家。\n\n## 二、2024年工作计划\n\n"
            "- 有效高新技术企业总数达到3400家;\n")
    spans = clean_spans(text, ".md")
    doc = PlanDocument("x", "x.md", text, spans, extract_metadata(text, spans, fallback_title="x"), "0")
    chunks, clauses = chunk_document(doc, 300)
    by_text = {c.text: c for c in clauses}
    section = {ch.chunk_id: ch.section for ch in chunks}
    assert section[by_text["有效高新技术企业总数达到3105家"].chunk_id].startswith("一、2023年工作总结")
    assert any(t.startswith("1. 创新主体培育") for t in by_text)  # no leading "**"
    assert not any(t.startswith(("*", "_")) or t.endswith(("*", "_")) for t in by_text)


@pytest.mark.parametrize("max_chunks", [1, 40, 70, 10_000])
def test_batches_hold_at_most_their_chunks_in_document_order(chunked, max_chunks):
    """Full builds chunk a run of documents at a time (both backends): the runs are the documents' own chunks
    and clauses, in order, each within the limit unless one document alone passes it."""
    docs = [d for d, _, _ in chunked.values()]
    batches = list(chunk_in_batches(docs, 300, max_chunks))
    assert [d for b, _, _ in batches for d in b] == docs
    assert [c for _, cs, _ in batches for c in cs] == [c for _, cs, _ in chunked.values() for c in cs]
    assert [cl for _, _, cls in batches for cl in cls] == [cl for _, _, cls in chunked.values() for cl in cls]
    for b, cs, _ in batches:
        assert b and (len(cs) <= max_chunks or len(b) == 1)
    for (_, first, _), (b, _, _) in zip(batches, batches[1:]):  # a run ends only when the next document would not fit
        assert len(first) + len(chunked[b[0].doc_id][1]) > max_chunks
    if max_chunks == 1:
        assert len(batches) == len(docs)
    else:
        assert (len(batches) == 1) == (max_chunks == 10_000)
    assert list(chunk_in_batches([], 300, max_chunks)) == []

