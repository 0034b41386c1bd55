"""Slack listeners: which events are new questions, answering them in threads, and the feedback buttons."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from assistant import feedback
from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.links import SourceLinks
from assistant.ratelimit import SharedRateLimiter
from assistant.storage import Storage, StorageUnavailable, open_storage
from ui.slack_client import HUMAN_SUBTYPES, thread_questions, web_client
from ui.slack_format import HOURGLASS, answer_message, notice, question_text

log = logging.getLogger("assistant.slack")  # one logger for the whole Slack face, split or not

BUSY = "The assistant is busy right now; try again in a minute."


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


def _not_token_unused(record: logging.LogRecord) -> bool:
    # Given our client, Bolt still reads SLACK_BOT_TOKEN and warns that it is unused; it is the client's token.
    return "`token` will be unused" not in record.getMessage()


def is_dm(event: dict) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


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
