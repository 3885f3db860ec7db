"""Berlin local time as clerks type it, turned into the UTC moments we store.

Two days a year need care. On the last Sunday of March the clocks jump from
02:00 to 03:00, so a time in between does not exist and is refused. On the
last Sunday of October the hour from 02:00 to 03:00 happens twice; a time in
it means its first occurrence, still in summer time, and the caller is told
so that the page can say it.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.clock import BERLIN


class LocalTimeError(ValueError):
    """A date or time that cannot be used; str() is a German sentence."""


@dataclass(frozen=True)
class Moment:
    """A moment in UTC, and whether its Berlin wall time happened twice."""

    utc: datetime
    doubled: bool = False

    def note(self) -> str:
        """Return the German sentence that explains a doubled autumn time."""
        if not self.doubled:
            return ""
        local = self.utc.astimezone(BERLIN)
        return (
            f"Die Uhrzeit {local:%H:%M} Uhr gibt es am {local:%d.%m.%Y} zweimal, "
            "weil die Sommerzeit endet. Gemeint ist das erste Mal, noch in der "
            "Sommerzeit (MESZ)."
        )


def _german_date(day: date) -> str:
    return f"{day:%d.%m.%Y}"


# Years a schedule may name: far enough for any real plan, and near enough
# that a day after the last one and every offset still fit a datetime.
YEARS = range(2000, 2200)


def _check_year(day: date) -> None:
    if day.year not in YEARS:
        raise LocalTimeError(
            f"Das Jahr {day.year} liegt außerhalb des möglichen Bereichs "
            f"({YEARS.start} bis {YEARS.stop - 1})."
        )


def berlin_moment(day: date, clock_time: time) -> Moment:
    """Turn a Berlin wall time into UTC, refusing one the spring jump skips."""
    _check_year(day)
    return _berlin_moment(day, clock_time)


def _berlin_moment(day: date, clock_time: time) -> Moment:
    first = datetime.combine(day, clock_time, tzinfo=BERLIN)
    second = first.replace(fold=1)
    if first.utcoffset() == second.utcoffset():
        return Moment(first.astimezone(UTC))
    # Python gives fold=0 the offset before the change: in a skipped hour
    # that is winter time, and the round trip lands somewhere else.
    round_trip = first.astimezone(UTC).astimezone(BERLIN)
    if round_trip.replace(tzinfo=None) != first.replace(tzinfo=None):
        raise LocalTimeError(
            f"Die Uhrzeit {clock_time:%H:%M} Uhr gibt es am {_german_date(day)} "
            "nicht: Um 2:00 Uhr werden die Uhren auf 3:00 Uhr vorgestellt "
            "(Beginn der Sommerzeit). Bitte wählen Sie eine andere Uhrzeit."
        )
    return Moment(first.astimezone(UTC), doubled=True)


def end_of_day(day: date) -> Moment:
    """Return the moment a Berlin day ends: the next day's midnight."""
    _check_year(day)
    # The day after the last year's last day is still a fine moment to end.
    return _berlin_moment(day + timedelta(days=1), time(0, 0))


def parse_date(text: str) -> date:
    """Read a date typed as TT.MM.JJJJ or YYYY-MM-DD."""
    text = text.strip()
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise LocalTimeError(
        f"„{text}“ ist kein Datum. Geben Sie es als TT.MM.JJJJ an, zum Beispiel "
        "31.12.2026."
    )


def parse_time(text: str) -> time:
    """Read a time of day typed as HH:MM."""
    text = text.strip().removesuffix("Uhr").strip()
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise LocalTimeError(
            f"„{text}“ ist keine Uhrzeit. Geben Sie sie als HH:MM an, zum "
            "Beispiel 08:00."
        ) from None


def from_form(day_text: str, time_text: str, *, until: bool = False) -> Moment:
    """Read a date and optional time from a clerk's form as Berlin time.

    A date without a time is the start of that day, or for `until` its end.
    """
    day = parse_date(day_text)
    if not time_text.strip():
        return end_of_day(day) if until else berlin_moment(day, time(0, 0))
    return berlin_moment(day, parse_time(time_text))


def from_iso(text: str, *, until: bool = False) -> Moment:
    """Read an ISO 8601 date or time; without an offset it is Berlin time.

    A date alone is the start of that day, or for `until` its end.
    """
    text = text.strip()
    try:
        # A date alone is ten characters; anything else must be a time.
        parsed = (date if len(text) == 10 else datetime).fromisoformat(text)
    except ValueError:
        raise LocalTimeError(
            f"„{text}“ ist kein Datum und keine Uhrzeit nach ISO 8601, zum "
            "Beispiel 2026-12-07T08:00."
        ) from None
    if not isinstance(parsed, datetime):
        return end_of_day(parsed) if until else berlin_moment(parsed, time(0, 0))
    _check_year(parsed.date())
    if parsed.tzinfo is not None:
        return Moment(parsed.astimezone(UTC))
    return berlin_moment(parsed.date(), parsed.time())


def doubled_note(moment: datetime | None) -> str:
    """Say which of the two occurrences a moment in the doubled hour is."""
    if moment is None:
        return ""
    local = moment.astimezone(BERLIN)
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() == local.utcoffset():
        return ""
    which = (
        "das erste Mal, noch in der Sommerzeit (MESZ)"
        if local.fold == 0
        else "das zweite Mal, schon in der Winterzeit (MEZ)"
    )
    return (
        f"{local:%H:%M} Uhr gibt es am {local:%d.%m.%Y} zweimal, weil die "
        f"Sommerzeit endet; gemeint ist {which}."
    )


def german_moment(moment: datetime) -> str:
    """Show a moment as Berlin wall time, the German way."""
    local = moment.astimezone(BERLIN)
    return f"{local:%d.%m.%Y, %H:%M} Uhr"


def german_end(moment: datetime) -> str:
    """Show an end; one at midnight as 24:00 of the day it ends, as typed."""
    local = moment.astimezone(BERLIN)
    if local.time() == time(0, 0):
        return f"{local - timedelta(days=1):%d.%m.%Y}, 24:00 Uhr"
    return german_moment(moment)
