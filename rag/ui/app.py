"""policy-rag web UI (Gradio): ask cited questions, manage the indexed documents, run the eval set.

    python ui.py                      # http://127.0.0.1:7860, loads (or builds) indexes/default
    python ui.py --port 8000 --auth alice:secret
    python ui.py --share              # only then is a public gradio.live link created

Everything here goes through the public `rag.Assistant` API. Callbacks are plain module-level
functions taking the assistant as their first argument, so they can be unit-tested without a browser.

Safety: every piece of document text and user input is escaped (`rag.ui.render.escape`) before it is put
into HTML, and the chatbot renders with `render_markdown=False`, `sanitize_html=True` and no LaTeX,
so a document containing `<script>` or a Markdown image link shows as text and never runs or loads.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline by default: no telemetry calls

import gradio as gr  # noqa: E402

from ..assistant import Assistant  # noqa: E402
from ..documents import SUPPORTED_SUFFIXES  # noqa: E402
from ..errors import PolicyRagError  # noqa: E402
from ..settings import REPO_ROOT, Settings  # noqa: E402
from .render import CSS, escape as _esc, question_lang as _question_lang  # noqa: E402
from .render import render_answer, render_citation, render_error, render_status as _status  # noqa: E402
from .render import render_user  # noqa: E402

__all__ = [
    "build_app", "launch", "main", "parse_args", "answer_question", "render_answer", "render_citation",
    "upload_document",
    "upload_bytes", "remove_document", "documents_table", "filter_choices", "run_evaluation", "metrics_table",
    "CSS", "THEME", "LoginLimiter",
]

log = logging.getLogger(__name__)

ANY = "any"
MAX_UPLOAD_BYTES = Assistant.max_upload_bytes  # the library's limit, checked here before reading the file
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
DOC_COLUMNS = ["doc_id", "title", "place", "year", "kind", "issuer", "issue_date", "doc_number", "evidence", "chunks",
               "source"]
DOC_HEADERS = ["doc_id", "标题 title", "地点 place", "年份 year", "类型 kind", "发文机关 issuer", "成文日期 issued",
               "文号 number",
               "依据 read from", "块 chunks", "来源 source"]
EVAL_SET = REPO_ROOT / "eval" / "set.jsonl"

# System fonts only (no Google Fonts fetch: the app works offline); CJK fonts first so Chinese never falls back
# to a font without the glyphs.
THEME = gr.themes.Soft(
    font=["Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC",
          "system-ui", "sans-serif"],
    font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"],
)


# ---------------------------------------------------------------------------------------------- chat

def _none_if_any(value: Any) -> Any:
    return None if value in (None, "", ANY) or (isinstance(value, str) and value.startswith(ANY)) else value


def answer_question(assistant: Assistant, message: str, history: list | None, city: str | None = ANY,
                    year: Any = ANY, k: int | float | None = None, use_llm: bool = False) -> tuple[list, str]:
    """Chat callback: returns (new history, "" to clear the textbox). Never raises for a bad question."""
    history = list(history or [])
    message = message if isinstance(message, str) else ""
    if not message.strip():
        gr.Warning("请输入问题 / Please type a question.")
        return history, message
    lang = _question_lang(message)
    history.append({"role": "user", "content": render_user(message)})
    city_f = _none_if_any(city)
    year_v = _none_if_any(year)
    try:
        year_f = int(year_v) if year_v is not None else None
        k_f = int(k) if k else None
        llm = bool(use_llm) and _llm_configured(assistant)
        answer = assistant.ask(message, city=city_f, year=year_f, k=k_f, llm=llm)
        content = render_answer(answer, assistant)
    except (PolicyRagError, ValueError) as exc:  # invalid question, LLM endpoint failure, ...
        content = render_error(str(exc), lang)
    history.append({"role": "assistant", "content": content})
    return history, ""


def _llm_configured(assistant: Assistant) -> bool:
    s = assistant.settings
    return bool(getattr(s, "llm_base_url", None) or getattr(s, "llm_api_key", None))


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


def upload_bytes(assistant: Assistant, filename: str, data: bytes) -> tuple[bool, str]:
    """Add one uploaded document; returns (ok, message). Validation and saving are done by the library, which
    strips directories from the name and leaves nothing behind on failure."""
    name = Path(str(filename)).name or "upload.txt"
    if Path(name).suffix.lower() not in UPLOAD_TYPES:
        return False, f"{name}: 不支持的文件类型 / unsupported file type — upload one of {', '.join(UPLOAD_TYPES)}"
    if len(data) > MAX_UPLOAD_BYTES:
        return False, (f"{name}: 文件太大 / too large ({len(data):,} bytes; the limit is "
                       f"{MAX_UPLOAD_BYTES:,} bytes)")
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


def _doc_updates(assistant: Assistant) -> tuple:
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
            if size > MAX_UPLOAD_BYTES:
                ok, msg = False, (f"{name}: 文件太大 / too large ({size:,} bytes; the limit is "
                                  f"{MAX_UPLOAD_BYTES:,} bytes)")
            else:
                ok, msg = upload_bytes(assistant, name, path.read_bytes())
        except OSError as exc:
            ok, msg = False, f"{name}: cannot read the uploaded file: {exc}"
    if ok:
        gr.Info(msg, duration=4)
    else:
        gr.Warning(_esc(msg))
    return (_status(ok, msg), *_doc_updates(assistant))


def remove_document(assistant: Assistant, doc_id: str | None) -> tuple:
    """Remove callback: same outputs as `upload_document`."""
    if not doc_id:
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
    return (_status(ok, msg), *_doc_updates(assistant))


# ---------------------------------------------------------------------------------------------- eval

def _flatten(prefix: str, value: Any, rows: list[list[Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        if isinstance(value, float):
            value = round(value, 4)
        rows.append([prefix, "" if value is None else value])
    elif isinstance(value, (list, tuple)) and len(value) <= 8 and all(
            isinstance(v, (int, float, str)) for v in value):
        rows.append([prefix, ", ".join(str(v) for v in value)])


def metrics_rows(metrics: dict) -> list[list[Any]]:
    """Any metrics dict as [name, value] rows (nested keys dotted); the fallback view."""
    rows: list[list[Any]] = []
    _flatten("", {k: v for k, v in metrics.items() if k not in {"items", "results", "per_item"}}, rows)
    return rows


METRIC_COLUMNS = [("n", "n"), ("answer_accuracy", "answer acc"), ("citation_accuracy", "citation acc"),
                  ("offset_validity", "offset validity"), ("refusal_precision", "refusal P"),
                  ("refusal_recall", "refusal R"), ("groundedness", "groundedness"), ("recall_at_k", "recall@k"),
                  ("mrr", "MRR"), ("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms")]


def metrics_table(metrics: dict) -> dict:
    """The eval metrics as a table value for gr.Dataframe ({"headers", "data"}): one row per system and slice
    (overall, each question kind, each language) when the dict has run_eval's "systems" layout, else name/value."""
    systems = metrics.get("systems") if isinstance(metrics, dict) else None
    if not isinstance(systems, dict) or not systems:
        return {"headers": ["metric", "value"], "data": metrics_rows(metrics or {}) or [["", ""]]}

    def fmt(key: str, v: Any) -> Any:
        if v is None:
            return "–"
        if key in {"n", "citations"}:
            return v
        if key.startswith("latency"):
            return round(v, 1) if isinstance(v, (int, float)) else v
        return f"{100 * v:.1f}%" if isinstance(v, (int, float)) and key != "mrr" else round(v, 3)

    data = []
    for name, sysm in systems.items():
        if not isinstance(sysm, dict):
            continue
        slices = [("overall", sysm.get("overall") or {})]
        slices += [(f"kind: {k}", v) for k, v in (sysm.get("by_kind") or {}).items()]
        slices += [(f"lang: {k}", v) for k, v in (sysm.get("by_lang") or {}).items()]
        for label, m in slices:
            if isinstance(m, dict):
                data.append([name, label, *[fmt(key, m.get(key)) for key, _ in METRIC_COLUMNS]])
    return {"headers": ["system", "slice", *[h for _, h in METRIC_COLUMNS]], "data": data or [["", ""]]}


