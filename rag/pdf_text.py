"""The stored text of a PDF, read with pdfminer.six: lines in reading order, wraps joined, furniture marked.

Why pdfminer.six: on Chinese PDFs it reads exactly the same characters as pypdf and pdfplumber (README,
"PDF and DOCX"), and it gives every line with its position, which is what joining wrapped lines and finding
headers and footers needs. pdfplumber is a layer over it that adds a binary renderer we do not need.

The text is built line by line, top to bottom on each page (plans are single-column):
  * a line in the top or bottom margin band that is a page number, or that repeats on several pages (digits
    aside), is page furniture: it stays in the text, on its own line, and is marked as cruft;
  * a body line that reaches the right margin, followed (without paragraph spacing) by a line that is neither
    indented nor a heading, was wrapped: the two are joined, so a paragraph is one line of stored text;
  * a paragraph that goes on over a page break is joined too; the footer and header met on the way are written
    after it, and the next page starts (`page_starts`) at the join.
"""

from __future__ import annotations

import io
import json
import logging
import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .errors import DocumentLoadError, NoTextLayerError
from .loaders import ExtractedText

__all__ = ["extract_pdf", "normalise_glyphs"]

log = logging.getLogger(__name__)
CID_PLACEHOLDER = re.compile(r"\(cid:\d+\)")  # pdfminer's stand-in for a glyph with no Unicode mapping
# A text layer is unreadable when more than this share of its characters have no Unicode mapping.
MAX_UNMAPPED_SHARE = 0.3


@dataclass(frozen=True)
class _Furniture:
    margin_band: float
    repeat_min_pages: int
    repeat_min_share: float
    page_number: tuple[re.Pattern, ...]


@lru_cache(maxsize=1)
def _furniture() -> _Furniture:
    data = json.loads(resources.files("rag").joinpath("data/page_furniture.json").read_text(encoding="utf-8"))
    return _Furniture(data["margin_band"], data["repeat_min_pages"], data["repeat_min_share"],
                      tuple(re.compile(p) for p in data["page_number"]))


