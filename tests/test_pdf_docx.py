"""PDF and DOCX ingestion (#9): fixtures are written at test time (tests/pdf_writer.py, python-docx).

The PDF plan has two pages, a running header, page numbers, a sentence wrapped inside its target figure and
a paragraph that goes on over the page break; the DOCX plan has a table and a page header. The end-to-end
test indexes both with the real default embedder and checks quotes, offsets and pages.
"""

from __future__ import annotations

import io

import pytest

from rag import Assistant, Settings
from rag.chunking import chunk_document
from rag.documents import load_document, load_documents
from rag.errors import DocumentLoadError, NoTextLayerError
from rag.ui.render import render_answer

from .pdf_writer import Page, layout, write_pdf

HEADER = "洛阳市科学技术局文件"
TARGET = "全市技术合同成交额突破120亿元"
PARAGRAPHS = [
    "2025年洛阳市科技创新工作要点",
    "为深入实施创新驱动发展战略，加快建设国家创新型城市，推动科技创新和产业创新深度融合，请各县区和市直部门"
    "结合实际抓好落实。",
    "一、主要目标",
    "全社会研发经费投入强度达到2.6%左右，新增省级以上创新平台30家，培育科技型中小企业1800家，每万人高价值"
    "发明专利拥有量达到8件。",
    "到2025年底，全市高新技术企业总数达到1500家，规上工业企业研发机构覆盖率达到60%。",
    "二、重点任务",
    "（一）壮大创新主体",
    "深入实施科技型企业梯次培育工程，完善科技型中小企业、高新技术企业、创新龙头企业培育体系，推动规上工业"
    "企业研发活动全覆盖，支持企业牵头组建创新联合体，承担国家和省重大科技项目。",
    "（二）促进成果转化",
    "健全技术转移服务体系，加快建设中试基地和概念验证中心，积极推动高校院所科技成果在洛转化，" + TARGET
    + "，新增高新技术企业200家以上。",
]


def plan_pdf(**options) -> bytes:
    """The Luoyang plan as a 2-page PDF: header on every page, "- n -" at the foot, 部门's glyph mapped to ⻔."""
    body = layout(PARAGRAPHS, leading=40)
    assert len(body) == 2
    # The fixture must really exercise the joins: the target is cut by a wrap, and the last paragraph by the
    # page break.
    assert not any(TARGET in text for page in body for _, _, text in page)
    assert PARAGRAPHS[-1][:20] in body[0][-1][2] and body[1][0][2] in PARAGRAPHS[-1]
    pages = [Page([(72, 800, HEADER)] + lines + [(280, 40, f"- {n} -")]) for n, lines in enumerate(body, 1)]
    return write_pdf(pages, **{"unicode_of": {"门": "\u2ed4"}, **options})


def plan_docx() -> bytes:
    import docx

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "泉州市科学技术局"  # page furniture: not part of the body
    d.add_paragraph("2025年泉州市科技工作要点")
    d.add_paragraph("为加快建设创新型城市，现提出2025年全市科技工作要点如下。")
    d.add_paragraph("一、主要目标")
    d.add_paragraph("全市高新技术企业总数达到3600家，科技型中小企业评价入库5000家以上。")
    d.add_paragraph("二、重点任务")
    d.add_paragraph("1.加强创新平台建设。新建省级重点实验室5家，\n新型研发机构达到60家。")
    table = d.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, (("指标", "2025年目标"), ("技术合同成交额", "300亿元"))):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    d.add_paragraph("2.深化科技金融结合。科技信贷余额增长15%以上。")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- PDF


@pytest.fixture
def pdf_doc(tmp_path):
    path = tmp_path / "luoyang_2025_st_points.pdf"
    path.write_bytes(plan_pdf())
    return load_document(path, root=tmp_path)


