"""Unit tests of the UI callbacks (no browser) against a real Assistant on a private copy of the session index."""

from __future__ import annotations

import html
import inspect
import re
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
    def indexed(*args, **kwargs):
        raise AssertionError("an over-long upload was indexed")

    monkeypatch.setattr(assistant, "_index_changes", indexed)
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


# ---------------------------------------------------------------------------------------------- a clean chat (#9.4)

SHAOXING_Q = "绍兴2025年技术交易额目标是多少?"
SHAOXING_QUOTE = "实现技术交易额450亿元"


def _visible(content: str) -> str:
    """What a reader sees without opening anything: the message's text outside the folded 详情/Details and the
    hidden copy payload, tags dropped."""
    content = re.sub(r'<details class="rag-details">.*?</details>', "", content, flags=re.S)
    content = re.sub(r"<pre hidden[^>]*>.*?</pre>", "", content, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", content))


def test_copy_gives_plain_text_with_the_references_and_quotes(assistant):
    history, _ = ui.answer_question(assistant, SHAOXING_Q, [])
    content = history[-1]["content"]
    assert '<button type="button" class="rag-copy">复制</button>' in content
    text = ui_render.plain_text(content)  # the hidden <pre class="rag-plain"> the Copy button copies
    assert "<" not in text and "&lt;" not in text and "&gt;" not in text
    assert text.startswith("根据《2025年全市科技创新工作要点》") and "450亿元" in text
    assert "参考来源:\n[1] 《2025年全市科技创新工作要点》 — 绍兴 · 2025" in text
    assert f"“{SHAOXING_QUOTE}”" in text and "documents/shaoxing_2025_st_innovation_work_points.txt" in text
    assert "支持度" not in text and "score" not in text.lower()
    # the payload is escaped in the HTML: a quote holding markup stays text
    evil = "<script>alert(1)</script>"
    out = ui.render_answer(_fake_answer(evil, f"答案 {evil} [1]"), None)
    assert "<script>" not in out and ui_render.plain_text(out).count(evil) == 2
    en, _ = ui.answer_question(assistant, "What is Shaoxing's 2025 technology transaction target?", [])
    en_text = ui_render.plain_text(en[-1]["content"])
    assert "Sources:\n[1]" in en_text and "Source file: documents/" in en_text and ">Copy</button>" in en[-1]["content"]


def test_scores_are_behind_a_details_toggle_on_one_scale(assistant):
    answer = assistant.ask(SHAOXING_Q)
    content = ui.render_answer(answer, assistant)
    visible = _visible(content)
    assert "支持度" not in visible and "相关度" not in visible and "生成方式" not in visible
    assert f"{answer.citations[0].score:.3f}" not in content  # the citation's retrieval score is gone entirely
    details = re.search(r'<details class="rag-details"><summary>详情</summary>(.*?)</details>', content, re.S)
    assert details, content[-600:]
    percent = f"{round(100 * answer.support)}%"
    assert f"支持度: {percent} — 最相关段落覆盖了问题中多少关键词" in details.group(1)
    assert "低于 25% 时不作回答" in details.group(1) and "抽取式" in details.group(1)
    en = ui.render_answer(assistant.ask("What is Shaoxing's 2025 technology transaction target?"), assistant)
    assert "<summary>Details</summary>" in en and "Support: " in en and "Support" not in _visible(en)


def test_export_is_markdown_with_the_questions_answers_and_quotes(assistant):
    history, _ = ui.answer_question(assistant, SHAOXING_Q, [])
    history, _ = ui.answer_question(assistant, "东京2025年技术交易额目标是多少?", history)
    assert ui.export_chat([]) is None and ui.export_chat(history[:1]) is None  # nothing answered yet
    path = Path(ui.export_chat(history))
    assert path.suffix == ".md" and path.name == "policy-rag-chat.md"
    md = path.read_text("utf-8")
    assert md.startswith("# policy-rag 对话记录")
    assert f"## 1. 问 Question\n\n{SHAOXING_Q}" in md and "## 2. 问 Question" in md
    assert f"“{SHAOXING_QUOTE}”" in md and "《2025年全市科技创新工作要点》" in md
    assert "\\[1\\]" in md and "未找到" in md and "<div" not in md and "rag-" not in md
    # a document's markup is escaped: a Markdown viewer shows it instead of loading it
    from rag.ui.plain import chat_markdown

    evil = "![x](http://example.com/a.png)<img src=x>"
    md = chat_markdown([{"role": "user", "content": "q"},
                        {"role": "assistant", "content": ui.render_answer(_fake_answer(evil, "答 [1]"), None)}])
    assert "!\\[x\\](http://example.com/a.png)\\<img src=x\\>" in md and "![x](" not in md


def test_document_preview_shows_metadata_and_the_spans_they_were_read_from(assistant):
    doc = next(d for d in assistant.documents() if d["doc_id"] == "shaoxing_2025_st_innovation_work_points")
    out = ui.preview_document(assistant, doc["doc_id"])
    assert "《2025年全市科技创新工作要点》" in out
    assert "<th>标题 title</th>" in out and "依据原文 read from" in out
    for field, span in doc["evidence_text"].items():
        assert f"<mark>{html.escape(span)}</mark>" in out  # in the metadata table
        assert html.escape(span) in re.sub(r'<span class="rag-span-label">.*?</span>|<mark[^>]*>|</mark>', "",
                                           out.split('class="rag-doc-text">', 1)[1])
    # each span highlighted in the text (two fields read from one span share a mark)
    assert out.count('<mark title="') >= len({tuple(v) for v in doc["evidence"].values()})
    assert "Choose a document" in ui.preview_document(assistant, None)
    assert "rag-status-error" in ui.preview_document(assistant, "no_such_doc")


def test_document_preview_escapes_the_document_and_cuts_overlapping_spans():
    from rag.ui.preview import highlight_spans

    text = "标题<script>x</script>绍兴市科技局"
    out = highlight_spans(text, {"title": (0, 23), "place": (20, 23), "issuer": (23, 26), "bad": (30, 40)})
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert '<mark title="标题 title">标题&lt;script&gt;x&lt;/script&gt;</mark>' in out
    assert '<mark title="标题 title · 地点 place">绍兴市<span class="rag-span-label">标题 title · 地点 place</span>' in out
    assert '<mark title="发文机关 issuer">科技局' in out
    assert re.sub(r'<span class="rag-span-label">.*?</span>|<[^>]+>', "", out) == html.escape(text)


def test_llm_answer_streams_after_the_extractive_answer(assistant, monkeypatch):
    from .fake_llm import SlowFakeChat

    fake = SlowFakeChat(reply="绍兴2025年技术交易额目标为450亿元[1]。", delay_s=0.02)
    monkeypatch.setattr(assistant, "chat_model", fake, raising=False)
    assert ui.llm_configured(assistant)
    states = []
    for history, box in ui.answer_question_stream(assistant, SHAOXING_Q, [], use_llm=True):
        states.append((history[-1]["content"], fake.sent))
        assert box == ""
    first, sent_before = states[0]
    assert sent_before == 0 and ui_render.PENDING_OPEN in first  # the extractive answer, before the LLM said anything
    assert SHAOXING_QUOTE in first and "LLM 生成中" in first and "根据《2025年全市科技创新工作要点》" in first
    partial = [c for c, _ in states[1:-1]]
    assert partial and all(ui_render.PENDING_OPEN in c for c in partial)
    final = states[-1][0]
    assert ui_render.PENDING_OPEN not in final and "LLM 生成中" not in final
    assert '<div class="rag-text">绍兴2025年技术交易额目标为450亿元<span class="rag-ref">[1]</span>。</div>' in final
    assert "LLM 改写" in final and "<mark>实现技术交易额450亿元</mark>" in final  # grounded: citations kept
    assert ui_render.plain_text(final).startswith("绍兴2025年技术交易额目标为450亿元[1]。")


def test_llm_answer_streams_from_an_openai_compatible_endpoint(assistant, monkeypatch):
    """The real path: no chat model given, the settings name an endpoint, ChatOpenAI streams its SSE chunks."""
    import json

    from .fake_llm import FakeOpenAIServer

    with FakeOpenAIServer("绍兴2025年技术交易额目标为450亿元[1]。", delay_s=0.02) as server:
        monkeypatch.setattr(assistant, "settings", assistant.settings.with_overrides(
            llm_base_url=server.base_url, llm_api_key="test-key", llm_model="fake-model"))
        states = [h[-1]["content"] for h, _ in ui.answer_question_stream(assistant, SHAOXING_Q, [], use_llm=True)]
    assert ui_render.PENDING_OPEN in states[0] and len(states) > 3
    assert '<div class="rag-text">绍兴2025年技术交易额目标为450亿元<span class="rag-ref">[1]</span>。</div>' in states[-1]
    request = server.requests[-1]
    assert request["stream"] is True and request["model"] == "fake-model"
    assert SHAOXING_QUOTE in json.dumps(request["messages"], ensure_ascii=False)  # the cited passage was sent


def test_llm_answer_that_fails_grounding_leaves_the_extractive_answer(assistant, monkeypatch):
    from .fake_llm import SlowFakeChat

    monkeypatch.setattr(assistant, "chat_model", SlowFakeChat(reply="绍兴的目标是999亿元[1]。"), raising=False)
    history, _ = ui.answer_question(assistant, SHAOXING_Q, [], use_llm=True)
    final = history[-1]["content"]
    assert "999亿元" not in _visible(final) and "根据《2025年全市科技创新工作要点》" in final
    assert "LLM 的回答未通过引文核对，下面是抽取式答案。" in _visible(final)
    assert "failed grounding" in final and ui_render.PENDING_OPEN not in final  # the reason, in Details
    # a refusal is never sent to the LLM
    history, _ = ui.answer_question(assistant, "东京2025年技术交易额目标是多少?", [], use_llm=True)
    assert "未找到" in history[-1]["content"] and "LLM" not in _visible(history[-1]["content"])


def test_stop_ends_the_stream_and_keeps_the_extractive_answer(assistant, monkeypatch):
    import threading
    import time

    from .fake_llm import SlowFakeChat

    fake = SlowFakeChat(reply="绍兴2025年技术交易额目标为450亿元[1]。" * 20, delay_s=0.05)
    monkeypatch.setattr(assistant, "chat_model", fake, raising=False)
    stop = threading.Event()
    last = None
    for history, _ in ui.answer_question_stream(assistant, SHAOXING_Q, [], use_llm=True, stop=stop):
        last = history
        if "目标为" in history[-1]["content"]:  # the LLM has started
            stop.set()
    assert ui_render.PENDING_OPEN in last[-1]["content"]  # no final answer after Stop
    time.sleep(0.3)
    sent = fake.sent
    time.sleep(0.3)
    assert fake.sent == sent < 40  # the worker stopped asking the model for more
    tidy = ui.stop_answer(last)
    assert ui_render.PENDING_OPEN not in tidy[-1]["content"] and "已停止生成，保留抽取式答案。" in tidy[-1]["content"]
    assert SHAOXING_QUOTE in tidy[-1]["content"] and ui.stop_answer(tidy) == tidy


def test_the_app_streams_with_a_stop_button_and_exports(assistant, monkeypatch):
    from .fake_llm import SlowFakeChat

    monkeypatch.setattr(assistant, "chat_model", SlowFakeChat(reply="x"), raising=False)
    app = ui.build_app(assistant)
    checkbox = [b for b in app.blocks.values() if isinstance(b, gr.Checkbox) and b.label == "LLM generation"][0]
    assert checkbox.interactive  # a chat model given to the Assistant turns the LLM on
    bots = [b for b in app.blocks.values() if isinstance(b, gr.Chatbot)]
    assert all(b.buttons == [] for b in bots)  # no Gradio copy buttons: they would copy HTML
    fns = list(app.fns.values())
    ask = [d for d in fns if d.name == "_ask"]
    stop = [d for d in fns if d.name == "_stop"]
    # Stop cancels both ways of asking (Gradio adds the cancelling as its own dependency on Stop's click)
    assert len(stop) == 1 and any(set(d.cancels) == {a._id for a in ask} and d.targets == stop[0].targets for d in fns)
    assert all(inspect.isgeneratorfunction(d.fn) for d in ask)
    assert any(isinstance(b, gr.DownloadButton) and b.elem_id == "rag-export" for b in app.blocks.values())
