"""Rate limit: a per-client sliding window, so one web session or Slack user cannot exhaust the machine."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from assistant.errors import UserError

log = logging.getLogger(__name__)

# While the database cannot be used, one warning per this many seconds (not one per request).
FALLBACK_LOG_EVERY_S = 30.0


class RateLimiter:
    """`allow(key)` is True at most `per_minute` times in any 60 s for one key. Bounded memory:
    the least recently seen clients are forgotten past `max_clients`."""

    def __init__(self, per_minute: int, max_clients: int = 10_000, clock=time.monotonic):
        self.per_minute, self.max_clients, self.clock = per_minute, max_clients, clock
        self._hits: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            allowed = len(hits) < self.per_minute
            if allowed:
                hits.append(now)
            self._hits[key] = hits
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            return allowed

    def retry_after(self, key: str) -> float:
        with self._lock:
            hits = self._hits.get(key)
            return max(0.0, 60.0 - (self.clock() - hits[0])) if hits else 0.0


class SharedRateLimiter:
    """The limit every worker and replica shares: the database's counters (`Storage.allow`, the ones
    the Slack bot keeps per user), under `prefix` so web, API and Slack budgets stay apart. While the
    database cannot be written, this process's own RateLimiter decides (logged), so an outage never
    stops answering; the shared counters are used again as soon as the database answers.

    `storage` is a Storage or a callable returning one: the web chat and the API open the database on
    first use, not when the app is built (a database that is down must not delay start-up)."""

    def __init__(self, storage, per_minute: int, prefix: str):
        self._storage: Callable = storage if callable(storage) else (lambda: storage)
        self.per_minute, self.prefix = per_minute, prefix
        self.local = RateLimiter(per_minute)
        self._warned = 0.0

    def check(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds to wait before asking again)."""
        if self.per_minute <= 0:
            return True, 0.0
        try:
            return self._storage().allow(f"{self.prefix}:{key}", self.per_minute)
        except (OSError, UserError) as exc:  # StorageUnavailable is an OSError; UserError: a schema of another version
            if time.monotonic() - self._warned >= FALLBACK_LOG_EVERY_S:
                self._warned = time.monotonic()
                log.warning("%s rate limits from this process's memory (retried on each request): %s",
                            self.prefix, exc)
            return self.local.allow(key), self.local.retry_after(key)
