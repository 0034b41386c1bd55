"""Slack: the Bolt app that answers mentions and DMs in threads, with sources and feedback buttons; replicas
share the database, so each question is answered once and a vote reaches any of them."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_bolt.version import __version__ as bolt_version
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import default_retry_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from assistant import feedback
from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.links import SourceLinks
from assistant.ratelimit import SharedRateLimiter
from assistant.storage import Storage, StorageUnavailable, open_storage
from ui.slack_format import HOURGLASS, answer_message, notice, question_text

log = logging.getLogger("assistant.slack")
# The start-up token check says what failed in one line of its own; the SDK's error log would repeat it.
quiet = logging.getLogger("assistant.slack.token_check")
quiet.setLevel(logging.CRITICAL)

EVENTS_PATH = "/slack/events"
# Subtypes a person produces; every other one (message_changed, bot_message, channel_join, ...)
# is not a question.
HUMAN_SUBTYPES = {None, "file_share", "thread_broadcast"}
BUSY = "The assistant is busy right now; try again in a minute."
MAX_BODY_BYTES = 1_000_000  # Slack's events are a few KB
CHECK_TIMEOUT = 10  # seconds for the start-up auth.test: a wrong ASSISTANT_SLACK_API_URL fails fast too


class Bounded:
    """A thread-safe dict that forgets its oldest keys past `size`: memory stays flat for a bot
    that runs for months."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def _trim(self) -> None:
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def put(self, key, value) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value
            self._trim()

    def get(self, key, default=None):
        with self._lock:
            return self._items.get(key, default)

    def append(self, key, value, keep: int) -> None:
        with self._lock:
            self._items[key] = [*self._items.pop(key, []), value][-keep:]
            self._trim()

    def first_time(self, *keys) -> bool:
        """True when none of `keys` was seen before; all are marked seen either way."""
        with self._lock:
            fresh = not any(k in self._items for k in keys)
            for key in keys:
                self._items.pop(key, None)
                self._items[key] = True
            self._trim()
            return fresh


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


def _not_token_unused(record: logging.LogRecord) -> bool:
    # Given our client, Bolt still reads SLACK_BOT_TOKEN and warns that it is unused; it is the client's token.
    return "`token` will be unused" not in record.getMessage()


def is_dm(event: dict) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


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


