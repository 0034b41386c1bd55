"""Web: the Gradio chat (streamed, cited answers, sources panel, feedback, About) and `serve`."""

import ipaddress
import logging
import sys
import time

import gradio as gr

from assistant import feedback
from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.ratelimit import RateLimiter
from assistant.types import Answer
from ui import render

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.25
# System fonts: the default theme fetches Google Fonts, and this app must work offline.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


def new_state() -> dict:
    """One entry per turn, aligned with the chat's (user, assistant) message pairs; `answers[i]` is
    None for a turn that produced no answer (bad input, rate limit, error)."""
    return {"questions": [], "answers": []}


def history_of(state: dict, turns: int) -> list[str]:
    asked = [q for q, a in zip(state["questions"], state["answers"]) if a is not None]
    return asked[-turns:] if turns else []


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
    if request is None:
        return "local"
    host = request.client.host if request.client else "?"
    return f"{host}:{request.session_hash}"


def record_vote(assistant, settings, state: dict, vote: str, comment: str = "", turn: int | None = None) -> str:
    """Log a vote for one turn's answer (the latest answered turn by default); returns the status line."""
    answers = state["answers"]
    if turn is None:
        turn = max((i for i, a in enumerate(answers) if a is not None), default=-1)
    if not 0 <= turn < len(answers) or answers[turn] is None:
        return "There is no answer to rate yet."
    history = history_of({"questions": state["questions"][:turn], "answers": answers[:turn]},
                         settings.history_turns)
    feedback.record(settings, answers[turn], vote, comment=comment or "", channel="web", history=history,
                    index_version=assistant.index_version)
    return f"Thanks: your {'thumbs-up' if vote == 'up' else 'thumbs-down'} was recorded."


def build_app(assistant, settings) -> gr.Blocks:
    limiter = RateLimiter(settings.rate_limit_per_minute)
    examples = assistant.profile.example_questions

    def respond(question, chat, state, request: gr.Request):
        chat, state = list(chat or []), state or new_state()
        text = question[:settings.max_question_chars + 100] if isinstance(question, str) else ""
        chat.append({"role": "user", "content": render.text(text if text.strip() else "(empty question)")})
        state = {"questions": [*state["questions"], text], "answers": [*state["answers"], None]}

        def fail(message, kind="error"):
            chat.append({"role": "assistant", "content": render.notice_message(message, kind)})
            return chat, state, render.notice_panel(message), ""

        try:
            question = state["questions"][-1] = assistant.check(question)
        except UserError as exc:
            yield fail(user_message(exc))
            return
        key = client_key(request)
        if not limiter.allow(key):
            wait = max(1, round(limiter.retry_after(key)))
            yield fail(f"Too many questions: wait {wait} s, then ask again.", "busy")
            return
        history = history_of(state, settings.history_turns)
        chat.append({"role": "assistant", "content": "…"})
        yield chat, state, render.notice_panel("Answering…"), ""
        pieces, shown = "", time.monotonic()
        try:
            for piece in assistant.stream(question, history=history):
                if isinstance(piece, Answer):
                    state["answers"][-1] = piece
                    chat[-1] = {"role": "assistant", "content": render.answer_message(piece)}
                    yield chat, state, render.sources_panel(piece), ""
                    return
                pieces += piece
                # Every update re-sends the whole chat: show pieces only as fast as a reader needs
                # them (a model's tokens), not the extractive answer's sentences that come at once.
                if time.monotonic() - shown >= STREAM_INTERVAL_S:
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

    def restart():
        return [], new_state(), render.sources_panel(None), "", ""

    def vote(kind):
        def handler(comment, state):
            return record_vote(assistant, settings, state or new_state(), kind, comment), ""
        return handler

    def on_like(comment, state, data: gr.LikeData):
        kind = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(data.liked)
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        if kind is None or not isinstance(index, int):
            return gr.skip(), gr.skip()
        return record_vote(assistant, settings, state or new_state(), kind, comment, turn=index // 2), ""

    def about():
        from assistant.corpus import corpus_files

        try:
            files = [str(p.relative_to(settings.corpus_dir)) for p in corpus_files(settings.corpus_dir)]
            return render.about_panel(assistant.about(), files)
        except Exception:
            log.exception("about failed")
            return render.notice_panel(user_message(StoreUnavailable()))

    with gr.Blocks(title="Methodology assistant", analytics_enabled=False) as demo:
        gr.Markdown(f"## {assistant.profile.name}\nAsk about {assistant.profile.subject}; every "
                    "answer cites the passages it comes from.")
        state = gr.State(new_state())
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(elem_id="chat", label="Chat", height=480, sanitize_html=True,
                                         render_markdown=True, latex_delimiters=[], allow_tags=False,
                                         buttons=["copy"])
                    with gr.Row():
                        question = gr.Textbox(elem_id="question", show_label=False, scale=5, lines=1,
                                              placeholder="Ask a question and press Enter", autofocus=True)
                        send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
                    gr.Markdown("**Try an example:**")
                    with gr.Row():
                        example_buttons = [gr.Button(q, size="sm") for q in examples]
                    with gr.Row():
                        comment = gr.Textbox(elem_id="comment", show_label=False, scale=4,
                                             placeholder="Optional comment on the latest answer")
                        up = gr.Button("👍 Helpful", elem_id="vote-up", scale=1, min_width=90)
                        down = gr.Button("👎 Not helpful", elem_id="vote-down", scale=1, min_width=90)
                    status = gr.Markdown(elem_id="status")
                    clear = gr.Button("New conversation", elem_id="new-conversation")
                with gr.Column(scale=2):
                    sources = gr.HTML(render.sources_panel(None), elem_id="sources", js_on_load=None,
                                      css_template=render.CSS)
        with gr.Tab("About"):
            gr.HTML(about, elem_id="about", js_on_load=None, css_template=render.CSS)

        ask = dict(fn=respond, inputs=[question, chatbot, state], outputs=[chatbot, state, sources, question])
        question.submit(**ask, api_name="ask")
        send.click(**ask, api_visibility="private")
        for button, text in zip(example_buttons, examples):
            button.click(lambda text=text: text, None, question, queue=False,
                         api_visibility="private").then(**ask, api_visibility="private")
        quick = dict(concurrency_limit=None)
        up.click(vote("up"), [comment, state], [status, comment], api_name="vote_up", **quick)
        down.click(vote("down"), [comment, state], [status, comment], api_name="vote_down", **quick)
        chatbot.like(on_like, [comment, state], [status, comment], api_visibility="private", **quick)
        reset = dict(fn=restart, inputs=None, outputs=[chatbot, state, sources, question, status], **quick)
        clear.click(**reset, api_name="new_conversation")
        chatbot.clear(**reset, api_visibility="private")  # the chat's own bin icon must reset history too
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def launch_options() -> dict:
    """What every launch uses (tests too): never a share link, the app's CSS and offline theme."""
    return {"share": False, "css": render.CSS, "theme": THEME, "footer_links": ["api"]}


def build_server(assistant, settings, auth: str = ""):
    """One FastAPI app: the JSON and OpenAI-compatible API (ui/api.py) with the web chat mounted at "/"."""
    from ui.api import create_api

    credentials = parse_auth(auth)
    app = create_api(assistant, settings, api_key=settings.api_key)
    demo = build_app(assistant, settings)
    return gr.mount_gradio_app(app, demo, path="/", auth=credentials,
                               auth_message="The methodology assistant: sign in" if credentials else None,
                               theme=THEME, css=render.CSS, footer_links=["api"])


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
