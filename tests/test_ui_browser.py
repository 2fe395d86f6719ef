"""End-to-end test of the Gradio UI in a real Chromium (Playwright, sync API).

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium fonts-noto-cjk`); skipped without it.
Runs against a private copy of the session's documents and index (conftest `built`, copied with `copy_workspace`).

Screenshot: the chat screenshot goes to the test's tmp dir, so a test run leaves the git tree clean. To refresh the
committed docs/screenshot-chat.png, run with `POLICY_RAG_SCREENSHOT=docs`:

    POLICY_RAG_SCREENSHOT=docs pytest tests/test_ui_browser.py
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = ROOT / "docs" / "screenshot-chat.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    # CI sets POLICY_RAG_REQUIRE_BROWSER=1 (.ci/run): there a missing browser is a failure, not a skip.
    if os.environ.get("POLICY_RAG_REQUIRE_BROWSER") == "1":
        raise RuntimeError("POLICY_RAG_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing: "
                           "apt-get install -y chromium fonts-noto-cjk")
    pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium fonts-noto-cjk)",
                allow_module_level=True)
gr = pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api")

from rag.ui import app as ui  # noqa: E402
from rag import Assistant  # noqa: E402

from .conftest import copy_workspace  # noqa: E402

# A small GBK-encoded plan. The line after the target holds HTML and a Markdown image: both must show as text.
EVIL_LINE = "附件：![x](http://example.com/a.png)<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"
GBK_DOC = (
    "2025年丽水市科技工作要点\n"
    "丽水市科学技术局 2025-02-10\n\n"
    "一、目标任务\n"
    "2025年，全市技术交易额达到88亿元，新增高新技术企业120家。\n"
    f"{EVIL_LINE}\n\n"
    "二、重点工作\n"
    "1. 建设丽水生态科创走廊，推动瓯江实验室扩容提质。\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _screenshot_path(tmp_path: Path) -> Path:
    """docs/screenshot-chat.png when POLICY_RAG_SCREENSHOT=docs, else a file in the test's tmp dir."""
    if os.environ.get("POLICY_RAG_SCREENSHOT") == "docs":
        return DOCS_SCREENSHOT
    return tmp_path / "screenshot-chat.png"


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    # a private copy: the test uploads a document through the UI
    assistant = Assistant.from_settings(copy_workspace(built, tmp_path_factory.mktemp("ui-browser")).settings)
    app = ui.build_app(assistant)
    port = _free_port()
    ui.launch(app, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", assistant
    finally:
        app.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url: str):
    # clipboard permissions: the Copy test reads what the answer's Copy button wrote
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN", accept_downloads=True,
                                  permissions=["clipboard-read", "clipboard-write"])
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.external_requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: None if r.url.startswith(url) or r.url.startswith("data:")
          else pg.external_requests.append(r.url))
    pg.goto(url)
    pg.wait_for_selector("#rag-question textarea")
    return context, pg


@pytest.fixture(scope="module")
def page(server, browser):
    context, pg = _open(browser, server[0])
    yield pg
    context.close()


def _ask(page, question: str, n_answers: int):
    page.locator("#rag-question textarea").fill(question)
    page.locator("#rag-ask").click()
    answers = page.locator("#rag-chatbot .rag-answer")
    sync_api.expect(answers).to_have_count(n_answers, timeout=60_000)
    return answers.nth(n_answers - 1)


def _upload(page, tmp_path: Path) -> None:
    """Upload GBK_DOC as lishui_2025_plan.txt through the Documents tab's file input."""
    page.get_by_role("tab", name="文件 Documents").click()
    upload_path = tmp_path / "lishui_2025_plan.txt"
    upload_path.write_bytes(GBK_DOC.encode("gbk"))
    page.locator("#rag-upload input[type=file]").set_input_files(str(upload_path))
    page.wait_for_timeout(500)
    page.locator("#rag-upload-btn").click()
    sync_api.expect(page.locator("#rag-doc-status")).to_contain_text("已添加", timeout=90_000)
    sync_api.expect(page.locator("#rag-documents")).to_contain_text("丽水")


