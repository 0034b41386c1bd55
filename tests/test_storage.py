"""Storage: the same tests on the embedded SQLite file and on a real PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, update

from assistant import database, feedback, storage as storage_module
from assistant.config import PROJECT_ROOT
from assistant.database import make_engine
from assistant.errors import UserError
from assistant.storage import Feedback, Storage, StorageUnavailable, open_storage
from assistant.types import Answer, Citation
from tests.conftest import feedback_rows, make_settings

@pytest.fixture
def url(database_url) -> str:
    return database_url  # SQLite and PostgreSQL (tests/conftest.py)


@pytest.fixture
def store(url):
    opened = Storage(make_engine(url))
    yield opened
    opened.engine.dispose()


@pytest.fixture
def settings(tmp_path, url):
    return make_settings(tmp_path, database_url="" if url.startswith("sqlite") else url)


def answer(question: str = "What is continuous delivery?", n: int = 1) -> Answer:
    return Answer(question=question, text=f"Releasing often, safely. [{n}]", refused=False,
                  citations=(Citation(n=n, id=f"a.md#{n}", source="a.md", title="A", section="Intro",
                                      text="Releasing often."),))


def vote(i: int, **fields) -> Feedback:
    return Feedback(**{"question": f"q{i}", "answer": "a", "vote": "down", "turn_id": f"t{i}", **fields})


def test_the_schema_is_created_once_and_versioned(store, url):
    store.check()
    assert store.status()["schema_version"] == database.SCHEMA_VERSION
    again = Storage(make_engine(url))
    again.check()  # an existing database at this version opens as it is
    with store.engine.begin() as conn:
        conn.execute(insert(database.schema_version).values(version=database.SCHEMA_VERSION + 1,
                                                            applied_at=database.utcnow()))
    with pytest.raises(UserError, match="newer than this release"):
        Storage(make_engine(url)).check()
    again.engine.dispose()


def test_an_older_schema_is_refused_until_the_upgrade_step(store, url, monkeypatch):
    store.check()
    with store.engine.begin() as conn:
        conn.execute(update(database.schema_version).values(version=0))
    with pytest.raises(UserError, match="run `assistant data upgrade`"):
        Storage(make_engine(url)).check()
    ran = []
    monkeypatch.setitem(database.UPGRADES, 0, lambda conn: ran.append(conn.dialect.name))
    assert Storage(make_engine(url)).upgrade() == (0, database.SCHEMA_VERSION)
    assert ran == [store.dialect]
    Storage(make_engine(url)).check()


def test_a_later_vote_on_the_same_turn_replaces_the_earlier(settings):
    first = answer()
    feedback.record(settings, first, "up", turn_id="c1:0")
    feedback.record(settings, first, "down", comment=" misses costs ", turn_id="c1:0", history=["earlier?"])
    feedback.record(settings, answer("Who deploys?"), "down")  # no turn id: never replaced
    feedback.record(settings, answer("Who deploys?"), "down")
    rows = feedback.entries(settings)
    assert [(r.vote, r.comment, r.turn_id) for r in rows] == [("down", "misses costs", "c1:0"), ("down", "", ""),
                                                             ("down", "", "")]
    assert rows[0].history == ["earlier?"] and rows[0].citations == [{"n": 1, "id": "a.md#1", "source": "a.md",
                                                                      "section": "Intro"}]
    candidates = feedback.export_candidates(settings)
    assert [(c["question"], c.get("note"), c.get("history")) for c in candidates] == [
        ("What is continuous delivery?", "misses costs", ["earlier?"]), ("Who deploys?", None, None)]


def test_the_old_jsonl_log_is_imported_once(settings):
    log = feedback.feedback_path(settings)
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"question": "q1", "answer": "a", "vote": "up", "turn_id": "c1:0", "at": "2024-05-01T10:00:00Z"},
             {"question": "q1", "answer": "a", "vote": "down", "turn_id": "c1:0", "comment": "wrong"},
             {"question": "q2", "answer": "b", "vote": "down", "user": "U1", "history": ["q0"]},
             {"vote": "up"}]  # not a vote: skipped
    log.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"question": "cut sho')
    assert [(r["question"], r["vote"], r["comment"]) for r in feedback_rows(settings)] == [
        ("q1", "down", "wrong"), ("q2", "down", "")]
    assert not log.exists() and log.with_name("feedback.jsonl.imported").exists()
    feedback.record(settings, answer(), "up")
    assert len(feedback.entries(settings)) == 3  # not imported again
    # A process that died between the import and the rename: the next one finishes without doubles.
    log.with_name("feedback.jsonl.imported").rename(log.with_name("feedback.jsonl.importing"))
    assert len(feedback.entries(settings)) == 3
    assert log.with_name("feedback.jsonl.imported").exists()


def test_conversations_are_saved_listed_reopened_and_kept_to_their_owner(store):
    first = store.save_turn("c1", "ann", answer(), index_version="v1")
    second = store.save_turn("c1", "ann", answer("And its costs?", 2), history=["What is continuous delivery?"])
    store.save_turn("c2", "bob", answer("Who deploys?"))
    assert (first.n, second.n) == (1, 2)
    [listed] = store.list_conversations("ann")
    assert (listed.id, listed.title, listed.turns) == ("c1", "What is continuous delivery?", 2)
    conversation, turns = store.load_conversation("c1", "ann")
    assert [t.question for t in turns] == ["What is continuous delivery?", "And its costs?"]
    assert turns[1].to_answer() == answer("And its costs?", 2) and turns[1].history == ["What is continuous delivery?"]
    assert turns[0].index_version == "v1" and turns[0].answer.endswith("[1]")
    assert store.load_conversation("c1", "bob") is None
    with pytest.raises(ValueError, match="another owner"):
        store.save_turn("c1", "bob", answer())
    assert not store.delete_conversation("c1", "bob") and store.delete_conversation("c1", "ann")
    assert store.load_conversation("c1", "ann") is None and store.load_turn("c1", 1) is None


def test_turns_of_one_conversation_from_many_threads_are_numbered_once(store):
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: store.save_turn("busy", "ann", answer(f"q{i}")).n, range(40)))
    assert sorted(numbers) == list(range(1, 41))


@pytest.mark.slow
def test_each_of_200_deliveries_claimed_3_times_from_threads_has_exactly_one_winner(store):
    events = [f"Ev{i:04d}" for i in range(200)] * 3

    def claim(event):
        return event, store.claim([event, f"C1/{event}.000"])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(claim, events))
    winners = [event for event, won in results if won]
    assert len(winners) == 200 and set(winners) == set(events)
    assert store.status()["slack_deliveries"] == 400


VOTER = """
import sys, threading
from assistant.database import make_engine
from assistant.storage import Feedback, Storage
url, name, per_thread = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Storage(make_engine(url))
def run(t):
    for i in range(per_thread):
        store.add_feedback([Feedback(question=f"q {name} {t} {i}", answer="a", vote="down", turn_id=f"{name}:{t}:{i}")])
threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


@pytest.mark.slow
def test_1000_votes_from_threads_and_two_processes_are_1000_rows(store, url, capsys):
    store.check()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", VOTER, url, f"p{p}", "100"], env=env,
                                  stderr=subprocess.PIPE, text=True) for p in range(2)]  # 2 x 4 threads x 100
    with ThreadPoolExecutor(4) as pool:  # and 4 threads x 50 here
        list(pool.map(lambda i: store.add_feedback([vote(i)]), range(200)))
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    rows = store.feedback_entries()
    assert len(rows) == 1000 and len({r.turn_id for r in rows}) == 1000
    with capsys.disabled():
        print(f"\n[{store.dialect}] 1,000 votes from 4 threads here and 2 processes x 4 threads: "
              f"{time.perf_counter() - started:.2f} s (process start included)")


def test_the_rate_limit_is_shared_and_slides(url):
    one, two = Storage(make_engine(url)), Storage(make_engine(url))  # two replicas
    start = (time.time() // 60 + 1) * 60  # 0 s into the next minute (older counters are swept)
    assert [s.allow("slack:U1", 3, now=start + i)[0] for i, s in enumerate((one, two, one))] == [True] * 3
    allowed, wait = two.allow("slack:U1", 3, now=start + 10)
    assert not allowed and 50 <= wait <= 60
    assert one.allow("slack:U2", 3, now=start + 10)[0]  # per key
    # 65 s on, half of the first 10 s (which held all 3) is still within the minute: one more fits.
    assert one.allow("slack:U1", 3, now=start + 65)[0] and not two.allow("slack:U1", 3, now=start + 65)[0]
    assert [two.allow("slack:U1", 3, now=start + 75)[0] for _ in range(3)] == [True, True, False]
    assert one.allow("slack:U1", 0)[0]  # 0: off
    for s in (one, two):
        s.engine.dispose()


def test_purge_by_date_and_by_user(store, monkeypatch):
    old = datetime(2024, 1, 10)
    monkeypatch.setattr(storage_module, "utcnow", lambda: old)
    store.save_turn("old-ann", "ann", answer())
    store.save_turn("old-bob", "bob", answer())
    store.claim(["EvOLD"])
    monkeypatch.undo()
    store.save_turn("new-ann", "ann", answer())
    store.save_turn("new-bob", "bob", answer())
    store.add_feedback([vote(1, user="ann", at="2024-01-10T00:00:00Z"), vote(2, user="ann"),
                        vote(3, user="bob", at="2024-01-10T00:00:00Z"), vote(4, user="bob")])

    cutoff = datetime(2024, 6, 1)
    dry = store.purge(before=cutoff, dry_run=True)
    assert (dry.conversations, dry.turns, dry.feedback, dry.deliveries) == (2, 2, 2, 1)
    assert store.status()["conversations"] == 4  # a dry run deletes nothing
    assert store.purge(before=cutoff) == dry
    assert {c.id for c in store.list_conversations("ann") + store.list_conversations("bob")} == {"new-ann", "new-bob"}

    forgotten = store.purge(user="ann")
    assert (forgotten.conversations, forgotten.turns, forgotten.feedback) == (1, 1, 1)
    assert store.list_conversations("ann") == [] and [f.user for f in store.feedback_entries()] == ["bob"]
    assert store.list_conversations("bob")[0].id == "new-bob"
    with pytest.raises(ValueError):
        store.purge()


def test_retention_settings_drop_what_is_older(url):
    store = Storage(make_engine(url), conversation_days=30)  # feedback: kept forever
    store.save_turn("c-new", "ann", answer())
    store.add_feedback([vote(1, at="2020-01-01T00:00:00Z")])
    later = database.utcnow() + timedelta(days=31)
    assert store.apply_retention(now=later, dry_run=True).conversations == 1
    done = store.apply_retention(now=later)
    assert (done.conversations, done.turns, done.feedback) == (1, 1, 0)
    assert len(store.feedback_entries()) == 1
    store.engine.dispose()


def test_data_purge_and_feedback_export_commands(settings, monkeypatch, tmp_path, capsys):
    from ui.cli import main

    if settings.database_url:
        monkeypatch.setenv("ASSISTANT_DATABASE_URL", settings.database_url)
    feedback.record(settings, answer(), "down", user="U42", comment="too short")
    assert main(["feedback", "export", "--out", str(tmp_path / "fb.jsonl")]) == 0
    [line] = [json.loads(x) for x in (tmp_path / "fb.jsonl").read_text().splitlines()]
    assert line["question"] == "What is continuous delivery?" and line["note"] == "too short"
    assert main(["data", "purge", "--user", "U42", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["feedback"] == 1
    assert main(["data", "purge", "--user", "U42"]) == 0
    assert "deleted 0 conversations (0 turns), 1 feedback entries" in capsys.readouterr().out
    assert main(["data", "purge", "--before", "2000-01-01"]) == 0
    assert main(["data", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["feedback"] == 0
    assert "assistant data purge --user" in subprocess.run([sys.executable, "-m", "assistant", "data", "purge", "-h"],
                                                           capture_output=True, text=True).stdout


@pytest.mark.slow
def test_a_vote_costs_the_same_at_100000_stored_votes(store, capsys):
    def ten_votes(offset: int) -> float:
        started = time.perf_counter()
        for i in range(10):
            store.add_feedback([vote(offset + i, turn_id=f"timed-{offset + i}")])
        return time.perf_counter() - started

    store.add_feedback([vote(-1)])  # tables created, connection pooled
    empty = min(ten_votes(0), ten_votes(10))
    rows = [{"turn_key": f"bulk-{i}", "question": f"bulk question {i}", "answer": "a", "vote": "up", "comment": "",
             "refused": False, "channel": "web", "user": f"U{i % 977}", "citations": [], "history": [],
             "index_version": "", "at": database.utcnow()} for i in range(100_000)]
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(insert(database.feedback), rows)
    loaded = time.perf_counter() - started
    full = min(ten_votes(20), ten_votes(30))
    with capsys.disabled():
        print(f"\n[{store.dialect}] 10 votes: {empty * 1000:.1f} ms at 0 rows, {full * 1000:.1f} ms at 100,000 rows "
              f"(bulk insert of 100,000: {loaded:.1f} s)")
    assert store.status()["feedback"] == 100_041
    assert full < 5 * empty + 0.05, (empty, full)


@pytest.mark.slow
def test_a_stopped_server_is_a_typed_error_and_writes_resume_after_restart(postgres, tmp_path):
    url = postgres.create_database()
    store = Storage(make_engine(url), cooldown_s=0.2)
    settings = make_settings(tmp_path, database_url=url)
    feedback.record(settings, answer(), "up", storage=store)
    postgres.stop()
    try:
        for write in (lambda: feedback.record(settings, answer(), "down", storage=store),
                      lambda: store.save_turn("c1", "ann", answer()), lambda: store.claim(["EvDOWN"]),
                      lambda: store.allow("slack:U1", 5), store.feedback_entries):
            with pytest.raises(StorageUnavailable, match="is unavailable"):
                write()
        assert isinstance(StorageUnavailable("x"), OSError)  # the faces' "could not be saved" path
    finally:
        postgres.start()
    time.sleep(0.3)  # the cool-down after an outage
    feedback.record(settings, answer(), "down", storage=store, turn_id="after")
    assert store.save_turn("c1", "ann", answer()).n == 1 and store.claim(["EvDOWN"])
    assert [e.vote for e in store.feedback_entries()] == ["up", "down"]
    store.engine.dispose()


def durable(url: str) -> str:
    """The database with synchronous commits: the session's server runs with synchronous_commit off
    (fast, but a killed server may lose the last commits), and these tests count what a kill keeps."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {parsed.database} SET synchronous_commit = on")
    return url


@pytest.mark.slow
def test_a_write_outlasts_a_server_restart_and_says_it_retried(postgres, caplog):
    store = Storage(make_engine(durable(postgres.create_database())), write_retries_s=(0.5, 1.0, 2.0, 4.0))
    store.add_feedback([vote(0)])
    postgres.stop("immediate")
    restart = threading.Timer(0.3, postgres.start)
    restart.start()
    try:
        with caplog.at_level("WARNING", logger="assistant.storage"):
            started = time.perf_counter()
            store.add_feedback([vote(1)])  # acknowledged only once it is in
            took = time.perf_counter() - started
    finally:
        restart.join()
    assert took >= 0.3 and [e.turn_id for e in store.feedback_entries()] == ["t0", "t1"]
    assert any("saving feedback failed, retrying in" in r.getMessage() for r in caplog.records)
    store.engine.dispose()


@pytest.mark.slow
def test_inside_the_cool_down_a_write_fails_at_once_and_the_retries_are_bounded(postgres):
    store = Storage(make_engine(postgres.create_database()), cooldown_s=30)
    assert store.write_retries_s == storage_module.WRITE_RETRIES_S
    store.add_feedback([vote(0)])
    postgres.stop()
    try:
        started = time.perf_counter()
        with pytest.raises(StorageUnavailable):
            store.add_feedback([vote(1)])
        first = time.perf_counter() - started
        started = time.perf_counter()
        with pytest.raises(StorageUnavailable, match="retried within 30 s"):
            store.save_turn("c1", "ann", answer())
        second = time.perf_counter() - started
    finally:
        postgres.start()
    assert sum(storage_module.WRITE_RETRIES_S) <= first < sum(storage_module.WRITE_RETRIES_S) + 3
    assert second < 0.2  # the database is known to be down: no connection attempt, no retry
    store.engine.dispose()


@pytest.mark.slow
def test_every_vote_acknowledged_while_the_server_is_killed_is_kept(postgres):
    """Writers keep voting while PostgreSQL is killed (pg_ctl stop -m immediate) and restarted: each
    vote either raised (the user is told it was not saved) or is in the database afterwards."""
    store = Storage(make_engine(durable(postgres.create_database())), cooldown_s=0.2)
    store.check()
    acknowledged, refused, stop = [], [], threading.Event()

    def writer(w: int):
        for i in itertools.count():
            if stop.is_set():
                return
            try:
                store.add_feedback([vote(i, turn_id=f"w{w}:{i}")])
                acknowledged.append(f"w{w}:{i}")
            except StorageUnavailable:
                refused.append(f"w{w}:{i}")
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        postgres.stop("immediate")
        time.sleep(1.5)
    finally:
        postgres.start()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join(30)
    kept = {e.turn_id for e in store.feedback_entries()}
    assert acknowledged and refused, (len(acknowledged), len(refused))
    assert set(acknowledged) <= kept, sorted(set(acknowledged) - kept)[:10]
    store.engine.dispose()


def test_sqlite_writes_wait_on_the_busy_timeout_not_on_retries(tmp_path):
    assert Storage(make_engine(f"sqlite:///{tmp_path / 'a.db'}")).write_retries_s == ()


def test_an_unusable_sqlite_location_is_a_typed_error(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    with pytest.raises(StorageUnavailable):
        feedback.record(make_settings(tmp_path).model_copy(update={"data_dir": blocked}), answer(), "up")


def test_bad_database_urls_are_one_line_errors():
    with pytest.raises(UserError, match="not supported"):
        make_engine("mysql://u@localhost/db")
    with pytest.raises(UserError, match="not a database URL"):
        make_engine("::nonsense")
    assert make_engine("postgresql://u@localhost/db").dialect.driver == "psycopg"


def test_one_engine_per_database_in_a_process(tmp_path):
    settings = make_settings(tmp_path)
    assert open_storage(settings) is open_storage(settings.model_copy())
    assert open_storage(settings).where.endswith("data/assistant.db")
