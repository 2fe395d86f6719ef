"""Load plan documents: decode bytes, find the clean (non-cruft) spans, extract metadata.

The stored text is never modified. Cleaning only *marks* which spans of it are content, so every
offset a citation gives points into `PlanDocument.text` and `text[start:end] == quote` holds.
For .txt/.md files that text is the file itself (decoded; a UTF-8 BOM is not part of it); for PDF and
DOCX it is the text extracted once by rag/loaders.py (wraps joined, page furniture marked as cruft).
"""

from __future__ import annotations

import bisect
import hashlib
import html.parser
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import DocumentLoadError, NoDocumentsError
from .loaders import BINARY_SUFFIXES, extract_binary, refuse_format
from .metadata import DocumentMetadata, apply_override, extract_metadata
from .places import to_simplified

__all__ = [
    "DocumentMetadata",
    "PlanDocument",
    "SUPPORTED_SUFFIXES",
    "candidate_files",
    "content_sha256",
    "decode_bytes",
    "parse_document",
    "load_document",
    "load_documents",
    "clean_spans",
    "extract_metadata",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm") + BINARY_SUFFIXES
MAX_DOCUMENT_BYTES = 5_000_000
MAX_BINARY_DOCUMENT_BYTES = 50_000_000  # a PDF carries its fonts (and maybe images): far more bytes per character

# Whole lines that are page furniture, not plan text (breadcrumbs, share widgets, index-number boxes...).
CRUFT_LINE = re.compile(
    r"^\s*(?:首页\s*$|首页\s*[>＞]|当前位置|您当前所在位置|[>＞]\s|无障碍|关怀版|扫码浏览|分享到|分享[:：]?\s*$|"
    r"访问量|浏览次数|字体[:：]|相关文章|文章关键词|信息来源[:：]|来源[:：]|发布日期[:：]|发布时间[:：]|发布机构[:：]|发布单位[:：]|"
    r"索\s*引\s*号|发文机关|文\s*号[:：]|组配分类|成文日期|废止日期|有效性[:：]|打印本页|关闭窗口|【\s*打印|上一篇|下一篇)"
)
MARKDOWN_CRUFT = re.compile(r"^\s*(?:!\[[^\]]*\]\([^)]*\)\s*$|<!--.*-->\s*$|[-*_]{3,}\s*$|```)")


@dataclass(frozen=True)
class PlanDocument:
    doc_id: str
    source: str  # path relative to the repository root (or absolute when outside it)
    text: str
    spans: tuple[tuple[int, int], ...]  # clean content spans of `text`, in order
    metadata: DocumentMetadata
    sha256: str = field(default="")
    # sha256 of the `name.meta.json` sidecar ("" when none): editing only the sidecar must rebuild the index.
    sidecar_sha256: str = field(default="")
    # offset in `text` where each page begins (PDF); empty for formats without pages
    page_starts: tuple[int, ...] = field(default=())

    @property
    def clean_text(self) -> str:
        return "\n".join(self.text[s:e] for s, e in self.spans)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that holds text[offset], or None for a document without pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


# ---------------------------------------------------------------- decoding


def decode_bytes(data: bytes, name: str = "<bytes>") -> str:
    """Decode UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030; refuse binary data."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentLoadError(f"{name}: has a UTF-16 byte-order mark but does not decode as UTF-16") from exc
    if b"\x00" in data[:8192]:
        raise DocumentLoadError(f"{name}: looks like a binary file (NUL bytes); save it as UTF-8 or GBK text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, name)
    controls = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > max(3, len(text[:20000]) // 100):
        raise DocumentLoadError(f"{name}: looks like a binary file (control characters); save it as UTF-8 text")
    return text


def _decode_legacy(data: bytes, name: str) -> str:
    # GB18030 is a superset of GBK and GB2312: try it first, it is by far the commonest for these files.
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DocumentLoadError(f"{name}: not decodable as UTF-8, GBK/GB18030 or any known text encoding; save it as UTF-8")
    return str(best)


# ---------------------------------------------------------------- cleaning


def clean_spans(text: str, suffix: str = ".txt") -> tuple[tuple[int, int], ...]:
    """Spans of `text` that are plan content: one per kept line (HTML: per text node), whitespace-trimmed."""
    if suffix in (".html", ".htm"):
        return tuple(_html_text_spans(text))
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = text[start:end]
        # Page furniture is recognised in Simplified, so a Traditional page (發布時間, 來源) is cleaned too.
        if not body.strip() or CRUFT_LINE.match(to_simplified(body)) or (suffix != ".txt" and MARKDOWN_CRUFT.match(body)):
            continue
        lead = len(body) - len(body.lstrip())
        spans.append((start + lead, start + len(body.rstrip())))
    return tuple(spans)


class _TextNodeSpans(html.parser.HTMLParser):
    SKIP = {"script", "style", "head", "title", "nav", "footer", "noscript", "template"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.skip_depth = 0
        self.spans: list[tuple[int, int]] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip_depth += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip_depth:
            self.skip_depth -= 1

    def handle_data(self, data):
        if self.skip_depth:
            return
        start = self._offset()
        # A text node may span lines: keep each non-cruft line of it as its own span.
        for s, e in clean_spans(data):
            self.spans.append((start + s, start + e))


def _html_text_spans(text: str) -> list[tuple[int, int]]:
    parser = _TextNodeSpans(text)
    parser.feed(text)
    parser.close()
    return parser.spans


# ---------------------------------------------------------------- loading


def _relative_source(path: Path, root: Path | None) -> str:
    path = path.resolve()
    if root is not None:
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def doc_id_for(path: Path) -> str:
    stem = re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "_", path.stem).strip("_")
    return stem or "document"


@dataclass(frozen=True)
class ParsedText:
    text: str  # the stored text
    spans: tuple[tuple[int, int], ...]
    page_starts: tuple[int, ...] = ()


def _cleaning_kind(suffix: str) -> str:
    return ".html" if suffix in (".html", ".htm") else (".md" if suffix in (".md", ".markdown") else ".txt")


def parse_document(name: str, data: bytes) -> ParsedText:
    """A file's stored text and clean spans, from its name (for the format) and bytes. DocumentLoadError when
    it cannot be used; nothing is written anywhere."""
    suffix = Path(name).suffix.lower()
    if suffix in BINARY_SUFFIXES:
        extracted = extract_binary(name, data, suffix)
        # Furniture lines are whole, trimmed lines of the extracted text: the clean span of one starts where it does.
        furniture = {start for start, _ in extracted.cruft}
        spans = tuple(sp for sp in clean_spans(extracted.text, ".txt") if sp[0] not in furniture)
        text, page_starts = extracted.text, extracted.page_starts
    else:
        text = decode_bytes(data, name)
        spans, page_starts = clean_spans(text, _cleaning_kind(suffix)), ()
    if not spans:
        raise DocumentLoadError(f"{name}: no text content after cleaning (empty or only page furniture)")
    return ParsedText(text, spans, page_starts)


def _read_limited(path: Path) -> bytes:
    limit = MAX_BINARY_DOCUMENT_BYTES if path.suffix.lower() in BINARY_SUFFIXES else MAX_DOCUMENT_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            raise DocumentLoadError(f"{path.name}: {size} bytes is over the {limit}-byte limit; split the file")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc


def content_sha256(path: Path) -> str:
    """What a document's `sha256` is: of its decoded text, or of a PDF's/DOCX's bytes (whose text would need
    the slow extraction to hash, and which change whenever their text does). DocumentLoadError if unreadable."""
    data = _read_limited(path)
    if path.suffix.lower() in BINARY_SUFFIXES:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(decode_bytes(data, path.name).encode("utf-8")).hexdigest()


def load_document(path: str | Path, *, root: Path | None = None) -> PlanDocument:
    """Load one document. Raises DocumentLoadError with the file's name when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if (refused := refuse_format(path.name, suffix)) is not None:
        raise refused
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentLoadError(f"{path.name}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    data = _read_limited(path)
    parsed = parse_document(path.name, data)
    metadata = extract_metadata(parsed.text, parsed.spans, fallback_title=path.stem)
    metadata = _apply_sidecar(path, metadata)
    binary = suffix in BINARY_SUFFIXES
    return PlanDocument(
        doc_id=doc_id_for(path),
        source=_relative_source(path, root),
        text=parsed.text,
        spans=parsed.spans,
        metadata=metadata,
        sha256=hashlib.sha256(data if binary else parsed.text.encode("utf-8")).hexdigest(),
        sidecar_sha256=sidecar_sha256(path),
        page_starts=parsed.page_starts,
    )


def sidecar_sha256(path: Path) -> str:
    """sha256 of a document's `name.meta.json` sidecar, or "" when it has none (or it cannot be read)."""
    sidecar = path.with_name(path.stem + ".meta.json")
    try:
        return hashlib.sha256(sidecar.read_bytes()).hexdigest() if sidecar.is_file() else ""
    except OSError:
        return ""


def _apply_sidecar(path: Path, metadata: DocumentMetadata) -> DocumentMetadata:
    """`name.meta.json` beside a document overrides any extracted field (e.g. {"city": "绍兴"})."""
    sidecar = path.with_name(path.stem + ".meta.json")
    if not sidecar.exists():
        return metadata
    try:
        override = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(override, dict):
            raise TypeError("a sidecar must hold one JSON object")
        return apply_override(metadata, override)
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring metadata sidecar %s: %s", sidecar.name, exc)
        return metadata


def _is_candidate(path: Path) -> bool:
    return not (path.name.startswith(".") or path.name.endswith(".meta.json") or path.name.lower() == "readme.md")


def candidate_files(directory: Path) -> list[Path]:
    """The files `load_documents` tries to load: regular files (never symlinks) that are not hidden, a README
    or a sidecar. Whatever it then skips is recorded in the index so that the staleness check settles."""
    return sorted(p for p in Path(directory).iterdir()
                  if _is_candidate(p) and not p.is_symlink() and p.is_file())


def load_documents(directory: str | Path, *, root: Path | None = None) -> tuple[list[PlanDocument], list[str]]:
    """Load every supported file in `directory`. Returns (documents, warnings); bad files are skipped, named."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NoDocumentsError(f"documents directory {directory} does not exist; create it and put .txt/.md/.html/"
                               ".pdf/.docx plans in it")
    root = root if root is not None else directory.parent
    documents, warnings, seen = [], [], {}
    # Files named exactly as their id ("yingtan_2025_x.txt") first, so one whose name only reads as that id
    # ("yingtan.2025_x.txt") gets an id of its own instead of shadowing the plan.
    for path in sorted(directory.iterdir(), key=lambda p: (p.stem != doc_id_for(p), p.name)):
        if path.is_symlink() and _is_candidate(path):
            # A link could point anywhere (/etc/passwd): only files that live in documents/ are read.
            warnings.append(f"skipped {path.name}: a symbolic link; copy the file itself into {directory.name}/")
            continue
        if not _is_candidate(path):
            continue
        try:
            doc = load_document(path, root=root)
        except DocumentLoadError as exc:
            warnings.append(f"skipped {exc}")
            log.warning("skipped %s", exc)
            continue
        if doc.doc_id in seen:
            n = 2
            while f"{doc.doc_id}_{n}" in seen:
                n += 1
            warnings.append(f"{path.name} reads as the same id as {seen[doc.doc_id]}: indexed as "
                            f"{doc.doc_id}_{n}; rename it to keep that id stable")
            doc = replace(doc, doc_id=f"{doc.doc_id}_{n}")
        seen[doc.doc_id] = path.name
        documents.append(doc)
    if not documents:
        raise NoDocumentsError(
            f"no loadable documents in {directory}" + (f" ({'; '.join(warnings)})" if warnings else "")
            + "; add UTF-8 or GBK .txt/.md/.html plan files, or .pdf/.docx ones"
        )
    return documents, warnings