def run_evaluation(assistant: Assistant, limit: float | int | None = 0, ids: str = "", baselines: bool = False,
                   progress: Any = None) -> tuple[str, dict, str | None, str]:
    """Eval callback: (status html, metrics table {"headers", "data"}, plot path or None, report.md as text)."""
    try:
        from ..evaluation import run_eval
    except ImportError as exc:
        msg = f"eval runner not available (rag.evaluation could not be imported: {exc})"
        return _status(False, msg), metrics_table({}), None, ""
    id_list = [i for i in re.split(r"[\s,，]+", ids or "") if i]
    out_dir = Path(tempfile.mkdtemp(prefix="policy-rag-eval-"))
    if progress is not None:
        try:
            progress(0, desc="running the eval set…")
        except Exception:  # noqa: BLE001 - progress is cosmetic
            pass
    started = time.perf_counter()
    try:
        result = run_eval(assistant.settings, set_path=EVAL_SET, out_dir=out_dir, baselines=bool(baselines),
                          limit=int(limit) if limit else None, ids=id_list or None, progress=True)
    except (PolicyRagError, ValueError, OSError, KeyError, ImportError) as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        return _status(False, f"eval failed: {exc}"), metrics_table({}), None, ""
    took = time.perf_counter() - started
    metrics: dict = {}
    mpath = out_dir / "metrics.json"
    if mpath.is_file():
        try:
            metrics = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            metrics = {}
    if not metrics and isinstance(result, dict):
        metrics = result
    plot_path = out_dir / "accuracy_by_kind.png"
    report = out_dir / "report.md"
    report_text = report.read_text(encoding="utf-8") if report.is_file() else ""
    # The plot is handed to Gradio as an image, not a path, so the run's folder can go now instead of
    # piling up in the temp dir (`rag eval --out DIR` keeps the files).
    plot = None
    if plot_path.is_file():
        from PIL import Image

        with Image.open(plot_path) as img:
            plot = img.copy()
    shutil.rmtree(out_dir, ignore_errors=True)
    msg = f"eval finished in {took:.1f} s; to keep the report and plots run `rag eval --out DIR`"
    return _status(True, msg), metrics_table(metrics), plot, report_text