def test_pdf_wraps_are_joined_and_pages_are_offsets(pdf_doc):
    text = pdf_doc.text
    # Every paragraph is one line of stored text, across a wrap and across the page break.
    for paragraph in PARAGRAPHS:
        assert paragraph in text.splitlines()
    assert pdf_doc.page_starts[0] == 0 and len(pdf_doc.page_starts) == 2
    # Page 2 starts at the join, inside the paragraph that goes on over the break.
    second = pdf_doc.page_starts[1]
    assert text[second:].startswith("极推动高校院所")
    assert pdf_doc.page_at(text.index("为深入实施")) == 1
    assert pdf_doc.page_at(text.index(TARGET)) == 2
    assert "部门" in text and "\u2ed4" not in text  # the radical the font mapped 门 to is read as 门


def test_pdf_headers_and_page_numbers_are_kept_but_marked_cruft(pdf_doc):
    text, spans = pdf_doc.text, pdf_doc.spans
    assert text.count(HEADER) == 2 and "- 1 -" in text and "- 2 -" in text
    kept = [text[s:e] for s, e in spans]
    assert not any(HEADER in line or line in ("- 1 -", "- 2 -") for line in kept)
    assert HEADER not in pdf_doc.clean_text
    # The paragraph after the break is whole in the clean text; the furniture met on the way follows it.
    assert PARAGRAPHS[-1] in kept
    assert text.index("- 1 -") > text.index(PARAGRAPHS[-1])


def test_pdf_metadata_and_clauses(pdf_doc):
    m = pdf_doc.metadata
    assert (m.title, m.city, m.year) == ("2025年洛阳市科技创新工作要点", "洛阳", 2025)
    _, clauses = chunk_document(pdf_doc)
    assert any(TARGET in c.text for c in clauses)
    for c in clauses:
        assert pdf_doc.text[c.start:c.end] == c.text


def test_scanned_pdf_is_refused_as_having_no_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(write_pdf([Page(image=True), Page(image=True)]))
    with pytest.raises(NoTextLayerError, match="no text layer.*OCR is not supported"):
        load_document(path)


@pytest.mark.parametrize("options, message", [
    ({"encrypted": True}, "password-protected"),
    ({"to_unicode": False}, "no Unicode mapping"),
])
def test_unreadable_pdfs_are_refused_with_what_to_do(tmp_path, options, message):
    path = tmp_path / "plan.pdf"
    path.write_bytes(plan_pdf(**options))
    with pytest.raises(DocumentLoadError, match=message):
        load_document(path)


# ---------------------------------------------------------------- DOCX


def test_docx_paragraphs_and_tables_in_order_without_pages(tmp_path):
    path = tmp_path / "quanzhou_2025_st_points.docx"
    path.write_bytes(plan_docx())
    doc = load_document(path, root=tmp_path)
    lines = doc.text.splitlines()
    assert lines[0] == "2025年泉州市科技工作要点"
    assert "| 指标 | 2025年目标 |" in lines and "| 技术合同成交额 | 300亿元 |" in lines
    assert lines.index("| 技术合同成交额 | 300亿元 |") < lines.index("2.深化科技金融结合。科技信贷余额增长15%以上。")
    assert "新型研发机构达到60家。" in lines  # a manual line break stays a line break
    assert "泉州市科学技术局" not in doc.text  # the page header is not body text
    assert doc.page_starts == () and doc.page_at(10) is None
    assert (doc.metadata.city, doc.metadata.year) == ("泉州", 2025)


# ---------------------------------------------------------------- refusals, and nothing else lost


