"""Web blocks: the Gradio chat page, its layout and event handlers (streamed, cited answers)."""

import logging
import time
import uuid

import gradio as gr

from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.ratelimit import SharedRateLimiter
from assistant.types import Answer
from ui import render
from ui.web_conversation import (
    MAX_LISTED_CONVERSATIONS, chat_of, conversation_choices, history_of, new_state, owner_of, record_vote,
    remember_turn, restore_conversation, streams_tokens)

log = logging.getLogger("ui.web")  # one logger for the whole web face, split or not

STREAM_INTERVAL_S = 0.25
STATUS_UPDATE_S = 1.0


def client_key(request: gr.Request | None) -> str:
    """Whom a rate limit counts: the signed-in user, else the client address (a new browser session
    must not reset the count)."""
    if request is None:
        return "local"
    user = getattr(request, "username", None)
    if user:
        return f"user:{user}"
    return f"ip:{request.client.host if request.client else '?'}"


def build_app(assistant, settings) -> gr.Blocks:
    # One budget per client across every web worker (the database's counters, as Slack's per user).
    limiter = SharedRateLimiter(lambda: storage(), settings.rate_limit_per_minute, "web")
    examples = assistant.profile.example_questions
    links = assistant.links

    def turn(question, state, request, stream: bool):
        """One question's updates (chat, state, side panel, question box). With `stream`, the question
        and a placeholder first, then the model's text as it grows (at most 1 / STREAM_INTERVAL_S
        updates a second); the final update always comes last. The chat comes from `state`."""
        state = state or new_state()
        text = question[:settings.max_question_chars + 100] if isinstance(question, str) else ""
        chat = [*state.get("chat", []),
                {"role": "user", "content": render.text(text if text.strip() else "(empty question)")}]
        state = {**state, "id": state.get("id") or uuid.uuid4().hex[:12], "chat": chat,
                 "questions": [*state["questions"], text], "answers": [*state["answers"], None]}

        def fail(message, kind="error"):
            chat.append({"role": "assistant", "content": render.notice_message(message, kind)})
            return chat, state, render.notice_panel(message), ""

        try:
            question = state["questions"][-1] = assistant.check(question)
        except UserError as exc:
            yield fail(user_message(exc))
            return
        key = client_key(request)
        allowed, wait = limiter.check(key)
        if not allowed:
            wait = max(1, round(wait))
            yield fail(f"Too many questions: wait {wait} s, then ask again.", "busy")
            return
        history = history_of(state, settings.history_turns)
        chat.append({"role": "assistant", "content": "…"})
        if stream:
            yield chat, state, render.notice_panel("Answering…"), ""
        pieces, shown = "", time.monotonic()
        try:
            for piece in assistant.stream(question, history=history):
                if isinstance(piece, Answer):
                    state["answers"][-1] = piece
                    chat[-1] = {"role": "assistant", "content": render.answer_message(piece, links)}
                    yield chat, state, render.sources_panel(piece, links, len(state["answers"]) - 1), ""
                    return
                pieces += piece
                # Every update is postprocessed and diffed across the whole chat: show a model's pieces
                # only as fast as a reader needs them.
                if stream and time.monotonic() - shown >= STREAM_INTERVAL_S:
                    shown = time.monotonic()
                    chat[-1] = {"role": "assistant", "content": render.pending_message(pieces)}
                    yield chat, state, render.notice_panel("Answering…"), ""
            raise RuntimeError("the answer stream ended without an Answer")
        except Exception as exc:
            if isinstance(exc, StoreUnavailable):
                log.warning("store unavailable", exc_info=True)
            elif not isinstance(exc, UserError):
                log.exception("answering %r failed", question)
            chat.pop()
            yield fail(user_message(exc))

    if streams_tokens(assistant):
        def respond(question, state, request: gr.Request):
            yield from turn(question, state, request, stream=True)
    else:
        def respond(question, state, request: gr.Request):
            """The extractive answer comes whole: one update, sent once (a generator's first
            update and its completion would each carry the whole chat)."""
            for update in turn(question, state, request, stream=False):
                pass
            return update

    def restart():
        return [], new_state(), render.sources_panel(None), "", gr.update(visible=False), None

    def show_sources(state, data: gr.SelectData):
        """The side panel follows the answer the user clicks."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answers = (state or new_state())["answers"]
        turn = index // 2 if isinstance(index, int) else -1
        if not 0 <= turn < len(answers) or answers[turn] is None:
            return gr.skip()
        return render.sources_panel(answers[turn], links, turn)

    def on_like(state, data: gr.LikeData):
        """One feedback control per answer: the thumbs log the vote at once, then offer a comment on
        that same answer."""
        kind = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if kind is None or not isinstance(index, int):
            return gr.skip(), gr.skip(), gr.skip()
        turn = index // 2
        status = record_vote(assistant, settings, state or new_state(), kind, turn=turn)
        box = gr.update(visible=True, value="", label=f"Add a comment to your {'👍' if kind == 'up' else '👎'} "
                                                        f"on answer {turn + 1} (optional)")
        return status, box, {"turn": turn, "vote": kind}

    def on_comment(comment, state, pending):
        if not pending or not (comment or "").strip():
            return gr.skip(), gr.skip(), gr.skip()
        status = record_vote(assistant, settings, state or new_state(), pending["vote"], comment,
                             turn=pending["turn"])
        return status, gr.update(visible=False, value=""), None

    def storage():
        from assistant.storage import open_storage

        return open_storage(settings)

    def remember(browser_id, state, request: gr.Request):
        owner = owner_of(request, browser_id)
        if not owner:
            return gr.skip()
        try:
            conversations = remember_turn(storage(), state or new_state(), owner, assistant.index_version,
                                          settings.history_turns)
        except (OSError, ValueError) as exc:  # the database is down: the chat goes on, unsaved
            log.warning("conversation not saved: %s", exc)
            return gr.skip()
        return gr.update(choices=conversation_choices(conversations), value=(state or {}).get("id"))

    def reopen(conversation_id, browser_id, state, request: gr.Request):
        if not conversation_id or conversation_id == (state or {}).get("id"):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            restored = restore_conversation(storage(), conversation_id, owner_of(request, browser_id))
        except OSError as exc:
            log.warning("conversation not loaded: %s", exc)
            restored = None
        if restored is None:
            return gr.skip(), gr.skip(), render.notice_panel("That conversation can no longer be opened.")
        restored["chat"] = chat_of(restored["questions"], restored["answers"], links)
        last = len(restored["answers"]) - 1
        return restored["chat"], restored, render.sources_panel(restored["answers"][last], links, last)

    def load_saved(browser_id, request: gr.Request):
        """On page load: give a new browser its id, and list its (or the signed-in user's) conversations."""
        browser_id = browser_id or uuid.uuid4().hex
        try:
            conversations = storage().list_conversations(owner_of(request, browser_id), limit=MAX_LISTED_CONVERSATIONS)
        except OSError as exc:
            log.warning("conversations not listed: %s", exc)
            conversations = []
        return browser_id, gr.update(choices=conversation_choices(conversations), value=None)

    def about():
        from assistant.corpus import collections

        try:
            return render.about_panel(assistant.about(), collections(settings.corpus_dir))
        except Exception:
            log.exception("about failed")
            return render.notice_panel(user_message(StoreUnavailable()))

    with gr.Blocks(title="Methodology assistant", analytics_enabled=False) as demo:
        gr.Markdown(f"## {assistant.profile.name}\nAsk about {assistant.profile.subject}; every "
                    "answer cites the passages it comes from. Click an answer to see its sources.")
        state = gr.State(new_state())
        # Only an anonymous id lives in the browser; the conversations are in the database.
        browser_id = gr.BrowserState("", storage_key="methodology-assistant-browser-id")
        pending = gr.State(None)
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    with gr.Row():
                        past = gr.Dropdown(choices=[], value=None, label="Past conversations", elem_id="past",
                                           scale=4, interactive=True)
                        clear = gr.Button("New conversation", elem_id="new-conversation", scale=1, min_width=120)
                    chatbot = gr.Chatbot(elem_id="chat", label="Chat", height=520, sanitize_html=True,
                                         render_markdown=True, latex_delimiters=[], allow_tags=False,
                                         buttons=[], feedback_options=("Like", "Dislike"))
                    with gr.Row():
                        question = gr.Textbox(elem_id="question", show_label=False, scale=5, lines=1,
                                              placeholder="Ask a question and press Enter", autofocus=True)
                        send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
                    comment = gr.Textbox(elem_id="comment", visible=False, lines=1, max_length=2000,
                                         placeholder="What was wrong or useful? Press Enter to send")
                    status = gr.Markdown(elem_id="status")
                    gr.Markdown("**Try an example:**")
                    with gr.Row():
                        example_buttons = [gr.Button(q, size="sm") for q in examples]
                with gr.Column(scale=2, elem_id="sources-column"):
                    sources = gr.HTML(render.sources_panel(None), elem_id="sources", js_on_load=None,
                                      css_template=render.CSS)
        with gr.Tab("About"):
            gr.HTML(about, elem_id="about", js_on_load=None, css_template=render.CSS)

        # The chat is an output only: the conversation is kept in `state` on the server, so a question
        # uploads only its own text, however long the conversation has grown.
        ask = dict(fn=respond, inputs=[question, state], outputs=[chatbot, state, sources, question])
        keep = dict(fn=remember, inputs=[browser_id, state], outputs=[past], queue=False, api_visibility="private")
        question.submit(**ask, api_name="ask").then(**keep)
        send.click(**ask, api_visibility="private").then(**keep)
        for button, text in zip(example_buttons, examples):
            button.click(lambda text=text: text, None, question, queue=False,
                         api_visibility="private").then(**ask, api_visibility="private").then(**keep)
        quick = dict(concurrency_limit=None, api_visibility="private")
        chatbot.select(show_sources, [state], [sources], **quick)
        chatbot.like(on_like, [state], [status, comment, pending], **quick)
        comment.submit(on_comment, [comment, state, pending], [status, comment, pending], **quick)
        past.input(reopen, [past, browser_id, state], [chatbot, state, sources], **quick)
        demo.load(load_saved, [browser_id], [browser_id, past], **quick)
        reset = dict(fn=restart, inputs=None, outputs=[chatbot, state, sources, question, comment, pending],
                     concurrency_limit=None)
        # "/new_conversation" lets an API client (bench/server.py, bench/soak.py) start over: its chat
        # lives in the session's state, like a browser's.
        clear.click(**reset, api_name="new_conversation").then(lambda: gr.update(value=None), None, past,
                                                               queue=False, api_visibility="private")
        chatbot.clear(**reset, api_visibility="private")  # the chat's own bin icon must reset history too
    # Queue positions go to waiting clients once a second. Gradio's "auto" sends every waiting client
    # its new position each time any job starts: 11.8 messages per answer at 50 sessions, against 1.2.
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size,
               status_update_rate=STATUS_UPDATE_S)
    skip_event_summary(demo)
    return demo


def skip_event_summary(demo: gr.Blocks) -> None:
    """Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event, for a
    monitoring dashboard this app never enables: 1-6 ms of CPU per answer, growing with the count
    (measured here at 500 / 2,000 / 10,000 events: 1.3 / 2.0 / 6.2 ms). Keep the summary it has."""
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "compute_analytics_summary"):
        queue.compute_analytics_summary = lambda records: queue.cached_event_analytics_summary
