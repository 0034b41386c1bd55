"""The web chat through the official gradio_client: cited two-turn answers, bad input, rate limit, feedback,
a model's streamed answer, and what one question costs the server."""

from __future__ import annotations

import html
import re

import pytest

from assistant.errors import StoreUnavailable, UserError
from assistant.types import Answer, Citation, SentenceCheck
from assistant.links import SourceLinks
from tests.conftest import feedback_rows, free_port
from ui import render
from ui.web import build_app, is_loopback, launch_options, new_state, parse_auth, record_vote, serve

pytestmark = pytest.mark.slow


def launch(assistant, settings):
    demo = build_app(assistant, settings)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, **launch_options())
    return demo, url


def close(demo) -> None:
    """Stop a launched app. Gradio's close() sets an asyncio.Event from this thread while the server's
    loop may be waiting on it ("deque mutated during iteration", seen once in CI): then the server is
    closed here directly."""
    try:
        demo.close()
    except RuntimeError:
        demo.is_running = False
        if demo.server:
            demo.server.close()


@pytest.fixture
def settings(shipped, tmp_path):
    """The shared index, but feedback goes to this test's own data folder."""
    return shipped.settings.model_copy(update={"data_dir": tmp_path / "data"})


@pytest.fixture
def client(shipped, settings):
    from gradio_client import Client

    demo, url = launch(shipped, settings)
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    yield client
    client.close()
    close(demo)


def feedback_lines(settings) -> list[dict]:
    """The stored votes, with the keys of the old feedback.jsonl lines."""
    return feedback_rows(settings)


def content(message: dict) -> str:
    value = message["content"]
    return value if isinstance(value, str) else "".join(part.get("text", "") for part in value)


def shown(message: dict) -> str:
    """What the browser shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", content(message)))


def cited(chat_html: str, sources_html: str) -> set[int]:
    """Every [n] in the answer links to a document of the corpus (never a "#" anchor) and has a source
    entry in the answer's own Sources block and in the side panel."""
    links = re.findall(r'<a class="cite" href="([^"]+)"[^>]*>&#91;(\d+)&#93;</a>', chat_html)
    assert links and all(href.startswith("source/") for href, _ in links), links
    numbers = {int(n) for _, n in links}
    own = {int(n) for n in re.findall(r'class="src cited-(\d+)"', chat_html)}
    panel = {int(n) for n in re.findall(r'class="src cited-(\d+)"', sources_html)}
    assert numbers <= own and numbers <= panel, (numbers, own, panel)
    assert 'href="#' not in chat_html + sources_html
    return numbers


def test_two_turns_with_citations_and_follow_up(client, settings):
    chat, sources, box = client.predict("What are the benefits of ModelOps?", api_name="/ask")
    assert [m["role"] for m in chat] == ["user", "assistant"] and box == ""
    cited(content(chat[1]), sources)
    assert "ModelOps &gt; Benefits" in sources and "<mark>" in sources

    chat, sources, _ = client.predict("And its challenges?", api_name="/ask")
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    cited(content(chat[3]), sources)
    assert "ModelOps &gt; Challenges" in sources
    assert "challeng" in content(chat[3]).lower() or "difficult" in content(chat[3]).lower()

    # The first answer keeps its own sources after the second arrives.
    assert "ModelOps &#62; Benefits" in content(chat[1]) or "Benefits" in content(chat[1])


def test_the_chat_lives_on_the_server_so_a_question_uploads_only_itself(client):
    """/ask takes the question alone; the session keeps the conversation and sends it back whole, once
    per extractive answer (no placeholder update); "/new_conversation" starts over."""
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == ["question"]
    job = client.submit("What are the benefits of ModelOps?", api_name="/ask")
    chat, _, _ = job.result()
    assert len(job.outputs()) == 1 and len(chat) == 2  # the extractive answer comes whole, in one update
    chat, _, _ = client.predict("And its challenges?", api_name="/ask")
    assert [shown(m) for m in chat[::2]] == ["What are the benefits of ModelOps?", "And its challenges?"]
    assert "ModelOps &gt; Challenges" in client.predict("And its challenges?", api_name="/ask")[1]  # a follow-up

    chat, sources, box, _ = client.predict(api_name="/new_conversation")
    assert chat == [] and box == "" and "Sources appear here" in sources
    chat, sources, _ = client.predict("And its challenges?", api_name="/ask")
    assert len(chat) == 2 and "ModelOps &gt; Challenges" not in sources  # no history left to follow up on


