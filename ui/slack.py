"""Slack: the Bolt app that answers mentions and DMs in threads, with sources and feedback buttons; replicas
share the database, so each question is answered once and a vote reaches any of them."""

from __future__ import annotations

import logging
import sys

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from assistant.errors import UserError
from assistant.storage import StorageUnavailable, open_storage

# The entry module: the CLI and the tests import from here, so every name it had before the split stays
# importable from it, the private ones too; run() looks up http_server and socket_mode_handler here,
# where tests replace them.
from ui.slack_bot import BUSY, Bounded, SlackBot, _not_token_unused, build_app, is_dm  # noqa: F401
from ui.slack_client import HUMAN_SUBTYPES, check_token, retry_handlers, thread_questions, web_client  # noqa: F401
from ui.slack_http import (EVENTS_PATH, MAX_BODY_BYTES, _QuietHandler, _ThreadingWSGIServer,  # noqa: F401
                           _well_formed, guarded, http_server)

log = logging.getLogger("assistant.slack")
# The start-up token check says what failed in one line of its own; the SDK's error log would repeat it.
quiet = logging.getLogger("assistant.slack.token_check")
quiet.setLevel(logging.CRITICAL)
CHECK_TIMEOUT = 10  # seconds for the start-up auth.test: a wrong ASSISTANT_SLACK_API_URL fails fast too


def slack_tokens(settings, http: bool) -> dict[str, str]:
    """The credentials the chosen mode needs, from the settings (SLACK_BOT_TOKEN, ...); a missing one is
    one line naming it."""
    needed = {"SLACK_BOT_TOKEN": "the bot token (xoxb-...) from OAuth & Permissions"}
    if http:
        needed["SLACK_SIGNING_SECRET"] = "the signing secret from Basic Information"
    else:
        needed["SLACK_APP_TOKEN"] = "an app-level token (xapp-...) with connections:write, for Socket Mode"
    values = {name: getattr(settings, name.lower()).strip() for name in needed}
    for name, what in needed.items():
        if not values[name]:
            raise UserError(f"{name} is not set: export {what} (see docs/slack.md)")
    return values


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    return SocketModeHandler(app, app_token)


def run(settings, http: bool, port: int) -> None:
    """Start the bot and block: HTTP (Events API on /slack/events) or Socket Mode."""
    from ui.starter import ready_assistant

    tokens = slack_tokens(settings, http)
    # Seconds, before the embedding model's ~35 s load: a bad or revoked token is one line at once.
    me = check_token(web_client(tokens["SLACK_BOT_TOKEN"], settings.slack_api_url, CHECK_TIMEOUT, quiet))
    log.info("SLACK_BOT_TOKEN accepted: bot %s (%s) in team %s", me.get("user"), me.get("user_id"), me.get("team_id"))
    storage = open_storage(settings)
    try:
        storage.check()  # a schema of another version is one line now; a database that is down is retried later
    except StorageUnavailable as exc:
        log.warning("%s; answering without it until it is back", exc)
    assistant = ready_assistant(settings, warm=True)
    try:
        app = build_app(assistant, settings, token=tokens["SLACK_BOT_TOKEN"],
                        signing_secret=tokens.get("SLACK_SIGNING_SECRET", ""), storage=storage)
    except BoltError as exc:
        raise UserError(f"SLACK_BOT_TOKEN was not accepted by Slack: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot reach Slack's Web API to check SLACK_BOT_TOKEN: {exc}") from None
    if http:
        try:
            server = http_server(app, settings.host, port)
        except OSError as exc:
            raise UserError(f"cannot listen on {settings.host}:{port}: {exc}") from None
        print(f"Slack bot: Events API on http://{settings.host}:{port}{EVENTS_PATH} "
              "(put a TLS proxy in front of it); Ctrl-C stops", file=sys.stderr)
        try:
            server.serve_forever()
        finally:
            server.server_close()
        return
    print("Slack bot: connecting in Socket Mode; Ctrl-C stops", file=sys.stderr)
    try:
        socket_mode_handler(app, tokens["SLACK_APP_TOKEN"]).start()
    except SlackApiError as exc:
        raise UserError(f"SLACK_APP_TOKEN was not accepted by Slack: {exc.response.get('error')}") from None
    except OSError as exc:
        raise UserError(f"cannot open a Socket Mode connection to Slack: {exc}") from None
