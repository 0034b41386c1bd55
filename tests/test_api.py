"""HTTP API through real clients: httpx on /api, the official `openai` SDK and LangChain's ChatOpenAI on /v1."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from assistant.errors import StoreUnavailable
from tests.conftest import free_port

pytestmark = pytest.mark.slow


@contextmanager
def running(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def server_for(assistant, **overrides):
    from ui.web import build_server

    settings = assistant.settings.model_copy(update=overrides)
    return running(build_server(assistant, settings))


@pytest.fixture(scope="module")
def url(shipped):
    with server_for(shipped, rate_limit_per_minute=0, api_rate_limit_per_minute=0) as base:
        yield base


def test_health_ask_and_search_keep_the_cli_contracts(url, shipped):
    health = httpx.get(f"{url}/api/health").json()
    assert health["status"] == "ok" and health["store"] == "reachable" and health["documents"] == 1
    assert health["index_version"] == shipped.index_version and health["chunks"] > 20
    answer = httpx.post(f"{url}/api/ask", json={"question": "Which tools are used in DevOps?"}).json()
    assert {"question", "answer", "refused", "citations", "sentences", "format"} <= set(answer)
    assert answer["answer"] == shipped.ask("Which tools are used in DevOps?").text and answer["citations"]
    # Each citation says where it opens: the app's read-only copy, at the cited passage.
    opened = httpx.get(answer["citations"][0]["url"])
    assert answer["citations"][0]["url"].startswith(f"{url}/source/") and opened.status_code == 200
    assert 'id="cited"' in opened.text
    hits = httpx.post(f"{url}/api/search", json={"question": "configuration management tools", "k": 3}).json()
    assert len(hits) == 3 and {"id", "source", "section", "text", "score"} <= set(hits[0])
    assert httpx.get(f"{url}/docs").status_code == 200 and "/v1/chat/completions" in httpx.get(
        f"{url}/openapi.json").text
    assert httpx.get(f"{url}/").status_code == 200  # the web chat is mounted beside the API


@pytest.mark.parametrize("body, status, message", [
    ({"question": "   "}, 400, "question is empty"),
    ({"question": "x" * 2500}, 400, "too long"),
    ({"history": ["no question"]}, 400, "question"),
    ({"question": "y" * 70_000}, 413, "request body over"),
])
def test_bad_requests_are_clear_json_errors(url, body, status, message):
    response = httpx.post(f"{url}/api/ask", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_openai_sdk_plain_and_streaming(url, shipped):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == ["methodology-assistant"]
    messages = [{"role": "system", "content": "be brief"},
                {"role": "user", "content": "What are the benefits of ModelOps?"},
                {"role": "assistant", "content": "(earlier answer)"},
                {"role": "user", "content": "And its challenges?"}]
    reply = client.chat.completions.create(model="methodology-assistant", messages=messages)
    content = reply.choices[0].message.content
    expected = shipped.ask("And its challenges?", history=["What are the benefits of ModelOps?"])
    assert content.startswith(expected.text) and "\n\nSources:\n[1] " in content
    assert reply.choices[0].finish_reason == "stop"
    citations = reply.model_extra["citations"]
    assert [c["n"] for c in citations] == [c.n for c in expected.citations]
    assert any("ModelOps" in c["section"] for c in citations)  # the follow-up used the earlier question
    assert all(c["url"] in content and c["url"].startswith(f"{url}/source/") for c in citations)

    stream = client.chat.completions.create(model="methodology-assistant", messages=messages, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == content
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"] == citations


def test_langchain_chat_openai_against_the_server(url):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(base_url=f"{url}/v1", api_key="unused", model="methodology-assistant")
    plain = model.invoke("Which tools are used in DevOps?").content
    streamed = "".join(chunk.content for chunk in model.stream("Which tools are used in DevOps?"))
    assert plain == streamed and "Jenkins" in plain and "Sources:" in plain


def test_refusal_comes_back_as_a_normal_reply(url):
    from openai import OpenAI

    reply = OpenAI(base_url=f"{url}/v1", api_key="unused").chat.completions.create(
        model="methodology-assistant", messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert reply.model_extra["refused"] is True and "can't find" in reply.choices[0].message.content
    assert reply.model_extra["citations"] == []


def test_small_talk_is_a_reply_without_sources(url):
    from openai import OpenAI

    client = OpenAI(base_url=f"{url}/v1", api_key="unused")
    messages = [{"role": "user", "content": "hi"}]
    reply = client.chat.completions.create(model="methodology-assistant", messages=messages)
    content = reply.choices[0].message.content
    assert content.startswith("Hello!") and "Sources:" not in content
    assert reply.model_extra["refused"] is False and reply.model_extra["citations"] == []
    stream = client.chat.completions.create(model="methodology-assistant", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == content


def test_api_key_is_required_when_set_and_limits_are_per_key(shipped):
    from openai import AuthenticationError, OpenAI, RateLimitError

    with server_for(shipped, api_key="s3cret", api_rate_limit_per_minute=2) as base:
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).models.list()
        assert httpx.post(f"{base}/api/ask", json={"question": "What is MLOps?"}).status_code == 401
        assert httpx.post(f"{base}/api/feedback", json={"answer_id": "ans_0", "vote": "up"}).status_code == 401
        good = OpenAI(base_url=f"{base}/v1", api_key="s3cret", max_retries=0)
        assert good.models.list().data and good.models.list().data
        with pytest.raises(RateLimitError) as raised:
            good.models.list()
        assert int(raised.value.response.headers["retry-after"]) >= 1
        vote = httpx.post(f"{base}/api/feedback", json={"answer_id": "ans_0", "vote": "up"},
                          headers={"Authorization": "Bearer s3cret"})
        assert vote.status_code == 429  # votes share the key's budget


def test_store_outage_is_503_with_retry_after(shipped, monkeypatch):
    with server_for(shipped, api_rate_limit_per_minute=0) as base:
        def down(*args, **kwargs):
            raise StoreUnavailable("Chroma at http://x is unreachable")

        monkeypatch.setattr(shipped, "ask", down)
        response = httpx.post(f"{base}/v1/chat/completions",
                              json={"messages": [{"role": "user", "content": "What is MLOps?"}]})
        assert response.status_code == 503 and response.headers["retry-after"] == "30"
        assert "temporarily unavailable" in response.json()["error"]["message"]


def test_web_login_form_and_document_pages_share_the_password(shipped):
    from ui.web import build_server

    with running(build_server(shipped, shipped.settings, auth="ann:s3cret")) as base:
        wrong = httpx.post(f"{base}/login", data={"username": "ann", "password": "guess"})
        right = httpx.post(f"{base}/login", data={"username": "ann", "password": "s3cret"})
        assert wrong.status_code >= 400 and right.status_code == 200 and right.cookies
        document = "/source/mlops-devops-modelops.md"
        assert httpx.get(base + document).status_code == 401
        assert httpx.get(base + document, auth=("ann", "s3cret")).status_code == 200


# -- feedback: POST /api/feedback on the answers of /api/ask and /v1 -------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request, shipped, tmp_path):
    """Two API workers (separate apps, each with its own memory) on one database: a SQLite file, or a
    database on the session's PostgreSQL server. Yields (settings, url of worker 1, url of worker 2)."""
    from ui.api import create_api

    database = "" if request.param == "sqlite" else request.getfixturevalue("postgres").create_database()
    settings = shipped.settings.model_copy(update={"data_dir": tmp_path / "data", "database_url": database,
                                                   "api_rate_limit_per_minute": 0})
    with running(create_api(shipped, settings)) as one, running(create_api(shipped, settings)) as two:
        yield settings, one, two


