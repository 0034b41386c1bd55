"""Slack: the real Bolt app over HTTP, fed signed Events API requests, talking to a local Web API stand-in."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from slack_sdk import WebClient

from assistant.app import Assistant
from assistant.errors import StoreUnavailable, UserError
from assistant.feedback import feedback_path
from tests.conftest import assistant_with, free_port
from ui import slack
from ui.slack_format import escape, question_text

pytestmark = pytest.mark.slow

SECRET = "test-signing-secret"
BOT_USER, BOT_ID = "UBOT", "BBOT"
HOSTILE = """# Zephyr team notes

## Release pipeline

<!channel> <@U999> The Zephyr release pipeline is reviewed every Tuesday by <http://evil.example|the platform group> & the QA guild.
"""
_ts = itertools.count(1)


def new_ts() -> str:
    return f"{1_700_000_000 + next(_ts)}.000100"


class StandIn:
    """Slack's Web API on loopback: records every call and answers the way Slack does."""

    def __init__(self):
        self.calls: list[dict] = []
        self.replies: dict[tuple[str, str], list[dict]] = {}  # (channel, thread ts) -> messages
        self.replies_error = ""
        self.auth_error = ""
        self.socket_url = ""  # what apps.connections.open hands out
        self.rate_limited: dict[str, int] = {}  # method -> how many 429s to answer first
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.answer(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(urllib.parse.parse_qsl(raw))
                args.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                self.answer(args)

            def answer(self, args):
                method = urllib.parse.urlsplit(self.path).path.rsplit("/api/", 1)[-1]
                status, headers, body = stand_in.respond(method, args)
                with stand_in.lock:
                    stand_in.calls.append({"method": method, "args": args, "status": status, "at": time.monotonic()})
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def respond(self, method: str, args: dict):
        with self.lock:
            if self.rate_limited.get(method):
                self.rate_limited[method] -= 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
        if method == "auth.test" and self.auth_error:
            return 200, {}, {"ok": False, "error": self.auth_error}
        if method == "apps.connections.open":
            return 200, {}, {"ok": True, "url": self.socket_url}
        if method == "auth.test":
            return 200, {}, {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": "T1", "user": "assistant"}
        if method in ("chat.postMessage", "chat.update"):
            return 200, {}, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts") or new_ts(),
                             "message": {"text": args.get("text")}}
        if method == "chat.postEphemeral":
            return 200, {}, {"ok": True, "message_ts": new_ts()}
        if method == "conversations.replies":
            if self.replies_error:
                return 200, {}, {"ok": False, "error": self.replies_error}
            return 200, {}, {"ok": True, "messages": self.replies.get((args.get("channel"), args.get("ts")), [])}
        return 200, {}, {"ok": True}

    def of(self, method: str, ok_only: bool = True) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["method"] == method and (c["status"] == 200 or not ok_only)]

    def wait(self, method: str, count: int = 1, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(found := self.of(method)) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} x {method} not seen in {timeout}s; calls: {[c['method'] for c in self.calls]}")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Bot:
    """The Bolt app from ui.slack behind its own HTTP server, and a Slack-like sender of signed requests."""

    def __init__(self, assistant, settings, stand_in: StandIn):
        client = WebClient(token="xoxb-test", base_url=stand_in.url, retry_handlers=slack.retry_handlers())
        self.app = slack.build_app(assistant, settings, token="xoxb-test", signing_secret=SECRET, client=client,
                                   token_verification_enabled=False)
        self.server = slack.http_server(self.app, "127.0.0.1", free_port())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{slack.EVENTS_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.stand_in = stand_in

    def post(self, body: str, *, content_type="application/json", timestamp=None, secret=SECRET,
             sent_body=None, headers=None) -> tuple[int, str]:
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url, data=(sent_body or body).encode(), method="POST", headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def event(self, event: dict, event_id: str | None = None, **kwargs) -> tuple[int, str]:
        body = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                "event_id": event_id or f"Ev{new_ts().replace('.', '')}", "event_time": int(time.time()),
                "event": {"event_ts": event.get("ts"), **event},
                "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}]}
        return self.post(json.dumps(body), **kwargs)

    def click(self, action_id: str, value: str, user: str, channel: str, message_ts: str, thread_ts: str):
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
                   "token": "legacy", "trigger_id": "1.2.3", "channel": {"id": channel},
                   "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
                   "message": {"ts": message_ts, "thread_ts": thread_ts, "text": "answer"},
                   "actions": [{"type": "button", "action_id": action_id, "block_id": "feedback",
                                "value": value, "action_ts": new_ts()}]}
        return self.post("payload=" + urllib.parse.quote(json.dumps(payload)),
                         content_type="application/x-www-form-urlencoded")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.app.slack_bot.pool.shutdown(wait=True)


