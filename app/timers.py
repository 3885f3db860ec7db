"""One scheduler for everything due later: it sleeps until the next due item.

Publishing, link expiry and mail retries all hand their due times here. The
loop never polls: it sleeps until the earliest due time, capped at a minute
so that a jump of the wall clock is noticed, and is woken early whenever
the schedule changes.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.clock import utcnow

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]
MAX_SLEEP_S = 60.0


@dataclass(order=True)
class _Entry:
    when: datetime
    order: int
    key: str = field(compare=False)
    action: Action = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduler:
    """Run actions at their due time, each under a key that replaces its last."""

    def __init__(
        self, clock: Callable[[], datetime] = utcnow, max_sleep_s: float = MAX_SLEEP_S
    ) -> None:
        self.clock = clock
        self.max_sleep_s = max_sleep_s
        self._heap: list[_Entry] = []
        self._by_key: dict[str, _Entry] = {}
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._stopping = False

    def __len__(self) -> int:
        return len(self._by_key)

    def schedule(self, key: str, when: datetime, action: Action) -> None:
        """Run `action` at `when`; a later call with the same key replaces it."""
        self.cancel(key)
        entry = _Entry(when, next(self._order), key, action)
        self._by_key[key] = entry
        heapq.heappush(self._heap, entry)
        self._changed.set()

    def cancel(self, key: str) -> None:
        """Forget what was due under a key, if anything."""
        entry = self._by_key.pop(key, None)
        if entry is not None:
            entry.cancelled = True
            self._changed.set()

    def due_at(self, key: str) -> datetime | None:
        """Return when the action under a key is due, or None."""
        entry = self._by_key.get(key)
        return entry.when if entry else None

    def next_due(self) -> datetime | None:
        """Return the earliest due time, or None when nothing waits."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    async def run_due(self) -> int:
        """Run every action that is due by the clock now; return how many ran."""
        ran = 0
        now = self.clock()
        while (when := self.next_due()) is not None and when <= now:
            entry = heapq.heappop(self._heap)
            del self._by_key[entry.key]
            try:
                await entry.action()
            except Exception:
                log.error("Timer %s failed", entry.key, exc_info=True)
            ran += 1
        return ran

    def seconds_to_sleep(self) -> float:
        """Return how long the loop may sleep before something falls due."""
        when = self.next_due()
        if when is None:
            return self.max_sleep_s
        wait = (when - self.clock()).total_seconds()
        return min(max(wait, 0.0), self.max_sleep_s)

    def stop(self) -> None:
        """Let run() return once the action running now, if any, is done."""
        self._stopping = True
        self._changed.set()

    async def run(self) -> None:
        """Sleep until the next due item or a change of schedule, until stopped."""
        while not self._stopping:
            await self.run_due()
            if self._stopping:
                return
            self._changed.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
            # cancellation that arrives just as the schedule changes, and the
            # server would then hang on shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.seconds_to_sleep()):
                    await self._changed.wait()
