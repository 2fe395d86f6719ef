"""The chat and Documents tab callbacks: plain functions taking the Assistant first, testable without a browser.

Every piece of document text and user input is escaped (`rag.ui.render.escape`) before it becomes HTML.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from ..assistant import Assistant
from ..documents import SUPPORTED_SUFFIXES
from ..errors import GenerationError, PolicyRagError
from .labels import labels
from .plain import chat_markdown
from .preview import render_document_preview
from .render import PENDING_OPEN, escape as _esc, question_lang as _question_lang
from .render import (plain_text, render_answer, render_error, render_note, render_pending, render_status as _status,
                     render_user, without_pending)
from .streaming import chat_model_of, stream_llm_answer

__all__ = ["ANY", "MAX_UPLOAD_BYTES", "MAX_FILE_BYTES", "UPLOAD_TYPES", "DOC_COLUMNS", "DOC_HEADERS", "answer_question",
           "answer_question_stream", "stop_answer", "export_chat", "preview_document", "llm_configured",
           "filter_choices", "documents_table", "upload_bytes", "upload_document", "remove_document", "doc_updates",
           "read_only_reason"]

ANY = "any"
MAX_UPLOAD_BYTES = Assistant.max_upload_bytes  # the library's limit for text files, checked before reading
# The most any one file may have (PDF/DOCX): Gradio's own cap. Each file is checked against its format's limit.
MAX_FILE_BYTES = max(Assistant.max_upload_bytes, Assistant.max_binary_upload_bytes)
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
DOC_COLUMNS = ["doc_id", "title", "place", "year", "kind", "issuer", "issue_date", "doc_number", "evidence", "chunks",
               "source"]
DOC_HEADERS = ["doc_id", "标题 title", "地点 place", "年份 year", "类型 kind", "发文机关 issuer", "成文日期 issued",
               "文号 number",
               "依据 read from", "块 chunks", "来源 source"]

# ---------------------------------------------------------------------------------------------- chat

def _none_if_any(value: Any) -> Any:
    return None if value in (None, "", ANY) or (isinstance(value, str) and value.startswith(ANY)) else value


def answer_question(assistant: Assistant, message: str, history: list | None, city: str | None = ANY,
                    year: Any = ANY, k: int | float | None = None, use_llm: bool = False) -> tuple[list, str]:
    """Chat callback without streaming: (new history, "" to clear the textbox), the last state of
    `answer_question_stream`. Never raises for a bad question."""
    out: tuple[list, str] = (list(history or []), message)
    for out in answer_question_stream(assistant, message, history, city, year, k, use_llm):
        pass
    return out


def answer_question_stream(assistant: Assistant, message: str, history: list | None, city: str | None = ANY,
                           year: Any = ANY, k: int | float | None = None, use_llm: bool = False,
                           stop: threading.Event | None = None) -> Iterator[tuple[list, str]]:
    """The chat callback: yields (history, textbox value). The extractive answer comes at once; with the LLM on,
    the LLM's text then streams in below it, and the final message is the LLM's answer when it passed the
    grounding check (rag/generation.py), else the extractive one with a note saying why. Setting `stop` ends
    the stream with the extractive answer left standing (`stop_answer` tidies the message)."""
    history = list(history or [])
    message = message if isinstance(message, str) else ""
    if not message.strip():
        gr.Warning("请输入问题 / Please type a question.")
        yield history, message
        return
    lang = _question_lang(message)
    # The earlier questions as the user typed them (the chat shows them as HTML): "那赣州呢?" reads against them.
    asked = [{"role": "user", "content": plain_text(t.get("content"))} for t in history
             if isinstance(t, dict) and t.get("role") == "user"]
    history.append({"role": "user", "content": render_user(message)})
    try:
        year_v = _none_if_any(year)
        options = {"city": _none_if_any(city), "year": int(year_v) if year_v is not None else None,
                   "k": int(k) if k else None, "history": asked}
        answer = assistant.ask(message, llm=False, **options)
    except (PolicyRagError, ValueError) as exc:  # invalid question, bad filter value, ...
        yield [*history, {"role": "assistant", "content": render_error(str(exc), lang)}], ""
        return
    extractive = render_answer(answer, assistant)
    if not (use_llm and llm_configured(assistant)) or answer.refused or not answer.citations:
        yield [*history, {"role": "assistant", "content": extractive}], ""
        return
    lang = answer.lang or lang

    def showing(content: str) -> list:
        return [*history, {"role": "assistant", "content": content}]

    yield showing(extractive + render_pending("", lang)), ""
    stop = stop if stop is not None else threading.Event()
    try:
        model = chat_model_of(assistant)
        final = None
        for item in stream_llm_answer(assistant, message, stop=stop, model=model, **options):
            if isinstance(item, str):
                yield showing(extractive + render_pending(item, lang)), ""
            else:
                final = item
    except (PolicyRagError, ValueError) as exc:  # no langchain-openai, a bad setting: the extractive answer stands
        yield showing(extractive + render_note(labels(lang)["llm_unavailable"] + str(exc))), ""
        return
    if final is not None and not stop.is_set():
        yield showing(render_answer(final, assistant)), ""


def stop_answer(history: list | None) -> list:
    """After Stop: the last answer's streaming LLM block is cut and a note says the extractive answer stands.
    A history with no such block is returned as it is (the app runs this after every answer)."""
    history = list(history or [])
    if history and isinstance(history[-1], dict) and history[-1].get("role") == "assistant":
        content = plain_content = history[-1].get("content")
        if isinstance(content, list):  # Gradio's list of parts
            plain_content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if isinstance(plain_content, str) and PENDING_OPEN in plain_content:
            m = re.search(r'class="rag-answer" lang="(en|zh-CN)"', plain_content)
            lang = "en" if m and m.group(1) == "en" else "zh"
            history[-1] = {**history[-1], "content": without_pending(plain_content)
                           + render_note(labels(lang)["stopped"])}
    return history


def export_chat(history: list | None) -> str | None:
    """The chat as a Markdown file for the Export button (its path), or None while there is no answer yet."""
    if not any(isinstance(t, dict) and t.get("role") == "assistant" for t in history or []):
        return None
    text = chat_markdown(history)
    # One folder per content: the download keeps a plain file name, and exporting the same chat again reuses it.
    root = Path(tempfile.gettempdir()) / "policy-rag-export"
    folder = root / hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "policy-rag-chat.md"
    path.write_text(text, encoding="utf-8")
    _prune_exports(root, keep=folder)
    return str(path)


EXPORT_KEEP_S = 600  # Gradio serves a copy from its own cache, so an export file is needed only briefly


def _prune_exports(root: Path, keep: Path) -> None:
    """Remove export folders older than EXPORT_KEEP_S (each answer writes one), so they do not pile up."""
    cutoff = time.time() - EXPORT_KEEP_S
    for old in root.iterdir():
        try:
            if old != keep and old.is_dir() and old.stat().st_mtime < cutoff:
                for f in old.iterdir():
                    f.unlink()
                old.rmdir()
        except OSError:  # another session removing it at the same moment, or a file we did not write
            continue


def llm_configured(assistant: Assistant) -> bool:
    """Whether LLM answers can be asked for: a chat model was given to the Assistant or an endpoint is set."""
    s = assistant.settings
    return (getattr(assistant, "chat_model", None) is not None
            or bool(getattr(s, "llm_base_url", None) or getattr(s, "llm_api_key", None)))


def filter_choices(assistant: Assistant) -> tuple[list[str], list[str]]:
    """Place and year dropdown choices from the indexed documents' metadata, each starting with "any".

    Places are the plans' own places at their level (绍兴, 温州市洞头区, 湖南省), as the filter reads them."""
    docs = assistant.documents()
    cities = assistant.places()
    years: set[int] = set()
    for d in docs:
        years.update(int(y) for y in (d.get("years") or []) if y)
        if d.get("year"):
            years.add(int(d["year"]))
    return [ANY, *cities], [ANY, *[str(y) for y in sorted(years, reverse=True)]]