def mention(text: str, channel="C1", user="U1", thread_ts=None) -> dict:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": new_ts(), "channel": channel}
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def dm(text: str, user="U1", **extra) -> dict:
    return {"type": "message", "channel_type": "im", "channel": "D1", "user": user, "text": text, "ts": new_ts(),
            **extra}


def blocks_text(call: dict) -> str:
    blocks = call["args"].get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False)


def all_strings(value) -> list[str]:
    if isinstance(value, str):
        try:
            return all_strings(json.loads(value)) if value[:1] in "[{" else [value]
        except ValueError:
            return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


class SocketModeStandIn:
    """Slack's Socket Mode WebSocket on loopback: says hello, pushes envelopes, records the acks."""

    def __init__(self):
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.server import serve

        self.outbox: queue.Queue = queue.Queue()
        self.acks: list[dict] = []

        def session(connection):
            connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                        "connection_info": {"app_id": "A1"}, "debug_info": {"host": "local"}}))
            while True:
                try:
                    connection.send(json.dumps(self.outbox.get_nowait()))
                except queue.Empty:
                    pass
                try:
                    self.acks.append(json.loads(connection.recv(timeout=0.05)))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return

        self.server = serve(session, "127.0.0.1", free_port())
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def push(self, body: dict, envelope_id: str, retry: int = 0) -> None:
        self.outbox.put({"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
                         "retry_attempt": retry, "retry_reason": "timeout" if retry else "", "payload": body})

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture
def make_bot(stand_in):
    bots = []

    def make(assistant, settings=None):
        bots.append(Bot(assistant, settings or assistant.settings, stand_in))
        return bots[-1]

    yield make
    for bot in bots:
        bot.stop()


@pytest.fixture
def bot(make_bot, shipped):
    return make_bot(shipped)


@pytest.fixture
def hostile(tmp_path, embedder):
    return assistant_with(tmp_path, embedder, {"zephyr.md": HOSTILE})


def test_mention_gets_one_threaded_reply_with_sources(bot, stand_in):
    event = mention("What are the benefits of ModelOps?")
    assert bot.event(event)[0] == 200
    stand_in.wait("reactions.remove")
    [reply] = stand_in.of("chat.postMessage")
    assert reply["args"]["channel"] == "C1" and reply["args"]["thread_ts"] == event["ts"]
    blocks = blocks_text(reply)
    assert "Sources" in blocks and "[1]" in blocks and "ModelOps › Benefits" in blocks
    assert "feedback_up" in blocks and "feedback_down" in blocks
    assert "[1]" in reply["args"]["text"]
    [added] = stand_in.of("reactions.add")
    assert {k: added["args"][k] for k in ("channel", "timestamp", "name")} == {
        "channel": "C1", "timestamp": event["ts"], "name": "hourglass_flowing_sand"}


def test_thread_follow_up_uses_earlier_questions(bot, stand_in):
    parent = mention("What are the benefits of ModelOps?")
    follow = mention("And its challenges?", thread_ts=parent["ts"])
    stand_in.replies[("C1", parent["ts"])] = [
        {"user": "U1", "text": parent["text"], "ts": parent["ts"]},
        {"user": BOT_USER, "bot_id": BOT_ID, "text": "ModelOps enables faster ... [1]", "ts": new_ts()},
        {"user": "U1", "text": follow["text"], "ts": follow["ts"], "thread_ts": parent["ts"]},
    ]
    assert bot.event(follow)[0] == 200
    stand_in.wait("reactions.remove")
    [replies_call] = stand_in.of("conversations.replies")
    assert replies_call["args"]["channel"] == "C1" and replies_call["args"]["ts"] == parent["ts"]
    [reply] = stand_in.of("chat.postMessage")
    assert reply["args"]["thread_ts"] == parent["ts"]
    assert "ModelOps › Challenges" in blocks_text(reply)


