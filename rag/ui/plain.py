"""Plain text of answers (what Copy puts on the clipboard) and the chat as Markdown (the Export button).

No Gradio import and no HTML out: the plain text is the answer, then each numbered reference with its title,
place, year, page, section, source file and verbatim quote. The HTML message carries it in a hidden
<pre class="rag-plain"> (rag/ui/render.py), so the Copy button and the export read one and the same text.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any, Iterable

from ..citations import Answer, Citation
from .labels import UI, labels, question_lang

__all__ = ["answer_plain", "citation_plain", "shown_reason", "message_plain", "chat_markdown", "md_escape", "PLAIN_OPEN"]

PLAIN_OPEN = '<pre hidden class="rag-plain">'  # the hidden copy payload's opening tag in an answer's HTML
_PLAIN = re.compile(re.escape(PLAIN_OPEN) + r"(.*?)</pre>", re.S)


def citation_plain(c: Citation, lang: str) -> str:
    """[n] 《title》 — place · year · page, then the section and source file, then the quote on its own line."""
    L = labels(lang)
    page = L["page_n"].format(n=int(c.page)) if getattr(c, "page", None) else None
    where = " · ".join(str(v) for v in (c.place or c.city, c.year, page) if v not in (None, ""))
    lines = [f"[{int(c.number)}] 《{c.title}》" + (f" — {where}" if where else "")]
    lines.append(f"    {L['section']}: {c.section or '—'} · {L['source']}: {c.source}")
    lines.append(f"    “{c.quote}”")
    return "\n".join(lines)


def shown_reason(answer: Answer, lang: str) -> str | None:
    """The reason line an answer shows, if any: a refusal's text already says why, so only what was left out
    is added, and only in the answer's language (the reason is English unless the answer's text gave it)."""
    if answer.reason and answer.reason not in answer.answer and (
            lang.startswith("en") or (not answer.refused and re.search(r"[\u4e00-\u9fff]", answer.reason))):
        return answer.reason
    return None


def answer_plain(answer: Answer, note: str | None = None) -> str:
    """The answer as plain text: [note,] [refused,] the text, the reason, then the numbered references."""
    lang = answer.lang or question_lang(answer.question)
    L = labels(lang)
    parts = []
    if note:
        parts.append(note)
    if answer.refused:
        parts.append(f"[{L['refused']}]")
    parts.append(answer.answer.strip())
    if (reason := shown_reason(answer, lang)) is not None:
        parts.append(f"{L['reason']}: {reason}")
    text = "\n".join(parts)
    if answer.citations:
        text += f"\n\n{L['sources']}:\n" + "\n".join(citation_plain(c, lang) for c in answer.citations)
    return text


def message_plain(content: Any) -> str:
    """A chat message as plain text: an answer's copy payload when it has one, else its text with tags dropped.

    Gradio hands a message back as a string or as a list of parts ([{"type": "text", "text": …}])."""
    if isinstance(content, (list, tuple)):
        content = " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content
                           if isinstance(p, (str, dict)))
    if not isinstance(content, str):
        return ""
    m = _PLAIN.search(content)
    if m:
        return html.unescape(m.group(1)).strip()
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md_escape(text: str) -> str:
    """Text as literal Markdown: the characters that make links, images, HTML, emphasis, headings or tables are
    backslash-escaped (a plan's text could hold `![x](http://…)` or `<img>`, and a Markdown viewer would load
    it), and every line break is kept (two trailing spaces). Indentation is dropped: four leading spaces would
    make a code block."""
    return "  \n".join(_MD_SPECIAL.sub(r"\\\1", line.strip()) for line in text.strip().split("\n"))


def chat_markdown(history: Iterable[Any], now: datetime | None = None) -> str:
    """The chat as a Markdown document: each question, and its answer as plain text with the references and
    quotes. `history` is the Chatbot's value (role/content dicts)."""
    now = now or datetime.now()
    out = [f"# {UI['export_title']}", "", f"{UI['exported']}: {now:%Y-%m-%d %H:%M}", ""]
    n = 0
    for turn in history or []:
        if not isinstance(turn, dict):
            continue
        text = message_plain(turn.get("content"))
        if not text:
            continue
        if turn.get("role") == "user":
            n += 1
            out += [f"## {n}. {UI['question']}", "", md_escape(text), ""]
        elif turn.get("role") == "assistant":
            out += [f"### {UI['answer']}", "", md_escape(text), ""]
    return "\n".join(out).rstrip() + "\n"
