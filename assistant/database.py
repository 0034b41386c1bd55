"""Database: where it is (SQLite or PostgreSQL engine), its tables and typed rows, its version and upgrade step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, create_engine, event, func, inspect, select)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from assistant.errors import UserError
from assistant.types import Answer

# Bump when a table changes, and add UPGRADES[old] that takes a database from `old` to `old + 1`.
SCHEMA_VERSION = 1
# Serving processes refuse to run on an older schema and say to run this; it applies UPGRADES in order.
UPGRADE_COMMAND = "assistant data upgrade"
# Any fixed number: the PostgreSQL advisory lock replicas take while one of them creates the tables.
SCHEMA_LOCK = 720_415_001


class StorageUnavailable(OSError):
    """The database cannot be used right now (server down, disk full, locked past the busy timeout):
    log it and retry later. An OSError, so the faces' "could not be saved" paths handle it as they are.
    `cooling`: refused without trying, inside the cool-down after an outage was seen."""

    cooling = False


def database_url(settings) -> str:
    """ASSISTANT_DATABASE_URL, or the embedded SQLite file in the data folder."""
    return settings.database_url or f"sqlite:///{Path(settings.data_dir).resolve() / 'assistant.db'}"


def make_engine(url: str, timeout: float = 2.0):
    """An engine for SQLite (WAL, busy timeout, every transaction BEGIN IMMEDIATE so writers queue
    instead of failing on a lock upgrade) or PostgreSQL over psycopg 3 (stale connections re-checked)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(f"ASSISTANT_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver this project ships
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UserError(f"ASSISTANT_DATABASE_URL: {parsed.drivername} is not supported; use "
                        "postgresql+psycopg://user:password@host/db (or leave it empty for SQLite)")
    try:
        if parsed.get_backend_name() == "postgresql":
            return create_engine(parsed, pool_pre_ping=True, pool_timeout=timeout,
                                 connect_args={"connect_timeout": max(1, round(timeout))})
        engine = create_engine(parsed, connect_args={"timeout": timeout})
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise UserError(f"{exc}: install the PostgreSQL driver with `pip install 'psycopg[binary]'`") from None

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi, _record):
        dbapi.isolation_level = None  # the driver's own implicit BEGIN off: ours (below) is IMMEDIATE
        # synchronous NORMAL in WAL: a crashed process loses nothing, a power cut at most the last commits.
        for pragma in (f"busy_timeout = {int(timeout * 1000)}", "journal_mode = WAL", "foreign_keys = ON",
                       "synchronous = NORMAL"):
            dbapi.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime, nullable=False),
)

# Times are naive UTC everywhere: SQLite has no time zones, and one convention keeps both backends equal.
conversations = Table(
    "conversations", metadata,
    Column("id", String(128), primary_key=True),
    Column("owner", String(255), nullable=False, index=True),  # a Slack user id, a web login or browser id
    Column("title", Text, nullable=False, default=""),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False, index=True),
)

turns = Table(
    "turns", metadata,
    Column("conversation_id", String(128), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True),
    Column("n", Integer, primary_key=True),  # 1, 2, ... within the conversation
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),  # Markdown, as `ask --json` gives it
    Column("citations", JSON, nullable=False),
    Column("refused", Boolean, nullable=False),
    Column("history", JSON, nullable=False),  # the earlier questions the answer was given with
    Column("record", JSON, nullable=False),  # the whole `ask --json` record: a reopened answer renders as it was
    Column("index_version", String(128), nullable=False, default=""),
    Column("created", DateTime, nullable=False, index=True),
)

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The answer voted on; a later vote or comment with the same key replaces the row. NULL: never replaced.
    Column("turn_key", String(255), unique=True, nullable=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("vote", String(8), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("refused", Boolean, nullable=False, default=False),
    Column("channel", String(32), nullable=False, default="web"),
    Column("user", String(255), nullable=False, default="", index=True),
    Column("citations", JSON, nullable=False),
    Column("history", JSON, nullable=False),
    Column("index_version", String(128), nullable=False, default=""),
    Column("at", DateTime, nullable=False, index=True),
)

# A Slack delivery (event id, or channel/ts of the message) answered by whichever replica inserts it first.
slack_deliveries = Table(
    "slack_deliveries", metadata,
    Column("event_id", String(255), primary_key=True),
    Column("claimed_at", DateTime, nullable=False, index=True),
    Column("claimed_by", String(255), nullable=False),
)

WINDOW_S, BUCKET_S = 60, 10  # rate limits are per minute, counted in 10 s buckets (window_start)

rate_counters = Table(
    "rate_counters", metadata,
    Column("key", String(255), primary_key=True),
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),  # epoch seconds
    Column("count", Integer, nullable=False),
    Index("ix_rate_counters_window_start", "window_start"),
)


