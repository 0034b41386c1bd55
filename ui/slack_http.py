"""Slack over HTTP: the Events API endpoint on a threaded WSGI server, signatures checked before Bolt parses."""

from __future__ import annotations

import io
import json
import logging
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger("assistant.slack")  # one logger for the whole Slack face, split or not

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 1_000_000  # Slack's events are a few KB


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
