"""Web: serving the Gradio chat (ui/web_blocks.py) mounted on the HTTP API, behind its login (`serve`)."""

import ipaddress
import logging
import sys

import gradio as gr

from assistant.errors import UserError
from ui import render
# The chat page lives in ui/web_blocks.py and ui/web_conversation.py; callers and tests import it from here.
from ui.web_blocks import STATUS_UPDATE_S, STREAM_INTERVAL_S, build_app, client_key, skip_event_summary  # noqa: F401
from ui.web_conversation import (  # noqa: F401
    MAX_LISTED_CONVERSATIONS, chat_of, conversation_choices, history_of, new_state, owner_of, record_vote,
    remember_turn, restore_conversation, streams_tokens)

log = logging.getLogger(__name__)

# System fonts: the default theme fetches Google Fonts, and this app must work offline.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "monospace"])


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