# ---------------------------------------------------------------------------------------------- documents

def documents_table(assistant: Assistant) -> list[list[Any]]:
    rows = []
    for d in sorted(assistant.documents(), key=lambda d: (d.get("city") or "", -(d.get("year") or 0), d["doc_id"])):
        place = " > ".join(x for x in (d.get("province"), d.get("city"), d.get("district")) if x)
        # Where each field was read from: the stored text of its evidence span.
        evidence = " · ".join(f"{k}: “{v[:30]}”" for k, v in (d.get("evidence_text") or {}).items())
        values = {**d, "place": f"{place} ({d.get('level')})" if place else "", "evidence": evidence}
        rows.append([("" if values.get(c) is None else values.get(c)) for c in DOC_COLUMNS])
    return rows


def preview_document(assistant: Assistant, doc_id: str | None) -> str:
    """Documents tab: the chosen document's metadata, the text each field was read from, and its highlighted text."""
    return render_document_preview(assistant, doc_id)


def read_only_reason(assistant: Assistant) -> str | None:
    """Why uploads and removals are refused, or None when they are allowed.

    The bundled sample plans live inside the installed package (site-packages): writing there could fail,
    would be lost on upgrade and would change the plans for every user of that Python."""
    if assistant.settings.uses_bundled_samples:
        return ("这些是随 policy-rag 安装的示例文件，不能修改 / these are the sample plans installed with policy-rag "
                "and cannot be changed: to upload your own plans, start `rag ui` in a folder that has a documents/ "
                "folder (mkdir documents) or pass --documents-dir DIR")
    return None


