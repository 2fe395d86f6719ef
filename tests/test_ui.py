"""Unit tests of the UI callbacks (no browser) against a real Assistant on a private copy of the session index."""

from __future__ import annotations

import html
import tempfile
import warnings
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from rag.ui import app as ui  # noqa: E402
from rag.ui import render as ui_render  # noqa: E402
from rag import Answer, Assistant, Citation  # noqa: E402

from .conftest import copy_workspace  # noqa: E402

GBK_DOC = (
    "2025年丽水市科技工作要点\n"
    "丽水市科学技术局 2025-02-10\n\n"
    "一、目标任务\n"
    "2025年，全市技术交易额达到88亿元，新增高新技术企业120家，全社会研发投入强度达到2.6%。\n\n"
    "二、重点工作\n"
    "1. 建设丽水生态科创走廊，推动瓯江实验室扩容提质。\n"
    "2. 实施科技特派员制度，选派科技特派员300名以上。\n"
)


@pytest.fixture(scope="module")
def assistant(built, tmp_path_factory) -> Assistant:
    """A real Assistant over a private copy of the session's documents and index (these tests upload and remove
    documents, so they must not touch the shared session index)."""
    return Assistant.from_settings(copy_workspace(built, tmp_path_factory.mktemp("ui")).settings)


def _ids(a: Assistant) -> set[str]:
    return {d["doc_id"] for d in a.documents()}


def test_chinese_question_renders_answer_and_citation(assistant):
    history, cleared = ui.answer_question(assistant, "绍兴2025年技术交易额目标是多少?", [], "any", "any", 5, False)
    assert cleared == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    out = history[-1]["content"]
    assert "450亿元" in out
    assert "参考来源" in out and "Sources" not in out
    assert '<details class="rag-citation"' in out
    assert "<mark>实现技术交易额450亿元</mark>" in out
    assert "2025年全市科技创新工作要点" in out and "绍兴" in out
    assert "documents/shaoxing_2025_st_innovation_work_points.txt" in out
    assert "未找到" not in out


def test_english_question_uses_english_labels(assistant):
    history, _ = ui.answer_question(assistant, "What is Shaoxing's 2025 technology transaction target?", [])
    out = history[-1]["content"]
    assert "Sources" in out and "参考来源" not in out
    assert "450亿元" in out
    # the user's own message is escaped too
    assert history[0]["content"].count("What is Shaoxing&#x27;s") == 1


def test_a_follow_up_reads_the_questions_before_it(assistant):
    history, _ = ui.answer_question(assistant, "绍兴2025年技术交易额目标是多少?", [])
    history, _ = ui.answer_question(assistant, "那赣州呢?", history)
    out = history[-1]["content"]
    assert "按上文理解为：赣州2025年技术交易额目标是多少?" in out and "450亿元" not in out
    assert ui_render.plain_text(history[0]["content"]) == "绍兴2025年技术交易额目标是多少?"
    # Gradio hands messages back as lists of parts
    parts = [{"type": "text", "text": history[0]["content"]}]
    assert ui_render.plain_text(parts) == "绍兴2025年技术交易额目标是多少?"


def test_refusal_is_marked(assistant):
    history, _ = ui.answer_question(assistant, "东京2025年技术交易额目标是多少?", [])
    out = history[-1]["content"]
    assert 'class="rag-badge refused"' in out and "未找到" in out
    history, _ = ui.answer_question(assistant, "What is Shaoxing's 2015 technology transaction target?", [])
    assert "Not in the documents" in history[-1]["content"]


def test_filters_and_invalid_questions(assistant):
    cities, years = ui.filter_choices(assistant)
    assert cities[0] == "any" and {"绍兴", "赣州", "南昌", "鹰潭"} <= set(cities)
    assert years[0] == "any" and "2015" in years and "2025" in years
    history, _ = ui.answer_question(assistant, "技术交易额目标是多少?", [], "绍兴", "2025", 3, False)
    assert "450亿元" in history[-1]["content"]
    # too long: an error bubble, not an exception
    history, _ = ui.answer_question(assistant, "问" * 2000, [])
    assert 'class="rag-badge error"' in history[-1]["content"]
    # empty: nothing added
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history, _ = ui.answer_question(assistant, "   ", [])
    assert history == []
    # LLM checkbox is ignored when no endpoint is configured
    if not (assistant.settings.llm_base_url or assistant.settings.llm_api_key):
        history, _ = ui.answer_question(assistant, "绍兴2025年技术交易额目标是多少?", [], use_llm=True)
        assert "450亿元" in history[-1]["content"]