def test_follow_up_falls_back_to_memory_when_replies_fail(bot, stand_in):
    stand_in.replies_error = "missing_scope"
    first = dm("What are the benefits of ModelOps?")
    bot.event(first)
    stand_in.wait("reactions.remove")
    bot.event(dm("And its challenges?", thread_ts=first["ts"]))
    stand_in.wait("reactions.remove", 2)
    assert len(stand_in.of("conversations.replies", ok_only=False)) == 1
    second = stand_in.of("chat.postMessage")[1]
    assert second["args"]["thread_ts"] == first["ts"] and "ModelOps › Challenges" in blocks_text(second)


def test_redelivered_event_is_answered_once(bot, stand_in):
    event = mention("Which tools are used in DevOps?")
    assert bot.event(event, event_id="EvSAME")[0] == 200
    for retry in (1, 2, 3):
        assert bot.event(event, event_id="EvSAME", headers={"X-Slack-Retry-Num": str(retry),
                                                            "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    stand_in.wait("reactions.remove")
    assert len(stand_in.of("chat.postMessage")) == 1 and len(stand_in.of("reactions.add")) == 1


def test_dm_gets_a_reply_and_a_dm_mention_is_answered_once(bot, stand_in):
    event = dm(f"<@{BOT_USER}> What is DataOps?")
    bot.event(event)
    bot.event({**event, "type": "app_mention"})  # Slack sends both for a mention inside a DM
    stand_in.wait("reactions.remove")
    [reply] = stand_in.of("chat.postMessage")
    assert reply["args"]["channel"] == "D1" and reply["args"]["thread_ts"] == event["ts"]
    assert "Sources" in blocks_text(reply)


@pytest.mark.parametrize("change", [
    {"secret": "wrong-secret"},
    {"timestamp": int(time.time()) - 6 * 60},
    {"sent_body": "changed"},
])
def test_unverified_requests_get_401_and_no_reply(bot, stand_in, change):
    event = mention("What is MLOps?")
    if "sent_body" in change:
        change = {"sent_body": json.dumps({"type": "event_callback", "event_id": "EvX",
                                           "event": {**event, "text": f"<@{BOT_USER}> <!channel>"}})}
    status, _ = bot.event(event, **change)
    assert status == 401
    assert stand_in.calls == []


def test_url_verification_challenge(bot):
    status, body = bot.post(json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"}))
    assert status == 200 and json.loads(body)["challenge"] == "c-123"


def test_bot_and_edited_messages_are_ignored(bot, stand_in):
    for event in (dm("What is MLOps?", bot_id="B999", subtype="bot_message"),
                  dm("What is MLOps?", subtype="message_changed"),
                  dm("What is MLOps?", user=BOT_USER),
                  {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1",
                   "text": "What is MLOps?", "ts": new_ts()}):
        assert bot.event(event)[0] == 200
    # Ignoring happens before the HTTP response, so nothing can follow it.
    assert not [c for c in stand_in.calls if c["method"] != "auth.test"]


def test_passages_cannot_ping_or_link(make_bot, hostile, stand_in):
    bot = make_bot(hostile)
    bot.event(mention("When is the Zephyr release pipeline reviewed?"))
    stand_in.wait("reactions.remove")
    [reply] = stand_in.of("chat.postMessage")
    strings = all_strings(reply["args"])
    assert any("&lt;!channel&gt;" in s and "&lt;@U999&gt;" in s for s in strings)
    assert any("&lt;!channel&gt;" in s for s in [reply["args"]["text"]])
    for s in strings:
        assert "<!channel>" not in s and "<@U999>" not in s and "<http" not in s
    assert "&amp; the QA guild" in reply["args"]["text"]


def test_rate_limited_post_is_retried_after_retry_after(bot, stand_in):
    stand_in.rate_limited["chat.postMessage"] = 1
    bot.event(mention("What are the challenges of MLOps?"))
    stand_in.wait("reactions.remove")
    posts = stand_in.of("chat.postMessage", ok_only=False)
    assert [p["status"] for p in posts] == [429, 200]
    assert posts[1]["at"] - posts[0]["at"] >= 1.0
    assert "Sources" in blocks_text(posts[1])


def test_feedback_button_is_logged(bot, stand_in, shipped):
    event = mention("What are the benefits of ModelOps?", user="UFEEDBACK")
    bot.event(event)
    stand_in.wait("reactions.remove")
    [reply] = stand_in.of("chat.postMessage")
    blocks = json.loads(blocks_text(reply))
    [key] = {e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]}
    status, _ = bot.click("feedback_down", key, "UFEEDBACK", "C1", new_ts(), event["ts"])
    assert status == 200
    [thanks] = stand_in.wait("chat.postEphemeral")
    assert thanks["args"]["user"] == "UFEEDBACK" and "Thanks" in thanks["args"]["text"]
    entries = [json.loads(line) for line in Path(feedback_path(shipped.settings)).read_text().splitlines()]
    [entry] = [e for e in entries if e["user"] == "UFEEDBACK"]
    assert entry["vote"] == "down" and entry["channel"] == "slack"
    assert entry["question"] == "What are the benefits of ModelOps?" and entry["citations"]
    assert entry["index_version"] == shipped.index_version


def test_unknown_feedback_key_is_answered_not_logged(bot, stand_in, shipped):
    before = feedback_path(shipped.settings).read_text() if feedback_path(shipped.settings).exists() else ""
    assert bot.click("feedback_up", "nope", "U2", "C1", new_ts(), new_ts())[0] == 200
    [note] = stand_in.wait("chat.postEphemeral")
    assert "too old" in note["args"]["text"]
    after = feedback_path(shipped.settings).read_text() if feedback_path(shipped.settings).exists() else ""
    assert after == before


def test_per_user_rate_limit(make_bot, shipped, stand_in):
    bot = make_bot(shipped, shipped.settings.model_copy(update={"rate_limit_per_minute": 1}))
    bot.event(mention("What is DataOps?", user="UFAST"))
    stand_in.wait("reactions.remove")
    second = mention("What is MLOps?", user="UFAST")
    bot.event(second)
    replies = stand_in.wait("chat.postMessage", 2)
    assert replies[1]["args"]["thread_ts"] == second["ts"]
    assert "asking too fast; try again in" in replies[1]["args"]["text"]


def test_allowed_channels(make_bot, shipped, stand_in):
    bot = make_bot(shipped, shipped.settings.model_copy(update={"slack_allowed_channels": ["COK"]}))
    bot.event(mention("What is DataOps?", channel="CNOPE"))
    bot.event(mention("What is DataOps?", channel="COK"))
    [reply] = stand_in.wait("chat.postMessage")
    assert reply["args"]["channel"] == "COK"


class Failing:
    def __init__(self, settings, error):
        self.settings, self.error, self.index_version = settings, error, ""

    def ask(self, question, history=()):
        raise self.error


@pytest.mark.parametrize("text, error, expected", [
    ("", None, "The question is empty"),
    ("x" * 2001, None, "The question is too long"),
    ("What is MLOps?", StoreUnavailable("chroma down"), "temporarily unavailable, try again"),
    ("What is MLOps?", RuntimeError("boom"), "Something went wrong"),
])
def test_errors_are_replied_in_thread_and_the_bot_stays_up(make_bot, shipped, stand_in, text, error, expected):
    bot = make_bot(Failing(shipped.settings, error) if error else shipped)
    event = mention(text)
    bot.event(event)
    [reply] = stand_in.wait("chat.postMessage")
    assert expected in reply["args"]["text"] and reply["args"]["thread_ts"] == event["ts"]
    assert "boom" not in reply["args"]["text"]
    if error is None:
        bot.event(mention("What is DataOps?"))
        assert "Sources" in blocks_text(stand_in.wait("chat.postMessage", 2)[1])


@pytest.mark.parametrize("http, missing", [(True, "SLACK_BOT_TOKEN"), (False, "SLACK_BOT_TOKEN"),
                                           (True, "SLACK_SIGNING_SECRET"), (False, "SLACK_APP_TOKEN")])
def test_run_names_the_missing_variable(monkeypatch, shipped, http, missing):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.setenv(name, "set")
    monkeypatch.delenv(missing)
    with pytest.raises(UserError, match=missing):
        slack.run(shipped.settings, http=http, port=free_port())


def test_the_client_bolt_makes_waits_out_429(shipped):
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    app = slack.build_app(shipped, shipped.settings, token="xoxb-test", signing_secret="s",
                          token_verification_enabled=False)
    assert app.client.token == "xoxb-test"
    assert any(isinstance(h, RateLimitErrorRetryHandler) and h.max_retry_count == 2 for h in app.client.retry_handlers)


def test_slack_text_in_and_out():
    assert question_text(f"<@{BOT_USER}> Is A &amp; B &lt;ok&gt;? <https://x.example|see> <!here>") == \
        "Is A & B <ok>? see"
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_manifest_matches_what_the_bot_listens_to():
    import yaml

    manifest = yaml.safe_load((Path(slack.__file__).parent / "slack-manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "im:history", "channels:history", "reactions:write"} <= scopes
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert manifest["settings"]["interactivity"]["is_enabled"] and manifest["settings"]["socket_mode_enabled"]


def test_socket_mode_answers_once_and_acks_every_envelope(shipped, stand_in):
    socket = SocketModeStandIn()
    stand_in.socket_url = socket.url
    client = WebClient(token="xoxb-test", base_url=stand_in.url, retry_handlers=slack.retry_handlers())
    app = slack.build_app(shipped, shipped.settings, token="xoxb-test", signing_secret="", client=client,
                          token_verification_enabled=False)
    handler = slack.socket_mode_handler(app, "xapp-test")
    try:
        handler.connect()
        event = mention("What is DataOps?")
        body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvSOCKET",
                "event_time": int(time.time()), "event": event}
        socket.push(body, "env-1")
        socket.push(body, "env-2", retry=1)
        stand_in.wait("reactions.remove")
        [reply] = stand_in.of("chat.postMessage")
        assert reply["args"]["thread_ts"] == event["ts"] and "Sources" in blocks_text(reply)
        deadline = time.monotonic() + 10
        while len(socket.acks) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(a["envelope_id"] for a in socket.acks) == ["env-1", "env-2"]
        assert len(stand_in.of("apps.connections.open")) == 1
    finally:
        handler.close()
        app.slack_bot.pool.shutdown(wait=True)
        socket.stop()


class Recorder:
    def __init__(self, *args):
        self.args, self.started = args, False

    def start(self):
        self.started = True

    serve_forever = start

    def server_close(self):
        pass


@pytest.mark.parametrize("http", [True, False])
def test_run_checks_the_token_and_starts_the_chosen_mode(monkeypatch, shipped, stand_in, http):
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    started = []
    monkeypatch.setattr(Assistant, "from_settings", staticmethod(lambda settings: shipped))
    build_app = slack.build_app
    monkeypatch.setattr(slack, "build_app", lambda *args, token, **kw: build_app(
        *args, token=token, client=WebClient(token=token, base_url=stand_in.url), **kw))
    monkeypatch.setattr(slack, "http_server", lambda *args: started.append(Recorder(*args)) or started[-1])
    monkeypatch.setattr(slack, "socket_mode_handler", lambda *args: started.append(Recorder(*args)) or started[-1])
    slack.run(shipped.settings, http=http, port=3999)
    [auth] = stand_in.of("auth.test")  # the bot token is checked before anything listens
    [server] = started
    assert server.started and server.args[0].client.token == "slack_bot_token-value"
    assert server.args[1:] == ((shipped.settings.host, 3999) if http else ("slack_app_token-value",))

    stand_in.auth_error = "invalid_auth"
    with pytest.raises(UserError, match="SLACK_BOT_TOKEN was not accepted"):
        slack.run(shipped.settings, http=http, port=3999)
