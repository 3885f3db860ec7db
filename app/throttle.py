"""Sliding-window throttles for anonymous sends, logins and guesses."""

import time
from collections import deque


class Throttle:
    """Allow at most `limit` events per key in any window of `window_s`."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 100_000):
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def _window(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def exceeded(self, key: str) -> bool:
        """Say whether the key has used up its events, without counting one."""
        return len(self._window(key, time.monotonic())) >= self.limit

    def hit(self, key: str) -> None:
        """Count one event for the key."""
        now = time.monotonic()
        self._window(key, now).append(now)

    def allow(self, key: str) -> bool:
        """Count one event for the key and say whether it is within the limit."""
        if self.exceeded(key):
            return False
        self.hit(key)
        return True

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event inside the window, to bound memory."""
        cutoff = now - self.window_s
        for key in [k for k, e in self._events.items() if not e or e[-1] <= cutoff]:
            del self._events[key]
        if len(self._events) >= self.max_keys:
            # Limitation: under a flood of distinct addresses beyond max_keys
            # the oldest keys are forgotten, so each of those may start afresh.
            for key in list(self._events)[: self.max_keys // 10]:
                del self._events[key]