def _fake_answer(quote: str, answer_text: str) -> Answer:
    c = Citation(number=1, doc_id="nope", source="documents/<b>x</b>.txt", title="<img src=x onerror=alert(1)>",
                 city="绍兴", year=2025, section="![x](http://example.com/a.png)", quote=quote, start=0,
                 end=len(quote), score=0.9, context_start=0, context_end=len(quote))
    return Answer(question="q?", answer=answer_text, refused=False, citations=[c], lang="zh")


def test_render_escapes_html_and_markdown():
    evil = "<script>alert(1)</script>"
    out = ui.render_answer(_fake_answer(evil, f"答案 {evil} ![x](http://example.com/a.png) [1]"), None)
    assert "<script>" not in out and "</script>" not in out
    assert html.escape(evil) in out
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "<b>" not in out
    # Markdown is not rendered by the chatbot (render_markdown=False), and the text stays literal
    assert "![x](http://example.com/a.png)" in out
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in out


def test_render_escapes_document_context(assistant):
    # A real citation whose surrounding document text would be dangerous is escaped too: check on a real answer
    # that the context comes from the document and every '<' in it is escaped.
    ans = assistant.ask("绍兴2025年技术交易额目标是多少?")
    out = ui.render_answer(ans, assistant)
    c = ans.citations[0]
    doc = assistant.index.documents[c.doc_id]
    sentence = doc.text[c.context_start:c.end]
    assert html.escape(ui_render.compact(sentence[: c.start - c.context_start])) in out


def test_chatbot_is_configured_safely(assistant):
    app = ui.build_app(assistant)
    bots = [b for b in app.blocks.values() if isinstance(b, gr.Chatbot)]
    assert bots and all(b.sanitize_html and not b.render_markdown and not b.latex_delimiters for b in bots)
    checkbox = [b for b in app.blocks.values() if isinstance(b, gr.Checkbox) and b.label == "LLM generation"][0]
    assert checkbox.interactive == bool(assistant.settings.llm_base_url or assistant.settings.llm_api_key)
    docs = [b for b in app.blocks.values() if isinstance(b, gr.Dataframe) and b.elem_id == "rag-documents"][0]
    assert len(docs.column_widths) == len(ui.DOC_HEADERS) == len(ui.DOC_COLUMNS)  # one width per column


def test_gbk_upload_becomes_answerable(assistant, tmp_path):
    question = "丽水2025年技术交易额目标是多少?"
    before, _ = ui.answer_question(assistant, question, [])
    assert "88亿元" not in before[-1]["content"]

    f = tmp_path / "lishui_2025_st_work_points.txt"
    f.write_bytes(GBK_DOC.encode("gbk"))
    status, table, remove_update, city_update, year_update = ui.upload_document(assistant, str(f))
    assert "rag-status-ok" in status, status
    assert any(r[0] == "lishui_2025_st_work_points" for r in table)
    assert "lishui_2025_st_work_points" in remove_update["choices"]
    assert "丽水" in city_update["choices"]
    saved = assistant.settings.documents_dir / "lishui_2025_st_work_points.txt"
    assert saved.read_bytes() == GBK_DOC.encode("gbk")

    after, _ = ui.answer_question(assistant, question, [])
    out = after[-1]["content"]
    assert "88亿元" in out and "<mark>" in out and "丽水" in out

    # and removing it works through the UI callback
    status, table, *_ = ui.remove_document(assistant, "lishui_2025_st_work_points")
    assert "rag-status-ok" in status
    assert all(r[0] != "lishui_2025_st_work_points" for r in table)
    assert not saved.exists()


