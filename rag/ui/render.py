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

__all__ = ["CSS", "LABELS", "escape", "render_answer", "render_citation", "render_error", "render_user", "render_status",
           "question_lang", "compact"]

CONTEXT_CHARS = 80  # characters shown either side of the quote's sentence

LABELS = {
    "zh": {
        "sources": "参考来源", "refused": "未找到 · 文件中没有答案", "reason": "原因", "document": "文件",
        "city": "地点", "year": "年份", "section": "章节", "source": "来源文件", "offsets": "位置",
        "score": "相关度", "mode": "生成方式", "support": "支持度", "error": "出错了",
        "no_context": "（原文已不在索引中，仅显示引文）", "chars": "字符", "page": "页码", "page_n": "第{n}页",
    },
    "en": {
        "sources": "Sources", "refused": "Not in the documents", "reason": "Reason", "document": "Document",
        "city": "Place", "year": "Year", "section": "Section", "source": "Source file", "offsets": "Offsets",
        "score": "Score", "mode": "Mode", "support": "Support", "error": "Error",
        "no_context": "(the document is no longer indexed; showing the quote only)", "chars": "characters",
        "page": "Page", "page_n": "p. {n}",
    },
}

CSS = """
.rag-answer { line-height: 1.65; }
.rag-answer .rag-text { white-space: pre-wrap; }
.rag-answer .rag-ref { font-size: 0.75em; vertical-align: super; color: #2563eb; font-weight: 600; }
.rag-badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 0.85em;
             font-weight: 600; margin-bottom: 6px; }
.rag-badge.refused { background: #fef3c7; color: #92400e; border: 1px solid #f59e0b; }
.rag-badge.error { background: #fee2e2; color: #991b1b; border: 1px solid #ef4444; }
.rag-reason { color: #6b7280; font-size: 0.9em; }
.rag-meta { color: #6b7280; font-size: 0.8em; margin-top: 4px; }
.rag-sources { margin-top: 10px; border-top: 1px solid #e5e7eb; padding-top: 6px; }
.rag-sources-title { font-weight: 600; font-size: 0.9em; margin-bottom: 4px; }
.rag-sources details { margin: 4px 0; border: 1px solid #e5e7eb; border-radius: 6px; padding: 4px 8px; }
.rag-sources summary { cursor: pointer; font-size: 0.9em; }
.rag-sources .rag-num { color: #2563eb; font-weight: 700; margin-right: 4px; }
.rag-sources .rag-summary-meta { color: #6b7280; }
.rag-quote { white-space: pre-wrap; margin: 6px 0; padding: 6px 10px; border-left: 3px solid #2563eb;
             background: rgba(37, 99, 235, 0.05); font-size: 0.92em; }
.rag-quote .rag-outer { color: #9ca3af; }
.rag-quote mark { background: #fde68a; color: inherit; padding: 0 1px; }
.rag-fields { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 0.82em;
              color: #4b5563; margin: 0; }
.rag-fields dt { font-weight: 600; margin: 0; }
.rag-fields dd { margin: 0; word-break: break-all; }
.rag-status-ok { color: #166534; }
.rag-status-error { color: #991b1b; font-weight: 600; }
"""

def escape(value: Any) -> str:
    """Any value as HTML text (None -> "")."""
    return html.escape("" if value is None else str(value), quote=True)


def compact(text: str) -> str:
    """Blank lines and indentation between paragraphs collapse to one line break (the quote itself is untouched)."""
    return re.sub(r"[ \t\u3000]*\n[\s\u3000]*", "\n", text)


def _labels(lang: str | None) -> dict[str, str]:
    return LABELS["en" if (lang or "").lower().startswith("en") else "zh"]


def question_lang(text: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", text or "") else "en"


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
        (L["score"], escape(f"{c.score:.3f}" if isinstance(c.score, (int, float)) else c.score)),
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
    """An answer as safe HTML: escaped text with [n] markers, a refusal badge, then the numbered references."""
    lang = answer.lang or question_lang(answer.question)
    L = _labels(lang)
    parts = [f'<div class="rag-answer" lang="{"en" if lang.startswith("en") else "zh-CN"}">']
    if answer.refused:
        parts.append(f'<div class="rag-badge refused">⚠ {escape(L["refused"])}</div>')
    body = escape(answer.answer)
    body = re.sub(r"\[(\d{1,3})\]", r'<span class="rag-ref">[\1]</span>', body)
    parts.append(f'<div class="rag-text">{body}</div>')
    # A refusal's text already says why; otherwise show what was left out (in the answer's language only).
    if answer.reason and answer.reason not in answer.answer and (
            lang.startswith("en") or (not answer.refused and re.search(r"[\u4e00-\u9fff]", answer.reason))):
        parts.append(f'<div class="rag-reason">{escape(L["reason"])}: {escape(answer.reason)}</div>')
    parts.append(f'<div class="rag-meta">{escape(L["mode"])}: {escape(answer.mode)} · '
                 f'{escape(L["support"])}: {answer.support:.2f}</div>')
    if answer.citations:
        parts.append(f'<div class="rag-sources"><div class="rag-sources-title">{escape(L["sources"])}</div>')
        parts.extend(render_citation(c, assistant, lang) for c in answer.citations)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def render_error(message: str, lang: str = "zh") -> str:
    L = _labels(lang)
    return (f'<div class="rag-answer"><div class="rag-badge error">✖ {escape(L["error"])}</div>'
            f'<div class="rag-text">{escape(message)}</div></div>')


def render_user(message: str) -> str:
    return f'<div class="rag-user" style="white-space: pre-wrap">{escape(message)}</div>'


def plain_text(content: Any) -> str:
    """A chat message's text as typed: the HTML render_user made of it, undone (tags dropped, entities decoded).

    Gradio hands a message back as a string or as a list of parts ([{"type": "text", "text": …}])."""
    if isinstance(content, (list, tuple)):
        content = " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content
                           if isinstance(p, (str, dict)))
    if not isinstance(content, str):
        return ""
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()


def render_status(ok: bool, message: str) -> str:
    cls = "rag-status-ok" if ok else "rag-status-error"
    return f'<div class="{cls}">{"✔" if ok else "✖"} {escape(message)}</div>'
