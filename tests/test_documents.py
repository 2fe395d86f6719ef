"""Loading, decoding, cleaning and metadata extraction on the real plan documents."""

from __future__ import annotations

import logging

import pytest

from rag.documents import clean_spans, decode_bytes, load_document, load_documents
from rag.errors import DocumentLoadError, NoDocumentsError

from .conftest import DOCUMENTS, REPO


@pytest.fixture(scope="module")
def docs():
    documents, warnings = load_documents(DOCUMENTS, root=REPO)
    assert warnings == []
    return {d.doc_id: d for d in documents}


def test_all_five_documents_load_with_repo_relative_sources(docs):
    assert len(docs) == 5
    for d in docs.values():
        assert d.source.startswith("documents/") and (REPO / d.source).exists()
        # The stored text is the file itself: offsets into it are offsets into the file's characters.
        assert d.text == (REPO / d.source).read_text(encoding="utf-8")


@pytest.mark.parametrize("doc_id, city, year, kind", [
    ("yingtan_2025_st_work_opinions", "鹰潭", 2025, "工作意见"),
    ("ganzhou_2025_st_work_points", "赣州", 2025, "工作要点"),  # city named only in the body
    ("ganzhou_14th_fyp_st_plan_implementation", "赣州", 2025, "实施方案"),
    ("shaoxing_2025_st_innovation_work_points", "绍兴", 2025, "工作要点"),  # city named only in the body
    ("nanchang_2015_st_work_points", "南昌", 2015, "工作要点"),
])
def test_metadata_city_year_kind(docs, doc_id, city, year, kind):
    m = docs[doc_id].metadata
    assert (m.city, m.year, m.kind) == (city, year, kind)


def test_metadata_titles_dates_and_periods(docs):
    gz = docs["ganzhou_14th_fyp_st_plan_implementation"].metadata
    assert gz.period == "十四五" and gz.years == (2021, 2022, 2023, 2024, 2025)
    assert gz.issue_date == "2022-03-17"  # scraped as "2022317"
    assert gz.title == "贯彻落实《赣州市“十四五”科技创新规划》实施方案"
    assert docs["yingtan_2025_st_work_opinions"].metadata.issue_date == "2025-04-23"
    assert docs["nanchang_2015_st_work_points"].metadata.issue_date == "2015-03-27"
    assert docs["ganzhou_2025_st_work_points"].metadata.title == "2025年全市科技工作要点"  # from "特制定…如下"
    assert docs["nanchang_2015_st_work_points"].metadata.issuer == "南昌市科学技术局"
    assert docs["shaoxing_2025_st_innovation_work_points"].metadata.province == "浙江"


def test_metadata_evidence_spans_point_at_the_text(docs):
    for d in docs.values():
        for field, (start, end) in d.metadata.evidence.items():
            raw = d.text[start:end]
            value = str(getattr(d.metadata, field))
            if field == "place":  # "绍兴" in the text is the place 绍兴市
                from rag.places import gazetteer
                assert value in {p.name for p in gazetteer().lookup(raw)}, raw
            elif field in ("issue_date", "published", "printed"):  # "2022317" or "成文日期: 2025-04-23" -> digits of the ISO date
                y, m, day = value.split("-")
                assert y in raw and (f"{m}-{day}" in raw or f"{int(m)}{day}" in raw or f"{int(m)}月{int(day)}日" in raw), raw
            elif field == "issuer":  # "市科技局" in a 绍兴 document is read as 绍兴市科技局
                assert value.removeprefix(d.metadata.city or "") in raw, raw
            elif field in ("outlet", "speaker", "reporter"):  # "来源:恩施日报" -> 恩施日报, "区长　周明远" -> 周明远
                assert raw.endswith(value), raw
            else:
                assert value == raw


def test_cruft_is_dropped_but_text_is_untouched(docs):
    for d in docs.values():
        clean = d.clean_text
        for cruft in ("扫码浏览", "分享到", "访问量", "字体:[", "索  引  号", "当前位置"):
            assert cruft not in clean
        for s, e in d.spans:
            assert 0 <= s < e <= len(d.text) and d.text[s:e].strip() == d.text[s:e]
    assert "实现技术交易额450亿元" in docs["shaoxing_2025_st_innovation_work_points"].clean_text


def test_gbk_and_bom_files_load(tmp_path):
    text = "2025年宁波市科技工作要点\n一、主要目标\n全市技术合同成交额突破300亿元。\n"
    (tmp_path / "gbk.txt").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    for name in ("gbk.txt", "bom.txt", "utf16.txt"):
        doc = load_document(tmp_path / name)
        assert doc.text == text, name
        assert doc.metadata.city == "宁波" and doc.metadata.year == 2025


def test_binary_and_unsupported_files_are_skipped_with_a_named_warning(tmp_path, caplog):
    (tmp_path / "plan.txt").write_text("2025年宁波市科技工作要点\n全市技术合同成交额突破300亿元。\n", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "empty.md").write_text("扫码浏览\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        documents, warnings = load_documents(tmp_path)
    assert [d.doc_id for d in documents] == ["plan"]
    joined = " ".join(warnings)
    for name in ("image.txt", "table.xlsx", "empty.md"):
        assert name in joined
    assert "binary" in joined


def test_decode_refuses_binary():
    with pytest.raises(DocumentLoadError, match="binary"):
        decode_bytes(b"\x00\x01\x02abc", "x.txt")


def test_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(NoDocumentsError, match="no loadable documents"):
        load_documents(tmp_path)
    with pytest.raises(NoDocumentsError, match="does not exist"):
        load_documents(tmp_path / "missing")


def test_html_spans_are_text_nodes_only():
    html = "<html><head><title>t</title><script>var x=1;</script></head><body><p>全市技术合同成交额突破92亿元</p>" \
           "<nav>首页 &gt; 规划</nav></body></html>"
    spans = clean_spans(html, ".html")
    texts = [html[s:e] for s, e in spans]
    assert "全市技术合同成交额突破92亿元" in texts
    assert not any("var x" in t or "<" in t for t in texts)


def test_markdown_image_lines_are_cruft():
    md = "# 2025年工作要点\n![logo](http://example.com/a.png)\n全市技术合同成交额突破92亿元\n"
    texts = [md[s:e] for s, e in clean_spans(md, ".md")]
    assert not any("example.com" in t for t in texts)


def test_sidecar_overrides_metadata(tmp_path):
    (tmp_path / "plan.txt").write_text("2025年全市科技工作要点\n全市技术合同成交额突破300亿元。\n", encoding="utf-8")
    (tmp_path / "plan.meta.json").write_text('{"city": "宁波", "province": "浙江"}', encoding="utf-8")
    documents, _ = load_documents(tmp_path)
    assert documents[0].metadata.city == "宁波" and documents[0].metadata.province == "浙江"
