"""Slack's Web API and Socket Mode on loopback, for the Slack tests: real servers that record every call."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port

BOT_USER, BOT_ID = "UBOT", "BBOT"
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
                    stand_in.calls.append({"method": method, "args": args, "status": status, "at": time.monotonic(),
                                           "token": (self.headers.get("Authorization") or "").removeprefix("Bearer ")})
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
