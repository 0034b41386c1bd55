"""Slack: the real Bolt app over HTTP, fed signed Events API requests, talking to a local Web API stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from assistant.app import Assistant
from assistant.errors import StoreUnavailable, UserError
from assistant.links import SourceLinks
from assistant.types import Answer, Citation
from tests.conftest import assistant_with, feedback_rows, free_port
from tests.slack_stub import BOT_ID, BOT_USER, SocketModeStandIn, StandIn, new_ts
from ui import slack
from ui.slack_format import answer_message, escape, question_text

pytestmark = pytest.mark.slow

SECRET = "test-signing-secret"
HOSTILE = """# Zephyr team notes

## Release pipeline

<!channel> <@U999> The Zephyr release pipeline is reviewed every Tuesday by <http://evil.example|the platform group> & the QA guild.
"""


def via(stand_in: StandIn, settings):
    """The settings with Slack's Web API at the stand-in: the way an operator points the bot elsewhere."""
    return settings.model_copy(update={"slack_api_url": stand_in.url})


def with_tokens(settings, **missing):
    """The settings holding the app's three credentials (as SLACK_BOT_TOKEN & co. give them), minus `missing`."""
    tokens = {name: f"{name}-value" for name in ("slack_bot_token", "slack_app_token", "slack_signing_secret")}
    return settings.model_copy(update={**tokens, **missing})


