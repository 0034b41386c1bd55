"""Bench scale-out (issue 15): two web workers and two Slack bot replicas, real processes on one `chroma run`
server and one PostgreSQL, checked for what they must share.

What runs: a throw-away PostgreSQL (initdb / pg_ctl of the machine, as the user `assistant-pg` when run as
root; synchronous commits and fsync on, as in production), `chroma run` holding the index of the shipped
article (built with `assistant index`), two `assistant serve` workers and two `assistant slack --http`
replicas, all with ASSISTANT_DATABASE_URL=postgresql+psycopg://..., and a stand-in for Slack's Web API
in this process (tests/slack_stub.py) that records every reply. Clients speak the real protocols:
signed Events API requests and block actions to the replicas, Gradio's queue protocol to the web chat
(as the browser does: each session from its own loopback address, so each is its own client to the
rate limits), plain HTTP to /api and /v1.

Measures, and prints as JSON (also bench/results/scaleout.json):
  a  signed Slack events, each delivered 3 times spread over both replicas -> replies posted (one each)
  b  votes sent at once through both web workers' chat, both workers' HTTP API (POST /api/feedback, each on
     the other worker's answer) and both Slack replicas -> rows in the database
  c  a conversation started on worker 1 continues on worker 2 with its history
  d  PostgreSQL killed (pg_ctl stop -m immediate) while web, API and Slack users ask and vote: answers
     keep coming, writes fail with logged and retried errors, and after the restart every vote
     acknowledged to its user and every turn listed back to the browser is in the database
  e  one vote's write cost at 0 and at 100,000 stored votes (PostgreSQL and SQLite)
  f  shared rate limits: one client alternating between workers (web, API) or replicas (Slack) gets
     one budget, not one per process

Usage: python bench/scaleout.py [--small] [--keep]
  --small  fewer events, votes and rows (about 2 minutes instead of 5)
  --keep   keep the temporary folder (logs of every process) instead of deleting it
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, save  # noqa: E402
from tests.conftest import ARTICLE, Postgres, free_port, postgres_bindir  # noqa: E402
from tests.slack_stub import BOT_USER, StandIn, new_ts  # noqa: E402
from tests.test_store_server import start_chroma  # noqa: E402

SECRET = "scaleout-signing-secret"
WEB_LIMIT, API_LIMIT = 30, 120  # the shipped defaults of ASSISTANT_RATE_LIMIT_PER_MINUTE and _API_
# The Slack bot's queue of answers waiting (and the web queue's bound): a 200-event burst lands on each
# replica within a second or two, past the default of 64 that would answer the rest "busy".
QUEUE_SIZE = 256
FULL = {"events": 200, "web_votes": 400, "api_votes": 300, "slack_votes": 300, "outage_load_s": 30,
        "bulk_rows": 100_000}
SMALL = {"events": 40, "web_votes": 80, "api_votes": 60, "slack_votes": 60, "outage_load_s": 15, "bulk_rows": 10_000}
TURNS_PER_SESSION = 10  # web votes: one per answered turn, so a session of 10 turns gives 10 votes
ANSWERS_PER_API_CLIENT = 10  # API votes: each client (its own address) asks 10 questions, then rates each answer


# -- processes ------------------------------------------------------------------------------------

class DurablePostgres(Postgres):
    """The tests' throw-away server (tests/conftest.py), started with the durability a deployment has
    (fsync and synchronous commits on): what survives a kill here survives one in production."""

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-o", options, "-w", "-t", "60", "start")

    def create(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)


class Stack:
    """Everything this bench starts; `close()` stops all of it and deletes the temporary folder."""

    def __init__(self, keep: bool):
        self.keep = keep
        self.root = Path(tempfile.mkdtemp(prefix="scaleout-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.pg: DurablePostgres | None = None
        self.stand_in: StandIn | None = None

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        self.logs[name] = self.root / "logs" / f"{name}.log"
        self.logs[name].parent.mkdir(exist_ok=True)
        with open(self.logs[name], "wb") as log:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "assistant", *args], env=env, cwd=self.root,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[name]

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace") if name in self.logs else ""

    def close(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self.stand_in:
            self.stand_in.stop()
        if self.pg:
            with contextlib.suppress(Exception):
                self.pg.stop("immediate")
            shutil.rmtree(self.pg.root, ignore_errors=True)
        if self.keep:
            print(f"kept {self.root} (logs in {self.root / 'logs'})", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None, pause: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({proc.returncode})")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(pause)
    raise RuntimeError(f"{what}: not ready in {timeout:.0f} s")


def healthy(url: str) -> bool:
    with http_client(timeout=3) as client:
        try:
            return client.get(f"{url}/api/health").status_code == 200
        except httpx.TransportError:
            return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- clients --------------------------------------------------------------------------------------

def http_client(address: str | None = None, timeout: float = 60, keepalive: bool = True):
    """An httpx client whose connections come from `address` (any of 127.0.0.0/8 on Linux): a
    distinct client to the rate limits, as distinct users behind a proxy are. Without `keepalive`,
    a connection per request: a client that pauses about as long as uvicorn keeps an idle
    connection (5 s) would otherwise now and then send into one the server is closing (ReadError)."""
    # verify=False: plain HTTP on loopback, and no CA bundle loaded per client (tens of ms of CPU each).
    limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
    transport = httpx.HTTPTransport(local_address=address, verify=False, limits=limits) if address else None
    return httpx.Client(timeout=timeout, trust_env=False, transport=transport, verify=False, limits=limits)


def address(block: int, n: int) -> str:
    return f"127.0.{block}.{1 + n % 250}"


class WebSession:
    """One browser session of the web chat, speaking Gradio's queue protocol as the page does: events
    by function index (the chat's private ones too: remember, like, reopen), answers over server-sent
    events, the session's chat kept in the server's state. One call at a time per session."""

    _configs: dict[str, dict] = {}
    _lock = threading.Lock()

    def __init__(self, url: str, source: str | None = None, browser_id: str | None = None):
        self.url, self.http, self.session = url.rstrip("/"), http_client(source), uuid.uuid4().hex[:11]
        self.browser_id = browser_id or uuid.uuid4().hex
        with self._lock:
            if url not in self._configs:
                config = self.http.get(f"{self.url}/config").json()
                self._configs[url] = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
        self.fns = self._configs[url]
        self.conversation = ""  # the stored conversation's id, once the worker has listed it back
        self.remembered = False  # whether the last turn was stored and listed back (the page's "Past conversations")

    def call(self, name: str, data: list, event_data: dict | None = None) -> list:
        fn = self.fns[name]
        body = {"data": data, "fn_index": fn["id"], "session_hash": self.session, "event_data": event_data,
                "trigger_id": fn["targets"][0][0] if fn.get("targets") else None}
        if not fn["queue"]:
            response = self.http.post(f"{self.url}/gradio_api/run/predict", json=body)
            response.raise_for_status()
            return response.json()["data"]
        response = self.http.post(f"{self.url}/gradio_api/queue/join", json=body)
        response.raise_for_status()
        event = response.json()["event_id"]
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("event_id") == event and message.get("msg") == "process_completed":
                        if not message.get("success", True):
                            raise RuntimeError(f"{name} failed: {str(message.get('output'))[:200]}")
                        return message["output"]["data"]
        raise RuntimeError(f"{name}: the event stream ended without a result")

    def open(self) -> list:
        """The page load: this browser's id and its list of past conversations."""
        return self.call("load_saved", [self.browser_id])[1].get("choices") or []

    def ask(self, question: str) -> tuple[str, str]:
        """('answer' | 'refusal' | 'limited' | 'error', the sources panel), then the turn is remembered
        (the page's follow-up event)."""
        chat, _, sources, _ = self.call("ask", [question, None])
        last = text_of(chat[-1]) if chat else ""
        kind = ("answer" if 'class="cite"' in last else "refusal" if 'class="refusal"' in last
                else "limited" if "Too many questions" in last else "error")
        listed = self.call("remember", [self.browser_id, None])[0]
        self.remembered = isinstance(listed, dict) and bool(listed.get("value"))
        if self.remembered:
            self.conversation = listed["value"]
        return kind, sources

    def vote(self, turn: int, up: bool = True) -> str:
        """The thumbs on answer `turn` (0-based); the status line the user sees."""
        return self.call("on_like", [None], {"index": 2 * turn + 1, "value": "", "liked": up})[0]

    def reopen(self, conversation: str) -> int:
        chat, _, _ = self.call("reopen", [conversation, self.browser_id, None])
        return len(chat or [])

    def close(self):
        self.http.close()


def text_of(message) -> str:
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


class Slack:
    """Slack's side: signed Events API requests and block actions to the replicas; replies are read
    from the Web API stand-in."""

    def __init__(self, urls: list[str], stand_in: StandIn):
        self.urls, self.stand_in = urls, stand_in
        self.http = http_client(timeout=15, keepalive=False)

    def post(self, replica: int, body: str, content_type: str, retry: int = 0) -> int:
        timestamp = str(int(time.time()))
        signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        try:
            return self.http.post(self.urls[replica], content=body.encode(), headers=headers).status_code
        except httpx.TransportError:  # refused or reset: counted as a failed delivery, which Slack would retry
            return 0

    @staticmethod
    def mention(text: str, user: str, channel: str = "C1") -> tuple[str, str]:
        """(event body, its ts): an app_mention as Slack sends it; redeliveries send the same body."""
        ts = new_ts()
        body = {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                "event_id": f"Ev{ts.replace('.', '')}", "event_time": int(time.time()),
                "event": {"type": "app_mention", "user": user, "text": f"<@{BOT_USER}> {text}", "ts": ts,
                          "channel": channel, "event_ts": ts},
                "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}]}
        return json.dumps(body), ts

    def click(self, replica: int, key: str, user: str, channel: str, thread_ts: str, up: bool = True) -> int:
        payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
                   "token": "legacy", "trigger_id": "1.2.3", "channel": {"id": channel},
                   "container": {"type": "message", "message_ts": thread_ts, "channel_id": channel},
                   "message": {"ts": thread_ts, "thread_ts": thread_ts, "text": "answer"},
                   "actions": [{"type": "button", "action_id": "feedback_up" if up else "feedback_down",
                                "block_id": "feedback", "value": key, "action_ts": new_ts()}]}
        return self.post(replica, "payload=" + urllib.parse.quote(json.dumps(payload)),
                         "application/x-www-form-urlencoded")

    def replies(self, thread_ts: set[str]) -> list[dict]:
        """Replies posted in these threads: {ts, replica, key (the feedback buttons' value, None for a
        notice), text}."""
        out = []
        for call in self.stand_in.of("chat.postMessage"):
            args = call["args"]
            if args.get("thread_ts") not in thread_ts:
                continue
            blocks = args.get("blocks") or []
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            key = next((e.get("value") for b in blocks for e in b.get("elements", []) or []
                        if isinstance(e, dict) and e.get("action_id") == "feedback_up"), None)
            out.append({"ts": args["thread_ts"], "replica": call["token"].rsplit("-", 1)[-1], "key": key,
                        "text": args.get("text", "")})
        return out

    def ephemerals(self) -> dict[str, str]:
        """user -> the last ephemeral text they were shown (the bot's answer to a vote)."""
        return {c["args"].get("user"): c["args"].get("text", "") for c in self.stand_in.of("chat.postEphemeral")}

    def wait_replies(self, thread_ts: set[str], count: int, timeout: float, settle: float = 3.0) -> list[dict]:
        """The replies once at least `count` came and none came for `settle` s (a late duplicate would show)."""
        deadline, seen, quiet_since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            now = len(self.replies(thread_ts))
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            elif now >= count and time.monotonic() - quiet_since >= settle:
                break
            time.sleep(0.2)
        return self.replies(thread_ts)


# -- the measurements -----------------------------------------------------------------------------

def a_slack_deliveries(slack: Slack, events: int) -> dict:
    """Each event delivered 3 times (first try and two of Slack's retries), the deliveries of all events
    shuffled and sent concurrently to both replicas: each event must be answered exactly once."""
    rng = random.Random(15)
    bodies = [Slack.mention(QUESTIONS[i % len(QUESTIONS)], user=f"UA{i % 50:03d}") for i in range(events)]
    deliveries = [(body, replica, retry) for i, (body, _) in enumerate(bodies)
                  for retry, replica in enumerate((i % 2, (i + 1) % 2, rng.randrange(2)))]
    rng.shuffle(deliveries)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda d: slack.post(d[1], d[0], "application/json", retry=d[2]), deliveries))
    sent_s = time.perf_counter() - started
    threads = {ts for _, ts in bodies}
    replies = slack.wait_replies(threads, events, timeout=240)
    per_event = {ts: 0 for ts in threads}
    for reply in replies:
        per_event[reply["ts"]] += 1
    return {"events": events, "deliveries": len(deliveries),
            "deliveries_acknowledged_200": sum(s == 200 for s in statuses),
            "deliveries_failed_to_connect_or_reset": statuses.count(0),
            "deliveries_per_replica": {str(r + 1): sum(d[1] == r for d in deliveries) for r in range(2)},
            "replies_posted": len(replies), "answers_with_feedback_buttons": sum(r["key"] is not None for r in replies),
            "events_answered_once": sum(n == 1 for n in per_event.values()),
            "events_answered_twice_or_more": sum(n > 1 for n in per_event.values()),
            "events_unanswered": sum(n == 0 for n in per_event.values()),
            "replies_by_replica": {r: sum(x["replica"] == r for x in replies) for r in ("1", "2")},
            "send_s": round(sent_s, 2), "until_last_reply_s": round(time.perf_counter() - started, 2),
            "_replies": replies}