# ---------------------------------------------------------------------------------------------- app

INTRO = (
    "### policy-rag · 科技政策文件问答\n"
    "Ask about the indexed government S&T plans in Chinese or English. Every answer quotes the documents "
    "verbatim; open a reference to see the quote in its sentence. 答案均逐字引用原文，点击参考来源查看上下文。"
)
EXAMPLES = [
    "绍兴2025年技术交易额目标是多少?",
    "What is Shaoxing's 2025 technology transaction target?",
    "鹰潭2025年高新技术企业的目标是多少?",
    "南昌2015年科技工作的重点有哪些?",
]


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio Blocks app around one shared (thread-safe) Assistant. Launch with `css=CSS, theme=THEME`."""
    cities, years = filter_choices(assistant)
    llm_ok = _llm_configured(assistant)
    llm_info = ("Uses the configured OpenAI-compatible endpoint; answers are still grounded in cited quotes."
                if llm_ok else
                "Disabled: no LLM endpoint configured (set POLICY_RAG_LLM_BASE_URL / OPENAI_BASE_URL or "
                "POLICY_RAG_LLM_API_KEY / OPENAI_API_KEY and restart). Answers are extractive.")
    with gr.Blocks(title="policy-rag", analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("问答 Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=4):
                        chatbot = gr.Chatbot(
                            label="对话 / Conversation", height=640, elem_id="rag-chatbot",
                            sanitize_html=True, render_markdown=False, latex_delimiters=[],
                            feedback_options=None, allow_file_downloads=False, allow_tags=False,
                            placeholder="问一个关于文件的问题 · Ask a question about the documents",
                        )
                        with gr.Row(equal_height=True):
                            question = gr.Textbox(
                                placeholder="例如：绍兴2025年技术交易额目标是多少?  (Enter 提问 / to ask)",
                                show_label=False, scale=6, elem_id="rag-question", max_lines=4, autofocus=True,
                                submit_btn=False,
                            )
                            ask_btn = gr.Button("提问 Ask", variant="primary", scale=1, min_width=90,
                                                elem_id="rag-ask")
                            clear_btn = gr.Button("清空 Clear", variant="secondary", scale=1, min_width=90)
                        gr.Examples(EXAMPLES, inputs=[question], label="示例 Examples")
                    with gr.Column(scale=1, min_width=220):
                        city = gr.Dropdown(cities, value=ANY, label="地点 Place", elem_id="rag-city",
                                           allow_custom_value=False)
                        year = gr.Dropdown(years, value=ANY, label="年份 Year", elem_id="rag-year")
                        k = gr.Slider(1, 20, value=assistant.settings.k, step=1, label="检索块数 k (passages)")
                        use_llm = gr.Checkbox(False, label="LLM generation", info=llm_info, interactive=llm_ok,
                                              elem_id="rag-llm")

                def _ask(message, history, city_v, year_v, k_v, llm_v):
                    return answer_question(assistant, message, history, city_v, year_v, k_v, llm_v)

                inputs = [question, chatbot, city, year, k, use_llm]
                question.submit(_ask, inputs, [chatbot, question], concurrency_limit=4, concurrency_id="ask")
                ask_btn.click(_ask, inputs, [chatbot, question], concurrency_limit=4, concurrency_id="ask")
                clear_btn.click(lambda: ([], ""), None, [chatbot, question], queue=False)

            with gr.Tab("文件 Documents", id="documents"):
                table = gr.Dataframe(documents_table(assistant), headers=DOC_HEADERS, interactive=False,
                                     wrap=True, elem_id="rag-documents",
                                     column_widths=["11%", "15%", "9%", "5%", "6%", "9%", "7%", "8%", "17%", "4%", "9%"],
                                     label="已索引文件 Indexed documents")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(label=f"上传文件 Upload (.txt / .md / .html, UTF-8 or GBK, ≤ 2 MB, "
                                               f"≤ {assistant.settings.max_upload_chars:,} characters)",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="rag-upload")
                        upload_btn = gr.Button("添加到索引 Add to index", variant="primary", elem_id="rag-upload-btn")
                    with gr.Column():
                        remove_id = gr.Dropdown([d["doc_id"] for d in assistant.documents()], value=None,
                                                label="删除文件 Remove document (doc_id)", elem_id="rag-remove-id")
                        remove_btn = gr.Button("删除 Remove", variant="stop", elem_id="rag-remove-btn")
                doc_status = gr.HTML("", elem_id="rag-doc-status")

                outs = [doc_status, table, remove_id, city, year]
                upload_btn.click(lambda f: upload_document(assistant, f), [upload], outs,
                                 concurrency_limit=1, concurrency_id="docs")
                remove_btn.click(lambda d: remove_document(assistant, d), [remove_id], outs,
                                 concurrency_limit=1, concurrency_id="docs")

            with gr.Tab("评测 Eval", id="eval"):
                gr.Markdown("Run the fidelity eval set (`eval/set.jsonl`) against the current settings. "
                            "Leave *limit* at 0 and *ids* empty for the whole set.")
                with gr.Row():
                    limit = gr.Number(0, label="limit (0 = all)", precision=0, minimum=0, elem_id="rag-eval-limit")
                    ids = gr.Textbox(label="ids (comma separated, optional)", placeholder="num-001, fact-003")
                    baselines = gr.Checkbox(False, label="also run baselines")
                eval_btn = gr.Button("运行评测 Run eval", variant="primary", elem_id="rag-eval-btn")
                eval_status = gr.HTML("", elem_id="rag-eval-status")
                metrics = gr.Dataframe(headers=["metric", "value"], interactive=False, label="Metrics",
                                       elem_id="rag-metrics")
                plot = gr.Image(label="accuracy by kind", type="pil", interactive=False)
                report = gr.Code(label="report.md", language="markdown", interactive=False)

                def _eval(limit_v, ids_v, base_v, progress=gr.Progress(track_tqdm=True)):
                    return run_evaluation(assistant, limit_v, ids_v, base_v, progress)

                eval_btn.click(_eval, [limit, ids, baselines], [eval_status, metrics, plot, report],
                               concurrency_limit=1, concurrency_id="eval")
    app.queue(max_size=64, default_concurrency_limit=2)
    return app


# ---------------------------------------------------------------------------------------------- CLI

def _fail(message: str) -> None:
    """One line on stderr and exit status 2, like `rag`'s own errors (argparse's p.error adds the usage)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rag ui", description="policy-rag web UI (Gradio).")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--auth", metavar="USER:PASS", help="require this login (recommended with --host 0.0.0.0); "
                   "repeated failed logins lock the name for a minute")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (off by default)")
    p.add_argument("--index-dir", type=Path, help="index directory (default indexes/default)")
    p.add_argument("--documents-dir", type=Path, help="documents directory (default documents/)")
    p.add_argument("--embedder", help="embedding model id or path (default: the bundled multilingual-e5-small)")
    args = p.parse_args(argv)
    if args.auth is not None:
        user, _, password = args.auth.partition(":")
        # Gradio strips the name typed at the login form, so the configured one is stripped too.
        if not user.strip() or not password:
            _fail("--auth needs a user name and a non-empty password, like --auth alice:s3cret (user:password)")
    if not 0 < args.port < 65536:
        p.error("--port must be between 1 and 65535")
    return args


