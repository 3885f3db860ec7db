"""The one source of the current time, so tests can set it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format a moment as it is stored: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def german(stored: str) -> str:
    """Show a stored UTC moment as Berlin local time, the German way."""
    local = datetime.fromisoformat(stored).astimezone(BERLIN)
    return local.strftime("%d.%m.%Y, %H:%M Uhr")
