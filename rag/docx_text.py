"""The stored text of a DOCX file, read with python-docx: one line per paragraph, one per table row.

Word keeps a paragraph as one piece of text (lines wrap only on screen), so there are no wraps to join and
no pages: a DOCX citation has no page number. The body is read in document order, tables included; page
headers and footers live in separate parts of the file and are not part of the stored text at all.
A table row is written as a Markdown row (| 指标 | 2025年目标 |), the form the Markdown loader already reads.
"""

from __future__ import annotations

import io
import re
import zipfile

from .errors import DocumentLoadError
from .loaders import ExtractedText

__all__ = ["extract_docx"]

# An OLE compound file: what Word writes for an encrypted (password-protected) .docx, and for an old .doc.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _cell_text(cell) -> str:
    # A cell's paragraphs on one line: a row must stay one line of stored text.
    return re.sub(r"\s*\n\s*", " ", cell.text).strip()


def _row_line(row) -> str:
    cells: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:
        if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
            continue
        seen.add(id(cell._tc))
        cells.append(_cell_text(cell))
    return "| " + " | ".join(cells) + " |" if any(cells) else ""


def _lines(document) -> list[str]:
    from docx.table import Table

    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_row_line(row) for row in block.rows)
        else:
            # A manual line break (Shift+Enter) inside a paragraph is kept as a line break.
            lines.extend(block.text.replace("\r", "\n").split("\n"))
    return lines


def extract_docx(name: str, data: bytes) -> ExtractedText:
    """The stored text of a DOCX file's bytes; DocumentLoadError when it is encrypted, damaged or empty."""
    import docx
    from docx.opc.exceptions import OpcError

    if data.startswith(OLE_MAGIC):
        raise DocumentLoadError(f"{name}: is password-protected (or an old .doc renamed to .docx); open it in Word "
                                "or WPS and save it as DOCX without a password, then add that file")
    try:
        document = docx.Document(io.BytesIO(data))
        lines = _lines(document)
    except (zipfile.BadZipFile, OpcError, KeyError) as exc:
        raise DocumentLoadError(f"{name}: is damaged or not a Word document ({type(exc).__name__}: {exc}); save "
                                "it as DOCX again, or add the plan as PDF/TXT") from exc
    except Exception as exc:  # a damaged file can make the XML reader raise nearly anything
        raise DocumentLoadError(f"{name}: cannot be read as DOCX ({type(exc).__name__}: {exc}); save it as DOCX "
                                "again, or add the plan as PDF/TXT") from exc
    text = "\n".join(line.rstrip() for line in lines)
    if not text.strip():
        raise DocumentLoadError(f"{name}: has no text in its body (only images, text boxes or headers?); add "
                                "the plan as a document with text")
    return ExtractedText(text + "\n")
