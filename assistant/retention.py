"""Retention: what the shared database forgets, and when (old conversations, feedback, Slack claims, counters)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from assistant import database as m
from assistant.database import BUCKET_S, WINDOW_S, Purged, StorageUnavailable

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600  # retention runs at most this often per process, after a write
CLAIMS_KEPT = timedelta(days=1)  # Slack stops redelivering an event after minutes; a day is plenty


class Retention:
    """The deleting half of Storage, which mixes it in: it brings `_begin`, the retention days and the
    next sweep's time."""

    conversation_days: int
    feedback_days: int
    _next_sweep: float

    def purge(self, *, before: datetime | None = None, user: str | None = None, dry_run: bool = False) -> Purged:
        """Delete conversations, turns and feedback older than `before` (naive UTC) and/or of `user`;
        with `before` alone also old Slack claims and rate counters. `dry_run` counts and rolls back."""
        if before is None and not user:
            raise ValueError("purge needs a date, a user, or both")
        c, t, f = m.conversations, m.turns, m.feedback
        old_turns, old_convs, old_votes = [], [], []
        if before is not None:
            old_turns, old_convs, old_votes = [t.c.created < before], [c.c.updated < before], [f.c.at < before]
        if user:
            old_turns.append(t.c.conversation_id.in_(select(c.c.id).where(c.c.owner == user)))
            old_convs.append(c.c.owner == user)
            old_votes.append(f.c.user == user)

        def work(conn) -> dict:
            done = {"turns": conn.execute(delete(t).where(*old_turns)).rowcount,
                    "conversations": conn.execute(delete(c).where(*old_convs)).rowcount,
                    "feedback": conn.execute(delete(f).where(*old_votes)).rowcount}
            return {**done, **self._expire(conn, before, before)} if before is not None and not user else done

        return self._deleting(work, dry_run)

    def apply_retention(self, now: datetime | None = None, dry_run: bool = False) -> Purged:
        """What the retention settings say (0 days: kept forever), plus day-old claims and old counters."""
        now = now or m.utcnow()

        def work(conn) -> dict:
            done = self._expire(conn, now - CLAIMS_KEPT, now - timedelta(seconds=WINDOW_S + BUCKET_S))
            if self.conversation_days:
                cutoff = now - timedelta(days=self.conversation_days)
                done["turns"] = conn.execute(delete(m.turns).where(m.turns.c.created < cutoff)).rowcount
                done["conversations"] = conn.execute(delete(m.conversations)
                                                     .where(m.conversations.c.updated < cutoff)).rowcount
            if self.feedback_days:
                cutoff = now - timedelta(days=self.feedback_days)
                done["feedback"] = conn.execute(delete(m.feedback).where(m.feedback.c.at < cutoff)).rowcount
            return done

        return self._deleting(work, dry_run)

    def _deleting(self, work, dry_run: bool) -> Purged:
        """One transaction of deletes; a dry run counts them and rolls back."""
        try:
            with self._begin() as conn:
                counts = Purged(**work(conn))
                if dry_run:
                    raise _RollBack(counts)
        except _RollBack as rolled:
            return rolled.counts
        return counts

    @staticmethod
    def _expire(conn, claims_before: datetime, counters_before: datetime) -> dict:
        epoch = (counters_before - datetime(1970, 1, 1)).total_seconds()
        return {"deliveries": conn.execute(delete(m.slack_deliveries)
                                           .where(m.slack_deliveries.c.claimed_at < claims_before)).rowcount,
                "counters": conn.execute(delete(m.rate_counters)
                                         .where(m.rate_counters.c.window_start < epoch)).rowcount}

    def _sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S
        try:
            self.apply_retention()
        except StorageUnavailable as exc:
            log.warning("retention sweep skipped: %s", exc)



class _RollBack(Exception):
    def __init__(self, counts: Purged):
        self.counts = counts