class LoginLimiter:
    """Gradio's `auth` callable for one user:password login, with failed logins throttled.

    The name and password are compared in constant time. After `max_failures` failed logins for one name within
    `window_s` seconds, every login for that name is refused, the right password too, until the oldest failure
    is older than the window; after `max_total_failures` failures for any names within the window, every login
    is refused, so spraying many names is limited too. Refused attempts are not counted, so the lock ends
    on time. `clock` is injectable for tests.
    """

    def __init__(self, username: str, password: str, *, max_failures: int = 5, max_total_failures: int = 30,
                 window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._username = username.strip().encode("utf-8")
        self._password = password.encode("utf-8")
        self.max_failures = max_failures
        self.max_total_failures = max_total_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}  # name -> times of its failures within the window
        self._all: deque[float] = deque()  # times of every failure within the window
        self._lock = threading.Lock()  # Gradio may check logins from several threads

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()
        for name in list(self._failures):
            times = self._failures[name]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._failures[name]  # memory stays bounded by max_total_failures

    def locked(self, username: str) -> bool:
        """Whether a login for `username` would be refused now, whatever the password."""
        with self._lock:
            self._forget_old(self._clock())
            return (len(self._failures.get(username, ())) >= self.max_failures
                    or len(self._all) >= self.max_total_failures)

    def __call__(self, username: str, password: str) -> bool:
        username, password = str(username), str(password)
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            if len(self._failures.get(username, ())) >= self.max_failures or len(self._all) >= self.max_total_failures:
                log.warning("login for %r refused: too many failed logins in the last %.0f s", username, self.window_s)
                return False
            # Both comparisons always run (& not and): the time taken says nothing about which one failed.
            ok = hmac.compare_digest(username.encode("utf-8"), self._username) & \
                hmac.compare_digest(password.encode("utf-8"), self._password)
            if not ok:
                self._failures.setdefault(username, deque()).append(now)
                self._all.append(now)
            return bool(ok)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.load(index_dir=args.index_dir, documents_dir=args.documents_dir, embedder=args.embedder)
        print(f"policy-rag: loading the index at {settings.index_dir} (building it from {settings.documents_dir} "
              "if needed)…", flush=True)
        started = time.perf_counter()
        assistant = Assistant.from_settings(settings, progress=True)
    except PolicyRagError as exc:
        print(f"policy-rag: cannot start the UI: {exc}", file=sys.stderr)
        return 2
    docs = assistant.documents()
    print(f"policy-rag: ready — {len(docs)} documents, {sum(d['chunks'] for d in docs)} chunks "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    for w in assistant.warnings:
        print(f"policy-rag: warning: {w}", file=sys.stderr)
    auth = LoginLimiter(*args.auth.split(":", 1)) if args.auth else None
    launch(build_app(assistant), host=args.host, port=args.port, auth=auth, share=bool(args.share))
    return 0


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = 7860,
           auth: Callable[[str, str], bool] | tuple[str, str] | None = None, share: bool = False, **kwargs: Any):
    """Launch `app` with this UI's CSS and theme; no public link unless share=True. Extra kwargs go to launch().

    A (user, password) pair for `auth` is wrapped in a LoginLimiter, so failed logins are throttled."""
    if isinstance(auth, tuple):
        auth = LoginLimiter(*auth)
    return app.launch(server_name=host, server_port=port, auth=auth, share=share, css=CSS, theme=THEME,
                      show_error=True, max_file_size=MAX_UPLOAD_BYTES, footer_links=["settings"], **kwargs)


if __name__ == "__main__":
    sys.exit(main())
