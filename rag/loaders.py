"""Text out of binary document formats (PDF, DOCX): the one place that knows which formats are read and how.

For a PDF or DOCX the *extracted* text is the stored text: citations point into it, and it is built once,
here, with wrapped lines already joined. Page furniture (running headers, page numbers) stays in it and is
only marked (`cruft`), as the scrape cruft of web pages is; `page_starts` lets a citation name its page.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DocumentLoadError

__all__ = ["BINARY_SUFFIXES", "REFUSED_SUFFIXES", "ExtractedText", "extract_binary", "refuse_format"]

BINARY_SUFFIXES = (".pdf", ".docx")
# Formats people do save plans in, that no maintained pure-Python reader handles: say how to convert them.
REFUSED_SUFFIXES = {
    ".doc": "old binary Word (.doc)",
    ".wps": "WPS Office (.wps)",
}


@dataclass(frozen=True)
class ExtractedText:
    text: str
    # offset in `text` where each page begins (page 1 at 0); empty for formats without pages (DOCX)
    page_starts: tuple[int, ...] = ()
    # (start, end) of whole lines that are page furniture: kept in `text`, left out of the clean spans
    cruft: tuple[tuple[int, int], ...] = ()


def refuse_format(name: str, suffix: str) -> DocumentLoadError | None:
    """The error for a format that is recognised but not read (.doc, .wps), else None."""
    kind = REFUSED_SUFFIXES.get(suffix)
    if kind is None:
        return None
    return DocumentLoadError(f"{name}: {kind} files cannot be read; open it in Word or WPS and save it as DOCX "
                             f"or PDF (with selectable text), then add that file instead")


def extract_binary(name: str, data: bytes, suffix: str) -> ExtractedText:
    """The stored text of a PDF or DOCX file's bytes. Raises DocumentLoadError (NoTextLayerError for a scan)."""
    if suffix == ".pdf":
        from .pdf_text import extract_pdf

        return extract_pdf(name, data)
    if suffix == ".docx":
        from .docx_text import extract_docx

        return extract_docx(name, data)
    raise DocumentLoadError(f"{name}: {suffix!r} is not a binary format policy-rag reads; use .pdf or .docx")
