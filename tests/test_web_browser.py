"""The web chat in headless Chromium: ask, read the cited sources, vote, and hostile documents stay inert."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT
from tests.conftest import assistant_with, feedback_rows, free_port
from assistant.links import slug
from ui.render import plain_text
from ui.web import build_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed; run scripts/ensure-browser.sh",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
TIMEOUT_MS = 60_000
HOSTILE = """# Pipeline handbook

## MLOps pipelines

Our MLOps pipelines retrain the fraud model every night with <script>window.__xss=1;window.xss=1</script> fresh
labelled data from the warehouse. The MLOps pipelines also validate the model <img src=x onerror="window.__xss=2">
against a holdout set before promotion. Every MLOps pipeline run publishes a report
![tracker](http://127.0.0.1:9/pixel.png) to the team dashboard.
"""


@pytest.fixture
def browser(tmp_path):
    """A fresh Chromium profile per test; no downloads, no background traffic."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-dev-shm-usage"])
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def serve_app():
    """The whole server as `assistant serve` runs it (API + document routes + the chat), in uvicorn."""
    import threading

    import uvicorn

    servers = []

    def start(assistant, settings) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(build_server(assistant, settings), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}/"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def open_chat(browser, url):
    page = browser.pages[0] if browser.pages else browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return page, requests


def ask(page, question: str, turn: int, submit: str = "enter") -> str:
    """Ask and wait until the `turn`-th bot message is final (no streaming ellipsis, no 'Answering')."""
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter") if submit == "enter" else page.locator("#send").click()
    page.wait_for_function(
        """n => { const bots = document.querySelectorAll('#chat [data-testid="bot"]');
                  const sources = document.querySelector('#sources');
                  return bots.length >= n && !bots[n - 1].innerText.trim().endsWith('…')
                         && sources && !sources.innerText.includes('Answering'); }""", arg=turn)
    return page.locator('#chat [data-testid="bot"]').nth(turn - 1).inner_text()


def feedback_lines(settings) -> list[dict]:
    """The stored votes, with the keys of the old feedback.jsonl lines."""
    return feedback_rows(settings)


def wait_for_lines(page, settings, count: int) -> list[dict]:
    for _ in range(100):
        if len(lines := feedback_lines(settings)) >= count:
            return lines
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} feedback lines, found {feedback_lines(settings)}")


def bot(page, turn: int):
    return page.locator('#chat [data-testid="bot"]').nth(turn - 1)


def test_answers_carry_their_sources_open_documents_copy_and_take_feedback(browser, serve_app, shipped, tmp_path):
    """Desktop, light theme: per-answer Sources, the side panel follows the clicked answer, an old
    answer's [n] opens its document at the section (the chat survives), Copy gives plain text, one
    feedback control per answer, and the conversation comes back after a reload."""
    settings = shipped.settings.model_copy(update={"data_dir": tmp_path / "data"})
    browser.grant_permissions(["clipboard-read", "clipboard-write"])
    page, _ = open_chat(browser, serve_app(shipped, settings))
    page.set_viewport_size({"width": 1366, "height": 900})
    first_q, second_q = "What are the benefits of ModelOps?", "What are the challenges of MLOps?"
    first, second = shipped.ask(first_q), shipped.ask(second_q)

    assert first.sentences[0].text[:60] in ask(page, first_q, 1)
    ask(page, second_q, 2, submit="click")
    assert bot(page, 2).locator("ul li").count() >= 2  # a list answer renders as a list
    # Each answer has its own Sources block with every citation's passage and marked support.
    for turn, answer in ((1, first), (2, second)):
        block = bot(page, turn).locator("details.answer-sources")
        block.locator("summary").click()
        assert block.locator(".src").count() == len(answer.citations)
        for citation in answer.citations:
            entry = block.locator(f'.src.cited-{citation.n}')
            assert " ".join(citation.text.split()[:12]) in " ".join(entry.locator(".passage").inner_text().split())
        assert block.locator(".passage mark").count() > 0
    # The side panel shows the latest answer's sources, then those of the answer the user clicks.
    # The panel is its own update, queued after the answer's: wait for it as a reader would.
    page.wait_for_function("() => document.querySelector('#sources').innerText.includes('Sources of answer 2')")
    bot(page, 1).click(position={"x": 4, "y": 4})
    page.wait_for_function("() => document.querySelector('#sources').innerText.includes('Sources of answer 1')")
    assert first.citations[0].section.split(" > ")[-1] in page.locator("#sources").inner_text()

    # The first answer's [n] opens the cited document at its section in a new tab; the chat stays.
    citation = first.citations[-1]
    with browser.expect_page() as opened:
        bot(page, 1).locator("a.cite").last.click()
    doc = opened.value
    doc.wait_for_load_state()
    assert "/source/" in doc.url and doc.url.endswith("#cited")
    marked = " ".join(" ".join(doc.locator(".cited").all_inner_texts()).split())
    assert " ".join(citation.text.split()[:8]).lstrip("- ") in marked  # the cited passage is the marked one
    assert doc.evaluate("() => { const r = document.querySelector('#cited').getBoundingClientRect();"
                        " return r.top > -5 && r.top < innerHeight / 2; }")  # and it is scrolled into view
    # The page before the passage has the section's own heading (duplicates get GitHub's -1, -2 ids).
    heading = slug(citation.section.split(" > ")[-1])
    assert doc.locator(f"h1[id^='{heading}'], h2[id^='{heading}'], h3[id^='{heading}']").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    doc.screenshot(path=str(ARTIFACTS / "web-source-document.png"))
    doc.close()
    assert page.locator('#chat [data-testid="bot"]').count() == 2

    # Copy gives plain text: the answer with [n] and the source list, no HTML, no entities.
    bot(page, 1).locator(".copy-answer").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == plain_text(first, shipped.links)
    assert "<" not in copied and "&#" not in copied and "Sources:\n[1] " in copied

    # One feedback control per answer: the thumbs, then an optional comment tied to that answer.
    page.locator('#chat button[aria-label="Dislike"]').nth(1).click()  # one per bot message, in order
    box = page.locator("#comment textarea")
    box.wait_for()
    assert "answer 2" in page.locator("#comment").inner_text()
    [vote] = wait_for_lines(page, settings, 1)  # the thumbs count at once
    assert (vote["vote"], vote["question"], vote["comment"]) == ("down", second_q, "")
    box.fill("misses Terraform")
    box.press("Enter")
    page.get_by_text("comment on answer 2 was recorded").wait_for()
    [commented] = feedback_lines(settings)  # the comment replaced the bare vote on the same answer
    assert (commented["turn_id"], commented["vote"], commented["comment"]) == (vote["turn_id"], "down",
                                                                               "misses Terraform")
    assert commented["answer"] == second.text and commented["index_version"] == shipped.index_version
    page.screenshot(path=str(ARTIFACTS / "web-chat-desktop-light.png"), full_page=True)

    # Past conversations survive a reload (kept in this browser) and reopen with their sources.
    page.reload()
    page.locator("#question textarea").wait_for()
    page.locator("#past input").click()
    page.get_by_role("option", name=first_q, exact=False).first.click()
    page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"bot\"]').length == 2")
    assert first.sentences[0].text[:40] in bot(page, 1).inner_text()
    assert bot(page, 2).locator("details.answer-sources .src").count() == len(second.citations)

    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
    assert page.locator("#sources .src").count() == 0