def test_a_models_answer_streams_then_arrives_verified(shipped, settings):
    """With a model, the question and a placeholder come first, then the text as it grows, then the
    verified answer with its citations."""
    from gradio_client import Client
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from assistant.app import Assistant
    from assistant.chain import build_chain

    real = ("DevOps relies heavily on automation and tooling, which can add some complexity and require "
            "significant investment in time and resources to set up and maintain.")
    model = FakeListChatModel(responses=[f"{real} [1]"], sleep=0.01)  # one character per 10 ms
    chain = build_chain(settings, shipped.retriever, shipped.embedder, chat_model=model)
    streaming = Assistant(settings, shipped.store, shipped.embedder, shipped.retriever, shipped.profile, chain,
                          shipped.links)
    demo, url = launch(streaming, settings)
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    try:
        job = client.submit("What are the challenges of DevOps?", api_name="/ask")
        chat, sources, _ = job.result()
        updates = [content(update[0][-1]) for update in job.outputs()]
        assert updates[0] == "…" and "Answering" in job.outputs()[0][1]
        growing = [u for u in updates[1:-1] if u.endswith(" …")]
        assert len(growing) >= 2 and all(len(a) < len(b) for a, b in zip(growing, growing[1:])), updates
        assert 'class="cite"' not in "".join(growing)  # unverified text: its [n] are not links yet
        assert "DevOps relies heavily on automation" in shown(chat[-1]) and 'class="cite"' in content(chat[-1])
        assert len(chat) == 2 and "Sources of answer 1" in sources
    finally:
        client.close()
        close(demo)


def test_refused_answer_looks_different_and_has_no_sources(client):
    chat, sources, _ = client.predict("What is the capital of France?", api_name="/ask")
    assert 'class="refusal"' in content(chat[-1]) and "topics the sources cover" in content(chat[-1])
    assert "refused" in sources and 'class="src"' not in sources and 'class="src"' not in content(chat[-1])


@pytest.mark.parametrize("question, message", [
    ("   ", "the question is empty"), ("x" * 2001, "too long"), ("", "the question is empty"),
])
def test_bad_input_is_a_message_not_a_crash(client, question, message):
    chat, sources, _ = client.predict(question, api_name="/ask")
    assert message.lower() in content(chat[-1]).lower() and 'class="notice error"' in content(chat[-1])
    assert message.lower() in sources.lower()
    chat, sources, _ = client.predict("Which tools are used in DevOps?", api_name="/ask")
    cited(content(chat[-1]), sources)


def test_store_down_and_unexpected_errors(client, shipped, monkeypatch):
    def down(*args, **kwargs):
        raise StoreUnavailable("Chroma at x is unreachable")

    monkeypatch.setattr(shipped.retriever, "retrieve", down)
    chat, _, _ = client.predict("What is MLOps?", api_name="/ask")
    assert "temporarily unavailable, try again" in content(chat[-1])

    monkeypatch.setattr(shipped.retriever, "retrieve", lambda *a, **k: 1 / 0)
    chat, _, _ = client.predict("What is MLOps?", api_name="/ask")
    assert "Something went wrong" in content(chat[-1]) and "ZeroDivision" not in content(chat[-1])
    assert len(chat) == 4


def test_rate_limit_per_client_address_not_per_session(shipped, settings):
    from gradio_client import Client

    demo, url = launch(shipped, settings.model_copy(update={"rate_limit_per_minute": 2}))
    first, second = (Client(url, verbose=False, analytics_enabled=False) for _ in range(2))
    try:
        for _ in range(2):
            chat, _, _ = first.predict("What is DataOps?", api_name="/ask")
            assert "Too many" not in content(chat[-1])
        chat, _, _ = first.predict("What is DataOps?", api_name="/ask")
        assert re.search(r"Too many questions: wait \d+ s", shown(chat[-1]))
        chat, _, _ = second.predict("What is DataOps?", api_name="/ask")  # a new session is the same client
        assert re.search(r"Too many questions: wait \d+ s", shown(chat[-1]))
    finally:
        first.close(), second.close()
        close(demo)