class Bot:
    """The Bolt app from ui.slack behind its own HTTP server, and a Slack-like sender of signed requests."""

    def __init__(self, assistant, settings, stand_in: StandIn):
        self.app = slack.build_app(assistant, via(stand_in, settings), token="xoxb-test", signing_secret=SECRET,
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


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture
def make_bot(stand_in, tmp_path):
    """Bots with this test's own database (the shared index's settings would share one across tests);
    bots made with the same settings are replicas of one deployment."""
    bots = []

    def make(assistant, settings=None):
        settings = (settings or assistant.settings).model_copy(update={"data_dir": tmp_path / "bot-data"})
        bots.append(Bot(assistant, settings, stand_in))
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


def feedback_key(call: dict) -> str:
    [key] = {e["value"] for b in json.loads(blocks_text(call)) if b["type"] == "actions" for e in b["elements"]}
    return key


@pytest.mark.parametrize("replies", ["missing_scope", "channel_not_found", "empty"])
def test_follow_up_falls_back_to_memory_when_replies_give_nothing(bot, stand_in, replies):
    # An error (a missing history scope, a thread Slack no longer shows) or an empty thread: the bot
    # still knows what it answered there.
    stand_in.replies_error = "" if replies == "empty" else replies
    first = dm("What are the benefits of ModelOps?")
    bot.event(first)
    stand_in.wait("reactions.remove")
    bot.event(dm("And its challenges?", thread_ts=first["ts"]))
    stand_in.wait("reactions.remove", 2)
    assert len(stand_in.of("conversations.replies", ok_only=False)) == 1
    second = stand_in.of("chat.postMessage")[1]
    assert second["args"]["thread_ts"] == first["ts"] and "ModelOps › Challenges" in blocks_text(second)
    _, history, _ = bot.app.slack_bot.answers.get(feedback_key(second))
    assert history == ["What are the benefits of ModelOps?"]


def test_memory_is_per_thread_and_slack_wins_when_it_answers(bot, stand_in):
    first, other = dm("What are the benefits of ModelOps?"), dm("Which tools are used in DevOps?")
    for event in (first, other):
        bot.event(event)
    stand_in.wait("reactions.remove", 2)
    stand_in.replies[("D1", first["ts"])] = [{"user": "U1", "text": "What is ModelOps?", "ts": first["ts"]}]
    bot.event(dm("And its challenges?", thread_ts=first["ts"]))
    stand_in.wait("reactions.remove", 3)
    stand_in.replies_error = "missing_scope"
    bot.event(dm("And its challenges?", thread_ts=other["ts"]))
    stand_in.wait("reactions.remove", 4)
    by_thread = {c["args"]["thread_ts"]: c for c in stand_in.of("chat.postMessage")[2:]}
    histories = {t: bot.app.slack_bot.answers.get(feedback_key(c))[1] for t, c in by_thread.items()}
    assert histories == {first["ts"]: ["What is ModelOps?"], other["ts"]: ["Which tools are used in DevOps?"]}


def test_redelivered_event_is_answered_once(bot, stand_in):
    event = mention("Which tools are used in DevOps?")
    assert bot.event(event, event_id="EvSAME")[0] == 200
    for retry in (1, 2, 3):
        assert bot.event(event, event_id="EvSAME", headers={"X-Slack-Retry-Num": str(retry),
                                                            "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    stand_in.wait("reactions.remove")
    assert len(stand_in.of("chat.postMessage")) == 1 and len(stand_in.of("reactions.add")) == 1


def test_a_burst_of_deliveries_is_accepted_not_reset(bot):
    """32 connections at once (a burst of events and Slack's retries): the listen backlog holds them all,
    where the stdlib's default of 5 overflowed (connections reset, or held back a second)."""
    from concurrent.futures import ThreadPoolExecutor

    assert bot.server.request_queue_size >= 64
    body = json.dumps({"token": "legacy", "challenge": "c-burst", "type": "url_verification"})
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: bot.post(body)[0], range(32)))
    assert statuses == [200] * 32


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


def bot_votes(bot) -> list[dict]:
    return feedback_rows(bot.app.slack_bot.settings)


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
    [entry] = [e for e in bot_votes(bot) if e["user"] == "UFEEDBACK"]
    assert entry["vote"] == "down" and entry["channel"] == "slack"
    assert entry["question"] == "What are the benefits of ModelOps?" and entry["citations"]
    assert entry["index_version"] == shipped.index_version
    # A changed mind replaces the vote (one per user and answer); another user's vote is its own.
    bot.click("feedback_up", key, "UFEEDBACK", "C1", new_ts(), event["ts"])
    bot.click("feedback_up", key, "UOTHER", "C1", new_ts(), event["ts"])
    stand_in.wait("chat.postEphemeral", 3)
    assert sorted((e["user"], e["vote"]) for e in bot_votes(bot)) == [("UFEEDBACK", "up"), ("UOTHER", "up")]


def test_unknown_feedback_key_is_answered_not_logged(bot, stand_in, shipped):
    for n, key in enumerate(["nope", "slack:C1:1.2:U2#1", "slack:C1:1.2:U2#x"], 1):
        assert bot.click("feedback_up", key, "U2", "C1", new_ts(), new_ts())[0] == 200
        assert "too old" in stand_in.wait("chat.postEphemeral", n)[-1]["args"]["text"]
    assert bot_votes(bot) == []


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
def test_run_names_the_missing_variable(shipped, http, missing):
    with pytest.raises(UserError, match=missing):
        slack.run(with_tokens(shipped.settings, **{missing.lower(): " "}), http=http, port=free_port())


def test_slack_credentials_come_from_slacks_own_variable_names_or_the_prefixed_ones(monkeypatch):
    from assistant.config import Settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("ASSISTANT_SLACK_SIGNING_SECRET", "secret-2")
    settings = Settings()
    assert (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token) == \
        ("xoxb-1", "secret-2", "")
    assert "xoxb-1" not in repr(settings) and "secret-2" not in repr(settings)


def test_the_client_bolt_makes_waits_out_429_at_the_configured_url(shipped, caplog, monkeypatch):
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")  # as in production, where Bolt reads it beside our client
    settings = shipped.settings.model_copy(update={"slack_api_url": "https://slack.proxy.example/api"})
    app = slack.build_app(shipped, settings, token="xoxb-test", signing_secret="s", token_verification_enabled=False)
    assert app.client.token == "xoxb-test" and app.client.base_url == "https://slack.proxy.example/api/"
    assert any(isinstance(h, RateLimitErrorRetryHandler) and h.max_retry_count == 2 for h in app.client.retry_handlers)
    assert shipped.settings.slack_api_url == "https://slack.com/api/"
    assert "will be unused" not in caplog.text


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


def test_socket_mode_answers_once_and_acks_every_envelope(shipped, stand_in, tmp_path):
    socket = SocketModeStandIn()
    stand_in.socket_url = socket.url
    settings = shipped.settings.model_copy(update={"data_dir": tmp_path / "bot-data"})  # its own claims
    app = slack.build_app(shipped, via(stand_in, settings), token="xoxb-test", signing_secret="",
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


@pytest.fixture
def factory(monkeypatch, shipped, stand_in):
    """Assistant.from_settings (where the embedding model loads), recording how many auth.test calls
    the stand-in had seen when it was called."""
    calls = []

    def from_settings(settings):
        calls.append(len(stand_in.of("auth.test", ok_only=False)))
        return shipped

    monkeypatch.setattr(Assistant, "from_settings", staticmethod(from_settings))
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    return calls


@pytest.mark.parametrize("http", [True, False])
def test_run_checks_the_token_first_and_starts_the_chosen_mode(monkeypatch, shipped, stand_in, factory, http):
    started = []
    monkeypatch.setattr(slack, "http_server", lambda *args: started.append(Recorder(*args)) or started[-1])
    monkeypatch.setattr(slack, "socket_mode_handler", lambda *args: started.append(Recorder(*args)) or started[-1])
    slack.run(with_tokens(via(stand_in, shipped.settings)), http=http, port=3999)
    assert factory == [1]  # the token was checked, at the configured URL, before the model loaded
    assert {c["token"] for c in stand_in.of("auth.test")} == {"slack_bot_token-value"}
    [server] = started
    assert server.started and server.args[0].client.token == "slack_bot_token-value"
    assert server.args[0].client.base_url == stand_in.url
    assert server.args[1:] == ((shipped.settings.host, 3999) if http else ("slack_app_token-value",))


@pytest.mark.parametrize("http", [True, False])
def test_a_rejected_token_fails_in_one_line_before_the_model_loads(shipped, stand_in, factory, http):
    stand_in.auth_error = "invalid_auth"
    started = time.monotonic()
    with pytest.raises(UserError, match=r"SLACK_BOT_TOKEN was not accepted by Slack \(invalid_auth\)") as caught:
        slack.run(with_tokens(via(stand_in, shipped.settings)), http=http, port=free_port())
    assert factory == [] and time.monotonic() - started < 10
    assert "\n" not in str(caught.value)
    [check] = stand_in.of("auth.test")
    assert check["token"] == "slack_bot_token-value"


def test_an_unreachable_api_url_fails_before_the_model_loads(shipped, factory):
    settings = shipped.settings.model_copy(update={"slack_api_url": f"http://127.0.0.1:{free_port()}/api/"})
    with pytest.raises(UserError, match="cannot reach Slack's Web API at http://127.0.0.1"):
        slack.run(with_tokens(settings), http=True, port=free_port())
    assert factory == []


def cite(n: int, source: str, section: str, title: str = "Doc A & <Co>", text: str = "A passage.") -> Citation:
    return Citation(n=n, id=f"{source}#{n}", source=source, title=title, section=section, text=text)


LIST_ANSWER = ("The benefits include: [1, 3]\n\n"
               "- Infrastructure as Code (IaC): IaC defines servers in code. [1]\n"
               "- Faster releases come from automation, testing: and more. [2]\n"
               "- Monitoring <b>: what & when. [3]")
CITATIONS = (cite(1, "a.md", "Practices > Section A"), cite(2, "b.md", "Intro", title="Doc B"),
             cite(3, "a.md", "Practices > Section B"), cite(4, "a.md", "Practices > Section A"))


def sources_of(blocks: list[dict]) -> list[str]:
    [context] = [b for b in blocks if b["type"] == "context"]
    return context["elements"][0]["text"].split("\n")


def test_answer_is_readable_mrkdwn_with_bullets_bold_lead_ins_and_plain_markers(tmp_path):
    blocks, text = answer_message(Answer(question="q", text=LIST_ANSWER, citations=CITATIONS, refused=False), "k",
                                  SourceLinks(tmp_path))
    assert blocks[0]["text"]["text"].split("\n") == [
        "*The benefits include:* [1][3]",
        "",
        "• *Infrastructure as Code (IaC):* IaC defines servers in code. [1]",
        "• Faster releases come from automation, testing: and more. [2]",  # a sentence, not a term
        "• *Monitoring &lt;b&gt;:* what &amp; when. [3]",
    ]
    assert text.startswith(blocks[0]["text"]["text"])
    paragraph = answer_message(Answer(question="q", text="Key tools: Jenkins, Git. [1]", citations=CITATIONS[:1],
                                      refused=False), "k")[0]
    assert paragraph[0]["text"]["text"] == "Key tools: Jenkins, Git. [1]"  # no list follows: not a lead-in


def test_sources_are_one_line_per_document_linked_when_an_absolute_url_is_known(tmp_path):
    answer = Answer(question="q", text=LIST_ANSWER, citations=CITATIONS, refused=False)
    blocks, text = answer_message(answer, "k", SourceLinks(tmp_path, base="https://assistant.example"))
    assert sources_of(blocks) == [
        "*Sources*",
        "[1][3][4] <https://assistant.example/source/a.md|Doc A &amp; &lt;Co&gt;> › Practices › Section A; "
        "Practices › Section B",
        "[2] <https://assistant.example/source/b.md#intro|Doc B> › Intro",  # one section: linked at it
    ]
    assert text.endswith("\n\nSources:\n" + "\n".join(sources_of(blocks)[1:]))

    # No canonical URL and no public_url: a link Slack could not open is no link; the path says where.
    plain = sources_of(answer_message(answer, "k", SourceLinks(tmp_path))[0])
    assert plain[1:] == ["[1][3][4] Doc A &amp; &lt;Co&gt; (a.md) › Practices › Section A; Practices › Section B",
                         "[2] Doc B (b.md) › Intro"]
    refused = Answer(question="q", text="The documents do not cover that.", citations=(), refused=True)
    assert [b["type"] for b in answer_message(refused, "k")[0]] == ["section", "actions"]


def test_long_section_paths_keep_the_heading_that_tells_them_apart():
    outer = "Will Your Model Performance be Different in Production than During the Training Phase"
    citations = (cite(1, "m.md", f"{outer} > How Will Drift be Monitored?", title="Checklist"),
                 cite(2, "m.md", f"{outer} > How Will Quality be Monitored?", title="Checklist"),
                 cite(3, "m.md", f"{outer} > How Will Drift be Monitored?", title="Checklist"))
    [line] = sources_of(answer_message(Answer(question="q", text="x [1][2][3]", citations=citations, refused=False),
                                       "k")[0])[1:]
    assert line == ("[1][2][3] Checklist (m.md) › … › How Will Drift be Monitored?; "
                    "… › How Will Quality be Monitored?")


def test_a_canonical_url_is_linked_safely(tmp_path):
    (tmp_path / "c.md").write_text("---\ntitle: Runbook\nurl: https://wiki.example/run book?a=1&b=<2>|x\n---\n"
                                   "# Runbook\n")
    line = sources_of(answer_message(Answer(question="q", text="Run it. [1]", refused=False,
                                            citations=(cite(1, "c.md", "Steps > Restart", title="Runbook"),)),
                                     "k", SourceLinks(tmp_path, base="https://assistant.example"))[0])[1]
    assert line == "[1] <https://wiki.example/run%20book?a=1&amp;b=%3C2%3E%7Cx#restart|Runbook> › Steps › Restart"


LINKED = """---
title: Zephyr <ops> & release notes
url: https://wiki.example/zephyr?team=rel&view=full
---
# Zephyr <ops> & release notes

## Release pipeline

The Zephyr release pipeline is reviewed every Tuesday by the platform group.
"""


def test_posted_sources_link_to_the_canonical_url_once_per_document(make_bot, tmp_path, embedder, stand_in):
    bot = make_bot(assistant_with(tmp_path, embedder, {"zephyr.md": LINKED}, public_url="https://assistant.example"))
    bot.event(mention("When is the Zephyr release pipeline reviewed?"))
    stand_in.wait("reactions.remove")
    [reply] = stand_in.of("chat.postMessage")
    lines = sources_of(json.loads(blocks_text(reply)))[1:]
    assert any("<https://wiki.example/zephyr?team=rel&amp;view=full#release-pipeline|Zephyr &lt;ops&gt; &amp; "
               "release notes> › Release pipeline" in line for line in lines), lines
    sources = [line.split("|", 1)[0] for line in lines]
    assert len(sources) == len(set(sources))
    assert all("<https://" in line for line in lines)  # public_url set: every document links


@pytest.mark.parametrize("body, timestamp, signed, status", [
    ('{"type": "event_callback", "event": ', None, True, 400),  # signed, cut short
    ("[1, 2, 3]", None, True, 400),  # signed JSON that is not an object
    ('{"type": "event_callback", "event": ', None, False, 401),  # unsigned: rejected before parsing
    ('{"type": "url_verification", "challenge": "x"}', "soon", True, 401),  # a timestamp that is no number
    ('{"type": "url_verification", "challenge": "x"}', "1e99", True, 401),
])
def test_malformed_requests_get_4xx_not_a_server_error(bot, body, timestamp, signed, status):
    code, text = bot.post(body, timestamp=timestamp, secret=SECRET if signed else "not-the-secret")
    assert code == status, (code, text)
    assert "Traceback" not in text


def test_replicas_answer_each_question_once(make_bot, shipped, stand_in):
    """Two replicas behind one load balancer: a redelivery, or the message and app_mention events of a
    DM mention, may reach either; the database's claim lets exactly one answer."""
    one, two = make_bot(shipped), make_bot(shipped)
    event = mention("Which tools are used in DevOps?")
    assert one.event(event, event_id="EvTWICE")[0] == 200
    assert two.event(event, event_id="EvTWICE", headers={"X-Slack-Retry-Num": "1"})[0] == 200
    in_dm = dm(f"<@{BOT_USER}> What is DataOps?")
    two.event(in_dm)
    one.event({**in_dm, "type": "app_mention"})
    stand_in.wait("reactions.remove", 2)
    time.sleep(0.5)  # a second answer, if any, would be posted by now
    assert sorted(r["args"]["thread_ts"] for r in stand_in.of("chat.postMessage")) == sorted([event["ts"], in_dm["ts"]])


def test_replicas_share_the_rate_limit_and_take_each_others_votes(make_bot, shipped, stand_in):
    settings = shipped.settings.model_copy(update={"rate_limit_per_minute": 1})
    one, two = make_bot(shipped, settings), make_bot(shipped, settings)
    first = mention("What is DataOps?", user="USHARED")
    one.event(first)
    stand_in.wait("reactions.remove")
    two.event(mention("What is MLOps?", user="USHARED"))
    replies = stand_in.wait("chat.postMessage", 2)
    assert "asking too fast; try again in" in replies[1]["args"]["text"]
    # Counted under the keys earlier releases stored ("slack:<user>"): an upgrade keeps the minute's budget.
    assert not two.app.slack_bot.storage.allow("slack:USHARED", 1)[0]
    # The answer came from replica one; the click reaches replica two, which reads the stored turn.
    key = feedback_key(replies[0])
    assert key.startswith("slack:C1:") and two.app.slack_bot.answers.get(key) is None
    two.click("feedback_down", key, "USHARED", "C1", new_ts(), first["ts"])
    assert "Thanks" in stand_in.wait("chat.postEphemeral")[0]["args"]["text"]
    [vote] = bot_votes(two)
    assert (vote["question"], vote["vote"], vote["user"]) == ("What is DataOps?", "down", "USHARED")
    assert vote["citations"] and vote["index_version"] == shipped.index_version


def test_a_database_that_is_down_costs_no_answer(make_bot, shipped, stand_in):
    """Claims, rate limits and stored turns fall back to the replica's memory; a vote says it was not saved."""
    down = shipped.settings.model_copy(update={"database_url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x",
                                               "rate_limit_per_minute": 1})
    bot = make_bot(shipped, down)
    event = mention("What is DataOps?", user="UDOWN")
    bot.event(event, event_id="EvDOWN")
    bot.event(event, event_id="EvDOWN")  # a redelivery: this replica's memory still knows it
    stand_in.wait("reactions.remove")
    bot.event(mention("What is MLOps?", user="UDOWN"))  # the in-memory rate limit still holds
    first, limited = stand_in.wait("chat.postMessage", 2)
    assert "Sources" in blocks_text(first) and "asking too fast" in limited["args"]["text"]
    key = feedback_key(first)
    assert key.startswith("local:")
    bot.click("feedback_up", key, "UDOWN", "C1", new_ts(), event["ts"])
    assert "could not be saved" in stand_in.wait("chat.postEphemeral")[0]["args"]["text"]


def test_a_nested_list_keeps_its_levels_in_mrkdwn(tmp_path):
    text = ("Options: [1]\n\n- Standby Sites: [1]\n  - Hot Standby: a running duplicate. [1]\n"
            "  - Cold Standby: rack space only. [1]\n- Backups: nightly copies. [1]")
    blocks, _ = answer_message(Answer(question="q", text=text, citations=CITATIONS[:1], refused=False), "k",
                               SourceLinks(tmp_path))
    assert blocks[0]["text"]["text"].split("\n") == [
        "*Options:* [1]", "", "• *Standby Sites:* [1]", "    ◦ *Hot Standby:* a running duplicate. [1]",
        "    ◦ *Cold Standby:* rack space only. [1]", "• *Backups:* nightly copies. [1]"]


def test_a_quoted_code_block_stays_a_code_block_in_mrkdwn(tmp_path):
    """mrkdwn shows ``` blocks but no language tag; an item's block loses the item's indentation; its text
    is escaped like any other (a "<" would start a link); a block cut to fit Slack's limit is closed."""
    from ui.slack_format import body_lines, fit

    text = ("Install it with npm: [1]\n\n```bash\n# needs node <18\nnpm install -g azurite\n  --silent\n```\n\n"
            "- Then each developer runs [1]\n\n  ```sh\n  pre-commit install\n    --hook-type commit-msg\n  ```\n"
            "- Done. [1]")
    blocks, _ = answer_message(Answer(question="q", text=text, citations=CITATIONS[:1], refused=False), "k",
                               SourceLinks(tmp_path))
    assert blocks[0]["text"]["text"].split("\n") == [
        "Install it with npm: [1]", "", "```", "# needs node &lt;18", "npm install -g azurite", "  --silent", "```", "",
        "• Then each developer runs [1]", "", "```", "pre-commit install", "  --hook-type commit-msg", "```",
        "• Done. [1]"]
    cut = fit(body_lines(text), 70)
    assert cut.count("```") == 2 and cut.endswith("```\n…")
