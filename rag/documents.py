"""Load plan documents: decode bytes, find the clean (non-cruft) spans, extract metadata.

The stored text is never modified. Cleaning only *marks* which spans of it are content, so every
offset a citation gives points into `PlanDocument.text` and `text[start:end] == quote` holds.
For .txt/.md files that text is the file itself (decoded; a UTF-8 BOM is not part of it).
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from .errors import DocumentLoadError, NoDocumentsError

__all__ = [
    "DocumentMetadata",
    "PlanDocument",
    "SUPPORTED_SUFFIXES",
    "decode_bytes",
    "load_document",
    "load_documents",
    "clean_spans",
    "extract_metadata",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_DOCUMENT_BYTES = 5_000_000

PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 "
    "四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()
KINDS = ("工作要点", "工作意见", "实施方案", "行动方案", "工作计划", "规划", "意见", "方案", "计划", "要点")

# Whole lines that are page furniture, not plan text (breadcrumbs, share widgets, index-number boxes...).
CRUFT_LINE = re.compile(
    r"^\s*(?:首页\s*$|首页\s*[>＞]|当前位置|您当前所在位置|[>＞]\s|无障碍|关怀版|扫码浏览|分享到|分享[:：]?\s*$|"
    r"访问量|浏览次数|字体[:：]|相关文章|文章关键词|信息来源[:：]|来源[:：]|发布日期[:：]|发布时间[:：]|"
    r"索\s*引\s*号|发文机关|文\s*号[:：]|组配分类|成文日期|废止日期|有效性[:：]|打印本页|关闭窗口|【\s*打印|上一篇|下一篇)"
)
MARKDOWN_CRUFT = re.compile(r"^\s*(?:!\[[^\]]*\]\([^)]*\)\s*$|<!--.*-->\s*$|[-*_]{3,}\s*$|```)")


@dataclass(frozen=True)
class DocumentMetadata:
    title: str
    city: str | None = None
    province: str | None = None
    year: int | None = None  # the year the plan is for (the last target year for multi-year plans)
    years: tuple[int, ...] = ()  # every year the plan covers
    period: str | None = None  # e.g. "十四五"
    issuer: str | None = None
    issue_date: str | None = None  # ISO date
    kind: str | None = None  # 工作要点 / 工作意见 / 实施方案 ...
    # field -> (start, end) of the text it was read from, so a metadata answer can be cited verbatim
    evidence: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["years"] = list(self.years)
        d["evidence"] = {k: list(v) for k, v in self.evidence.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DocumentMetadata":
        evidence = {k: tuple(v) for k, v in (d.get("evidence") or {}).items()}
        return cls(**{**d, "years": tuple(d.get("years") or ()), "evidence": evidence})


@dataclass(frozen=True)
class PlanDocument:
    doc_id: str
    source: str  # path relative to the repository root (or absolute when outside it)
    text: str
    spans: tuple[tuple[int, int], ...]  # clean content spans of `text`, in order
    metadata: DocumentMetadata
    sha256: str = field(default="")

    @property
    def clean_text(self) -> str:
        return "\n".join(self.text[s:e] for s, e in self.spans)


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
        if not body.strip() or CRUFT_LINE.match(body) or (suffix != ".txt" and MARKDOWN_CRUFT.match(body)):
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


# ---------------------------------------------------------------- metadata

TITLE_LINE = re.compile(r"^[^，。,；;:：]{4,60}?(?:%s)$" % "|".join(KINDS))
TITLE_IN_BODY = re.compile(r"(?:制定|印发|出台)了?《?([^，。,《》\s]{4,40}?(?:%s))》?(?:如下|。|，|,)" % "|".join(KINDS))
ISO_DATE = re.compile(r"(?:成文日期|发文日期|印发日期)[:：]\s*(\d{4})[-年./](\d{1,2})[-月./](\d{1,2})")
PUBLISHED_DATE = re.compile(r"(?:发布日期|发布时间)[:：]\s*(\d{4})[-年./](\d{1,2})[-月./](\d{1,2})")
COMPACT_DATE = re.compile(r"^\s*(20\d{2}|19\d{2})(\d{2,4})\s*$", re.M)  # scraped "2022317" = 2022-03-17
CN_DATE = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*$", re.M)
ISSUER_FIELD = re.compile(r"发文机关[:：]\s*([^\s:：]{2,30})")
ISSUER_LINE = re.compile(r"^\s*([\u4e00-\u9fff]{2,6}(?:市|省|县|区)?(?:科学技术局|科技局|人民政府|办公室|委员会))\s*$", re.M)
SOURCE_FIELD = re.compile(r"(?:信息来源|来源)[:：]\s*([\u4e00-\u9fff]{2,20}?(?:科学技术局|科技局|人民政府|办公室|委员会|局))")
FIVE_YEAR = {"十三五": (2016, 2020), "十四五": (2021, 2025), "十五五": (2026, 2030)}


def extract_metadata(text: str, spans: tuple[tuple[int, int], ...], fallback_title: str) -> DocumentMetadata:
    lines = [text[s:e] for s, e in spans]
    body = "\n".join(lines)
    title = _find_title(lines, body) or fallback_title
    kind = next((k for k in KINDS if k in title), None)
    city = _find_city(text, title)
    province = _find_province(text)
    evidence: dict[str, tuple[int, int]] = {}
    issue_date, date_span = _find_issue_date(text)
    if date_span:
        evidence["issue_date"] = date_span

    period = next((p for p in FIVE_YEAR if p in title), None)
    if period:
        first, last = FIVE_YEAR[period]
        years = tuple(range(first, last + 1))
    else:
        m = re.search(r"((?:19|20)\d{2})\s*年?", title)
        years = (int(m.group(1)),) if m else ()
        if not years:
            # "制定2025科技工作意见" / "2025年是…": the commonest year in the opening lines.
            found = re.findall(r"((?:19|20)\d{2})年", "\n".join(lines[:8]))
            years = (int(Counter(found).most_common(1)[0][0]),) if found else ()
    year = years[-1] if years else None

    issuer = None
    if m := (ISSUER_FIELD.search(text) or ISSUER_LINE.search(text) or SOURCE_FIELD.search(text)):
        issuer = m.group(1)
        evidence["issuer"] = m.span(0) if m.re is not ISSUER_LINE else m.span(1)
    if title in text:
        evidence["title"] = (text.index(title), text.index(title) + len(title))
    if issuer and issuer.startswith("市") and city:
        issuer = city + issuer  # "市科技局" in a 鹰潭 document is 鹰潭市科技局
    return DocumentMetadata(
        title=title, city=city, province=province, year=year, years=years, period=period,
        issuer=issuer, issue_date=issue_date, kind=kind, evidence=evidence,
    )


def _find_title(lines: list[str], body: str) -> str | None:
    candidates = [ln.strip() for ln in lines[:15] if TITLE_LINE.match(ln.strip())]
    # A cover letter ("关于印发《X》的通知") comes before the plan's own title line: prefer the latter.
    plain = [c for c in candidates if not c.startswith("关于")]
    if plain:
        return plain[0]
    if m := TITLE_IN_BODY.search(body[:2000]):
        return m.group(1)
    for ln in lines[:5]:
        if m := re.match(r"^关于印发《?(.+?)》?的通知$", ln.strip()):
            return m.group(1)
    return None


def _find_city(text: str, title: str) -> str | None:
    """The city the plan is for: the place name most often written as "X市", weighted by the title."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    counts: Counter[str] = Counter()
    for token in jieba.posseg.cut(text):
        if token.flag == "ns":
            name = token.word[:-1] if token.word.endswith("市") else token.word
            if len(name) >= 2:
                counts[name] += 1
    scored = {}
    for name, n in counts.items():
        with_shi = text.count(name + "市")
        if with_shi == 0:
            continue
        scored[name] = n + 2 * with_shi + (20 if name in title else 0)
    return max(scored, key=scored.get) if scored else None