def test_wrong_logins_get_slower_and_the_right_one_still_works():
    import asyncio

    from ui.web import LoginGuard

    guard = LoginGuard(("ann", "s3cret"), base_delay_s=0.05, max_delay_s=0.4)

    async def attempts():
        started = asyncio.get_running_loop().time()
        results = [await guard.check("ann", f"guess{i}") for i in range(6)]
        return results, asyncio.get_running_loop().time() - started, await guard.check("ann", "s3cret")

    results, elapsed, right = asyncio.run(attempts())
    assert results == [False] * 6 and right is True
    assert elapsed >= 0.05 + 0.1 + 0.2 + 0.4 + 0.4 + 0.4 - 0.05  # doubling, capped
    assert "ann" not in guard.failures  # a right login resets that user's count


def test_record_vote_appends_the_answer_it_was_given(shipped, settings):
    first = shipped.ask("What are the benefits of ModelOps?")
    second = shipped.ask("And its challenges?", history=[first.question])
    state = {"questions": [first.question, "", second.question], "answers": [first, None, second]}
    assert "recorded" in record_vote(shipped, settings, state, "up", comment=" great ", turn=0)
    assert "recorded" in record_vote(shipped, settings, state, "down")  # the latest answer by default
    assert record_vote(shipped, settings, state, "down", turn=1) == "There is no answer to rate yet."
    up, down = feedback_lines(settings)
    assert (up["vote"], up["question"], up["comment"], up["history"]) == ("up", first.question, "great", [])
    assert (down["vote"], down["question"], down["history"]) == ("down", second.question, [first.question])
    assert down["answer"] == second.text and down["index_version"] == shipped.index_version
    assert [c["n"] for c in down["citations"]] == [c.n for c in second.citations]
    assert record_vote(shipped, settings, new_state(), "up") == "There is no answer to rate yet."


def test_a_comment_replaces_the_vote_of_the_same_answer(shipped, settings):
    from assistant.feedback import export_candidates

    answer = shipped.ask("What are the benefits of ModelOps?")
    state = {**new_state(), "id": "c1", "questions": [answer.question], "answers": [answer]}
    record_vote(shipped, settings, state, "down", turn=0)
    assert "comment on answer 1" in record_vote(shipped, settings, state, "down", comment="misses costs", turn=0)
    [entry] = feedback_lines(settings)  # one vote per answer: the comment replaced the bare vote
    assert (entry["turn_id"], entry["vote"], entry["comment"]) == (f"{state['id']}:0", "down", "misses costs")
    [candidate] = export_candidates(settings)
    assert candidate["question"] == answer.question and candidate["note"] == "misses costs"


def test_conversations_are_stored_per_owner_and_reopen_with_their_answers(shipped, settings):
    from assistant.storage import open_storage
    from ui.web import conversation_choices, owner_of, remember_turn, restore_conversation

    storage = open_storage(settings)
    first = shipped.ask("What are the benefits of ModelOps?")
    second = shipped.ask("And its challenges?", history=[first.question])
    state = {**new_state(), "id": "c1", "questions": [first.question], "answers": [first]}
    remember_turn(storage, state, "browser:b1", shipped.index_version, 3)
    state = {**state, "questions": [first.question, "   "], "answers": [first, None]}  # a turn that failed
    remember_turn(storage, state, "browser:b1", shipped.index_version, 3)  # nothing new to store
    state = {**state, "questions": [*state["questions"], second.question], "answers": [first, None, second]}
    [listed] = remember_turn(storage, state, "browser:b1", shipped.index_version, 3)
    assert (listed.id, listed.title, listed.turns) == ("c1", first.question, 2)
    assert conversation_choices([listed])[0][1] == "c1"
    # Another worker (a new Storage on the same database) reopens it for the same owner only.
    restored = restore_conversation(open_storage(settings), "c1", "browser:b1")
    assert restored["questions"] == [first.question, second.question]
    assert [a.to_json() for a in restored["answers"]] == [first.to_json(), second.to_json()]
    assert restore_conversation(storage, "c1", "browser:someone-else") is None
    assert restore_conversation(storage, "gone", "browser:b1") is None
    assert owner_of(None, "b1") == "browser:b1" and owner_of(None, "") == ""


