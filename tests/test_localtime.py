"""Berlin wall time from clerks and files becomes the right UTC moment."""

from datetime import UTC, date, datetime, time

import pytest

from app.localtime import (
    LocalTimeError,
    berlin_moment,
    doubled_note,
    end_of_day,
    from_form,
    from_iso,
)


@pytest.mark.parametrize(
    ("day", "clock", "utc"),
    [
        (date(2026, 1, 15), time(8, 0), datetime(2026, 1, 15, 7, 0, tzinfo=UTC)),
        (date(2026, 7, 15), time(8, 0), datetime(2026, 7, 15, 6, 0, tzinfo=UTC)),
        (date(2026, 3, 29), time(1, 59), datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),
        (date(2026, 3, 29), time(3, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ],
)
def test_berlin_wall_time_becomes_utc_in_winter_and_summer(day, clock, utc):
    assert berlin_moment(day, clock).utc == utc
    assert berlin_moment(day, clock).doubled is False


@pytest.mark.parametrize("clock", [time(2, 0), time(2, 30), time(2, 59)])
def test_a_time_in_the_skipped_spring_hour_is_refused_with_the_reason(clock):
    with pytest.raises(LocalTimeError) as refused:
        berlin_moment(date(2026, 3, 29), clock)
    assert str(refused.value) == (
        f"Die Uhrzeit {clock:%H:%M} Uhr gibt es am 29.03.2026 nicht: Um 2:00 Uhr "
        "werden die Uhren auf 3:00 Uhr vorgestellt (Beginn der Sommerzeit). "
        "Bitte wählen Sie eine andere Uhrzeit."
    )


def test_a_time_in_the_doubled_autumn_hour_means_its_first_summer_occurrence():
    moment = berlin_moment(date(2026, 10, 25), time(2, 30))
    assert moment.utc == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert moment.doubled is True
    assert moment.note() == (
        "Die Uhrzeit 02:30 Uhr gibt es am 25.10.2026 zweimal, weil die Sommerzeit "
        "endet. Gemeint ist das erste Mal, noch in der Sommerzeit (MESZ)."
    )


@pytest.mark.parametrize(
    ("utc", "which"),
    [
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "das erste Mal, noch in der"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "das zweite Mal, schon in der"),
    ],
)
def test_the_page_says_which_occurrence_of_a_doubled_time_is_meant(utc, which):
    assert doubled_note(utc).startswith(
        "02:30 Uhr gibt es am 25.10.2026 zweimal, weil die Sommerzeit endet; "
        f"gemeint ist {which}"
    )


@pytest.mark.parametrize("utc", [datetime(2026, 10, 25, 2, 30, tzinfo=UTC), None])
def test_no_note_for_a_time_that_happens_once(utc):
    assert doubled_note(utc) == ""


@pytest.mark.parametrize(
    ("day", "utc"),
    [
        (date(2026, 12, 31), datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
        (date(2026, 3, 28), datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),
        (date(2026, 3, 29), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
        (date(2026, 10, 25), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)),
    ],
)
def test_a_day_ends_at_the_next_berlin_midnight_also_on_dst_days(day, utc):
    assert end_of_day(day).utc == utc


@pytest.mark.parametrize(
    ("text", "until", "utc"),
    [
        ("2026-12-31", True, datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
        ("2026-12-31", False, datetime(2026, 12, 30, 23, 0, tzinfo=UTC)),
        ("2026-12-07T08:00", False, datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
        ("2026-12-07T08:00+00:00", False, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)),
        ("2026-10-25T02:30+01:00", False, datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ],
)
def test_iso_times_without_offset_are_berlin_and_a_date_alone_a_whole_day(
    text, until, utc
):
    assert from_iso(text, until=until).utc == utc


@pytest.mark.parametrize(
    ("day", "clock", "until", "utc"),
    [
        ("07.12.2026", "08:00", False, datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
        ("2026-12-07", "08:00", False, datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
        ("31.12.2026", "", True, datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
        ("31.12.2026", "", False, datetime(2026, 12, 30, 23, 0, tzinfo=UTC)),
    ],
)
def test_a_clerks_date_and_time_become_utc(day, clock, until, utc):
    assert from_form(day, clock, until=until).utc == utc


@pytest.mark.parametrize(
    ("day", "clock", "message"),
    [
        ("morgen", "08:00", "„morgen“ ist kein Datum."),
        ("31.02.2026", "08:00", "„31.02.2026“ ist kein Datum."),
        ("07.12.2026", "8 Uhr", "„8“ ist keine Uhrzeit."),
        ("07.12.2026", "25:00", "„25:00“ ist keine Uhrzeit."),
    ],
)
def test_a_date_or_time_that_is_not_one_is_refused_in_german(day, clock, message):
    with pytest.raises(LocalTimeError) as refused:
        from_form(day, clock)
    assert str(refused.value).startswith(message)
