"""Storage: what the faces keep in the shared database (conversations, feedback, Slack claims, rate counters)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from assistant import database as m
from assistant.database import (BUCKET_S, WINDOW_S, Conversation, Feedback, Purged, StorageUnavailable, Turn, database_url,
                                make_engine)
from assistant.retention import Retention
from assistant.types import Answer

__all__ = ["Conversation", "Feedback", "Purged", "Storage", "StorageUnavailable", "Turn", "open_storage"]

log = logging.getLogger(__name__)

# After a PostgreSQL outage, calls fail at once for this long instead of each waiting out the connect
# timeout (Slack wants its acknowledgement within 3 s).
COOLDOWN_S = 5.0
# A vote or a turn whose write fails on the connection (a server restarting, a failover, a dropped
# connection) is tried again after these waits before the caller hears it could not be saved; bounded,
# so a user waits at most about a second more. Callers acknowledge only what committed.
WRITE_RETRIES_S = (0.25, 0.75)
# SQLite waits out a busy lock itself (its busy timeout), but under load it may refuse one at once; such a
# write is tried again after these waits.
LOCK_RETRIES_S = (0.05, 0.25, 1.0)


class Storage(Retention):
    """One database, shared by every face and replica. Every method is one transaction; a database
    that is down raises StorageUnavailable and a later call tries again."""

    def __init__(self, engine, *, conversation_days: int = 0, feedback_days: int = 0, replica: str = "",
                 cooldown_s: float = COOLDOWN_S, write_retries_s: tuple[float, ...] | None = None):
        self.engine, self.dialect = engine, engine.dialect.name
        self.where = engine.url.render_as_string(hide_password=True)
        self.conversation_days, self.feedback_days = conversation_days, feedback_days
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}"
        self.cooldown_s, self._down_until, self._down_why = cooldown_s, 0.0, ""
        # SQLite's busy timeout is its wait already; a server's restart or failover is what a retry outlasts.
        if write_retries_s is None:
            write_retries_s = WRITE_RETRIES_S if self.dialect == "postgresql" else ()
        self.write_retries_s = tuple(write_retries_s)
        self._ready, self._lock, self._next_sweep = False, threading.Lock(), 0.0

    @contextmanager
    def _errors(self):
        try:
            yield
        except (StorageUnavailable, IntegrityError, ProgrammingError, DataError):
            raise  # a conflict the caller expects, or a bug: not an outage
        except (DBAPIError, PoolTimeout, OSError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
            if self.dialect == "postgresql":  # a server that does not answer: fail fast for a while
                self._down_until, self._down_why = time.monotonic() + self.cooldown_s, reason
            raise StorageUnavailable(f"the database at {self.where} is unavailable: {reason}") from exc

    def check(self, *, retrying: bool = False) -> None:
        """Create the tables on first use; raise UserError for a schema of another version."""
        if not retrying and time.monotonic() < self._down_until:
            refused = StorageUnavailable(f"the database at {self.where} is unavailable (retried within "
                                         f"{self.cooldown_s:g} s): {self._down_why}")
            refused.cooling = True
            raise refused
        if self._ready:
            return
        with self._lock, self._errors():
            if not self._ready:
                if self.dialect == "sqlite" and self.engine.url.database:
                    Path(self.engine.url.database).parent.mkdir(parents=True, exist_ok=True)
                with self.engine.begin() as conn:
                    m.ensure_schema(conn)
                self._ready = True

    @contextmanager
    def _begin(self, *, retrying: bool = False):
        self.check(retrying=retrying)
        with self._errors(), self.engine.begin() as conn:
            yield conn

    def _write(self, work, what: str):
        """`work(conn)` in one transaction. A write that finds the database unreachable is tried again
        after each of `write_retries_s` (past the outage cool-down, which would refuse it at once), then
        the error goes to the caller, who tells the user it was not saved. Inside a cool-down that
        another call started, it fails at once: the database is known to be down. On SQLite only a lock
        refused at once is tried again (after each of LOCK_RETRIES_S): a busy timeout waits for the rest."""
        retrying, sqlite = False, self.dialect == "sqlite"
        for wait in (*(LOCK_RETRIES_S if sqlite else self.write_retries_s), None):
            try:
                with self._begin(retrying=retrying) as conn:
                    done = work(conn)
                if retrying:
                    self._down_until = 0.0  # it answers again: other calls need not wait out the cool-down
                return done
            except StorageUnavailable as exc:
                if wait is None or (not retrying and exc.cooling) or (sqlite and "locked" not in str(exc)):
                    raise
                log.warning("%s failed, retrying in %.2f s: %s", what, wait, exc)
                time.sleep(wait)
                retrying = True

    def _upsert(self, table):
        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)

    # Feedback -------------------------------------------------------------------------------------
    def add_feedback(self, entries: Iterable[Feedback]) -> None:
        """Insert votes; one whose turn_id was voted before replaces that row (its id and place stay)."""
        rows = [{"turn_key": e.turn_id or None, "question": e.question, "answer": e.answer, "vote": e.vote,
                 "comment": e.comment, "refused": e.refused, "channel": e.channel, "user": e.user,
                 "citations": list(e.citations), "history": list(e.history), "index_version": e.index_version,
                 "at": _parse_at(e.at)} for e in entries]

        def work(conn):
            for row in rows:
                stmt = self._upsert(m.feedback).values(**row)
                if row["turn_key"] is not None:
                    stmt = stmt.on_conflict_do_update(index_elements=[m.feedback.c.turn_key],
                                                      set_={k: stmt.excluded[k] for k in row if k != "turn_key"})
                conn.execute(stmt)

        self._write(work, "saving feedback")
        self._sweep()

    def feedback_entries(self, vote: str | None = None) -> list[Feedback]:
        """Votes in the order they were first given."""
        query = select(m.feedback).order_by(m.feedback.c.id)
        if vote:
            query = query.where(m.feedback.c.vote == vote)
        with self._begin() as conn:
            rows = conn.execute(query).mappings().all()
        return [Feedback(question=r["question"], answer=r["answer"], vote=r["vote"], citations=r["citations"],
                         refused=r["refused"], comment=r["comment"], channel=r["channel"], user=r["user"],
                         history=r["history"], index_version=r["index_version"], turn_id=r["turn_key"] or "",
                         at=r["at"].strftime("%Y-%m-%dT%H:%M:%SZ")) for r in rows]

    # Conversations --------------------------------------------------------------------------------
    def save_turn(self, conversation_id: str, owner: str, answer: Answer, *, history: Iterable[str] = (),
                  index_version: str = "", title: str = "") -> Turn:
        """Append an answered turn (numbered 1, 2, ...), creating the conversation on its first turn.
        Raises ValueError when the conversation belongs to another owner."""
        record, history = answer.to_json(), list(history)

        def work(conn) -> dict:
            now = utcnow()
            found = conn.execute(select(m.conversations.c.owner)
                                 .where(m.conversations.c.id == conversation_id)).scalar()
            if found is None:
                conn.execute(insert(m.conversations).values(
                    id=conversation_id, owner=owner, title=(title or answer.question)[:200], created=now,
                    updated=now))
            elif found != owner:
                raise ValueError(f"conversation {conversation_id} belongs to another owner")
            else:
                # A title given later wins ("hi" first, then the first question for the documents).
                conn.execute(update(m.conversations).where(m.conversations.c.id == conversation_id)
                             .values(updated=now, **({"title": title[:200]} if title else {})))
            n = 1 + (conn.execute(select(func.max(m.turns.c.n))
                                  .where(m.turns.c.conversation_id == conversation_id)).scalar() or 0)
            row = {"conversation_id": conversation_id, "n": n, "question": answer.question,
                   "answer": answer.text, "citations": record["citations"], "refused": answer.refused,
                   "history": history, "record": record, "index_version": index_version, "created": now}
            conn.execute(insert(m.turns).values(**row))
            return row

        for _ in range(5):  # two writers took the same id or number at once: the loser reads again
            try:
                row = self._write(work, f"saving a turn of {conversation_id}")
                break
            except IntegrityError:
                continue
        else:
            raise StorageUnavailable(f"the database at {self.where} kept refusing turn {conversation_id}")
        self._sweep()
        return Turn(**row)

    def list_conversations(self, owner: str, limit: int = 50) -> list[Conversation]:
        """The owner's conversations, most recently updated first, with their number of turns."""
        c, t = m.conversations, m.turns
        count = select(func.count()).where(t.c.conversation_id == c.c.id).scalar_subquery()
        query = select(c, count.label("turns")).where(c.c.owner == owner).order_by(c.c.updated.desc()).limit(limit)
        with self._begin() as conn:
            return [Conversation(**r) for r in conn.execute(query).mappings()]

    def load_conversation(self, conversation_id: str, owner: str) -> tuple[Conversation, list[Turn]] | None:
        """The conversation and its turns in order; None when it is gone or is someone else's."""
        with self._begin() as conn:
            head = conn.execute(select(m.conversations).where(m.conversations.c.id == conversation_id,
                                                              m.conversations.c.owner == owner)).mappings().first()
            if head is None:
                return None
            rows = conn.execute(select(m.turns).where(m.turns.c.conversation_id == conversation_id)
                                .order_by(m.turns.c.n)).mappings().all()
        return Conversation(**head, turns=len(rows)), [Turn(**r) for r in rows]

    def load_turn(self, conversation_id: str, n: int) -> Turn | None:
        with self._begin() as conn:
            row = conn.execute(select(m.turns).where(m.turns.c.conversation_id == conversation_id,
                                                     m.turns.c.n == n)).mappings().first()
        return Turn(**row) if row else None

    def delete_conversation(self, conversation_id: str, owner: str) -> bool:
        with self._begin() as conn:
            mine = select(m.conversations.c.id).where(m.conversations.c.id == conversation_id,
                                                      m.conversations.c.owner == owner)
            conn.execute(delete(m.turns).where(m.turns.c.conversation_id.in_(mine)))
            return conn.execute(delete(m.conversations).where(m.conversations.c.id.in_(mine))).rowcount > 0

    # Slack deliveries and rate limits -------------------------------------------------------------
    def claim(self, keys: Iterable[str]) -> bool:
        """True for the one caller, in any replica, that inserts these delivery keys first."""
        now = utcnow()
        rows = [{"event_id": k, "claimed_at": now, "claimed_by": self.replica} for k in sorted(set(keys)) if k]
        try:
            with self._begin() as conn:  # sorted: two replicas never wait on each other in opposite orders
                conn.execute(insert(m.slack_deliveries), rows)
        except IntegrityError:
            return False
        self._sweep()
        return True

    def allow(self, key: str, per_minute: int, now: float | None = None) -> tuple[bool, float]:
        """(allowed, seconds to wait): at most `per_minute` in any minute for `key`, across replicas.
        Counters per 10 s bucket; the minute is the buckets inside it, the oldest weighed by its share.
        Past buckets no longer change, so one conditional upsert of the current one decides atomically."""
        if per_minute <= 0:
            return True, 0.0
        c = m.rate_counters
        given = now

        def decide(conn):
            # The clock is read once the transaction holds its lock (SQLite's BEGIN IMMEDIATE), so that
            # requests are counted in the order they decide; and a bucket later than this request's own
            # (another process whose clock, or request, ran ahead, across a 10 s boundary) counts whole:
            # leaving it out admitted one request over the budget.
            now = time.time() if given is None else given
            start = int(now // BUCKET_S) * BUCKET_S
            counts = dict(conn.execute(select(c.c.window_start, c.c.count).where(
                c.c.key == key, c.c.window_start >= start - WINDOW_S, c.c.window_start != start)).all())
            cap = per_minute - sum(n * _inside(b, now) for b, n in counts.items())  # room left in this bucket
            stmt = self._upsert(c).values(key=key, window_start=start, count=1)
            got = conn.execute(stmt.on_conflict_do_update(
                index_elements=[c.c.key, c.c.window_start], set_={"count": c.c.count + 1},
                where=c.c.count + 1 <= cap).returning(c.c.count)).scalar() if cap >= 1 else None
            current = 0 if got else conn.execute(select(c.c.count).where(c.c.key == key,
                                                                          c.c.window_start == start)).scalar() or 0
            return now, start, counts, cap, got, current

        # A lock SQLite refused at once is tried again (_write): the caller's fallback, this process's own
        # count, would admit what the shared count refuses (41 of 40 on a starved CI machine).
        now, start, counts, cap, got, current = self._write(decide, "rate limit check")
        self._sweep()
        if got is not None:
            return True, 0.0
        # Wait until enough of the oldest hits have left the minute (a bucket's leave over its 10 s).
        need = current + 1 - cap
        for bucket, n in sorted({**counts, start: current}.items()):
            weight = n * _inside(bucket, now) if bucket < start else n
            if weight >= need:
                return False, max(1.0, min(float(WINDOW_S), bucket + WINDOW_S + BUCKET_S * need / n - now))
            need -= weight
        return False, float(WINDOW_S)

    # Operations -----------------------------------------------------------------------------------
    def upgrade(self) -> tuple[int | None, int]:
        with self._errors(), self.engine.begin() as conn:
            return m.upgrade(conn)

    def status(self) -> dict:
        with self._begin() as conn:
            counts = {table.name: conn.execute(select(func.count()).select_from(table)).scalar()
                      for table in m.metadata.sorted_tables if table is not m.schema_version}
            return {"database": self.where, "schema_version": m.stored_version(conn), **counts}


def _inside(bucket: int, now: float) -> float:
    """The share of a rate bucket's hits still within the minute before `now`."""
    return min(1.0, (bucket + BUCKET_S - (now - WINDOW_S)) / BUCKET_S)


def utcnow() -> datetime:
    return m.utcnow()


def _parse_at(at: str) -> datetime:
    try:
        return datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return utcnow()


_OPEN: OrderedDict[tuple, Storage] = OrderedDict()
_OPEN_LOCK = threading.Lock()
MAX_OPEN = 8  # tests open one database each; a serving process opens one


def open_storage(settings) -> Storage:
    """The process's Storage for the settings' database: one engine (and pool) per database, reused."""
    key = (database_url(settings), settings.database_timeout_s, settings.conversation_retention_days,
           settings.feedback_retention_days)
    with _OPEN_LOCK:
        storage = _OPEN.pop(key, None) or Storage(make_engine(key[0], key[1]), conversation_days=key[2],
                                                  feedback_days=key[3])
        _OPEN[key] = storage
        while len(_OPEN) > MAX_OPEN:
            _OPEN.popitem(last=False)[1].engine.dispose()
    return storage