def test_a_vote_on_worker_2_rates_the_answer_worker_1_gave(workers, shipped):
    from openai import OpenAI

    from tests.conftest import feedback_rows

    settings, one, two = workers
    asked = httpx.post(f"{one}/api/ask", json={"question": "Which tools are used in DevOps?"}).json()
    assert asked["answer_id"].startswith("ans_") and asked["answer"]
    voted = httpx.post(f"{two}/api/feedback", json={"answer_id": asked["answer_id"], "vote": "down"})
    assert voted.status_code == 200, voted.text
    assert voted.json() == {"answer_id": asked["answer_id"], "vote": "down", "comment": "", "status": "recorded"}
    # A changed mind with a comment replaces that vote; turn_id is another name for the id.
    again = httpx.post(f"{one}/api/feedback", json={"turn_id": asked["answer_id"], "vote": "up",
                                                    "comment": "  named the tools  "})
    assert again.status_code == 200 and again.json()["comment"] == "named the tools"

    # An OpenAI client's reply is rated by its `id`, streamed or not.
    reply = OpenAI(base_url=f"{one}/v1", api_key="unused").chat.completions.create(
        model="methodology-assistant", messages=[{"role": "user", "content": "What are the benefits of ModelOps?"},
                                                 {"role": "user", "content": "And its challenges?"}])
    assert reply.id.startswith("chatcmpl-")
    assert httpx.post(f"{two}/api/feedback", json={"answer_id": reply.id, "vote": "down"}).status_code == 200

    rows = feedback_rows(settings)
    assert [(r["question"], r["vote"], r["comment"], r["channel"], r["user"]) for r in rows] == [
        ("Which tools are used in DevOps?", "up", "named the tools", "api", "api:127.0.0.1"),
        ("And its challenges?", "down", "", "api", "api:127.0.0.1")]
    devops = shipped.ask("Which tools are used in DevOps?")
    assert rows[0]["answer"] == devops.text
    assert [c["id"] for c in rows[0]["citations"]] == [c.id for c in devops.citations]
    assert rows[1]["history"] == ["What are the benefits of ModelOps?"]
    assert rows[0]["index_version"] == shipped.index_version and rows[0]["turn_id"] == f"api:{asked['answer_id']}"