def contrast(page, selector: str) -> float:
    """WCAG contrast of an element's text against its background, blending translucent layers."""
    return page.evaluate(r"""sel => {
      const el = document.querySelector(sel);
      const parse = c => (c.match(/[\d.]+/g) || []).map(Number);
      const layers = []; let node = el;
      while (node && node.nodeType === 1) { const bg = parse(getComputedStyle(node).backgroundColor);
        if (bg.length >= 3 && (bg.length < 4 || bg[3] > 0)) layers.push(bg); node = node.parentElement; }
      let base = [255, 255, 255];
      for (const bg of layers.reverse()) { const a = bg.length > 3 ? bg[3] : 1;
        base = [0, 1, 2].map(i => bg[i] * a + base[i] * (1 - a)); }
      const fg = parse(getComputedStyle(el).color);
      const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
      const [a, b] = [lum(fg), lum(base)].sort((x, y) => y - x);
      return (a + 0.05) / (b + 0.05); }""", selector)


def test_phone_in_dark_mode_reads_sources_inline(browser, serve_app, shipped, tmp_path):
    """390x844, dark theme: the side panel gives way to each answer's own Sources; highlighted words
    stay readable; a citation click keeps the query string and the chat."""
    settings = shipped.settings.model_copy(update={"data_dir": tmp_path / "data"})
    url = serve_app(shipped, settings)
    page, _ = open_chat(browser, url + "?__theme=dark")
    page.set_viewport_size({"width": 390, "height": 844})
    ask(page, "Which tools are used in DevOps?", 1)
    assert page.evaluate("() => document.body.classList.contains('dark')")
    assert not page.locator("#sources-column").is_visible()
    block = bot(page, 1).locator("details.answer-sources")
    block.locator("summary").click()
    assert block.locator(".src").first.is_visible()
    assert contrast(page, "#chat details.answer-sources .passage mark") >= 4.5
    assert contrast(page, "#chat details.answer-sources .passage") >= 4.5
    with browser.expect_page() as opened:
        bot(page, 1).locator("a.cite").first.click()
    opened.value.close()
    assert "__theme=dark" in page.url and page.locator('#chat [data-testid="bot"]').count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-chat-phone-dark.png"), full_page=True)


@pytest.fixture
def hostile(tmp_path, embedder):

    return assistant_with(tmp_path, embedder, {"pipelines.txt": HOSTILE})  # .txt is literal text: the markup reaches the UI


def test_hostile_document_and_question_are_shown_as_text(browser, serve_app, hostile):
    page, requests = open_chat(browser, serve_app(hostile, hostile.settings))
    ask(page, "How often do the MLOps pipelines retrain the fraud model?", 1)
    assert page.locator("#sources .src").count() >= 1
    bot(page, 1).locator("details.answer-sources summary").click()
    assert "pipelines.txt" in page.locator("#sources").inner_text()
    assert "<script>" in page.locator("#sources").inner_text() + page.locator("#chat").inner_text()

    trap = "What do MLOps pipelines publish? ![tracker](http://127.0.0.1:9/q.png) <img src=x onerror=window.__xss=3>"
    ask(page, trap, 2)
    assert "![tracker](http://127.0.0.1:9/q.png)" in page.locator("#chat").inner_text()
    page.wait_for_timeout(500)  # time for an onerror handler or an image fetch, if anything slipped through

    assert page.evaluate("() => [window.__xss, window.xss]") == [None, None]
    assert page.locator('img[src*="127.0.0.1:9"]').count() == 0
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("#chat script, #sources script").count() == 0
    assert not [url for url in requests if "127.0.0.1:9/" in url]
