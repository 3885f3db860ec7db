"""A form's schedule: publications never overlap and give the form its state."""

from datetime import UTC, datetime, timedelta

import pytest

from app.forms.lifecycle import (
    DELETED,
    DRAFT,
    ENDED,
    LIVE,
    SCHEDULED,
    Publication,
    next_change,
    online_version,
    plan_end,
    plan_publish,
    state_of,
)

T0 = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def pub(version, start, until=None) -> Publication:
    return Publication(version, start, until, "anna", T0)


def windows(schedule) -> list[tuple]:
    return [(p.version, p.start, p.until) for p in schedule]


def test_a_newer_version_ends_the_live_one_at_its_own_start():
    schedule = plan_publish([pub(1, T0)], pub(2, T0 + 24 * HOUR))
    assert windows(schedule) == [
        (1, T0, T0 + 24 * HOUR),
        (2, T0 + 24 * HOUR, None),
    ]


def test_publishing_now_drops_a_version_that_had_not_begun():
    schedule = plan_publish(
        [pub(1, T0, T0 + 2 * HOUR), pub(2, T0 + 5 * HOUR)], pub(3, T0 + HOUR)
    )
    assert windows(schedule) == [(1, T0, T0 + HOUR), (3, T0 + HOUR, None)]


def test_publishing_a_version_again_replaces_its_window():
    schedule = plan_publish([pub(1, T0)], pub(1, T0 + 3 * HOUR, T0 + 9 * HOUR))
    assert windows(schedule) == [(1, T0 + 3 * HOUR, T0 + 9 * HOUR)]


def test_ending_cuts_the_live_version_and_drops_later_ones():
    schedule = plan_end(
        [pub(1, T0, T0 + 5 * HOUR), pub(2, T0 + 5 * HOUR)], T0 + 2 * HOUR
    )
    assert windows(schedule) == [(1, T0, T0 + 2 * HOUR)]


def test_ending_keeps_an_earlier_end():
    schedule = plan_end([pub(1, T0, T0 + HOUR)], T0 + 2 * HOUR)
    assert windows(schedule) == [(1, T0, T0 + HOUR)]


@pytest.mark.parametrize(
    ("schedule", "deleted", "now", "state"),
    [
        ([], False, T0, DRAFT),
        ([pub(1, T0 + HOUR)], False, T0, SCHEDULED),
        ([pub(1, T0, T0 + HOUR)], False, T0, LIVE),
        ([pub(1, T0, T0 + HOUR)], False, T0 + HOUR, ENDED),
        ([pub(1, T0)], True, T0, DELETED),
    ],
)
def test_state_follows_the_schedule_at_each_moment(schedule, deleted, now, state):
    assert state_of(schedule, deleted, now) == state


def test_the_online_version_changes_exactly_at_the_new_start():
    schedule = plan_publish([pub(1, T0)], pub(2, T0 + HOUR))
    before = T0 + HOUR - timedelta(microseconds=1)
    assert online_version(schedule, before) == 1
    assert online_version(schedule, T0 + HOUR) == 2


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (T0 - HOUR, T0),
        (T0, T0 + 2 * HOUR),
        (T0 + 2 * HOUR, T0 + 3 * HOUR),
        (T0 + 3 * HOUR, None),
    ],
)
def test_next_change_is_a_start_an_end_or_the_end_of_the_grace(now, due):
    schedule = [pub(1, T0, T0 + 2 * HOUR)]
    assert next_change(schedule, now, HOUR) == due