class ApiClient:
    """One HTTP API client (its own address: its own rate-limit budget) asking on both workers, half
    through /api/ask and half as an OpenAI client would (/v1/chat/completions), then rating each answer by
    its id through POST /api/feedback on the other worker: the vote finds the answer in the database."""

    def __init__(self, n: int, web_urls: list[str]):
        self.n, self.urls, self.http = n, web_urls, http_client(address(12, n))
        self.answers: list[tuple[int, str]] = []  # (worker that answered, answer id)

    def ask(self, t: int) -> bool:
        worker, question = (self.n + t) % 2, QUESTIONS[(self.n + t) % len(QUESTIONS)]
        if t % 2:
            reply = self.http.post(f"{self.urls[worker]}/v1/chat/completions",
                                   json={"model": "methodology-assistant", "messages": [{"role": "user", "content": question}]})
            answer_id = reply.json().get("id") if reply.status_code == 200 else None
        else:
            reply = self.http.post(f"{self.urls[worker]}/api/ask", json={"question": question})
            answer_id = reply.json().get("answer_id") if reply.status_code == 200 else None
        if answer_id:
            self.answers.append((worker, answer_id))
        return bool(answer_id)

    def votes(self) -> list[tuple[int, int, str]]:
        """(status, worker that answered, worker that took the vote) per answer."""
        out = []
        for i, (worker, answer_id) in enumerate(self.answers):
            other = (worker + 1) % 2
            body = {"answer_id": answer_id, "vote": "up" if i % 3 else "down"} | ({"comment": "bench"} if i % 5 == 0 else {})
            out.append((self.http.post(f"{self.urls[other]}/api/feedback", json=body).status_code, worker, other))
        return out

    def close(self):
        self.http.close()


