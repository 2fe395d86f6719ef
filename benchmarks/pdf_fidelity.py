"""How faithfully each PDF library reads Chinese plans: the measurement behind choosing pdfminer.six (#9).

    python benchmarks/pdf_fidelity.py            # needs: pip install pypdf pdfplumber reportlab (bench only)

The five plans in documents/ are printed to PDF by the producers available here, and each library's text is
compared with the plan's own text:
  chromium   Chromium's print to PDF (embedded CFF subset fonts with ToUnicode maps, as browsers and most office
             suites write them); needs /usr/bin/chromium and a CJK font
  reportlab  ReportLab with the STSong-Light CID font (not embedded, a predefined UniGB-UCS2-H CMap, as older
             Chinese PDFs have), with a running header and "- n -" page numbers
  test       tests/pdf_writer.py (a Type0 font with a ToUnicode map, no font file), with header and page numbers

Figures: characters right (1 - edit distance / length, whitespace ignored, header/footer lines dropped),
radical code points in place of ideographs (⻔ for 门; policy-rag maps them back), spaces put between two
Chinese characters, seconds. For policy-rag's own extraction (pdfminer.six + wraps joined + furniture marked),
also how many paragraphs come out as exactly one line of stored text.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HEADER = "某市科学技术局文件"
CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff]) +(?=[\u4e00-\u9fff])")
RADICAL = re.compile(r"[\u2e80-\u2fdf]")


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one numpy row at a time (insertions folded in with a running minimum)."""
    if not a or not b:
        return len(a) + len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    idx = np.arange(len(b) + 1, dtype=np.int64)
    prev = idx.copy()
    for i, ch in enumerate(a, 1):
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (bb != ord(ch)))
        prev = np.minimum.accumulate(tmp - idx) + idx
    return int(prev[-1])


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def drop_furniture(text: str) -> str:
    return "\n".join(line for line in text.splitlines()
                     if line.strip() != HEADER and not re.fullmatch(r"\s*-\s*\d+\s*-\s*", line))


# ---------------------------------------------------------------- producers


def make_chromium(paragraphs: list[str], out: Path) -> bool:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return False
    page = out.with_suffix(".html")
    page.write_text("<html><head><meta charset=utf-8><style>body{font-family:'Noto Serif CJK SC',serif;"
                    "font-size:16px} p{text-indent:2em;margin:0 0 4px 0}</style></head><body>"
                    + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</body></html>", encoding="utf-8")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", str(page)], check=True, capture_output=True, timeout=120)
    return out.exists()


def make_reportlab(paragraphs: list[str], out: Path) -> bool:
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.platypus import Paragraph, SimpleDocTemplate
    except ImportError:
        return False
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("body", fontName="STSong-Light", fontSize=11, leading=16, firstLineIndent=22, wordWrap="CJK")

    def furniture(canvas, doc):
        canvas.setFont("STSong-Light", 9)
        canvas.drawString(72, A4[1] - 40, HEADER)
        canvas.drawCentredString(A4[0] / 2, 30, f"- {doc.page} -")

    SimpleDocTemplate(str(out), pagesize=A4).build([Paragraph(html.escape(p), style) for p in paragraphs],
                                                   onFirstPage=furniture, onLaterPages=furniture)
    return True


def make_test_writer(paragraphs: list[str], out: Path) -> bool:
    from tests.pdf_writer import Page, layout, write_pdf

    pages = layout(paragraphs, per_line=36, leading=22, top=760, bottom=80)
    out.write_bytes(write_pdf([Page([(72, 800, HEADER)] + lines + [(280, 40, f"- {n} -")])
                               for n, lines in enumerate(pages, 1)]))
    return True


PRODUCERS = {"chromium": make_chromium, "reportlab": make_reportlab, "test": make_test_writer}


# ---------------------------------------------------------------- readers


def read_pypdf(path: Path, mode: str = "plain") -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text(extraction_mode=mode) or "" for p in PdfReader(path).pages)


def read_pdfplumber(path: Path) -> str:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return "\n".join(p.extract_text() or "" for p in pdf.pages)


def read_pdfminer(path: Path) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(path)


def read_policy_rag(path: Path) -> str:
    from rag.pdf_text import extract_pdf

    return extract_pdf(path.name, path.read_bytes()).text


READERS = {"pypdf": read_pypdf, "pypdf (layout)": lambda p: read_pypdf(p, "layout"), "pdfplumber": read_pdfplumber,
           "pdfminer.six": read_pdfminer, "policy-rag (pdfminer.six)": read_policy_rag}


def main() -> int:
    import logging

    logging.disable(logging.WARNING)  # font descriptor warnings from the readers
    plans = sorted((REPO / "documents").glob("*.txt"))
    truths = {p.stem: [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
              for p in plans}
    with tempfile.TemporaryDirectory() as tmp:
        for producer, make in PRODUCERS.items():
            pdfs = {}
            for stem, paragraphs in truths.items():
                out = Path(tmp) / f"{producer}_{stem}.pdf"
                if make(paragraphs, out):
                    pdfs[stem] = out
            if not pdfs:
                print(f"{producer}: not available here, skipped")
                continue
            from pdfminer.high_level import extract_pages

            pages = sum(1 for pdf in pdfs.values() for _ in extract_pages(pdf))
            print(f"\n{producer}: {len(pdfs)} plans, {pages} pages")
            print(f"  {'reader':27s} {'chars right':>11s} {'radicals':>9s} {'CJK spaces':>10s} {'seconds':>8s} "
                  f"{'paragraphs as one line':>23s}")
            for reader, read in READERS.items():
                try:
                    errors = length = radicals = spaces = whole = total = 0
                    seconds = 0.0
                    for stem, pdf in pdfs.items():
                        t0 = time.perf_counter()
                        text = read(pdf)
                        seconds += time.perf_counter() - t0
                        text = drop_furniture(text)
                        truth = "".join(truths[stem])
                        errors += levenshtein(no_space(truth), no_space(text))
                        length += len(no_space(truth))
                        radicals += len(RADICAL.findall(text))
                        spaces += len(CJK_SPACE.findall(text)) - len(CJK_SPACE.findall(truth))
                        lines = {no_space(line) for line in text.splitlines()}
                        whole += sum(no_space(p) in lines for p in truths[stem])
                        total += len(truths[stem])
                except ImportError as exc:
                    print(f"  {reader:27s} not installed ({exc.name})")
                    continue
                print(f"  {reader:27s} {100 * (1 - errors / length):10.2f}% {radicals:9d} {spaces:10d} "
                      f"{seconds:8.1f} {whole:>15d} / {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