def _find_province(text: str) -> str | None:
    counts = Counter({p: text.count(p) for p in PROVINCES if p in text})
    # "江西省" states a province outright; a bare name only counts when repeated ("创新浙江" … "浙江").
    stated = {p: n for p, n in counts.items() if (p + "省") in text} or {p: n for p, n in counts.items() if n >= 2}
    return max(stated, key=stated.get) if stated else None


def _find_issue_date(text: str) -> tuple[str | None, tuple[int, int] | None]:
    """(ISO date, span it was read from): 成文日期 field, else a signature date line, else 发布日期."""
    if m := ISO_DATE.search(text):
        return _iso(*m.groups()), m.span(0)
    for m in COMPACT_DATE.finditer(text):
        year, rest = m.group(1), m.group(2)
        for split in (1, 2):  # "317" -> 3-17 ; "1105" -> 11-05
            iso = _iso(year, rest[:split], rest[split:])
            if iso and len(rest[split:]) <= 2:
                return iso, (m.start(1), m.end(2))
    for pattern in (CN_DATE, PUBLISHED_DATE):
        if m := pattern.search(text):
            return _iso(*m.groups()), m.span(0)
    return None, None


def _iso(y: str, m: str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


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


def load_document(path: str | Path, *, root: Path | None = None) -> PlanDocument:
    """Load one document. Raises DocumentLoadError with the file's name when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentLoadError(f"{path.name}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentLoadError(f"{path.name}: {size} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit; split the file")
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    text = decode_bytes(data, path.name)
    spans = clean_spans(text, ".txt" if suffix == ".txt" else (".html" if suffix in (".html", ".htm") else ".md"))
    if not spans:
        raise DocumentLoadError(f"{path.name}: no text content after cleaning (empty or only page furniture)")
    metadata = extract_metadata(text, spans, fallback_title=path.stem)
    metadata = _apply_sidecar(path, metadata)
    return PlanDocument(
        doc_id=doc_id_for(path),
        source=_relative_source(path, root),
        text=text,
        spans=spans,
        metadata=metadata,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _apply_sidecar(path: Path, metadata: DocumentMetadata) -> DocumentMetadata:
    """`name.meta.json` beside a document overrides any extracted field (e.g. {"city": "绍兴"})."""
    sidecar = path.with_name(path.stem + ".meta.json")
    if not sidecar.exists():
        return metadata
    try:
        override = json.loads(sidecar.read_text(encoding="utf-8"))
        return DocumentMetadata.from_dict({**metadata.to_dict(), **override})
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring metadata sidecar %s: %s", sidecar.name, exc)
        return metadata


def load_documents(directory: str | Path, *, root: Path | None = None) -> tuple[list[PlanDocument], list[str]]:
    """Load every supported file in `directory`. Returns (documents, warnings); bad files are skipped, named."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NoDocumentsError(f"documents directory {directory} does not exist; create it and put .txt/.md/.html plans in it")
    root = root if root is not None else directory.parent
    documents, warnings, seen = [], [], {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.name.endswith(".meta.json") or path.name.lower() == "readme.md":
            continue
        if not path.is_file():
            continue
        try:
            doc = load_document(path, root=root)
        except DocumentLoadError as exc:
            warnings.append(f"skipped {exc}")
            log.warning("skipped %s", exc)
            continue
        if doc.doc_id in seen:
            warnings.append(f"skipped {path.name}: same document id as {seen[doc.doc_id]}; rename one of them")
            continue
        seen[doc.doc_id] = path.name
        documents.append(doc)
    if not documents:
        raise NoDocumentsError(
            f"no loadable documents in {directory}" + (f" ({'; '.join(warnings)})" if warnings else "")
            + "; add UTF-8 or GBK .txt/.md/.html plan files"
        )
    return documents, warnings