def upload_bytes(assistant: Assistant, filename: str, data: bytes) -> tuple[bool, str]:
    """Add one uploaded document; returns (ok, message). Validation and saving are done by the library, which
    strips directories from the name and leaves nothing behind on failure."""
    name = Path(str(filename)).name or "upload.txt"
    if (reason := read_only_reason(assistant)) is not None:
        return False, reason
    if Path(name).suffix.lower() not in UPLOAD_TYPES:
        return False, f"{name}: 不支持的文件类型 / unsupported file type — upload one of {', '.join(UPLOAD_TYPES)}"
    if len(data) > (limit := assistant.upload_limit(name)):
        return False, (f"{name}: 文件太大 / too large ({len(data):,} bytes; the limit is "
                       f"{limit:,} bytes)")
    if not data.strip():
        return False, f"{name}: 文件是空的 / the file is empty"
    started = time.perf_counter()
    try:
        result = assistant.add_document(str(filename), data)
    except PolicyRagError as exc:
        return False, f"上传失败 / upload failed: {exc}"
    except OSError as exc:
        return False, f"上传失败 / upload failed (could not save the file): {exc}"
    took = time.perf_counter() - started
    msg = (f"已添加 / added {result.get('saved_as', name)}: now {result.get('documents', '?')} documents, "
           f"{result.get('chunks', '?')} chunks (indexed in {took:.1f} s). 现在可以提问 / ask about it now.")
    warns = result.get("warnings") or []
    if warns:
        msg += " Warnings: " + "; ".join(str(w) for w in warns)
    return True, msg


def _file_path_and_name(file: Any) -> tuple[Path | None, str]:
    if file is None:
        return None, ""
    if isinstance(file, (list, tuple)):
        file = file[0] if file else None
        if file is None:
            return None, ""
    path = getattr(file, "name", None) if not isinstance(file, (str, os.PathLike)) else file
    if isinstance(file, dict):
        path = file.get("path") or file.get("name")
    if path is None:
        return None, ""
    p = Path(str(path))
    orig = getattr(file, "orig_name", None) or (file.get("orig_name") if isinstance(file, dict) else None)
    return p, orig or p.name


def doc_updates(assistant: Assistant) -> tuple:
    cities, years = filter_choices(assistant)
    doc_ids = [d["doc_id"] for d in assistant.documents()]
    return (documents_table(assistant),
            gr.update(choices=doc_ids, value=None),
            gr.update(choices=cities),
            gr.update(choices=years))


def upload_document(assistant: Assistant, file: Any) -> tuple:
    """Upload callback: (status html, documents table, remove-dropdown update, city update, year update)."""
    path, name = _file_path_and_name(file)
    if path is None:
        ok, msg = False, "请选择文件 / choose a file to upload first"
    else:
        try:
            size = path.stat().st_size
            if size > (limit := assistant.upload_limit(name)):
                ok, msg = False, (f"{name}: 文件太大 / too large ({size:,} bytes; the limit is "
                                  f"{limit:,} bytes)")
            else:
                ok, msg = upload_bytes(assistant, name, path.read_bytes())
        except OSError as exc:
            ok, msg = False, f"{name}: cannot read the uploaded file: {exc}"
    if ok:
        gr.Info(msg, duration=4)
    else:
        gr.Warning(_esc(msg))
    return (_status(ok, msg), *doc_updates(assistant))


def remove_document(assistant: Assistant, doc_id: str | None) -> tuple:
    """Remove callback: same outputs as `upload_document`."""
    if (reason := read_only_reason(assistant)) is not None:
        ok, msg = False, reason
    elif not doc_id:
        ok, msg = False, "请选择要删除的文件 / choose a document to remove"
    else:
        try:
            result = assistant.remove_document(doc_id)
            ok, msg = True, (f"已删除 / removed {doc_id}: now {result.get('documents', '?')} documents, "
                             f"{result.get('chunks', '?')} chunks")
        except PolicyRagError as exc:
            ok, msg = False, f"删除失败 / remove failed: {exc}"
        except OSError as exc:
            ok, msg = False, f"删除失败 / remove failed: {exc}"
    if not ok:
        gr.Warning(_esc(msg))
    return (_status(ok, msg), *doc_updates(assistant))