class SlackBot:
    """What the listeners do. Answers run on a pool of their own, so a slow answer never delays the
    3-second acknowledgement of a button click in Bolt's listener pool. The database is the authority
    for what was claimed, how fast a user asks and what was answered; the in-memory copies are a fast
    path, and the fallback while the database is down (answering beats perfect once-only delivery)."""

    def __init__(self, assistant, settings, links: SourceLinks, storage: Storage):
        self.assistant, self.settings, self.links, self.storage = assistant, settings, links, storage
        self.seen = Bounded(10_000)  # event ids and channel/ts already taken
        self.answers = Bounded(5_000)  # feedback key -> (Answer, history, index version)
        self.threads = Bounded(5_000)  # (channel, thread_ts) -> questions, if conversations.replies fails
        # Per user, across replicas: the database's counters under "slack:<user>" (the keys this bot has
        # always stored), this replica's memory while the database is down.
        self.limiter = SharedRateLimiter(storage, settings.rate_limit_per_minute, "slack")
        self.pool = ThreadPoolExecutor(max(1, settings.concurrency), thread_name_prefix="slack-answer")
        self._pending, self._lock = 0, threading.Lock()

    def is_question(self, event: dict) -> bool:
        kind = event.get("type")
        if kind not in ("app_mention", "message") or (kind == "message" and not is_dm(event)):
            return False
        if event.get("bot_id") or not event.get("user") or event.get("subtype") not in HUMAN_SUBTYPES:
            return False
        allowed = self.settings.slack_allowed_channels
        return is_dm(event) or not allowed or event.get("channel") in allowed

    def gate(self, body, next):
        """Global middleware: everything that is not a new question is acknowledged here, before the
        HTTP response, and goes no further. Slack redelivers an event it thinks was missed (same
        event_id, X-Slack-Retry-Num); a DM that mentions the bot also arrives twice (message and
        app_mention, same channel and ts). Either way it is answered once."""
        if body.get("type") != "event_callback":
            return next()
        event = body.get("event") or {}
        if not self.is_question(event):
            return BoltResponse(status=200, body="")
        keys = [f"{event.get('channel')}/{event.get('ts')}"] + ([body["event_id"]] if body.get("event_id") else [])
        if not self.seen.first_time(*keys):
            log.info("duplicate delivery of %s ignored", keys[-1])
            return BoltResponse(status=200, body="")
        if not self.claim(keys):
            log.info("%s is answered by another replica", keys[-1])
            return BoltResponse(status=200, body="")
        return next()

    def claim(self, keys: list[str]) -> bool:
        """The first replica to insert the delivery's keys answers it: the message's channel/ts covers
        a redelivery and the two events of a DM mention alike."""
        try:
            return self.storage.claim(keys)
        except StorageUnavailable as exc:
            log.warning("answering %s unclaimed: %s", keys[-1], exc)
            return True

    def on_question(self, event, context, client):
        user, channel = event["user"], event["channel"]
        thread = event.get("thread_ts") or event["ts"]
        allowed, wait = self.limiter.check(user)
        if not allowed:
            wait = max(1, round(wait))
            return self.post(client, channel, thread, *notice(f"You're asking too fast; try again in {wait} s."))
        with self._lock:
            busy = self._pending >= max(1, self.settings.queue_size)
            self._pending += 0 if busy else 1
        if busy:
            return self.post(client, channel, thread, *notice(BUSY))
        self.pool.submit(self.answer, client, event, context.bot_user_id)

    def answer(self, client: WebClient, event: dict, bot_user: str | None) -> None:
        channel, ts = event["channel"], event["ts"]
        thread = event.get("thread_ts") or ts
        try:
            self.react(client, "reactions_add", channel, ts)
            question = question_text(event.get("text", ""))
            history = self.history(client, event, bot_user)
            try:
                answer = self.assistant.ask(question, history=history)
            except Exception as exc:
                if isinstance(exc, StoreUnavailable):
                    log.warning("store unavailable: %s", exc)
                elif not isinstance(exc, UserError):
                    log.exception("answering %r failed", question)
                blocks, text = notice(user_message(exc))
            else:
                key = self.remember(event, answer, history)
                self.threads.append((channel, thread), question, keep=max(1, self.settings.history_turns))
                blocks, text = answer_message(answer, key, self.links)
            self.post(client, channel, thread, blocks, text)
            self.react(client, "reactions_remove", channel, ts)
        except Exception:
            log.exception("Slack reply to %s/%s failed", channel, ts)
        finally:
            with self._lock:
                self._pending -= 1

    @staticmethod
    def conversation(event: dict) -> str:
        """One stored conversation per user and thread: `data purge --user` forgets exactly theirs."""
        return f"slack:{event['channel']}:{event.get('thread_ts') or event['ts']}:{event['user']}"

    def remember(self, event: dict, answer, history: list[str]) -> str:
        """The answer's feedback key: its turn in the database (a vote then reaches any replica), or a
        key only this replica knows while the database is down."""
        key, version = "local:" + secrets.token_hex(6), self.assistant.index_version
        try:
            turn = self.storage.save_turn(self.conversation(event), event["user"], answer, history=history,
                                          index_version=version)
            key = f"{turn.conversation_id}#{turn.n}"
        except StorageUnavailable as exc:
            log.warning("answer kept in memory only: %s", exc)
        self.answers.put(key, (answer, history, version))
        return key

    def stored(self, key: str):
        """(Answer, history, index version) of a turn another replica (or this one, before a restart) answered."""
        conversation, _, n = key.rpartition("#")
        if not conversation.startswith("slack:") or not n.isdigit():
            return None
        turn = self.storage.load_turn(conversation, int(n))
        return (turn.to_answer(), turn.history, turn.index_version) if turn else None

    def history(self, client: WebClient, event: dict, bot_user: str | None) -> list[str]:
        """The thread's earlier human messages, oldest first (the follow-up's own context)."""
        turns, thread, ts = self.settings.history_turns, event.get("thread_ts"), event["ts"]
        if not turns or not thread or thread == ts:
            return []
        texts = thread_questions(client, event["channel"], thread, ts, bot_user)
        if not texts:
            # Nothing usable from Slack (an error, a missing history scope, an empty reply): the
            # questions this bot already answered in the thread are history it knows for certain.
            texts = self.threads.get((event["channel"], thread), []) or self.asked(event)
        return texts[-turns:]

    def asked(self, event: dict) -> list[str]:
        """The user's earlier questions in the thread as stored (another replica may have answered them)."""
        try:
            found = self.storage.load_conversation(self.conversation(event), event["user"])
        except StorageUnavailable as exc:
            log.warning("no stored thread history: %s", exc)
            return []
        return [turn.question for turn in found[1]] if found else []

    def on_feedback(self, ack, body, action, client):
        ack()
        vote = "up" if action.get("action_id") == "feedback_up" else "down"
        user = (body.get("user") or {}).get("id", "")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        message = body.get("message") or {}
        key = action.get("value", "")
        try:
            kept = self.answers.get(key) or self.stored(key)
            if kept is None:
                text = "That answer is too old to rate here (it is no longer stored)."
            else:
                answer, history, version = kept
                # One vote per user and answer: a changed mind replaces the earlier vote.
                feedback.record(self.settings, answer, vote, channel="slack", user=user, history=history,
                                index_version=version, turn_id=f"{key}:{user}", storage=self.storage)
                text = "Thanks for the feedback."
        except StorageUnavailable as exc:
            log.warning("feedback not saved: %s", exc)
            text = "Sorry, the feedback could not be saved; please try again in a minute."
        except OSError:
            log.exception("writing feedback failed")
            text = "Sorry, the feedback could not be saved."
        if channel and user:
            try:
                client.chat_postEphemeral(channel=channel, user=user, text=text,
                                          thread_ts=message.get("thread_ts") or message.get("ts"))
            except Exception as exc:
                log.warning("chat.postEphemeral failed: %s", exc)

    def post(self, client, channel, thread, blocks, text) -> None:
        kwargs = {"blocks": blocks} if blocks else {}
        client.chat_postMessage(channel=channel, thread_ts=thread, text=text, unfurl_links=False,
                                unfurl_media=False, **kwargs)

    @staticmethod
    def react(client, method: str, channel: str, ts: str) -> None:
        """The hourglass is a courtesy: without reactions:write the answer still comes."""
        try:
            getattr(client, method)(channel=channel, timestamp=ts, name=HOURGLASS)
        except Exception as exc:
            log.info("%s failed: %s", method, exc)


