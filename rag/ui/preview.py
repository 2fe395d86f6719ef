"""The Documents tab's preview of one document: its metadata, each field beside the text it was read from, and
the document's text with those spans highlighted. Everything from the document is escaped: an uploaded file is
untrusted and gr.HTML does not sanitize."""

from __future__ import annotations

from typing import Any

from ..assistant import Assistant
from ..errors import PolicyRagError
from .labels import FIELD_LABELS, UI
from .render import escape

__all__ = ["render_document_preview", "highlight_spans", "PREVIEW_CHARS"]

PREVIEW_CHARS = 200_000  # more text than this is cut in the preview (a browser slows down on megabytes of text)
# The fields shown, in this order; the rest of Assistant.documents()'s keys are internal (evidence, …).
SHOWN = ("title", "kind", "place", "city", "district", "province", "level", "year", "years", "period", "issuer",
         "issue_date", "published", "printed", "doc_number", "outlet", "reporter", "speaker", "venue", "source", "chunks", "characters")


def highlight_spans(text: str, spans: dict[str, tuple[int, int]]) -> str:
    """`text` as escaped HTML with each (start, end) span in a <mark> labelled with its fields; overlapping spans
    (a title holding the place name) are cut at every boundary so each piece names all fields that cover it."""
    bounds = {0, len(text)}
    clean = {}
    for name, (start, end) in spans.items():
        start, end = max(0, int(start)), min(len(text), int(end))
        if start < end:
            clean[name] = (start, end)
            bounds.update((start, end))
    cuts = sorted(bounds)
    out = []
    for a, b in zip(cuts, cuts[1:]):
        piece = escape(text[a:b])
        names = [n for n, (s, e) in clean.items() if s <= a and b <= e]
        if not names:
            out.append(piece)
            continue
        label = " · ".join(FIELD_LABELS.get(n, n) for n in names)
        # The label follows the span's last piece only, so a long span is not interrupted.
        ends_here = [n for n in names if clean[n][1] == b]
        tail = (f'<span class="rag-span-label">{escape(" · ".join(FIELD_LABELS.get(n, n) for n in ends_here))}'
                f"</span>" if ends_here else "")
        out.append(f'<mark title="{escape(label)}">{piece}{tail}</mark>')
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def render_document_preview(assistant: Assistant, doc_id: str | None) -> str:
    """The preview's HTML for `doc_id` (a prompt to choose one when None, an error line when it is gone)."""
    if not doc_id:
        return f'<div class="rag-preview rag-reason">{escape(UI["preview_empty"])}</div>'
    doc = next((d for d in assistant.documents() if d["doc_id"] == doc_id), None)
    try:
        text = assistant.document_text(doc_id)
    except PolicyRagError as exc:  # removed since the list was shown
        return f'<div class="rag-preview rag-status-error">✖ {escape(exc)}</div>'
    if doc is None:
        return f'<div class="rag-preview rag-status-error">✖ {escape(doc_id)}</div>'
    spans = {k: tuple(v) for k, v in (doc.get("evidence") or {}).items() if isinstance(v, (list, tuple)) and len(v) == 2}
    read_from = doc.get("evidence_text") or {}
    rows = []
    for name in (*SHOWN, *(k for k in read_from if k not in SHOWN)):
        value = _value(doc.get(name))
        if not value and name not in read_from:
            continue
        span = read_from.get(name)
        rows.append(f"<tr><th>{escape(FIELD_LABELS.get(name, name))}</th><td>{escape(value)}</td>"
                    f"<td>{f'<mark>{escape(span)}</mark>' if span else ''}</td></tr>")
    shown = text[:PREVIEW_CHARS]
    cut = (f'<div class="rag-reason">{escape(UI["truncated"].format(n=PREVIEW_CHARS))}</div>'
           if len(text) > PREVIEW_CHARS else "")
    return (f'<div class="rag-preview"><h3>《{escape(doc.get("title") or doc_id)}》</h3>'
            f'<table class="rag-meta-table"><tr><th>{escape(UI["field"])}</th><th>{escape(UI["value"])}</th>'
            f'<th>{escape(UI["read_from"])}</th></tr>{"".join(rows)}</table>'
            f'<div class="rag-sources-title">{escape(UI["text"])}</div>'
            f'<div class="rag-doc-text">{highlight_spans(shown, spans)}</div>{cut}</div>')
