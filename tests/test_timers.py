"""The scheduler runs what is due, by an injected clock, and sleeps otherwise."""

import asyncio
from datetime import UTC, datetime, timedelta

from app.timers import Scheduler

START = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def recorder(log: list, name: str):
    async def action() -> None:
        log.append(name)

    return action


async def test_runs_only_what_is_due_in_time_order():
    clock, ran = Clock(), []
    scheduler = Scheduler(clock)
    scheduler.schedule("b", START + timedelta(minutes=2), recorder(ran, "b"))
    scheduler.schedule("a", START + timedelta(minutes=1), recorder(ran, "a"))
    clock.now = START + timedelta(minutes=1)
    assert await scheduler.run_due() == 1
    clock.now = START + timedelta(minutes=5)
    assert await scheduler.run_due() == 1
    assert ran == ["a", "b"]


async def test_same_key_replaces_and_cancel_forgets():
    clock, ran = Clock(), []
    scheduler = Scheduler(clock)
    scheduler.schedule("x", START, recorder(ran, "first"))
    scheduler.schedule("x", START, recorder(ran, "second"))
    scheduler.schedule("y", START, recorder(ran, "y"))
    scheduler.cancel("y")
    await scheduler.run_due()
    assert ran == ["second"]
    assert len(scheduler) == 0


def test_sleep_is_capped_at_a_minute_and_never_negative():
    clock = Clock()
    scheduler = Scheduler(clock)
    assert scheduler.seconds_to_sleep() == 60.0
    scheduler.schedule("far", START + timedelta(hours=3), recorder([], "far"))
    assert scheduler.seconds_to_sleep() == 60.0
    scheduler.schedule("near", START + timedelta(seconds=5), recorder([], "n"))
    assert scheduler.seconds_to_sleep() == 5.0
    clock.now = START + timedelta(seconds=30)
    assert scheduler.seconds_to_sleep() == 0.0


async def test_a_failing_action_does_not_stop_the_others():
    clock, ran = Clock(), []
    scheduler = Scheduler(clock)

    async def broken() -> None:
        raise RuntimeError("boom")

    scheduler.schedule("broken", START, broken)
    scheduler.schedule("fine", START, recorder(ran, "fine"))
    assert await scheduler.run_due() == 2
    assert ran == ["fine"]


async def test_loop_wakes_when_the_schedule_changes():
    ran = []
    scheduler = Scheduler()
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0)
    scheduler.schedule("now", datetime.now(UTC), recorder(ran, "now"))
    for _ in range(100):
        if ran:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert ran == ["now"]