def build_app(assistant, settings, *, token: str | None, signing_secret: str,
              token_verification_enabled: bool = True, storage: Storage | None = None) -> App:
    """The Bolt app, talking to the Web API at settings.slack_api_url (every per-request client Bolt
    makes copies this client's base URL and retry handlers). `process_before_response=False`: events
    are acknowledged before any work. `storage`: the shared database (default: the settings' one,
    opened on first use, so a database that is down delays nothing here)."""
    # An assistant without links of its own (a test double) links the way the settings say.
    links = getattr(assistant, "links", None) or SourceLinks(settings.corpus_dir, settings.source_url_template,
                                                             settings.public_url)
    bot = SlackBot(assistant, settings, links, storage or open_storage(settings))
    logging.getLogger("slack_bolt.App").addFilter(_not_token_unused)  # idempotent: the same function
    app = App(client=web_client(token, settings.slack_api_url), signing_secret=signing_secret or "",
              token_verification_enabled=token_verification_enabled, process_before_response=False,
              name="methodology-assistant")
    app.use(bot.gate)
    app.event("app_mention")(bot.on_question)
    app.event("message")(bot.on_question)
    app.action("feedback_up")(bot.on_feedback)
    app.action("feedback_down")(bot.on_feedback)
    app.slack_bot = bot  # for tests and operators: the bot's caches and pool
    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        log.debug("%s " + format, self.address_string(), *args)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # listen()'s backlog. The stdlib's 5 overflowed at 16 deliveries at once (a burst and Slack's retries,
    # a proxy fanning out to replicas): connections were reset, or their SYN dropped and retried a second
    # later, eating into Slack's 3 s. The kernel caps it at net.core.somaxconn (4096 on current Linux).
    request_queue_size = 128