@dataclass(frozen=True)
class Feedback:
    question: str
    answer: str
    vote: str  # "up" | "down"
    citations: list = field(default_factory=list)
    refused: bool = False
    comment: str = ""
    channel: str = "web"  # web | slack | api
    user: str = ""
    history: list = field(default_factory=list)
    index_version: str = ""
    at: str = ""  # 2025-01-31T12:00:00Z
    turn_id: str = ""  # the answer voted on; a later vote with the same id (a comment added) replaces it


@dataclass(frozen=True, kw_only=True)
class Conversation:
    id: str
    owner: str
    title: str
    created: datetime  # naive UTC
    updated: datetime
    turns: int = 0


@dataclass(frozen=True, kw_only=True)
class Turn:
    conversation_id: str
    n: int
    question: str
    answer: str  # Markdown
    citations: list
    refused: bool
    history: list
    index_version: str
    created: datetime
    record: dict = field(repr=False)  # the `ask --json` record

    def to_answer(self) -> Answer:
        return Answer.from_json(self.record)


@dataclass(frozen=True)
class Purged:
    conversations: int = 0
    turns: int = 0
    feedback: int = 0
    deliveries: int = 0
    counters: int = 0


# UPGRADES[n](connection) takes a version-n database to version n + 1 (ALTER TABLE ..., data moves).
UPGRADES: dict[int, Callable] = {}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def stored_version(conn) -> int | None:
    """The database's schema version, or None for a database without our tables."""
    if not inspect(conn).has_table("schema_version"):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar()


def ensure_schema(conn) -> None:
    """Create the tables in an empty database; refuse one at another version. Runs inside the caller's
    transaction (PostgreSQL's DDL is transactional; SQLite's BEGIN IMMEDIATE already serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")  # two replicas starting at once
    version = stored_version(conn)
    if version is None:
        metadata.create_all(conn, checkfirst=True)
        conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied_at=utcnow()))
    elif version < SCHEMA_VERSION:
        raise UserError(f"the database schema is at version {version}, this release needs {SCHEMA_VERSION}: "
                        f"run `{UPGRADE_COMMAND}` once (with every serving process stopped)")
    elif version > SCHEMA_VERSION:
        raise UserError(f"the database schema is at version {version}, newer than this release knows "
                        f"({SCHEMA_VERSION}): run the release that wrote it, or a newer one")


def upgrade(conn) -> tuple[int | None, int]:
    """Apply UPGRADES from the stored version to SCHEMA_VERSION (or create the tables); returns (from, to)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
    before = stored_version(conn)
    if before is None:
        ensure_schema(conn)
        return None, SCHEMA_VERSION
    if before > SCHEMA_VERSION:
        ensure_schema(conn)  # raises the "newer than this release" error
    for version in range(before, SCHEMA_VERSION):
        UPGRADES[version](conn)
        conn.execute(schema_version.insert().values(version=version + 1, applied_at=utcnow()))
    return before, SCHEMA_VERSION