def test_binary_upload_is_rejected(assistant, tmp_path):
    before = _ids(assistant)
    files_before = sorted(p.name for p in assistant.settings.documents_dir.iterdir())
    f = tmp_path / "evil.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    status, table, *_ = ui.upload_document(assistant, str(f))
    assert "rag-status-error" in status and "upload failed" in status
    assert _ids(assistant) == before
    assert {r[0] for r in table} == before
    assert sorted(p.name for p in assistant.settings.documents_dir.iterdir()) == files_before

    ok, msg = ui.upload_bytes(assistant, "picture.png", b"\x89PNG....")
    assert not ok and "unsupported file type" in msg
    ok, msg = ui.upload_bytes(assistant, "big.txt", "字".encode("utf-8") * 1_000_000)
    assert not ok and "too large" in msg
    status, *_ = ui.upload_document(assistant, None)
    assert "rag-status-error" in status
    assert _ids(assistant) == before


def test_path_traversal_filename_stays_inside_documents_dir(assistant):
    docs_dir = assistant.settings.documents_dir.resolve()
    text = GBK_DOC.replace("丽水", "衢州").encode("utf-8")
    ok, msg = ui.upload_bytes(assistant, "../../evil.txt", text)
    assert ok, msg
    assert not (docs_dir.parent / "evil.txt").exists() and not (docs_dir.parent.parent / "evil.txt").exists()
    saved = [p for p in docs_dir.iterdir() if "evil" in p.name]
    assert len(saved) == 1 and saved[0].resolve().parent == docs_dir
    doc_id = next(d["doc_id"] for d in assistant.documents() if "evil" in d["source"])
    status, *_ = ui.remove_document(assistant, doc_id)
    assert "rag-status-ok" in status


def test_remove_unknown_document_is_a_clear_error(assistant):
    before = _ids(assistant)
    status, *_ = ui.remove_document(assistant, "no_such_doc")
    assert "rag-status-error" in status and "no_such_doc" in status
    status, *_ = ui.remove_document(assistant, None)
    assert "rag-status-error" in status
    assert _ids(assistant) == before


