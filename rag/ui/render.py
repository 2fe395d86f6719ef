"""HTML for the Gradio UI: answers, citations, errors and status lines, always escaped.

Pure functions over the public `rag` API (no Gradio import), so the part of the UI that decides what a
browser is shown — and that keeps document text and user input from ever becoming markup — can be read
and tested on its own. `rag.ui.app` builds the app around them.
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..assistant import Assistant
from ..citations import Answer, Citation
from ..errors import PolicyRagError
from .assets import CSS, JS
from .labels import LABELS, labels as _labels, mode_note, question_lang
from .plain import PLAIN_OPEN, answer_plain, message_plain, shown_reason

__all__ = ["CSS", "JS", "LABELS", "escape", "render_answer", "render_citation", "render_error", "render_user",
           "render_status", "render_pending", "without_pending", "render_note", "question_lang", "compact",
           "plain_text", "PENDING_OPEN"]

CONTEXT_CHARS = 80  # characters shown either side of the quote's sentence
# An answer still being generated ends with this block (its text is escaped, so the tag is found only here).
PENDING_OPEN = '<div class="rag-pending">'


def escape(value: Any) -> str:
    """Any value as HTML text (None -> "")."""
    return html.escape("" if value is None else str(value), quote=True)


def compact(text: str) -> str:
    """Blank lines and indentation between paragraphs collapse to one line break (the quote itself is untouched)."""
    return re.sub(r"[ \t\u3000]*\n[\s\u3000]*", "\n", text)


def render_citation(citation: Citation, assistant: Assistant | None, lang: str = "zh") -> str:
    """One numbered reference: a <details> with the quote <mark>ed inside its sentence, plus where it comes from."""
    L = _labels(lang)
    c = citation
    text = None
    if assistant is not None:
        try:
            stored = assistant.document_text(c.doc_id)
        except PolicyRagError:  # the document was removed after this answer was given
            stored = None
        if stored is not None and stored[c.start:c.end] == c.quote:
            text = stored
    if text is not None:
        cs = max(0, min(c.context_start, c.start))
        ce = min(len(text), max(c.context_end, c.end))
        outer_a, outer_b = max(0, cs - CONTEXT_CHARS), min(len(text), ce + CONTEXT_CHARS)
        quote_html = (
            ("…" if outer_a > 0 else "")
            + f'<span class="rag-outer">{escape(compact(text[outer_a:cs]))}</span>'
            + escape(compact(text[cs:c.start]))
            + f"<mark>{escape(c.quote)}</mark>"
            + escape(compact(text[c.end:ce]))
            + f'<span class="rag-outer">{escape(compact(text[ce:outer_b]))}</span>'
            + ("…" if outer_b < len(text) else "")
        )
        note = ""
    else:
        quote_html = f"<mark>{escape(c.quote)}</mark>"
        note = f'<div class="rag-reason">{escape(L["no_context"])}</div>'
    page = getattr(c, "page", None)  # None for formats without pages (and for citations from before pages)
    page_text = L["page_n"].format(n=int(page)) if page else None
    where = " · ".join(escape(v) for v in (c.place or c.city, c.year, page_text) if v not in (None, ""))
    fields = [
        (L["document"], f"《{escape(c.title)}》"),
        (L["city"], escape(c.place or c.city or "—")),
        (L["year"], escape(c.year or "—")),
        (L["section"], escape(c.section or "—")),
        (L["source"], f"<code>{escape(c.source)}</code>"),
        *([(L["page"], escape(page_text))] if page_text else []),
        (L["offsets"], f"{c.start}–{c.end} ({L['chars']})"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in fields)
    return (
        f'<details class="rag-citation" data-doc-id="{escape(c.doc_id)}">'
        f'<summary><span class="rag-num">[{int(c.number)}]</span>《{escape(c.title)}》'
        f'<span class="rag-summary-meta">{(" — " + where) if where else ""}</span>'
        f" “{escape(c.quote)}”</summary>"
        f'<div class="rag-quote">{quote_html}</div>{note}'
        f'<dl class="rag-fields">{dl}</dl></details>'
    )


def render_answer(answer: Answer, assistant: Assistant | None = None) -> str:
    """An answer as safe HTML: escaped text with [n] markers, a refusal badge, the numbered references, then a
    Copy button (its plain text rides along in a hidden <pre>) and the 详情/Details toggle with the support."""
    lang = answer.lang or question_lang(answer.question)
    L = _labels(lang)
    note = mode_note(answer.mode, lang)
    parts = [f'<div class="rag-answer" lang="{"en" if lang.startswith("en") else "zh-CN"}">']
    if note:
        parts.append(f'<div class="rag-note">{escape(note)}</div>')
    if answer.refused:
        parts.append(f'<div class="rag-badge refused">⚠ {escape(L["refused"])}</div>')
    parts.append(f'<div class="rag-text">{_with_markers(answer.answer)}</div>')
    if (reason := shown_reason(answer, lang)) is not None:
        parts.append(f'<div class="rag-reason">{escape(L["reason"])}: {escape(reason)}</div>')
    if answer.citations:
        parts.append(f'<div class="rag-sources"><div class="rag-sources-title">{escape(L["sources"])}</div>')
        parts.extend(render_citation(c, assistant, lang) for c in answer.citations)
        parts.append("</div>")
    parts.append(f'<div class="rag-foot"><button type="button" class="rag-copy">{escape(L["copy"])}</button>'
                 f"{_details(answer, assistant, L)}</div>")
    parts.append(f"{PLAIN_OPEN}{escape(answer_plain(answer, note))}</pre></div>")
    return "".join(parts)


def _with_markers(text: str) -> str:
    return re.sub(r"\[(\d{1,3})\]", r'<span class="rag-ref">[\1]</span>', escape(text))


def _details(answer: Answer, assistant: Assistant | None, L: dict[str, str]) -> str:
    """How the answer was made and how well it is supported, on one explained 0–100% scale, folded away.

    Only `Answer.support` is shown: the citations' retrieval scores are on another, unbounded scale that
    means nothing to a reader, so they are left out."""
    mode = L["mode_llm"] if answer.mode == "llm" else L["mode_extractive"]
    if answer.mode not in ("llm", "extractive"):
        mode += f" ({answer.mode})"
    explained = L["support_means"]
    if assistant is not None:
        explained += " " + L["support_min"].format(min=round(100 * assistant.settings.min_support))
    return (f'<details class="rag-details"><summary>{escape(L["details"])}</summary>'
            f'<div>{escape(L["mode"])}: {escape(mode)}</div>'
            f'<div class="rag-support">{escape(L["support"])}: {round(100 * answer.support)}% — '
            f"{escape(explained)}</div></details>")


def render_pending(text: str, lang: str = "zh") -> str:
    """The LLM's answer as it streams in, under a "generating… (not yet checked)" label; appended after the
    extractive answer, which stands until the LLM's text has passed the grounding check."""
    return (f'{PENDING_OPEN}<div class="rag-pending-title">{escape(_labels(lang)["generating"])}</div>'
            f'<div class="rag-text">{_with_markers(text)}</div></div>')


def without_pending(content: str) -> str:
    """A message with its pending LLM block (render_pending) cut off."""
    at = content.rfind(PENDING_OPEN)
    return content if at < 0 else content[:at]


def render_note(message: str) -> str:
    return f'<div class="rag-note">{escape(message)}</div>'


def render_error(message: str, lang: str = "zh") -> str:
    L = _labels(lang)
    return (f'<div class="rag-answer"><div class="rag-badge error">✖ {escape(L["error"])}</div>'
            f'<div class="rag-text">{escape(message)}</div></div>')


def render_user(message: str) -> str:
    return f'<div class="rag-user" style="white-space: pre-wrap">{escape(message)}</div>'


def plain_text(content: Any) -> str:
    """A chat message's text: the question as typed (the HTML render_user made of it, undone), or an answer's
    plain text (what its Copy button copies). Gradio hands a message back as a string or a list of parts."""
    return message_plain(content)


def render_status(ok: bool, message: str) -> str:
    cls = "rag-status-ok" if ok else "rag-status-error"
    return f'<div class="{cls}">{"✔" if ok else "✖"} {escape(message)}</div>'