@lru_cache(maxsize=1)
def _glyph_aliases() -> dict[int, str]:
    table = {}
    for line in resources.files("rag").joinpath("data/glyph_aliases.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            alias, text = line.split("\t")[:2]
            table[ord(alias)] = text
    return table


def normalise_glyphs(text: str) -> str:
    """Code points a font's glyph was mapped to become the text it shows (radical ⻔ → 门, ⸺ → ——); glyphs with
    no Unicode mapping become �."""
    return CID_PLACEHOLDER.sub("\ufffd", text).translate(_glyph_aliases())


@dataclass
class _Row:
    """One visual line: pdfminer's text lines that share a baseline (a table row may have several)."""
    cells: list[tuple[float, str]]  # (x0, text) of each pdfminer line on it
    x0: float
    x1: float
    y0: float
    y1: float
    em: float  # the font size: a CJK character's width
    # width of the row's first unit a line cannot be broken inside: a Latin word or number ("2015" of "2015年"),
    # else its first character. Had it fitted at the end of the row before, it would have been put there.
    lead: float

    @property
    def text(self) -> str:
        return " ".join(t for _, t in sorted(self.cells))


def _rows(page) -> list[_Row]:
    from pdfminer.layout import LTChar, LTTextLineHorizontal

    lines = []

    def walk(item) -> None:
        if isinstance(item, LTTextLineHorizontal):
            text = normalise_glyphs(item.get_text()).strip()
            if text:
                chars = [c for c in item if isinstance(c, LTChar) and not c.get_text().isspace()]
                em = statistics.median(c.size for c in chars) if chars else item.height
                lines.append((item, text, em, _lead_width(chars, em)))
            return
        if hasattr(item, "__iter__"):
            for child in item:
                walk(child)

    walk(page)
    rows: list[_Row] = []
    for item, text, em, lead in sorted(lines, key=lambda t: (-t[0].y1, t[0].x0)):
        mid = (item.y0 + item.y1) / 2
        row = rows[-1] if rows else None
        if row is not None and row.y0 <= mid <= row.y1:  # same visual line (a table row's cells)
            row.cells.append((item.x0, text))
            if item.x0 < row.x0:
                row.lead = lead
            row.x0, row.x1 = min(row.x0, item.x0), max(row.x1, item.x1)
            row.y0, row.em = min(row.y0, item.y0), max(row.em, em)
        else:
            rows.append(_Row([(item.x0, text)], item.x0, item.x1, item.y0, item.y1, em, lead))
    return rows


def _lead_width(chars: list, em: float) -> float:
    run = []
    for c in chars:
        if not c.get_text().isascii():
            break
        run.append(c)
    run = run or chars[:1]
    return run[-1].x1 - run[0].x0 if run else em


def _furniture_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _mark_furniture(pages: list[tuple[float, float, list[_Row]]]) -> list[list[bool]]:
    """For each page's rows: is it a running header/footer or a page number in the margin band?"""
    rules = _furniture()
    edges: list[list[str | None]] = []  # "top"/"bottom" for rows in a margin band, else None
    for y_bottom, height, rows in pages:
        band = height * rules.margin_band
        edges.append([("top" if (r.y0 + r.y1) / 2 >= y_bottom + height - band else
                       "bottom" if (r.y0 + r.y1) / 2 <= y_bottom + band else None) for r in rows])
    repeats: Counter = Counter()
    for (_, _, rows), page_edges in zip(pages, edges):
        repeats.update({(edge, re.sub(r"\d+", "#", _furniture_key(r.text))) for r, edge in zip(rows, page_edges) if edge})
    enough = max(rules.repeat_min_pages, rules.repeat_min_share * len(pages))
    marks = []
    for (_, _, rows), page_edges in zip(pages, edges):
        page_marks = []
        for row, edge in zip(rows, page_edges):
            key = _furniture_key(row.text)
            page_marks.append(edge is not None and (any(p.match(key) for p in rules.page_number)
                                                    or repeats[(edge, re.sub(r"\d+", "#", key))] >= enough))
        marks.append(page_marks)
    return marks


def _margins(rows: list[_Row]) -> tuple[float, float]:
    """(left, right) text margins: where most lines start, and where full lines end (the 90th percentile of line
    ends, so one line that overflows the margin does not move it)."""
    left = Counter(round(r.x0) for r in rows).most_common(1)[0][0]
    ends = sorted(r.x1 for r in rows)
    return left, ends[int(0.9 * (len(ends) - 1))]


@dataclass(frozen=True)
class _PageLayout:
    left: float
    right: float
    gap_limit: float  # a larger vertical gap between two lines is paragraph spacing


def _layout(body: list[_Row], fallback: tuple[float, float]) -> _PageLayout:
    left, right = _margins(body) if len(body) >= 3 else fallback
    gaps = [a.y0 - b.y1 for a, b in zip(body, body[1:])]
    em = statistics.median(r.em for r in body) if body else 0.0
    return _PageLayout(left, right, (statistics.median(gaps) if gaps else 0.0) + 0.5 * em)


def _continues(prev: _Row, prev_page: _PageLayout, nxt: _Row, nxt_page: _PageLayout, same_page: bool) -> bool:
    """Was `prev` wrapped onto `nxt`, i.e. are they consecutive lines of one paragraph?"""
    from .chunking import heading_level  # lazy: chunking imports documents, which imports this module's caller

    return (len(prev.cells) == 1 and len(nxt.cells) == 1                 # table rows are never joined
            and prev.x1 + nxt.lead >= prev_page.right - prev.em          # nxt's first word did not fit on prev
            and nxt.x0 <= nxt_page.left + 0.5 * nxt.em                   # nxt is not indented (a new paragraph)
            and (not same_page or prev.y0 - nxt.y1 <= prev_page.gap_limit)  # no paragraph spacing between
            and heading_level(nxt.text) is None)


def _join_separator(a: str, b: str) -> str:
    # Chinese wraps anywhere with nothing lost; only two Latin words or numbers had a space between them.
    return " " if a[-1:].isascii() and a[-1:].isalnum() and b[:1].isascii() and b[:1].isalnum() else ""


def _assemble(pages: list[list[tuple[_Row, bool]]], layouts: list[_PageLayout]) -> ExtractedText:
    """Lay the rows out as stored text: one line per paragraph (wraps joined, across a page break too) and one
    per furniture line. Furniture met inside a paragraph that goes on over a page break (the page's footer, the
    next page's header) is written after that paragraph, so the paragraph stays whole."""
    lines: list[tuple[list[tuple[int, str]], bool]] = []  # ([(page, text piece)], is furniture)
    deferred: list[tuple[int, str]] = []
    prev: tuple[int, _Row] | None = None  # the open paragraph's last row, with its page

    def flush() -> None:
        lines.extend(([piece], True) for piece in deferred)
        deferred.clear()

    for page_no, rows in enumerate(pages):
        for row, is_furniture in rows:
            if is_furniture:
                if prev is None:
                    lines.append(([(page_no, row.text)], True))
                else:
                    deferred.append((page_no, row.text))
                continue
            if prev is not None and _continues(prev[1], layouts[prev[0]], row, layouts[page_no], prev[0] == page_no):
                pieces = lines[-1][0]  # furniture met since is deferred, so this is still the paragraph
                pieces.append((page_no, _join_separator(pieces[-1][1], row.text) + row.text))
            else:
                flush()
                lines.append(([(page_no, row.text)], False))
            prev = (page_no, row)
    flush()

    text_parts: list[str] = []
    page_start: dict[int, int] = {}
    cruft: list[tuple[int, int]] = []
    offset = 0
    for pieces, is_furniture in lines:
        line_start = offset
        for page_no, piece in pieces:
            page_start.setdefault(page_no, offset)
            offset += len(piece)
            text_parts.append(piece)
        if is_furniture:
            cruft.append((line_start, offset))
        text_parts.append("\n")
        offset += 1
    # A page's text starts where its first piece does; a page with no text starts where the next one does.
    starts, nxt = [0] * len(pages), offset
    for page_no in range(len(pages) - 1, -1, -1):
        nxt = min(page_start.get(page_no, nxt), nxt)
        starts[page_no] = nxt
    if starts:
        starts[0] = 0
    return ExtractedText("".join(text_parts), tuple(starts), tuple(cruft))


def _open_pages(name: str, data: bytes):
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    if b"%PDF-" not in data[:1024]:  # readers allow some bytes before the header
        raise DocumentLoadError(f"{name}: is not a PDF file (no %PDF header); save the plan as PDF again or add it "
                                "as DOCX/TXT")
    # pdfminer logs every odd font descriptor (a missing FontBBox...) as a warning: noise for a user.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    try:
        # all_texts: text drawn inside form XObjects (a common way to place whole pages) is read too.
        return list(extract_pages(io.BytesIO(data), laparams=LAParams(all_texts=True)))
    except PDFPasswordIncorrect as exc:
        raise DocumentLoadError(f"{name}: is password-protected; save a copy without a password and add that "
                                "instead") from exc
    except Exception as exc:  # a damaged file can make the parser raise nearly anything (PSException and more)
        raise DocumentLoadError(f"{name}: is damaged or not a readable PDF ({type(exc).__name__}: {exc}); "
                                "export the plan to PDF again, or add it as DOCX/TXT") from exc


def _has_images(page) -> bool:
    from pdfminer.layout import LTFigure, LTImage

    stack = list(page)
    while stack:
        item = stack.pop()
        if isinstance(item, LTImage):
            return True
        if isinstance(item, LTFigure):
            stack.extend(item)
    return False


def extract_pdf(name: str, data: bytes) -> ExtractedText:
    """The stored text of a PDF: raises NoTextLayerError for a scan, DocumentLoadError when unreadable."""
    layouts = _open_pages(name, data)
    if not layouts:
        raise DocumentLoadError(f"{name}: has no pages (damaged?); export the plan to PDF again, or add it as DOCX/TXT")
    pages = [(p.y0, p.height, _rows(p)) for p in layouts]
    chars = sum(len(r.text) - r.text.count(" ") for _, _, rows in pages for r in rows)
    if chars == 0:
        raise NoTextLayerError(f"{name}: has no text layer (a scanned image of {len(pages)} page(s)?); OCR is not "
                               "supported: add a PDF with selectable text, or the plan as DOCX/TXT")
    unmapped = sum(r.text.count("\ufffd") for _, _, rows in pages for r in rows)
    if unmapped > MAX_UNMAPPED_SHARE * chars:
        raise DocumentLoadError(f"{name}: its fonts carry no Unicode mapping ({unmapped} of {chars} characters "
                                "unreadable), so its text cannot be extracted; export it to PDF again from the "
                                "original document, or add it as DOCX/TXT")
    scanned = [i + 1 for i, (layout, (_, _, rows)) in enumerate(zip(layouts, pages)) if not rows and _has_images(layout)]
    if scanned:
        log.warning("%s: page(s) %s have no text layer (scanned images?) and are not indexed", name,
                    ", ".join(map(str, scanned)))
    furniture = _mark_furniture(pages)
    bodies = [[r for r, f in zip(rows, marks) if not f] for (_, _, rows), marks in zip(pages, furniture)]
    all_body = [r for body in bodies for r in body]
    fallback = _margins(all_body) if all_body else (0.0, 0.0)
    return _assemble([list(zip(rows, marks)) for (_, _, rows), marks in zip(pages, furniture)],
                     [_layout(body, fallback) for body in bodies])