def test_eval_callback_degrades_gracefully(assistant, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.rpartition(".")[2] == "evaluation":  # rag.evaluation, or ..evaluation from rag.ui
            raise ImportError("not there")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    status, table, plot, report = ui.run_evaluation(assistant, 2, "")
    assert "eval runner not available" in status and plot is None and report == ""
    assert table["headers"] == ["metric", "value"]


def test_metrics_table_from_run_eval_layout():
    m = {"items": 3, "systems": {"policy-rag": {
        "overall": {"n": 3, "answer_accuracy": 2 / 3, "refusal_precision": None, "mrr": 0.5, "latency_p50_ms": 12.0},
        "by_kind": {"numeric": {"n": 3, "answer_accuracy": 1.0}}, "by_lang": {"en": {"n": 1}}}}}
    t = ui.metrics_table(m)
    assert t["headers"][:4] == ["system", "slice", "n", "answer acc"]
    assert t["data"][0][:4] == ["policy-rag", "overall", 3, "66.7%"]
    assert [r[1] for r in t["data"]] == ["overall", "kind: numeric", "lang: en"]


def test_metrics_rows_flattens_nested_metrics():
    rows = ui.metrics_rows({"accuracy": 0.91234, "by_kind": {"numeric": {"accuracy": 1.0, "n": 10}}, "items": [1]})
    assert ["accuracy", 0.9123] in rows and ["by_kind.numeric.n", 10] in rows
    assert not any(r[0] == "items" for r in rows)


def test_cli_arguments():
    args = ui.parse_args([])
    assert args.host == "127.0.0.1" and args.port == 7860 and not args.share and args.auth is None
    args = ui.parse_args(["--port", "8000", "--auth", "u:p:w", "--share", "--index-dir", "x", "--embedder", "e"])
    assert args.port == 8000 and args.auth == "u:p:w" and args.share and args.index_dir == Path("x")
    with pytest.raises(SystemExit):
        ui.parse_args(["--auth", "nopassword"])


def test_eval_tab_run_leaves_no_temporary_folder(assistant):
    before = set(Path(tempfile.gettempdir()).glob("policy-rag-eval-*"))
    status, table, plot, report = ui.run_evaluation(assistant, 2, "")
    assert "eval finished" in status, status
    assert plot is not None and plot.size[0] > 100  # an image, not a path into a deleted folder
    assert "policy-rag eval report" in report and len(table["data"]) > 1
    assert set(Path(tempfile.gettempdir()).glob("policy-rag-eval-*")) == before


@pytest.mark.parametrize("value", ["alice:", ":secret", " :secret", "nopassword"])
def test_auth_with_an_empty_user_or_password_is_a_one_line_error(value, capsys):
    """#8: `rag ui --auth alice:` must not start a UI anyone can log into with an empty password."""
    with pytest.raises(SystemExit) as exc:
        ui.parse_args(["--auth", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: --auth") and "user:password" in err


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_limiter_locks_a_user_after_repeated_failures():
    """#8: 50 wrong passwords in a row must not all be tried; after 5 failures even the right one is refused
    until the window passes."""
    clock = FakeClock()
    check = ui.LoginLimiter("alice", "s3cret", max_failures=5, window_s=60, clock=clock)
    assert check("alice", "s3cret") and not check("alice", "wrong") and not check("bob", "s3cret")
    for _ in range(50):
        assert not check("alice", "guess")
        clock.now += 0.002
    assert not check("alice", "s3cret")  # locked: the right password is refused too
    assert check.locked("alice")
    clock.now += 61
    assert not check.locked("alice") and check("alice", "s3cret")


def test_login_limiter_caps_failures_across_user_names():
    clock = FakeClock()
    check = ui.LoginLimiter("alice", "s3cret", max_failures=5, max_total_failures=20, window_s=60, clock=clock)
    for n in range(20):
        assert not check(f"user{n}", "guess")  # spraying names: each name stays under its own limit
    assert not check("alice", "s3cret")  # but the global cap now refuses everyone
    clock.now += 61
    assert check("alice", "s3cret")


def test_ui_main_launches_with_the_rate_limited_login(assistant, monkeypatch):
    seen = {}
    monkeypatch.setattr(ui.Assistant, "from_settings", classmethod(lambda cls, *a, **k: assistant))
    monkeypatch.setattr(ui, "build_app", lambda a: "app")
    monkeypatch.setattr(ui, "launch", lambda app, **kwargs: seen.update(kwargs))
    assert ui.main(["--auth", "alice:s3cret"]) == 0
    auth = seen["auth"]
    assert isinstance(auth, ui.LoginLimiter) and auth("alice", "s3cret") and not auth("alice", "")
    for _ in range(10):
        auth("alice", "guess")
    assert not auth("alice", "s3cret")


def test_upload_with_too_much_text_says_to_split_it(assistant, monkeypatch):
    def indexed(progress, deadline=None):
        raise AssertionError("an over-long upload was indexed")

    monkeypatch.setattr(assistant, "_rebuild", indexed)
    before = _ids(assistant)
    files_before = sorted(p.name for p in assistant.settings.documents_dir.iterdir())
    huge = ("2025年丽水市科技工作要点\n" + "全市技术交易额达到88亿元，新增高新技术企业120家。\n" * 8000).encode("gbk")
    ok, msg = ui.upload_bytes(assistant, "lishui.txt", huge)
    assert not ok and "split" in msg and "max_upload_chars" in msg
    assert _ids(assistant) == before
    assert sorted(p.name for p in assistant.settings.documents_dir.iterdir()) == files_before


def test_questions_and_uploads_do_not_share_a_queue(assistant):
    """Indexing an upload (concurrency 1) must not hold up questions: they run under their own concurrency id."""
    app = ui.build_app(assistant)
    ask = [d for d in app.fns.values() if d.name == "_ask"]
    upload = [d for d in app.fns.values() if [getattr(c, "elem_id", None) for c in d.inputs] == ["rag-upload"]]
    assert len(ask) == 2 and len(upload) == 1
    assert {(d.concurrency_id, d.concurrency_limit) for d in ask} == {("ask", 4)}
    assert upload[0].concurrency_id != "ask" and upload[0].concurrency_limit == 1


def test_the_ui_extra_installs_what_the_eval_tab_needs():
    """#8.11: `pip install 'policy-rag[ui]'` must be enough for the Eval tab's plot."""
    import tomllib

    extras = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text("utf-8"))
    ui_extra = extras["project"]["optional-dependencies"]["ui"]
    assert any(req.startswith("gradio") for req in ui_extra) and any(req.startswith("matplotlib") for req in ui_extra)
