"""A form's schedule: which version is online when, and the state it gives.

Pure code over plain values, so every rule can be tested with any clock.
A form owns a list of publications, one per version at most. Publications
never overlap: a new one ends every earlier one at its own start and drops
any that had not begun by then, so at each moment at most one version is
online and the portal, which judges by these times, agrees with the back
office.
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

DRAFT, SCHEDULED, LIVE, ENDED, DELETED = (
    "draft",
    "scheduled",
    "live",
    "ended",
    "deleted",
)
STATE_LABELS = {
    DRAFT: "Entwurf",
    SCHEDULED: "Geplant",
    LIVE: "Online",
    ENDED: "Beendet",
    DELETED: "Gelöscht",
}


@dataclass(frozen=True)
class Publication:
    """One version's time online: from `start`, until `until` (exclusive)."""

    version: int
    start: datetime
    until: datetime | None
    by: str
    at: datetime
    # Whether the back office has noted the start and the end as happened.
    start_noted: bool = False
    end_noted: bool = False

    def online(self, now: datetime) -> bool:
        """Say whether the version is online at a moment."""
        return self.start <= now and (self.until is None or now < self.until)


def state_of(publications: list[Publication], deleted: bool, now: datetime) -> str:
    """Return a form's state at a moment."""
    if deleted:
        return DELETED
    if any(p.online(now) for p in publications):
        return LIVE
    if any(p.start > now for p in publications):
        return SCHEDULED
    return ENDED if publications else DRAFT


def online_version(publications: list[Publication], now: datetime) -> int | None:
    """Return the version online at a moment, if any."""
    return next((p.version for p in publications if p.online(now)), None)


def upcoming(publications: list[Publication], now: datetime) -> Publication | None:
    """Return the next publication still to begin, if any."""
    later = [p for p in publications if p.start > now]
    return min(later, key=lambda p: p.start) if later else None


def _cut(publications: list[Publication], moment: datetime) -> list[Publication]:
    """End every publication at a moment; drop those that begin no earlier."""
    kept = []
    for publication in publications:
        # Limitation: a publication that had not begun leaves no trace in the
        # schedule, so a form deleted before its first start is a draft again
        # when restored; its history still shows the planned publication.
        if publication.start >= moment:
            continue
        if publication.until is None or publication.until > moment:
            publication = dataclasses.replace(
                publication, until=moment, end_noted=False
            )
        kept.append(publication)
    return kept


# Limitation: a version has one window in the schedule at most, so publishing
# a version again moves its window instead of adding a second one.
def plan_publish(
    publications: list[Publication], new: Publication
) -> list[Publication]:
    """Return the schedule with a version published from its start on."""
    others = [p for p in publications if p.version != new.version]
    return sorted([*_cut(others, new.start), new], key=lambda p: p.start)


def plan_end(publications: list[Publication], moment: datetime) -> list[Publication]:
    """Return the schedule with the form offline from a moment on."""
    return _cut(publications, moment)


def next_change(
    publications: list[Publication], now: datetime, grace: timedelta
) -> datetime | None:
    """Return the next moment after now at which something falls due."""
    moments = []
    for publication in publications:
        moments.append(publication.start)
        if publication.until is not None:
            moments += [publication.until, publication.until + grace]
    later = [moment for moment in moments if moment > now]
    return min(later) if later else None