def test_chat_answers_with_citations_and_upload(page, server, tmp_path):
    expect = sync_api.expect
    _, assistant = server

    # Chinese question: answer, Chinese labels, a numbered reference with the quote highlighted in context
    zh = _ask(page, "绍兴2025年技术交易额目标是多少?", 1)
    expect(zh.locator(".rag-text")).to_contain_text("450亿元")
    expect(zh.locator(".rag-sources-title")).to_have_text("参考来源")
    ref = zh.locator("details.rag-citation").first
    expect(ref.locator("summary")).to_contain_text("2025年全市科技创新工作要点")
    ref.locator("summary").click()
    expect(ref.locator("mark")).to_be_visible()
    expect(ref.locator("mark")).to_contain_text("450亿元")
    expect(ref.locator(".rag-fields")).to_contain_text("documents/shaoxing_2025_st_innovation_work_points.txt")
    screenshot = _screenshot_path(tmp_path)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("""() => document.querySelectorAll('#rag-chatbot *').forEach(
        e => { if (e.scrollHeight > e.clientHeight + 4) e.scrollTop = 0; })""")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot), full_page=False)

    # English question: English labels, same quote
    en = _ask(page, "What is Shaoxing's 2025 technology transaction target?", 2)
    expect(en.locator(".rag-sources-title")).to_have_text("Sources")
    expect(en.locator("details.rag-citation summary").first).to_contain_text("2025年全市科技创新工作要点")
    expect(en.locator("details.rag-citation summary").first).to_contain_text("450亿元")
    en.locator("details.rag-citation summary").first.click()
    expect(en.locator("mark").first).to_contain_text("450亿元")

    # Upload a GBK document through the file input, then ask about it without restarting
    _upload(page, tmp_path)
    assert any(d["city"] == "丽水" for d in assistant.documents())

    page.get_by_role("tab", name="问答 Chat").click()
    ls = _ask(page, "丽水2025年技术交易额目标是多少?", 3)
    expect(ls.locator(".rag-text")).to_contain_text("88亿元")
    ls.locator("details.rag-citation summary").first.click()
    expect(ls.locator("mark").first).to_contain_text("88亿元")

    # Document text is shown as text: nothing from it ran or loaded
    chat = page.locator("#rag-chatbot")
    assert chat.locator("script").count() == 0
    assert chat.locator(".rag-answer img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not [u for u in page.external_requests if "example.com" in u]  # type: ignore[attr-defined]
    # the line after the quote is in the shown context, literally
    expect(ls.locator(".rag-quote").first).to_contain_text("<script>window.__pwned=1</script>")
    expect(ls.locator(".rag-quote").first).to_contain_text("![x](http://example.com/a.png)")


def test_a_follow_up_question_reads_the_chat_before_it(page, server):
    expect = sync_api.expect
    page.get_by_role("tab", name="问答 Chat").click()
    n = page.locator("#rag-chatbot .rag-answer").count()
    first = _ask(page, "绍兴2025年技术交易额目标是多少?", n + 1)
    expect(first.locator(".rag-text")).to_contain_text("450亿元")
    follow = _ask(page, "那赣州呢?", n + 2)
    expect(follow.locator(".rag-text")).to_contain_text("按上文理解为：赣州2025年技术交易额目标是多少?")
    expect(follow.locator("details.rag-citation summary").first).to_contain_text("赣州")
    expect(follow.locator(".rag-text")).not_to_contain_text("450亿元")


def test_eval_tab_runs_a_subset(page, server):
    try:
        import rag.evaluation  # noqa: F401
    except ImportError:
        pytest.skip("rag.evaluation is not available")
    page.get_by_role("tab", name="评测 Eval").click()
    page.locator("#rag-eval-limit input").fill("2")
    page.locator("#rag-eval-btn").click()
    sync_api.expect(page.locator("#rag-eval-status")).to_contain_text("eval finished", timeout=90_000)
    sync_api.expect(page.locator("#rag-metrics")).to_contain_text("answer acc")
    sync_api.expect(page.locator("#rag-metrics")).to_contain_text("overall")


def test_llm_checkbox_disabled_without_endpoint(page, server):
    _, assistant = server
    if assistant.settings.llm_base_url or assistant.settings.llm_api_key:
        pytest.skip("an LLM endpoint is configured in this environment")
    page.get_by_role("tab", name="问答 Chat").click()
    sync_api.expect(page.locator("#rag-llm input[type=checkbox]")).to_be_disabled()
    sync_api.expect(page.locator("#rag-llm")).to_contain_text("no LLM endpoint configured")


# ---------------------------------------------------------------------------------------------- a clean chat (#9.4)

def test_copy_puts_plain_text_on_the_clipboard_and_scores_stay_folded(page):
    expect = sync_api.expect
    page.get_by_role("tab", name="问答 Chat").click()
    n = page.locator("#rag-chatbot .rag-answer").count()
    answer = _ask(page, "绍兴2025年技术交易额目标是多少?", n + 1)
    # Gradio's own copy buttons (they copy the HTML) are gone; the answer's own Copy copies plain text
    assert page.locator("#rag-chatbot button[aria-label*='opy']").count() == 0
    answer.locator(".rag-copy").click()
    expect(answer.locator(".rag-copy")).to_contain_text("✓")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "“实现技术交易额450亿元”" in copied and "[1] 《2025年全市科技创新工作要点》" in copied
    assert "documents/shaoxing_2025_st_innovation_work_points.txt" in copied
    assert "<div" not in copied and "<mark" not in copied and "&lt;" not in copied
    # no score in sight until 详情 is opened; then one percentage, explained
    assert "支持度" not in answer.inner_text() and "相关度" not in answer.inner_text()
    answer.locator("details.rag-details summary").click()
    expect(answer.locator(".rag-support")).to_be_visible()
    expect(answer.locator(".rag-support")).to_contain_text("%")
    expect(answer.locator(".rag-support")).to_contain_text("最相关段落")


def test_export_downloads_the_chat_as_markdown(page):
    page.get_by_role("tab", name="问答 Chat").click()
    if page.locator("#rag-chatbot .rag-answer").count() == 0:
        _ask(page, "绍兴2025年技术交易额目标是多少?", 1)
    sync_api.expect(page.locator("#rag-export")).to_be_enabled()
    with page.expect_download() as info:
        page.locator("#rag-export").click()
    download = info.value
    assert download.suggested_filename.endswith(".md")
    md = Path(download.path()).read_text("utf-8")
    assert md.startswith("# policy-rag 对话记录") and "“实现技术交易额450亿元”" in md and "<div" not in md


def test_documents_tab_previews_a_document_safely(page, server, tmp_path):
    expect = sync_api.expect
    _, assistant = server
    if not any(d["doc_id"] == "lishui_2025_plan" for d in assistant.documents()):  # run on its own
        _upload(page, tmp_path)
    page.get_by_role("tab", name="文件 Documents").click()
    preview = page.locator("#rag-preview")
    expect(preview).to_contain_text("Choose a document")
    # clicking a row of the list previews that document
    page.locator("#rag-documents").get_by_text("shaoxing_2025_st_innovation_work_points").filter(visible=True).first.click()
    expect(preview.locator("h3")).to_contain_text("2025年全市科技创新工作要点")
    expect(preview.locator("table")).to_contain_text("标题 title")
    expect(preview.locator(".rag-doc-text mark").first).to_be_visible()
    # the uploaded plan (with <script>, an <img onerror> and a Markdown image in it) shows as text
    page.locator("#rag-remove-id input").fill("lishui_2025_plan")
    page.get_by_role("option", name="lishui_2025_plan").click()
    expect(preview.locator("h3")).to_contain_text("丽水")
    expect(preview.locator("table mark").first).to_have_text("2025年丽水市科技工作要点")  # the title, read from line 1
    expect(preview.locator(".rag-doc-text")).to_contain_text("<script>window.__pwned=1</script>")
    expect(preview.locator(".rag-doc-text")).to_contain_text("![x](http://example.com/a.png)")
    assert preview.locator("script").count() == 0 and preview.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not [u for u in page.external_requests if "example.com" in u]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def llm_server(built, tmp_path_factory):
    """The app over an Assistant given a slow fake chat model (tests/fake_llm.py): the LLM checkbox is on."""
    from .fake_llm import SlowFakeChat

    fake = SlowFakeChat(reply="绍兴2025年技术交易额目标为450亿元[1]。", piece_chars=2, delay_s=0.3)
    assistant = Assistant.from_settings(copy_workspace(built, tmp_path_factory.mktemp("ui-llm")).settings, llm=fake)
    app = ui.build_app(assistant)
    port = _free_port()
    ui.launch(app, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", assistant
    finally:
        app.close()


def test_llm_answer_streams_after_the_extractive_one_and_stop_stops_it(browser, llm_server):
    expect = sync_api.expect
    url, assistant = llm_server
    fake = assistant.chat_model
    context, pg = _open(browser, url)
    try:
        pg.locator("#rag-llm input[type=checkbox]").check()
        stop = pg.locator("#rag-stop")
        expect(stop).to_be_hidden()

        # 1. the extractive answer shows at once, the LLM's text streams in below it; Stop stops it
        pg.locator("#rag-question textarea").fill("绍兴2025年技术交易额目标是多少?")
        pg.locator("#rag-ask").click()
        answer = pg.locator("#rag-chatbot .rag-answer").first
        pending = pg.locator("#rag-chatbot .rag-pending")
        expect(answer.locator(".rag-text")).to_contain_text("“实现技术交易额450亿元”", timeout=60_000)
        expect(pending).to_contain_text("LLM 生成中")
        expect(stop).to_be_visible()
        expect(pending.locator(".rag-text")).to_contain_text("绍兴", timeout=30_000)
        stop.click()
        expect(pending).to_have_count(0)
        expect(pg.locator("#rag-chatbot .rag-note")).to_contain_text("已停止生成")
        expect(stop).to_be_hidden()
        sent = fake.sent
        pg.wait_for_timeout(1500)
        assert fake.sent <= sent + 1 < 12  # the model is asked for no more (at most the piece in flight)
        expect(answer.locator(".rag-text")).to_contain_text("根据《2025年全市科技创新工作要点》")
        expect(pg.locator("#rag-chatbot .rag-pending")).to_have_count(0)

        # 2. left to finish, the grounded LLM answer replaces the extractive one, citations kept
        pg.locator("#rag-question textarea").fill("绍兴2025年技术交易额目标是多少?")
        pg.locator("#rag-ask").click()
        second = pg.locator("#rag-chatbot .rag-answer").nth(1)
        expect(second.locator(".rag-text")).to_have_text("绍兴2025年技术交易额目标为450亿元[1]。", timeout=60_000)
        expect(pg.locator("#rag-chatbot .rag-pending")).to_have_count(0)
        expect(second.locator("details.rag-citation").first).to_contain_text("450亿元")
        expect(stop).to_be_hidden()
        second.locator(".rag-copy").click()
        expect(second.locator(".rag-copy")).to_contain_text("✓")
        assert pg.evaluate("navigator.clipboard.readText()").startswith("绍兴2025年技术交易额目标为450亿元[1]。")
    finally:
        context.close()
