"""Slack's Web API: the client the bot talks through, the start-up token check, a thread's earlier questions."""

from __future__ import annotations

import logging

from slack_bolt.version import __version__ as bolt_version
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from assistant.errors import UserError
from ui.slack_format import question_text

log = logging.getLogger("assistant.slack")  # one logger for the whole Slack face, split or not

# Subtypes a person produces; every other one (message_changed, bot_message, channel_join, ...)
# is not a question.
HUMAN_SUBTYPES = {None, "file_share", "thread_broadcast"}


def retry_handlers() -> list:
    """The SDK's defaults (connection errors) plus a wait-and-retry on HTTP 429 with Retry-After."""
    return default_retry_handlers() + [RateLimitErrorRetryHandler(max_retry_count=2)]


def web_client(token: str | None, api_url: str, timeout: int = 30, logger: logging.Logger | None = None) -> WebClient:
    """A Web API client at `api_url` (settings.slack_api_url: Slack, an Enterprise proxy, a test stand-in)."""
    return WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=retry_handlers(),
                     user_agent_prefix=f"Bolt/{bolt_version}", logger=logger)


def check_token(client: WebClient) -> dict:
    """auth.test with the bot token: who the bot is, or a UserError that says in one line what is wrong."""
    try:
        return client.auth_test().data
    except SlackApiError as exc:
        if exc.response.status_code != 200:
            raise UserError(f"Slack's Web API at {client.base_url} answered auth.test with HTTP "
                            f"{exc.response.status_code}: check ASSISTANT_SLACK_API_URL") from None
        raise UserError(f"SLACK_BOT_TOKEN was not accepted by Slack ({exc.response.get('error')}): export the "
                        "Bot User OAuth Token (xoxb-...) from OAuth & Permissions (see docs/slack.md)") from None
    except OSError as exc:
        raise UserError(f"cannot reach Slack's Web API at {client.base_url} to check SLACK_BOT_TOKEN: "
                        f"{getattr(exc, 'reason', exc)}") from None
    except SlackClientError as exc:  # e.g. a base URL that is not http(s)
        raise UserError(f"cannot call Slack's Web API at {client.base_url}: {exc} (ASSISTANT_SLACK_API_URL)") from None


def thread_questions(client: WebClient, channel: str, thread: str, before: str, bot_user: str | None) -> list[str]:
    """The human messages of a thread older than `before`, oldest first, as plain questions; [] when
    conversations.replies fails (a missing scope, a deleted thread, Slack down)."""
    try:
        reply = client.conversations_replies(channel=channel, ts=thread, limit=200)
    except Exception as exc:
        log.warning("conversations.replies failed (%s); using the bot's own memory of the thread", exc)
        return []
    texts = [question_text(m.get("text", "")) for m in reply.get("messages") or []
             if m.get("user") and m.get("user") != bot_user and not m.get("bot_id")
             and m.get("subtype") in HUMAN_SUBTYPES and float(m.get("ts", 0)) < float(before)]
    return [t for t in texts if t]
