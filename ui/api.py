"""HTTP API: versioned JSON endpoints (/api) and an OpenAI-compatible chat endpoint (/v1)."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.ratelimit import SharedRateLimiter

log = logging.getLogger(__name__)
MODEL_ID = "methodology-assistant"
# The id an answer carries: `answer_id` of /api/ask, the `id` of a /v1 chat completion. Random, so holding
# one is what entitles a client to vote on that answer.
ANSWER_ID = re.compile(r"(ans_|chatcmpl-)[0-9a-f]{24}")
UNSAVED_KEPT = 5_000  # answers given while the database was down, kept in memory for a vote on this worker
UNSAVED_LOG_EVERY_S = 30.0  # one warning per outage stretch, not one per answer


class AskRequest(BaseModel):
    question: str
    history: list[str] = Field(default_factory=list, max_length=50)


class SearchRequest(BaseModel):
    question: str
    k: int | None = Field(default=None, ge=1, le=50)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[dict] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI's content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, max_tokens ...: the answer is grounded, not sampled
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt "coment" is a 400, not a comment silently dropped
    answer_id: str | None = Field(default=None, max_length=128, description="`answer_id` of /api/ask, or a /v1 `id`")
    turn_id: str | None = Field(default=None, max_length=128, description="another name for answer_id")
    vote: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def one_answer(self):
        if not (self.answer_id or self.turn_id):
            raise ValueError("answer_id is required: the `answer_id` of an /api/ask answer or the `id` of a "
                             "/v1/chat/completions reply")
        if self.answer_id and self.turn_id and self.answer_id != self.turn_id:
            raise ValueError("answer_id and turn_id name two different answers; give one")
        return self

    @property
    def id(self) -> str:
        return self.answer_id or self.turn_id or ""


class AnsweredTurns:
    """The API's answers by id, so a vote can find what it rates: each is stored as a one-turn
    conversation `api:<id>` in the shared database (owner: who asked), which any worker reads; an
    answer given while the database was down is kept in this worker's memory (bounded) instead, so a
    vote sent back to the same worker still finds it."""

    def __init__(self, storage, history_turns: int):
        self.storage, self.history_turns = storage, history_turns
        self.unsaved: OrderedDict[str, tuple] = OrderedDict()
        self._lock, self._warned = threading.Lock(), 0.0

    def keep(self, answer_id: str, owner: str, answer, history: list[str], index_version: str) -> None:
        history = list(history[-self.history_turns:]) if self.history_turns else []
        try:
            self.storage().save_turn(f"api:{answer_id}", owner, answer, history=history, index_version=index_version)
            return
        except (OSError, UserError, ValueError) as exc:  # StorageUnavailable is an OSError; UserError: schema version
            if time.monotonic() - self._warned >= UNSAVED_LOG_EVERY_S:
                self._warned = time.monotonic()
                log.warning("API answers kept in this worker's memory only (a vote must come back here): %s", exc)
        with self._lock:
            self.unsaved[answer_id] = (answer, history, index_version)
            while len(self.unsaved) > UNSAVED_KEPT:
                self.unsaved.popitem(last=False)

    def find(self, answer_id: str):
        """(Answer, history, index version), or None for an id no worker stored. Raises StorageUnavailable."""
        with self._lock:
            if answer_id in self.unsaved:
                return self.unsaved[answer_id]
        if not ANSWER_ID.fullmatch(answer_id):
            return None
        turn = self.storage().load_turn(f"api:{answer_id}", 1)
        return (turn.to_answer(), turn.history, turn.index_version) if turn else None


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> JSONResponse:
    # OpenAI's error shape, which its SDKs and LangChain's ChatOpenAI parse into typed exceptions.
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


def chat_content(answer, links=None) -> str:
    """The cited Markdown answer followed by its sources, as a chat front end shows one message."""
    from ui.render import plain_text

    return plain_text(answer, links)


def create_api(assistant, settings, api_key: str = "") -> FastAPI:
    """The API app; the web chat is mounted on it at "/" by `ui.web.serve`. With `api_key`, every
    /api and /v1 request needs `Authorization: Bearer <key>`."""
    app = FastAPI(title="Methodology assistant API", version="1", docs_url="/docs", redoc_url=None,
                  description="Cited answers from the indexed corpus. `/api` speaks this project's JSON "
                              "contract; `/v1` speaks OpenAI's chat-completions protocol.")
    # One budget per key (or client) across every worker: the database's counters, as Slack's per user.
    limiter = SharedRateLimiter(lambda: _open_storage(settings), settings.api_rate_limit_per_minute, "api")
    answered = AnsweredTurns(lambda: _open_storage(settings), settings.history_turns)

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        if request.url.path.startswith(("/api/", "/v1/")):
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > settings.api_max_body_bytes:
                return _error(413, f"request body over {settings.api_max_body_bytes} bytes", "invalid_request_error")
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"{where or 'body'}: {first.get('msg', 'invalid request')}", "invalid_request_error")

    def guard(request: Request) -> str:
        """Authenticate (when a key is set) and rate-limit per key, or per client address. Returns who
        asks ("key", or the address): "api:<who>" is their rate-limit key, and the user their votes and
        stored answers are filed under (`assistant data purge --user api:<who>` forgets them)."""
        client = request.client.host if request.client else "?"
        if api_key:
            given = request.headers.get("authorization", "")
            token = given[7:].strip() if given.lower().startswith("bearer ") else ""
            if not secrets.compare_digest(token.encode(), api_key.encode()):
                raise ApiError(401, "missing or wrong API key (Authorization: Bearer ...)", "authentication_error")
            client = "key"
        allowed, wait = limiter.check(client)
        if not allowed:
            wait = max(1, round(wait))
            raise ApiError(429, f"too many requests: retry in {wait} s", "rate_limit_error", {"Retry-After": str(wait)})
        return client

    def run(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable as exc:
            log.warning("store unavailable: %s", exc)
            raise ApiError(503, user_message(exc), "service_unavailable", {"Retry-After": "30"}) from None
        except UserError as exc:
            raise ApiError(400, user_message(exc), "invalid_request_error") from None

    @app.get("/api/health", tags=["api"])
    def health():
        """Index version, document and chunk counts, and whether the store answers."""
        try:
            about = assistant.about()
        except StoreUnavailable as exc:
            return _error(503, user_message(exc), "service_unavailable", {"Retry-After": "30"})
        return {"status": "ok" if about.get("generation") else "no index", "store": "reachable",
                "index_version": about.get("generation", ""), "documents": about.get("documents", 0),
                "chunks": about.get("chunks", 0), "answerer": about.get("answerer", "")}

    @app.post("/api/ask", tags=["api"])
    def ask(body: AskRequest, request: Request, who: str = Depends(guard)):
        """The `assistant ask --json` contract; each citation also has `url`, where it opens, and
        `answer_id` names the answer for POST /api/feedback."""
        answer = run(assistant.ask, body.question, history=body.history)
        answer_id = f"ans_{secrets.token_hex(12)}"
        answered.keep(answer_id, f"api:{who}", answer, body.history, assistant.index_version)
        record = answer.to_json()
        links = assistant.links.rebased(str(request.base_url))
        return {**record, "citations": cited(answer, record["citations"], links), "answer_id": answer_id}

    @app.post("/api/feedback", tags=["api"])
    def vote(body: FeedbackRequest, who: str = Depends(guard)):
        """A thumbs up or down (and an optional comment) on one answer of /api/ask or /v1, by its id;
        any worker takes it. A later vote on the same answer replaces the earlier one."""
        from assistant import feedback

        try:
            found = answered.find(body.id)
            if found is None:
                raise ApiError(404, f"no answer with id {body.id!r}: use the answer_id of an /api/ask answer or "
                                    "the id of a /v1 reply (one given while the database was down is known only "
                                    "to the worker that gave it)", "not_found_error")
            answer, history, version = found
            saved = feedback.record(settings, answer, body.vote, comment=body.comment, channel="api",
                                    user=f"api:{who}", history=history, index_version=version,
                                    turn_id=f"api:{body.id}", storage=_open_storage(settings))
        except (OSError, UserError) as exc:  # StorageUnavailable is an OSError; UserError: a schema of another version
            log.warning("API feedback not saved: %s", exc)
            raise ApiError(503, "the feedback could not be saved: the database is unavailable; try again in a "
                                "minute", "service_unavailable", {"Retry-After": "30"}) from None
        return {"answer_id": body.id, "vote": saved.vote, "comment": saved.comment, "status": "recorded"}

    @app.post("/api/search", tags=["api"], dependencies=[Depends(guard)])
    def search(body: SearchRequest):
        """The `assistant search --json` contract: passages best first."""
        hits = run(assistant.search, body.question, k=body.k).hits
        return [{"id": h.id, "source": h.source, "section": h.section, "text": h.text, "score": round(h.score, 6)}
                for h in hits]

    @app.get("/v1/models", tags=["openai"], dependencies=[Depends(guard)])
    def models():
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "local"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat(body: ChatRequest, request: Request, who: str = Depends(guard)):
        """The last user message is the question, earlier user messages its history. The reply is the
        cited Markdown answer with its sources; `citations` carries them structured, and its `id` names
        the answer for POST /api/feedback."""
        users = [m.text() for m in body.messages if m.role == "user"]
        if not users or not users[-1].strip():
            raise ApiError(400, "messages: the last user message is the question, and there is none",
                           "invalid_request_error")
        answer = run(assistant.ask, users[-1], history=users[:-1])
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        answered.keep(completion_id, f"api:{who}", answer, users[:-1], assistant.index_version)
        links = assistant.links.rebased(str(request.base_url))
        content = chat_content(answer, links)
        extra = {"citations": cited(answer, answer.to_json()["citations"], links), "refused": answer.refused, "answerer": answer.answerer}
        if body.stream:
            return StreamingResponse(_stream(completion_id, created, content, extra), media_type="text/event-stream")
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}, **extra}

    return app


def _open_storage(settings):
    from assistant.storage import open_storage  # on first use: sqlalchemy stays out of the import

    return open_storage(settings)


def cited(answer, records: list[dict], links) -> list[dict]:
    """The answer's citation records, each with the `url` it opens at."""
    return [{**c, "url": links.cite(citation)} for c, citation in zip(records, answer.citations)]


def _stream(completion_id: str, created: int, content: str, extra: dict) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format. The answer is verified before the first byte, so
    what streams is what the verifier kept: line by line, then a last chunk with the citations."""
    def event(delta: dict, finish: str | None = None, **more) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in content.splitlines(keepends=True):
        yield event({"content": piece})
    yield event({}, "stop", **extra)
    yield "data: [DONE]\n\n"
