"""The web chat in headless Chromium: ask, read the cited sources, vote, and hostile documents stay inert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT
from tests.conftest import assistant_with, free_port
from ui.web import build_app, launch_options

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
    demos = []

    def start(assistant, settings) -> str:
        demo = build_app(assistant, settings)
        demos.append(demo)
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, **launch_options())
        return url

    yield start
    for demo in demos:
        demo.close()


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
    path = settings.data_dir / "feedback.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for_lines(page, settings, count: int) -> list[dict]:
    for _ in range(100):
        if len(lines := feedback_lines(settings)) >= count:
            return lines
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} feedback lines, found {feedback_lines(settings)}")


def test_ask_read_sources_and_vote(browser, serve_app, shipped, tmp_path):
    settings = shipped.settings.model_copy(update={"data_dir": tmp_path / "data"})
    page, _ = open_chat(browser, serve_app(shipped, settings))
    question = "What are the benefits of ModelOps?"
    expected = shipped.ask(question)

    text = ask(page, question, 1)
    assert expected.sentences[0].text[:60] in text
    sources = page.locator("#sources")
    for citation in expected.citations:
        entry = sources.locator(f"#src-{citation.n}")
        assert citation.section in entry.inner_text()
        assert " ".join(citation.text.split()[:12]) in " ".join(entry.locator(".passage").inner_text().split())
        assert page.locator(f'#chat a.cite[href="#src-{citation.n}"]').count() >= 1
    assert sources.locator(".passage mark").count() > 0

    page.locator("#comment textarea").fill("misses the cost angle")
    page.locator("#vote-down").click()
    page.get_by_text("was recorded").wait_for()
    [line] = wait_for_lines(page, settings, 1)
    assert (line["vote"], line["question"], line["comment"]) == ("down", question, "misses the cost angle")
    assert line["answer"] == expected.text and line["index_version"] == shipped.index_version

    # The chat's own thumbs on a message log that message's answer.
    ask(page, "And its challenges?", 2, submit="click")
    assert "Challenges" in page.locator("#sources").inner_text()
    page.locator('#chat button[aria-label="Like"]').nth(0).click()  # one per bot message, in order
    up = wait_for_lines(page, settings, 2)[1]
    assert (up["vote"], up["question"]) == ("up", question)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-chat.png"), full_page=True)

    page.locator("#new-conversation").click()
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
    assert page.locator("#sources .src").count() == 0


@pytest.fixture
def hostile(tmp_path, embedder):

    return assistant_with(tmp_path, embedder, {"pipelines.txt": HOSTILE})  # .txt is literal text: the markup reaches the UI


def test_hostile_document_and_question_are_shown_as_text(browser, serve_app, hostile):
    page, requests = open_chat(browser, serve_app(hostile, hostile.settings))
    ask(page, "How often do the MLOps pipelines retrain the fraud model?", 1)
    assert page.locator("#sources .src").count() >= 1
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
