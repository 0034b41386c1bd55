"""Rate limit: a per-client sliding window, so one web session or Slack user cannot exhaust the machine."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque


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