def test_bad_files_are_skipped_by_name_and_the_rest_loads(tmp_path):
    docs = tmp_path / "documents"
    docs.mkdir()
    (docs / "luoyang.pdf").write_bytes(plan_pdf())
    good_docx = plan_docx()
    (docs / "quanzhou.docx").write_bytes(good_docx)
    (docs / "scan.pdf").write_bytes(write_pdf([Page(image=True)]))
    (docs / "locked.pdf").write_bytes(plan_pdf(encrypted=True))
    (docs / "cut.pdf").write_bytes(plan_pdf()[:1500])
    (docs / "empty.pdf").write_bytes(write_pdf([]))
    (docs / "cut.docx").write_bytes(good_docx[:2000])
    (docs / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))  # what Word encrypts to
    (docs / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    (docs / "plan.wps").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    documents, warnings = load_documents(docs, root=tmp_path)
    assert sorted(d.doc_id for d in documents) == ["luoyang", "quanzhou"]
    said = {w.split()[1].rstrip(":"): w for w in warnings}
    assert set(said) == {"scan.pdf", "locked.pdf", "cut.pdf", "empty.pdf", "cut.docx", "locked.docx", "old.doc",
                         "plan.wps"}
    assert "no text layer" in said["scan.pdf"] and "OCR" in said["scan.pdf"]
    assert "password" in said["locked.pdf"] and "password" in said["locked.docx"]
    assert all("damaged" in said[name] for name in ("cut.pdf", "empty.pdf", "cut.docx"))
    for name in ("old.doc", "plan.wps"):
        assert "save it as DOCX or PDF" in said[name]


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def pdf_docx_assistant(tmp_path_factory) -> Assistant:
    base = tmp_path_factory.mktemp("pdfdocx")
    docs = base / "documents"
    docs.mkdir()
    (docs / "luoyang_2025_st_points.pdf").write_bytes(plan_pdf())
    (docs / "quanzhou_2025_st_points.docx").write_bytes(plan_docx())
    return Assistant.from_settings(Settings.load(documents_dir=docs, index_dir=base / "indexes" / "default"))


def test_pdf_answer_quotes_the_joined_sentence_with_its_page(pdf_docx_assistant):
    a = pdf_docx_assistant.ask("洛阳2025年技术合同成交额目标是多少?")
    assert not a.refused and "120亿元" in a.answer
    c = a.citations[0]
    assert c.source.endswith("luoyang_2025_st_points.pdf") and TARGET in c.quote
    assert pdf_docx_assistant.document_text(c.doc_id)[c.start:c.end] == c.quote
    assert c.page == 2 and a.to_dict()["citations"][0]["page"] == 2
    assert "第2页" in render_answer(a, pdf_docx_assistant)


def test_docx_answer_has_exact_offsets_and_no_page(pdf_docx_assistant):
    a = pdf_docx_assistant.ask("泉州2025年高新技术企业总数目标是多少?")
    assert not a.refused and "3600家" in a.answer
    c = a.citations[0]
    assert c.source.endswith(".docx") and pdf_docx_assistant.document_text(c.doc_id)[c.start:c.end] == c.quote
    assert c.page is None and "页码" not in render_answer(a, pdf_docx_assistant)


def test_pages_survive_the_index_and_a_restart_does_not_rebuild(pdf_docx_assistant):
    settings = pdf_docx_assistant.settings
    built = (settings.index_dir / "manifest.json").stat().st_mtime_ns
    again = Assistant.from_settings(settings)  # loads documents.jsonl from disk; PDF/DOCX hashed by their bytes
    assert (settings.index_dir / "manifest.json").stat().st_mtime_ns == built
    doc = again.index.documents["luoyang_2025_st_points"]
    assert doc.page_starts == pdf_docx_assistant.index.documents["luoyang_2025_st_points"].page_starts
    assert len(doc.page_starts) == 2


def test_scanned_upload_is_refused_before_anything_is_written(pdf_docx_assistant):
    before = sorted(p.name for p in pdf_docx_assistant.settings.documents_dir.iterdir())
    with pytest.raises(NoTextLayerError):
        pdf_docx_assistant.add_document("scan.pdf", write_pdf([Page(image=True)]))
    with pytest.raises(DocumentLoadError, match="save it as DOCX or PDF"):
        pdf_docx_assistant.add_document("old.doc", b"\xd0\xcf\x11\xe0" + bytes(100))
    assert sorted(p.name for p in pdf_docx_assistant.settings.documents_dir.iterdir()) == before
