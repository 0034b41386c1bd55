"""Web: the Gradio chat (streamed, cited answers, sources panel, feedback, About) and `serve`."""

import ipaddress
import logging
import sys
import time
import uuid

import gradio as gr

from assistant import feedback
from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.ratelimit import SharedRateLimiter
from assistant.types import Answer
from ui import render

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.25
STATUS_UPDATE_S = 1.0
# System fonts: the default theme fetches Google Fonts, and this app must work offline.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


def new_state() -> dict:
    """One entry per turn, aligned with the chat's (user, assistant) message pairs; `answers[i]` is
    None for a turn that produced no answer (bad input, rate limit, error). `chat` holds the rendered
    messages (two per turn): the conversation lives on the server, so a question never uploads it
    and the chat component is only an output of `respond`. `id` names the conversation in the
    browser's list of past conversations; it is given at the first question, because gr.State
    copies one default into every session."""
    return {"id": "", "questions": [], "answers": [], "chat": []}


def chat_of(questions, answers, links=None) -> list[dict]:
    """The rendered chat of answered turns (a reopened conversation)."""
    chat = []
    for question, answer in zip(questions, answers):
        chat += [{"role": "user", "content": render.text(question)},
                 {"role": "assistant", "content": render.answer_message(answer, links)}]
    return chat


def streams_tokens(assistant) -> bool:
    """Whether answers come as a model's token stream (shown as it grows) rather than whole, as the
    extractive answerer gives them. Unknown answerers count as streaming."""
    from assistant.extractive import ExtractiveAnswerer

    return not isinstance(getattr(getattr(assistant, "chain", None), "answerer", None), ExtractiveAnswerer)


def history_of(state: dict, turns: int) -> list[str]:
    asked = [q for q, a in zip(state["questions"], state["answers"]) if a is not None]
    return asked[-turns:] if turns else []


MAX_LISTED_CONVERSATIONS = 30


def owner_of(request: gr.Request | None, browser_id: str) -> str:
    """Whose conversations these are: the signed-in user, else the anonymous id this browser keeps
    in its local storage ("" before the page has one)."""
    user = getattr(request, "username", None) if request is not None else None
    if user:
        return f"user:{user}"
    return f"browser:{browser_id}" if browser_id else ""


def remember_turn(storage, state: dict, owner: str, index_version: str, history_turns: int) -> list:
    """Store the conversation's newest turn when it was answered; returns the owner's conversations,
    newest first. The database keeps them (any worker, after a reload), the browser only its id."""
    answers = state.get("answers") or []
    if answers and answers[-1] is not None:
        turn = len(answers) - 1
        history = history_of({"questions": state["questions"][:turn], "answers": answers[:turn]}, history_turns)
        title = next(q for q, a in zip(state["questions"], answers) if a is not None)[:80]
        storage.save_turn(state["id"], owner, answers[-1], history=history, index_version=index_version, title=title)
    return storage.list_conversations(owner, limit=MAX_LISTED_CONVERSATIONS)


def restore_conversation(storage, conversation_id: str, owner: str) -> dict | None:
    """The state of a stored conversation of this owner, or None when it is gone or someone else's."""
    loaded = storage.load_conversation(conversation_id, owner)
    if loaded is None:
        return None
    conversation, turns = loaded
    return {"id": conversation.id, "questions": [t.question for t in turns],
            "answers": [t.to_answer() for t in turns]}


def conversation_choices(conversations) -> list[tuple[str, str]]:
    return [(f"{c.title} · {c.updated:%Y-%m-%d %H:%M}", c.id) for c in conversations]


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]")
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise UserError("--auth must be user:password (both non-empty)")
    return user, password


def client_key(request: gr.Request | None) -> str:
    """Whom a rate limit counts: the signed-in user, else the client address (a new browser session
    must not reset the count)."""
    if request is None:
        return "local"
    user = getattr(request, "username", None)
    if user:
        return f"user:{user}"
    return f"ip:{request.client.host if request.client else '?'}"