def _well_formed(body: bytes, content_type: str) -> bool:
    """A body Bolt can parse: a JSON object, or a form whose `payload` (if any) is a JSON object."""
    try:
        if "application/x-www-form-urlencoded" in content_type:
            from urllib.parse import parse_qs

            payload = parse_qs(body.decode("utf-8"), strict_parsing=False).get("payload")
            return payload is None or isinstance(json.loads(payload[0]), dict)
        return isinstance(json.loads(body.decode("utf-8")), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def guarded(handler, signing_secret: str):
    """WSGI in front of Bolt: the signature is checked before the body is parsed (401 for a request
    that is unsigned, badly signed, stale or has a timestamp that is no number), then a signed body
    Bolt could not parse gets 400; Bolt itself would answer both with a 500 and a traceback."""
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(signing_secret)

    def reply(start_response, status: str, message: str):
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [message.encode()]

    def app(environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != EVENTS_PATH:
            return handler(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return reply(start_response, "400 Bad Request", "bad Content-Length")
        if length > MAX_BODY_BYTES:
            return reply(start_response, "413 Payload Too Large", "request body too large")
        body = environ["wsgi.input"].read(length) if length else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not timestamp.isdigit() or not verifier.is_valid(body, timestamp, signature):
            return reply(start_response, "401 Unauthorized", "invalid request signature")
        if not _well_formed(body, environ.get("CONTENT_TYPE", "")):
            return reply(start_response, "400 Bad Request", "the request body is not a Slack event or action")
        environ["wsgi.input"] = io.BytesIO(body)  # Bolt reads the body again, and checks it again
        return handler(environ, start_response)

    return app


def http_server(app: App, host: str, port: int, signing_secret: str | None = None) -> WSGIServer:
    """Bolt's WSGI adapter on a threaded stdlib server, bound to `host` (127.0.0.1 by default: a
    TLS proxy on the same machine forwards https://HOST/slack/events to it)."""
    secret = signing_secret if signing_secret is not None else app._signing_secret
    return make_server(host, port, guarded(SlackRequestHandler(app, path=EVENTS_PATH), secret),
                       server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)


def tokens_from_env(http: bool) -> dict[str, str]:
    needed = {"SLACK_BOT_TOKEN": "the bot token (xoxb-...) from OAuth & Permissions"}
    if http:
        needed["SLACK_SIGNING_SECRET"] = "the signing secret from Basic Information"
    else:
        needed["SLACK_APP_TOKEN"] = "an app-level token (xapp-...) with connections:write, for Socket Mode"
    values = {name: os.environ.get(name, "").strip() for name in needed}
    for name, what in needed.items():
        if not values[name]:
            raise UserError(f"{name} is not set: export {what} (see docs/slack.md)")
    return values


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    return SocketModeHandler(app, app_token)


def run(settings, http: bool, port: int) -> None:
    """Start the bot and block: HTTP (Events API on /slack/events) or Socket Mode."""
    from ui.starter import ready_assistant

    tokens = tokens_from_env(http)
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