def b_votes(slack: Slack, web_urls: list[str], answered: list[dict], web_votes: int, api_votes: int, slack_votes: int,
            storage) -> dict:
    """Web sessions on both workers answer TURNS_PER_SESSION questions each and API clients ask
    ANSWERS_PER_API_CLIENT questions each on both workers (set-up, not timed); then every vote is sent at
    once: each web session thumbs its turns (one session, one call at a time, as a page), each API client
    rates its answers on the other worker, while Slack users click the buttons of (a)'s answers on
    either replica."""
    sessions = [WebSession(web_urls[s % 2], address(10 + s // 250, s)) for s in range(web_votes // TURNS_PER_SESSION)]
    api_clients = [ApiClient(n, web_urls) for n in range(api_votes // ANSWERS_PER_API_CLIENT)]

    def fill(n: int) -> int:
        if n >= len(sessions):
            client = api_clients[n - len(sessions)]
            return sum(client.ask(t) for t in range(ANSWERS_PER_API_CLIENT))
        return sum(sessions[n].ask(QUESTIONS[(n + t) % len(QUESTIONS)])[0] in ("answer", "refusal")
                   for t in range(TURNS_PER_SESSION))

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        answered_turns = list(pool.map(fill, range(len(sessions) + len(api_clients))))
    setup_s = time.perf_counter() - started
    before = storage.status()["feedback"]

    def web_votes_of(session: WebSession) -> list[str]:
        return [session.vote(turn, up=turn % 3 != 0) for turn in range(TURNS_PER_SESSION)]

    keyed = [a for a in answered if a["key"]]
    clicks = [(j % 2, keyed[j % len(keyed)], f"UV{j:05d}", j % 4 != 0) for j in range(slack_votes)]
    tasks = [("web", s) for s in sessions] + [("api", c) for c in api_clients] + [("slack", c) for c in clicks]
    random.Random(16).shuffle(tasks)

    def send(task):
        kind, what = task
        if kind == "web":
            return kind, web_votes_of(what)
        if kind == "api":
            return kind, what.votes()
        replica, reply, user, up = what
        return kind, [slack.click(replica, reply["key"], user, "C1", reply["ts"], up)]

    started = time.perf_counter()
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(send, tasks))
    sent_s = time.perf_counter() - started
    voters = {c[2] for c in clicks}
    wait_until(lambda: len(voters & set(slack.ephemerals())) >= len(voters), 120, "Slack vote acknowledgements")
    acknowledged_s = time.perf_counter() - started
    shown = slack.ephemerals()
    web_status = [s for kind, statuses in results if kind == "web" for s in statuses]
    api_status = [v for kind, votes in results if kind == "api" for v in votes]
    rows = storage.status()["feedback"] - before
    by_channel = {}
    for entry in storage.feedback_entries():
        by_channel[entry.channel] = by_channel.get(entry.channel, 0) + 1
    for session in sessions:
        session.close()
    for client in api_clients:
        client.close()
    return {"web_sessions": len(sessions), "web_turns_answered_in_setup": sum(answered_turns[:len(sessions)]),
            "api_clients": len(api_clients), "api_answers_in_setup": sum(answered_turns[len(sessions):]),
            "setup_s": round(setup_s, 1),
            "votes_sent": len(web_status) + len(api_status) + len(clicks), "web_votes": len(web_status),
            "api_votes": len(api_status), "slack_votes": len(clicks),
            "web_votes_acknowledged": sum(s.startswith("Thanks:") for s in web_status),
            "api_votes_http_200": sum(v[0] == 200 for v in api_status),
            "api_statuses": sorted({str(v[0]) for v in api_status}),
            "api_votes_per_worker": {str(w + 1): sum(v[2] == w for v in api_status) for w in range(2)},
            "api_votes_on_the_other_workers_answer": sum(v[1] != v[2] for v in api_status),
            "slack_votes_http_200": sum(s == [200] for kind, s in results if kind == "slack"),
            "slack_votes_acknowledged": sum(shown.get(v, "").startswith("Thanks") for v in voters),
            "slack_votes_on_the_other_replicas_answer": sum(c[0] != int(c[1]["replica"]) - 1 for c in clicks),
            "rows_added": rows, "rows_by_channel": by_channel,
            "send_s": round(sent_s, 2), "until_all_acknowledged_s": round(acknowledged_s, 2)}


def c_conversation(web_urls: list[str], storage) -> dict:
    """A browser asks on worker 1; the same browser (its id in local storage) opens the page on worker 2,
    finds the conversation, reopens it and asks a follow-up that needs the first question."""
    first = WebSession(web_urls[0], address(5, 1))
    first.open()
    kind1, _ = first.ask("What are the benefits of ModelOps?")
    second = WebSession(web_urls[1], address(5, 2), browser_id=first.browser_id)
    listed = second.open()
    found = [cid for _, cid in listed]
    reopened = second.reopen(first.conversation) if first.conversation in found else 0
    kind2, sources = second.ask("And its challenges?")
    fresh = WebSession(web_urls[1], address(5, 3))  # the same follow-up without the history, for contrast
    _, fresh_sources = fresh.ask("And its challenges?")
    for s in (first, second, fresh):
        s.close()
    stored = storage.load_conversation(first.conversation, f"browser:{first.browser_id}")
    turns = stored[1] if stored else []
    return {"first_answer_on_worker_1": kind1,
            "listed_on_worker_2": first.conversation in found, "messages_reopened_on_worker_2": reopened,
            "follow_up_on_worker_2": kind2, "follow_up_uses_history": "ModelOps &gt; Challenges" in sources,
            "same_follow_up_without_history_finds_it": "ModelOps &gt; Challenges" in fresh_sources,
            "stored_turns": [{"n": t.n, "question": t.question, "history": t.history} for t in turns]}


def d_postgres_killed(stack: Stack, slack: Slack, web_urls: list[str], storage, load_s: float) -> dict:
    """Web, API and Slack users ask and vote for `load_s`; PostgreSQL is killed a third of the way in
    and started again at two thirds. Every request is put in the phase it started in."""
    stop = threading.Event()
    outage: dict[str, float] = {}
    api_clients = [[http_client(address(20 + t, n), keepalive=False) for n in range(40)] for t in range(3)]

    def phase(at: float) -> str:
        if "down" not in outage or at < outage["down"]:
            return "before"
        return "during" if at < outage.get("up", float("inf")) else "after"

    lock = threading.Lock()
    api_results, web_results, web_votes, slack_sent, slack_votes = [], [], [], [], []
    remembered: dict[tuple[str, str], int] = {}  # (conversation, owner) -> turns listed back to the page

    def api_user(t: int):
        clients = api_clients[t]
        for n in itertools.count():
            if stop.is_set():
                break
            at = time.monotonic()
            try:
                r = clients[n % 40].post(f"{web_urls[n % 2]}/api/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
                ok = r.status_code == 200 and bool(r.json().get("answer"))
                status = r.status_code
            except Exception as exc:  # noqa: BLE001 - a failed request is what is counted
                ok, status = False, type(exc).__name__
            with lock:
                api_results.append((phase(at), ok, status))
        for c in clients:
            c.close()

    def web_user(w: int):
        for s in itertools.count():
            if stop.is_set():
                return
            session = WebSession(web_urls[w], address(30 + w, s))
            try:
                for turn in range(5):
                    if stop.is_set():
                        break
                    at = time.monotonic()
                    kind, _ = session.ask(QUESTIONS[(s * 5 + turn) % len(QUESTIONS)])
                    with lock:
                        web_results.append((phase(at), kind))
                        if session.remembered:
                            key = (session.conversation, f"browser:{session.browser_id}")
                            remembered[key] = remembered.get(key, 0) + 1
                    if kind in ("answer", "refusal"):
                        at = time.monotonic()
                        status = session.vote(turn)
                        with lock:
                            web_votes.append((phase(at), status, f"{session.conversation}:{turn}"
                                              if session.conversation else "", at))
            except Exception as exc:  # noqa: BLE001
                with lock:
                    web_results.append((phase(time.monotonic()), f"error: {type(exc).__name__}"))
            finally:
                session.close()

    def slack_user():
        for n in itertools.count():
            if stop.is_set():
                return
            body, ts = Slack.mention(QUESTIONS[n % len(QUESTIONS)], user=f"UD{n % 40:03d}")
            at = time.monotonic()
            status = slack.post(n % 2, body, "application/json")
            with lock:
                slack_sent.append((phase(at), ts, status))
            time.sleep(0.25)

    def slack_voter():
        voted, n = set(), 0
        while not stop.is_set():
            with lock:
                threads = {ts for _, ts, _ in slack_sent}
            for reply in slack.replies(threads):
                if reply["key"] and reply["ts"] not in voted:
                    voted.add(reply["ts"])
                    user, at = f"UE{n:05d}", time.monotonic()
                    # A key only one replica knows (answered while the database was down) goes back to it.
                    status = slack.click(int(reply["replica"]) - 1, reply["key"], user, "C1", reply["ts"])
                    with lock:
                        slack_votes.append((phase(at), user, f"{reply['key']}:{user}", at, status))
                    n += 1
            time.sleep(0.3)

    workers = ([threading.Thread(target=api_user, args=(t,)) for t in range(3)]
               + [threading.Thread(target=web_user, args=(w,)) for w in range(2)]
               + [threading.Thread(target=slack_user), threading.Thread(target=slack_voter)])
    start = time.monotonic()
    for w in workers:
        w.start()
    try:
        time.sleep(load_s / 3)
        outage["down"] = time.monotonic()
        stack.pg.stop("immediate")
        stopped_s = time.monotonic() - outage["down"]
        time.sleep(max(0.0, load_s / 3 - stopped_s))
        up_started = time.monotonic()
        stack.pg.start()
        outage["up"] = time.monotonic()
        restart_s = outage["up"] - up_started
        time.sleep(max(0.0, start + load_s - time.monotonic()))
    finally:
        stop.set()
        for w in workers:
            w.join(120)
    # Replies to the last events, acknowledgements of the last votes; then past the 5 s cool-down.
    time.sleep(8)
    threads = {ts for _, ts, _ in slack_sent}
    replies = {r["ts"]: r for r in slack.replies(threads)}
    shown = slack.ephemerals()
    stored_votes = {e.turn_id for e in storage.feedback_entries()}
    missing_turns = 0
    for (conversation, owner), listed in remembered.items():
        found = storage.load_conversation(conversation, owner)
        missing_turns += max(0, listed - (len(found[1]) if found else 0))

    def by_phase(rows, ok) -> dict:
        return {p: {"ok": sum(1 for r in rows if r[0] == p and ok(r)), "failed": sum(1 for r in rows if r[0] == p and not ok(r))}
                for p in ("before", "during", "after")}

    acknowledged_web = [v for v in web_votes if v[1].startswith("Thanks:")]
    acknowledged_slack = [v for v in slack_votes if shown.get(v[1], "").startswith("Thanks")]
    first_after = min([v[3] for v in acknowledged_web + acknowledged_slack if v[3] >= outage["up"]], default=None)
    logs = {name: stack.log(name) for name in stack.procs if name.startswith(("web", "slack"))}
    return {
        "load_s": load_s, "postgres_down_s": round(outage["up"] - outage["down"], 1),
        "pg_ctl_stop_immediate_s": round(stopped_s, 2), "pg_ctl_start_s": round(restart_s, 2),
        "api_answers": by_phase(api_results, lambda r: r[1]),
        "api_statuses": sorted({str(r[2]) for r in api_results}),
        "web_answers": by_phase(web_results, lambda r: r[1] in ("answer", "refusal")),
        "web_failures": sorted({r[1] for r in web_results if r[1] not in ("answer", "refusal")}),
        "slack_events_sent": by_phase(slack_sent, lambda r: r[2] == 200),
        "slack_events_answered": by_phase(slack_sent, lambda r: r[1] in replies and replies[r[1]]["key"] is not None),
        "web_votes": by_phase(web_votes, lambda r: r[1].startswith("Thanks:")),
        "slack_votes": by_phase(slack_votes, lambda r: shown.get(r[1], "").startswith("Thanks")),
        "acknowledged_votes": len(acknowledged_web) + len(acknowledged_slack),
        "acknowledged_votes_checkable": sum(1 for v in acknowledged_web if v[2]) + len(acknowledged_slack),
        "acknowledged_votes_missing_after_restart": sum(1 for v in acknowledged_web if v[2] and v[2] not in stored_votes)
        + sum(1 for v in acknowledged_slack if v[2] not in stored_votes),
        "web_turns_listed_back": sum(remembered.values()), "web_turns_listed_back_missing_after_restart": missing_turns,
        "first_vote_acknowledged_after_restart_s": None if first_after is None else round(first_after - outage["up"], 2),
        "log_lines_database_unavailable": sum(log.count("is unavailable") for log in logs.values()),
        "log_lines_write_retried": sum(log.count("retrying in") for log in logs.values()),
        "log_lines_rate_limit_from_memory": sum(log.count("from this process's memory") + log.count("from this replica's memory")
                                                for log in logs.values()),
        "log_tracebacks": sum(log.count("Traceback") for log in logs.values()),
        "log_lines_vote_not_saved": sum(log.count("feedback not saved") for log in logs.values()),
        "processes_alive": {name: proc.poll() is None for name, proc in stack.procs.items()},
    }


def e_write_cost(stack: Stack, bulk_rows: int) -> dict:
    """One vote as the faces write it (Storage.add_feedback), 10 in a row, timed at 0 and at `bulk_rows`
    stored votes (inserted in bulk, directly); best of 3 rounds of 10, and the median single vote."""
    from sqlalchemy import insert

    from assistant import database
    from assistant.database import make_engine
    from assistant.storage import Feedback, Storage

    def measure(storage) -> dict:
        counter = itertools.count()

        def one() -> float:
            i = next(counter)
            started = time.perf_counter()
            storage.add_feedback([Feedback(question=f"timed {i}", answer="a", vote="up", turn_id=f"timed-{uuid.uuid4().hex}")])
            return (time.perf_counter() - started) * 1000

        one()  # tables created, a connection in the pool
        rounds = [[one() for _ in range(10)] for _ in range(3)]
        return {"ten_votes_ms": round(min(sum(r) for r in rounds), 1),
                "one_vote_median_ms": round(statistics.median(x for r in rounds for x in r), 2)}

    out = {}
    for backend, url in (("postgresql", stack.pg.create("cost")), ("sqlite", f"sqlite:///{stack.root / 'cost.db'}")):
        storage = Storage(make_engine(url))
        empty = measure(storage)
        rows = [{"turn_key": f"bulk-{i}", "question": f"bulk question {i}", "answer": "a", "vote": "up",
                 "comment": "", "refused": False, "channel": "web", "user": f"U{i % 977}", "citations": [],
                 "history": [], "index_version": "", "at": database.utcnow()} for i in range(bulk_rows)]
        started = time.perf_counter()
        with storage.engine.begin() as conn:
            conn.execute(insert(database.feedback), rows)
        loaded_s = time.perf_counter() - started
        full = measure(storage)
        out[backend] = {"at_0_rows": empty, f"at_{bulk_rows}_rows": full, "bulk_insert_s": round(loaded_s, 1),
                        "ratio_ten_votes": round(full["ten_votes_ms"] / empty["ten_votes_ms"], 2),
                        "ratio_one_vote_median": round(full["one_vote_median_ms"] / empty["one_vote_median_ms"], 2),
                        "rows_at_end": storage.status()["feedback"]}
        storage.engine.dispose()
    return out


def f_shared_limits(slack: Slack, web_urls: list[str]) -> dict:
    """One client alternating between the two processes of a kind, past its per-minute limit."""
    api = http_client(address(3, 1))
    api_codes = [api.get(f"{web_urls[n % 2]}/v1/models").status_code for n in range(API_LIMIT + 10)]
    api.close()
    web = [WebSession(url, address(3, 2)) for url in web_urls]  # one client (address), a session on each worker
    web_kinds = [web[n % 2].ask(QUESTIONS[n % len(QUESTIONS)])[0] for n in range(WEB_LIMIT + 5)]
    for session in web:
        session.close()
    sent = []
    for n in range(WEB_LIMIT + 5):  # ASSISTANT_RATE_LIMIT_PER_MINUTE is the Slack user's limit too
        body, ts = Slack.mention(QUESTIONS[n % len(QUESTIONS)], user="ULIMIT")
        slack.post(n % 2, body, "application/json")
        sent.append(ts)
    replies = slack.wait_replies(set(sent), len(sent), timeout=120)
    return {"api": {"limit": API_LIMIT, "requests": len(api_codes), "allowed": api_codes.count(200),
                    "refused_429": api_codes.count(429)},
            "web": {"limit": WEB_LIMIT, "questions": len(web_kinds),
                    "answered": sum(k in ("answer", "refusal") for k in web_kinds), "limited": web_kinds.count("limited")},
            "slack": {"limit": WEB_LIMIT, "questions": len(sent), "answered": sum(r["key"] is not None for r in replies),
                      "told_too_fast": sum("too fast" in r["text"] for r in replies)}}


# -- the run --------------------------------------------------------------------------------------

def run(args) -> dict:
    size = SMALL if args.small else FULL
    began = time.perf_counter()
    stack = Stack(args.keep)
    try:
        bindir = postgres_bindir()
        if bindir is None:
            raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
        setup = {}
        started = time.perf_counter()
        stack.pg = DurablePostgres(bindir)
        stack.pg.start()
        db_url = stack.pg.create("assistant")
        setup["postgres_s"] = round(time.perf_counter() - started, 1)

        started = time.perf_counter()
        chroma_port = free_port()
        stack.procs["chroma"] = start_chroma(stack.root / "chroma", chroma_port)
        setup["chroma_run_s"] = round(time.perf_counter() - started, 1)
        corpus = stack.root / "corpus"
        corpus.mkdir()
        shutil.copy(ARTICLE, corpus / ARTICLE.name)
        stack.stand_in = StandIn()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "SLACK_"))} | {
            "ASSISTANT_CHROMA_URL": f"http://127.0.0.1:{chroma_port}", "ASSISTANT_DATABASE_URL": db_url,
            "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(stack.root / "index"),
            "ASSISTANT_SLACK_API_URL": stack.stand_in.url, "SLACK_SIGNING_SECRET": SECRET,
            "ASSISTANT_RATE_LIMIT_PER_MINUTE": str(WEB_LIMIT), "ASSISTANT_API_RATE_LIMIT_PER_MINUTE": str(API_LIMIT),
            "ASSISTANT_QUEUE_SIZE": str(QUEUE_SIZE)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "assistant", "index", "--json"], env=env, cwd=stack.root,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"assistant index failed: {done.stderr[-2000:]}")
        setup["index"] = json.loads(done.stdout.strip().splitlines()[-1])
        setup["index_s"] = round(time.perf_counter() - started, 1)

        started = time.perf_counter()
        web_ports, slack_ports = [free_port(), free_port()], [free_port(), free_port()]
        for n, port in enumerate(web_ports, 1):  # each process its own data folder: nothing shared through files
            stack.start(f"web{n}", ["serve", "--port", str(port)], env | {"ASSISTANT_DATA_DIR": str(stack.root / f"data-web{n}")})
        for n, port in enumerate(slack_ports, 1):
            stack.start(f"slack{n}", ["slack", "--http", "--port", str(port)],
                        env | {"ASSISTANT_DATA_DIR": str(stack.root / f"data-slack{n}"), "SLACK_BOT_TOKEN": f"xoxb-bench-{n}"})
        web_urls = [f"http://127.0.0.1:{p}" for p in web_ports]
        for n, url in enumerate(web_urls, 1):
            wait_until(lambda url=url: healthy(url), 300, f"web{n}", stack.procs[f"web{n}"], pause=0.5)
        for n, port in enumerate(slack_ports, 1):
            wait_until(lambda port=port: port_open(port), 300, f"slack{n}", stack.procs[f"slack{n}"], pause=0.5)
        setup["four_processes_ready_s"] = round(time.perf_counter() - started, 1)

        from assistant.database import make_engine
        from assistant.storage import Storage

        storage = Storage(make_engine(db_url), cooldown_s=0.5)
        slack = Slack([f"http://127.0.0.1:{p}/slack/events" for p in slack_ports], stack.stand_in)
        result = {"mode": "small" if args.small else "full", "setup": setup}
        print("a: Slack deliveries ...", file=sys.stderr)
        result["a_slack_deliveries"] = a_slack_deliveries(slack, size["events"])
        answered = result["a_slack_deliveries"].pop("_replies")
        print("b: votes ...", file=sys.stderr)
        result["b_votes"] = b_votes(slack, web_urls, answered, size["web_votes"], size["api_votes"], size["slack_votes"],
                                    storage)
        print("c: conversation across workers ...", file=sys.stderr)
        result["c_conversation"] = c_conversation(web_urls, storage)
        print("f: shared rate limits ...", file=sys.stderr)
        result["f_shared_rate_limits"] = f_shared_limits(slack, web_urls)  # `assistant serve` serves /api and /v1 too
        print(f"d: PostgreSQL killed under load ({size['outage_load_s']} s) ...", file=sys.stderr)
        result["d_postgres_killed"] = d_postgres_killed(stack, slack, web_urls, storage, size["outage_load_s"])
        print("e: feedback write cost ...", file=sys.stderr)
        storage.engine.dispose()
        result["e_feedback_write_cost"] = e_write_cost(stack, size["bulk_rows"])
        result["acceptance"] = acceptance(result, size)
        result["wall_s"] = round(time.perf_counter() - began, 1)
        return result
    finally:
        stack.close()


def acceptance(r: dict, size: dict) -> dict:
    a, b, c, d, e, f = (r[k] for k in ("a_slack_deliveries", "b_votes", "c_conversation", "d_postgres_killed",
                                       "e_feedback_write_cost", "f_shared_rate_limits"))
    during = lambda part: d[part]["during"]["ok"]  # noqa: E731
    return {
        "a_exactly_one_reply_per_event": a["replies_posted"] == size["events"] == a["events_answered_once"],
        "b_every_vote_a_row": b["rows_added"] == b["votes_sent"] == size["web_votes"] + size["api_votes"] + size["slack_votes"]
        and b["web_votes_acknowledged"] == b["web_votes"] and b["api_votes_http_200"] == b["api_votes"] > 0
        and b["slack_votes_acknowledged"] == b["slack_votes"],
        "b_api_votes_taken_by_the_other_worker": b["api_votes_on_the_other_workers_answer"] == b["api_votes"] > 0,
        "c_conversation_continues_on_the_other_worker": bool(
            c["listed_on_worker_2"] and c["follow_up_uses_history"] and not c["same_follow_up_without_history_finds_it"]
            and [t["history"] for t in c["stored_turns"]] == [[], ["What are the benefits of ModelOps?"]]),
        "d_answers_keep_coming_while_postgres_is_down": bool(during("api_answers") and during("web_answers")
                                                             and during("slack_events_answered")
                                                             and not d["api_answers"]["during"]["failed"]
                                                             and not d["web_answers"]["during"]["failed"]),
        "d_nothing_acknowledged_is_lost": d["acknowledged_votes_missing_after_restart"] == 0
        and d["web_turns_listed_back_missing_after_restart"] == 0,
        "d_no_crash": all(d["processes_alive"].values()),
        # Flat: an index lookup grows with log(rows); the JSONL log this replaced rewrote every vote, ~1,000x at 100,000.
        "e_write_cost_flat_within_3x": all(v["ratio_one_vote_median"] <= 3.0 for v in e.values()),
        "f_one_budget_across_processes": f["api"]["allowed"] == API_LIMIT and f["web"]["answered"] == WEB_LIMIT
        and f["slack"]["answered"] == WEB_LIMIT,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer events, votes and rows (a quick run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and the process logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally clauses stop every process
    result = run(args)
    save("scaleout", result)
    print(json.dumps(result, indent=2))
    return 0 if all(result["acceptance"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