class LoginGuard:
    """The web password check, slower after each wrong attempt: 0.5 s, 1 s, 2 s ... up to 5 s per
    attempt for that user name, and for everyone once wrong attempts pile up across names. Async, so
    a delayed attempt never holds up other requests."""

    def __init__(self, credentials: tuple[str, str], base_delay_s: float = 0.5, max_delay_s: float = 5.0):
        self.user, self.password = credentials
        self.base, self.max = base_delay_s, max_delay_s
        self.failures: dict[str, int] = {}

    async def check(self, username: str, password: str) -> bool:
        """Gradio's auth callable. A bound coroutine function, not an object with an async __call__:
        Gradio awaits only what inspect.iscoroutinefunction recognises, and any other coroutine
        object it got back would be truthy, i.e. a wrong password let in."""
        import asyncio
        import secrets

        ok = secrets.compare_digest(str(username).encode(), self.user.encode()) \
            & secrets.compare_digest(str(password).encode(), self.password.encode())
        if ok:
            self.failures.pop(username, None)
            return True
        for key in (username, "*"):
            self.failures[key] = self.failures.get(key, 0) + 1
        count = max(self.failures[username], self.failures["*"] // 5)
        log.warning("wrong web login for %r (%d wrong in a row)", str(username)[:64], self.failures[username])
        if len(self.failures) > 10_000:  # bounded: a spray of names must not grow memory
            self.failures = {"*": self.failures["*"]}
        await asyncio.sleep(min(self.max, self.base * 2 ** min(count - 1, 8)))
        return False


def record_vote(assistant, settings, state: dict, vote: str, comment: str = "", turn: int | None = None) -> str:
    """Log a vote (and optional comment) for one turn's answer; returns the status line. A later
    vote or comment on the same answer replaces the earlier one (they share the turn id)."""
    answers = state["answers"]
    if turn is None:
        turn = max((i for i, a in enumerate(answers) if a is not None), default=-1)
    if not 0 <= turn < len(answers) or answers[turn] is None:
        return "There is no answer to rate yet."
    history = history_of({"questions": state["questions"][:turn], "answers": answers[:turn]},
                         settings.history_turns)
    try:
        feedback.record(settings, answers[turn], vote, comment=comment or "", channel="web", history=history,
                        index_version=assistant.index_version, turn_id=f"{state.get('id', '')}:{turn}")
    except OSError as exc:  # StorageUnavailable: the database is down; one line, as the other faces log it
        log.warning("feedback not saved: %s", exc)
        return "Your feedback could not be saved (the server cannot reach its database); please try again later."
    what = "comment" if comment else ("thumbs-up" if vote == "up" else "thumbs-down")
    return f"Thanks: your {what} on answer {turn + 1} was recorded."


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


def launch_options() -> dict:
    """What every launch uses (tests too): never a share link, the app's CSS and offline theme."""
    return {"share": False, "css": render.CSS, "theme": THEME, "footer_links": ["api"], "head": render.HEAD}


def build_server(assistant, settings, auth: str = ""):
    """One FastAPI app: the JSON and OpenAI-compatible API (ui/api.py) with the web chat mounted at "/"."""
    from ui.api import create_api
    from ui.documents import add_document_routes

    credentials = parse_auth(auth)
    app = create_api(assistant, settings, api_key=settings.api_key)
    add_document_routes(app, assistant, credentials, settings.api_key)
    demo = build_app(assistant, settings)
    demo.state_session_capacity = settings.web_sessions  # mount_gradio_app reads it (gradio.StateHolder)
    options = {k: v for k, v in launch_options().items() if k != "share"}
    return gr.mount_gradio_app(app, demo, path="/", auth=LoginGuard(credentials).check if credentials else None,
                               auth_message="The methodology assistant: sign in" if credentials else None,
                               **options)


def serve(settings, host: str, port: int, auth: str) -> None:
    if not is_loopback(host) and not auth:
        raise UserError(f"binding to {host} needs --auth user:password (or ASSISTANT_AUTH)")
    parse_auth(auth)  # a bad --auth fails before the model loads
    if not is_loopback(host) and not settings.api_key:
        raise UserError(f"binding to {host} needs an API key for the HTTP API: set ASSISTANT_API_KEY")
    import uvicorn

    from ui.starter import ready_assistant

    assistant = ready_assistant(settings, warm=True)
    app = build_server(assistant, settings, auth)
    print(f"web chat on http://{host}:{port}/ ; API: /api/ask, /v1/chat/completions, docs at /docs; Ctrl-C stops",
          file=sys.stderr)
    try:
        uvicorn.run(app, host=host or "127.0.0.1", port=port, log_level="warning")
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc}") from None