def test_a_conversation_opened_with_small_talk_is_named_by_its_first_question(shipped, settings):
    from assistant.storage import open_storage
    from ui.web import remember_turn

    storage = open_storage(settings)
    hello, asked = shipped.ask("hi"), shipped.ask("What is DataOps?")
    state = {**new_state(), "id": "c2", "questions": ["hi"], "answers": [hello]}
    [listed] = remember_turn(storage, state, "browser:b2", shipped.index_version, 3)
    assert listed.title == "hi"  # nothing better yet
    state = {**state, "questions": ["hi", asked.question], "answers": [hello, asked]}
    [listed] = remember_turn(storage, state, "browser:b2", shipped.index_version, 3)
    assert (listed.title, listed.turns) == ("What is DataOps?", 2)


def test_about_shows_counts_models_and_credits_not_paths(client, settings):
    about = client.predict(api_name="/about")
    assert "Documents" in about and "mlops-devops-modelops.md" in about and "extractive" in about
    assert "Index version" in about and str(settings.corpus_dir) not in about and str(settings.index_dir) not in about


def test_queue_is_bounded(shipped, settings):
    demo = build_app(shipped, settings.model_copy(update={"queue_size": 3, "concurrency": 1}))
    assert demo._queue.max_size == 3 and demo._queue.default_concurrency_limit == 1


def test_the_queue_does_not_rebuild_its_event_summary_per_event(shipped, settings, monkeypatch):
    """Gradio's per-event pandas summary (for a monitoring page this app does not enable) is skipped."""
    from gradio.queueing import Queue

    demo = build_app(shipped, settings)
    monkeypatch.setattr(Queue, "_get_df", staticmethod(lambda records: pytest.fail("event summary rebuilt")))
    demo._queue.events_recorded += 5
    records = [{"time": 0.0, "status": "success", "process_time": 0.1, "function": "ask", "session_hash": "s"}]
    assert demo._queue.compute_analytics_summary(records) == {"functions": {}}


def test_public_bind_needs_auth(settings):
    with pytest.raises(UserError, match=r"^binding to 0\.0\.0\.0 needs --auth user:password \(or ASSISTANT_AUTH\)$"):
        serve(settings, host="0.0.0.0", port=free_port(), auth="")
    with pytest.raises(UserError, match="user:password"):
        serve(settings, host="0.0.0.0", port=free_port(), auth="nopassword")
    with pytest.raises(UserError, match="ASSISTANT_API_KEY"):
        serve(settings, host="0.0.0.0", port=free_port(), auth="ann:s3cret")
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x") and parse_auth("") is None


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.org", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


HOSTILE = ('Pipelines <script>window.__xss=1</script> and <img src=x onerror="window.__xss=2"> '
           'report ![tracker](http://127.0.0.1:9/pixel.png) and [click](javascript:alert(1)) $x$ **b** # h')


def test_rendering_escapes_html_and_neutralises_markdown(tmp_path):
    citation = Citation(n=1, id="c1", source="notes.md", title="Notes <b>", section="MLOps > Pipelines", text=HOSTILE)
    answer = Answer(question="q", text=f"{HOSTILE} [1] [7]", citations=(citation,), refused=False,
                    sentences=(SentenceCheck(text=HOSTILE, citations=(1,), supported=True, score=0.9),))
    chat_messages = (render.answer_message(answer), render.text(HOSTILE), render.pending_message(HOSTILE),
                     render.notice_message(HOSTILE))
    for out in (*chat_messages, render.sources_panel(answer), render.notice_panel(HOSTILE)):
        assert "<script" not in out and "<img" not in out and "<b>" not in out
    for out in chat_messages:  # chat messages are Markdown too: no link, image or autolink syntax left
        assert "](" not in out and "![" not in out and "http://" not in out and "$" not in out
    assert HOSTILE in html.unescape(render.text(HOSTILE))
    links = SourceLinks(tmp_path)
    chat = render.answer_message(answer, links)
    assert chat.count('href="source/notes.md#pipelines"') == 2  # the [1] link and the title in Sources
    body = chat.split("<details")[0]
    assert "source/notes.md" in body and "&#91;7&#93;" not in body  # only verified citations link
    assert "\n" not in chat  # a newline could end the message's HTML block
    unverified = render.answer_message(Answer(question="q", text=f"{HOSTILE} [1] [7]", citations=(citation,),
                                              refused=False), links)
    assert unverified.count('class="cite" href="source/notes.md#pipelines"') == 1 and "&#91;7&#93;" in unverified
    panel = render.sources_panel(answer, links)
    assert 'class="src cited-1"' in panel and "MLOps &gt; Pipelines" in panel
    assert "<script>window.__xss=1</script>" in html.unescape(re.sub(r"<[^>]+>", "", panel))  # shown as text
    assert "<mark>Pipelines</mark>" in panel and "<mark>and</mark>" not in panel
    refused = render.answer_message(Answer(question="q", text="I can't find <that>.", citations=(), refused=True))
    assert 'class="refusal"' in refused and "&#60;that&#62;" in refused
    assert "refused" in render.sources_panel(Answer(question="q", text="no", citations=(), refused=True))


