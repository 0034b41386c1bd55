"""HTTP API: versioned JSON endpoints (/api) and an OpenAI-compatible chat endpoint (/v1)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.errors import StoreUnavailable, UserError, user_message
from assistant.ratelimit import SharedRateLimiter

log = logging.getLogger(__name__)
MODEL_ID = "methodology-assistant"


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
        """Authenticate (when a key is set) and rate-limit per key, or per client address."""
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

    @app.post("/api/ask", tags=["api"], dependencies=[Depends(guard)])
    def ask(body: AskRequest, request: Request):
        """The `assistant ask --json` contract; each citation also has `url`, where it opens."""
        answer = run(assistant.ask, body.question, history=body.history)
        record = answer.to_json()
        return {**record, "citations": cited(answer, record["citations"], assistant.links.rebased(str(request.base_url)))}

    @app.post("/api/search", tags=["api"], dependencies=[Depends(guard)])
    def search(body: SearchRequest):
        """The `assistant search --json` contract: passages best first."""
        hits = run(assistant.search, body.question, k=body.k).hits
        return [{"id": h.id, "source": h.source, "section": h.section, "text": h.text, "score": round(h.score, 6)}
                for h in hits]

    @app.get("/v1/models", tags=["openai"], dependencies=[Depends(guard)])
    def models():
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "local"}]}

    @app.post("/v1/chat/completions", tags=["openai"], dependencies=[Depends(guard)])
    def chat(body: ChatRequest, request: Request):
        """The last user message is the question, earlier user messages its history. The reply is the
        cited Markdown answer with its sources; `citations` carries them structured."""
        users = [m.text() for m in body.messages if m.role == "user"]
        if not users or not users[-1].strip():
            raise ApiError(400, "messages: the last user message is the question, and there is none",
                           "invalid_request_error")
        answer = run(assistant.ask, users[-1], history=users[:-1])
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
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
