"""policy-rag web UI (Gradio): ask cited questions, manage the indexed documents, run the eval set.

    rag ui                            # http://127.0.0.1:7860, loads (or builds) the index
    rag ui --port 8000 --auth alice:secret
    rag ui --share                    # only then is a public gradio.live link created

Everything here goes through the public `rag.Assistant` API. The callbacks (`rag.ui.callbacks`,
`rag.ui.eval_tab`) are plain module-level functions taking the assistant as their first argument, so they can
be unit-tested without a browser; this module lays them out and serves them.

Safety: every piece of document text and user input is escaped (`rag.ui.render.escape`) before it is put
into HTML, and the chatbot renders with `render_markdown=False`, `sanitize_html=True` and no LaTeX,
so a document containing `<script>` or a Markdown image link shows as text and never runs or loads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline by default: no telemetry calls

import gradio as gr  # noqa: E402

from .. import locations  # noqa: E402
from ..assistant import Assistant  # noqa: E402
from ..errors import PolicyRagError  # noqa: E402
from ..settings import Settings  # noqa: E402
from .callbacks import (  # noqa: E402  (re-exported: the app's callbacks, as tests and users import them)
    ANY, DOC_COLUMNS, DOC_HEADERS, MAX_FILE_BYTES, UPLOAD_TYPES, answer_question, answer_question_stream,
    documents_table, export_chat, filter_choices, llm_configured, preview_document, read_only_reason,
    remove_document, stop_answer, upload_bytes, upload_document,
)
from .eval_tab import metrics_rows, metrics_table, run_evaluation  # noqa: E402
from .login import LoginLimiter  # noqa: E402
from .labels import UI  # noqa: E402
from .render import CSS, JS, render_answer, render_citation  # noqa: E402
from .streaming import StopSignals  # noqa: E402

__all__ = [
    "build_app", "launch", "main", "parse_args", "answer_question", "answer_question_stream", "stop_answer",
    "export_chat", "preview_document", "render_answer", "render_citation",
    "upload_document", "upload_bytes", "remove_document", "documents_table", "filter_choices", "run_evaluation",
    "metrics_table", "metrics_rows", "CSS", "THEME", "LoginLimiter", "DOC_COLUMNS", "DOC_HEADERS",
]

# System fonts only (no Google Fonts fetch: the app works offline); CJK fonts first so Chinese never falls back
# to a font without the glyphs.
THEME = gr.themes.Soft(
    font=["Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC",
          "system-ui", "sans-serif"],
    font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"],
)



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
    llm_ok = llm_configured(assistant)
    llm_info = ("Uses the configured LLM: the extractive answer shows at once, the LLM's streams in below it and "
                "replaces it only if every number and [n] is grounded in the quotes."
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
                            # Gradio's copy buttons would copy the messages' HTML; answers carry their own
                            # Copy (plain text), and Export saves the chat as Markdown.
                            buttons=[],
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
                            stop_btn = gr.Button(UI["stop"], variant="stop", scale=1, min_width=90,
                                                 visible=False, elem_id="rag-stop")
                            clear_btn = gr.Button("清空 Clear", variant="secondary", scale=1, min_width=90)
                            export_btn = gr.DownloadButton(UI["export"], value=None, interactive=False, scale=1,
                                                           min_width=90, elem_id="rag-export")
                        gr.Examples(EXAMPLES, inputs=[question], label="示例 Examples")
                    with gr.Column(scale=1, min_width=220):
                        city = gr.Dropdown(cities, value=ANY, label="地点 Place", elem_id="rag-city",
                                           allow_custom_value=False)
                        year = gr.Dropdown(years, value=ANY, label="年份 Year", elem_id="rag-year")
                        k = gr.Slider(1, 20, value=assistant.settings.k, step=1, label="检索块数 k (passages)")
                        use_llm = gr.Checkbox(False, label="LLM generation", info=llm_info, interactive=llm_ok,
                                              elem_id="rag-llm")

                stops = StopSignals()

                def _ask(message, history, city_v, year_v, k_v, llm_v, request: gr.Request):
                    with stops.running(_session(request)) as stop:
                        yield from answer_question_stream(assistant, message, history, city_v, year_v, k_v, llm_v,
                                                          stop=stop)

                def _done(history):
                    # Runs when an answer is complete or was stopped (Gradio runs .then after a cancel too, once
                    # no more streamed updates can arrive): a stopped answer's LLM block becomes a note.
                    history = stop_answer(history)
                    path = export_chat(history)
                    return history, gr.update(visible=False), gr.update(value=path, interactive=path is not None)

                def _stop(request: gr.Request):
                    stops.stop(_session(request))  # the generator and the LLM worker end at their next piece

                inputs = [question, chatbot, city, year, k, use_llm]
                asking = []
                for trigger in (question.submit, ask_btn.click):
                    # Stop shows only while an LLM answer may be streaming.
                    ask = trigger(lambda llm_v: gr.update(visible=bool(llm_v)), [use_llm], [stop_btn], queue=False) \
                        .then(_ask, inputs, [chatbot, question], concurrency_limit=4, concurrency_id="ask")
                    ask.then(_done, [chatbot], [chatbot, stop_btn, export_btn], queue=False)
                    asking.append(ask)
                stop_btn.click(_stop, None, None, cancels=asking, queue=False)
                clear_btn.click(lambda: ([], "", gr.update(value=None, interactive=False)), None,
                                [chatbot, question, export_btn], queue=False)
                # the chat's own trash icon empties it too: nothing left to export
                chatbot.clear(lambda: gr.update(value=None, interactive=False), None, [export_btn], queue=False)

            with gr.Tab("文件 Documents", id="documents"):
                table = gr.Dataframe(documents_table(assistant), headers=DOC_HEADERS, interactive=False,
                                     wrap=True, elem_id="rag-documents",
                                     column_widths=["11%", "15%", "9%", "5%", "6%", "9%", "7%", "8%", "17%", "4%", "9%"],
                                     label="已索引文件 Indexed documents")
                if (read_only := read_only_reason(assistant)) is not None:
                    gr.Markdown(read_only, elem_id="rag-read-only")
                with gr.Row():
                    with gr.Column():
                        upload = gr.File(label=f"上传文件 Upload (.txt / .md / .html, UTF-8 or GBK, ≤ 2 MB; "
                                               f".pdf with selectable text / .docx, ≤ 20 MB; "
                                               f"≤ {assistant.settings.max_upload_chars:,} characters)",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="rag-upload")
                        upload_btn = gr.Button("添加到索引 Add to index", variant="primary", elem_id="rag-upload-btn")
                    with gr.Column():
                        remove_id = gr.Dropdown([d["doc_id"] for d in assistant.documents()], value=None,
                                                label=UI["preview_pick"], elem_id="rag-remove-id")
                        remove_btn = gr.Button("删除 Remove", variant="stop", elem_id="rag-remove-btn")
                doc_status = gr.HTML("", elem_id="rag-doc-status")
                preview = gr.HTML(preview_document(assistant, None), elem_id="rag-preview")

                def _pick_row(evt: gr.SelectData):
                    row = evt.row_value or []
                    return gr.update(value=row[0]) if row else gr.update()

                # Choosing a document (in the list or by clicking its row) previews it; removing it clears that.
                table.select(_pick_row, None, [remove_id], queue=False)
                remove_id.change(lambda d: preview_document(assistant, d), [remove_id], [preview],
                                 concurrency_limit=4, concurrency_id="preview")

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


def _session(request: gr.Request | None) -> str:
    """The browser session a request came from: Stop stops only that session's questions."""
    return str(getattr(request, "session_hash", None) or "")


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
    p.add_argument("--index-dir", type=Path, help="index directory (default ./indexes/default beside ./documents, else the user cache folder)")
    p.add_argument("--documents-dir", type=Path, help="documents directory (default ./documents if there is one, else the bundled sample plans)")
    p.add_argument("--embedder", help="embedding model id or path (default: the bundled multilingual-e5-small)")
    p.add_argument("--device", help="where a sentence-transformers embedder runs: auto (default: a CUDA GPU if "
                   "torch sees one), cpu, cuda, cuda:N, mps; the bundled model runs on the CPU only")
    p.add_argument("--vector-store", choices=("local", "milvus"), help="where the index is held (default local)")
    p.add_argument("--milvus-uri", help="Milvus server (http://localhost:19530) or Milvus Lite file (./indexes/x.db)")
    args = p.parse_args(argv)
    if args.auth is not None:
        user, _, password = args.auth.partition(":")
        # Gradio strips the name typed at the login form, so the configured one is stripped too.
        if not user.strip() or not password:
            _fail("--auth needs a user name and a non-empty password, like --auth alice:s3cret (user:password)")
    if not 0 < args.port < 65536:
        p.error("--port must be between 1 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.load(index_dir=args.index_dir, documents_dir=args.documents_dir, embedder=args.embedder,
                                 vector_store=args.vector_store, milvus_uri=args.milvus_uri, device=args.device)
        if settings.uses_bundled_samples:
            print(locations.bundled_samples_note(settings.index_dir), file=sys.stderr, flush=True)
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
    return app.launch(server_name=host, server_port=port, auth=auth, share=share, css=CSS, js=JS, theme=THEME,
                      show_error=True, max_file_size=MAX_FILE_BYTES, footer_links=["settings"], **kwargs)


if __name__ == "__main__":
    sys.exit(main())