@pytest.mark.parametrize("body, status, message", [
    ({"answer_id": "ans_0123456789abcdef01234567"}, 400, "vote: Field required"),
    ({"answer_id": "ans_0123456789abcdef01234567", "vote": "meh"}, 400, "vote: Input should be 'up' or 'down'"),
    ({"vote": "up"}, 400, "answer_id is required"),
    ({"answer_id": "ans_0123456789abcdef01234567", "turn_id": "ans_x", "vote": "up"}, 400, "two different answers"),
    ({"answer_id": "ans_0123456789abcdef01234567", "vote": "up", "coment": "typo"}, 400, "coment: Extra inputs"),
    ({"answer_id": "ans_0123456789abcdef01234567", "vote": "up", "comment": "x" * 2001}, 400, "comment: String should"),
    ({"answer_id": "ans_0123456789abcdef01234567", "vote": "up"}, 404, "no answer with id"),
    ({"answer_id": "slack:C1:1.2:U1#1", "vote": "up"}, 404, "no answer with id"),  # only the API's own answers
])
def test_bad_votes_are_clear_json_errors(url, body, status, message):
    response = httpx.post(f"{url}/api/feedback", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]


def test_an_answer_the_database_missed_is_rated_on_its_own_worker_only(workers, monkeypatch):
    from assistant.storage import StorageUnavailable, open_storage
    from tests.conftest import feedback_rows

    settings, one, two = workers

    def down(*args, **kwargs):
        raise StorageUnavailable("the database at test is unavailable: connection refused")

    monkeypatch.setattr(open_storage(settings), "save_turn", down)
    asked = httpx.post(f"{one}/api/ask", json={"question": "What is MLOps?"})
    assert asked.status_code == 200 and asked.json()["answer"]  # answering does not need the database
    monkeypatch.undo()
    answer_id = asked.json()["answer_id"]
    assert httpx.post(f"{two}/api/feedback", json={"answer_id": answer_id, "vote": "up"}).status_code == 404
    assert httpx.post(f"{one}/api/feedback", json={"answer_id": answer_id, "vote": "up"}).status_code == 200
    assert [(r["question"], r["channel"]) for r in feedback_rows(settings)] == [("What is MLOps?", "api")]


def test_a_database_that_is_down_is_503_for_votes_and_costs_no_answer(shipped, tmp_path, caplog):
    from ui.api import create_api

    down = shipped.settings.model_copy(update={
        "data_dir": tmp_path / "data", "api_rate_limit_per_minute": 5,
        "database_url": f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"})
    with running(create_api(shipped, down)) as base:
        asked = httpx.post(f"{base}/api/ask", json={"question": "What is MLOps?"})
        assert asked.status_code == 200 and asked.json()["answer_id"]
        for answer_id in (asked.json()["answer_id"], "ans_0123456789abcdef01234567"):
            voted = httpx.post(f"{base}/api/feedback", json={"answer_id": answer_id, "vote": "down"})
            assert voted.status_code == 503 and voted.headers["retry-after"] == "30"
            assert "could not be saved: the database is unavailable" in voted.json()["error"]["message"]
        assert httpx.post(f"{base}/api/ask", json={"question": "What is DataOps?"}).status_code == 200
    assert "Traceback" not in caplog.text and "API feedback not saved" in caplog.text