def test_highlight_marks_supporting_words_only():
    marked = render.highlight("ModelOps improves the accuracy of models over time.",
                              "It can improve model accuracy.")
    assert re.findall(r"<mark>(\w+)</mark>", marked) == ["improves", "accuracy", "models"]


def test_highlight_stays_in_the_matching_passage_sentence():
    passage = ("- Machine learning models have a complex lifecycle.\n"
               "- Machine learning models rely on large volumes of data.")
    marked = render.highlight(passage, ["Machine learning models have a complex lifecycle."])
    first, second = marked.split("\n")
    assert first.count("<mark>") == 5 and "<mark>" not in second


def test_control_and_bidi_characters_in_file_names_are_shown_not_obeyed(tmp_path):
    name = "invoice\u202egpj.md"  # displays as "invoicedm.jpg" when the override is obeyed
    citation = Citation(n=1, id="c1", source=name, title="invoice\u202egpj", section="Costs", text="Costs rise.")
    answer = Answer(question="q", text="Costs rise. [1]", citations=(citation,), refused=False,
                    sentences=(SentenceCheck(text="Costs rise.", citations=(1,), supported=True, score=0.9),))
    for out in (render.answer_message(answer), render.sources_panel(answer), render.plain_text(answer)):
        assert "\u202e" not in out and "\\u202e" in html.unescape(out)


def test_a_worker_keeps_at_most_web_sessions_pages_in_memory(shipped, tmp_path):
    """Gradio keeps every page's state until its capacity (10,000 by default): the setting bounds it,
    and the least recently used pages go first."""
    from gradio_client import Client

    from tests.test_api import server_for

    with server_for(shipped, web_sessions=10, data_dir=tmp_path / "data", rate_limit_per_minute=0) as base:
        clients = [Client(base, verbose=False, analytics_enabled=False, download_files=False) for _ in range(12)]
        try:
            for c in clients:
                c.predict("What is MLOps?", api_name="/ask")
        finally:
            for c in clients:
                c.close()
        import gc

        holders = [o for o in gc.get_objects() if type(o).__name__ == "StateHolder" and getattr(o, "capacity", 0) == 10]
        assert holders and len(holders[-1].session_data) == 10


def test_a_nested_list_renders_as_nested_html_lists_and_markdown():
    from assistant.chain import markdown

    def s(text, item, depth):
        return SentenceCheck(text=text, citations=(1,), supported=True, score=0.9, bullet=True, item=item, depth=depth)

    sentences = (s("Standby Sites:", 0, 0), s("Hot Standby.", 1, 1), s("Cold Standby.", 2, 1), s("Backups.", 3, 0),
                 s("Orphan sub-item.", 4, 2))
    citation = Citation(n=1, id="c1", source="r.md", title="R", section="S", text="t")
    body = render.answer_body(Answer(question="q", text="", citations=(citation,), refused=False, sentences=sentences))
    items = re.sub(r'\s*<sup class="cite"[^>]*>.*?</sup>', "", html.unescape(body))
    assert items == ("<ul><li>Standby Sites:<ul><li>Hot Standby.</li><li>Cold Standby.</li>"
                                              "</ul></li><li>Backups.<ul><li>Orphan sub-item.</li></ul></li></ul>")
    assert markdown(sentences) == ("- Standby Sites: [1]\n  - Hot Standby. [1]\n  - Cold Standby. [1]\n"
                                   "- Backups. [1]\n  - Orphan sub-item. [1]")
