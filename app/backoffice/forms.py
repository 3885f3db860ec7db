"""Forms in the back office: versions, schedules, deletion, and their timer.

Every save is a new version; a version never changes. The schedule belongs
to the form: a list of publications (see app/forms/lifecycle.py) that the
back office hands the portal whole whenever it changes. The portal judges
what is online by those times on every request; the one timer here notes
when a start or end has happened, forgets ended versions on the portal once
their grace period is over, and re-arms itself for the next change.
"""

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from app import localtime
from app.clock import iso
from app.forms import lifecycle
from app.forms.catalog import Catalog
from app.forms.definition import FormDefinition, Section
from app.forms.lifecycle import Publication
from app.portal.service import Portal
from app.storage.db import Database
from app.storage.forms import FormRow, FormStore, VersionRow
from app.storage.portal import PublishedVersion
from app.timers import Scheduler

log = logging.getLogger(__name__)

TIMER_KEY = "forms"
FIRST_SECTION = "Ihre Angaben"


class FormError(Exception):
    """A clerk's or an import's request that cannot be done; str() is German."""


@dataclass(frozen=True)
class Overview:
    """A form with what a clerk needs to see about it."""

    form: FormRow
    newest: FormDefinition
    state: str
    online_version: int | None
    publications: list[Publication]

    @property
    def published_version(self) -> int | None:
        """Return the newest version the schedule holds."""
        return max((p.version for p in self.publications), default=None)

    @property
    def has_draft(self) -> bool:
        """Say whether the newest version was saved after the last publication."""
        return self.form.last_version > (self.published_version or 0)


def schedule_of(form: FormDefinition) -> tuple[datetime | None, datetime | None]:
    """Return a definition's publish_from and publish_until as UTC moments."""
    start = localtime.from_iso(form.publish_from).utc if form.publish_from else None
    until = None
    if form.publish_until:
        until = localtime.from_iso(form.publish_until, until=True).utc
    return start, until


def publish_problems(form: FormDefinition) -> list[str]:
    """Return, in German, what keeps a version from going online."""
    problems = []
    if not form.fields:
        problems.append("Das Formular hat noch keine Felder.")
    for section in form.sections:
        if not section.fields:
            problems.append(f"Der Abschnitt „{section.title}“ hat keine Felder.")
    for field in form.fields:
        if field.type == "choice" and not field.choices:
            problems.append(f"Das Auswahlfeld „{field.label}“ hat keine Auswahl.")
    return problems


class FormDesk:
    """What clerks, imports and the timer do with forms."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        portal: Portal,
        scheduler: Scheduler,
        clock: Callable[[], datetime],
        grace: timedelta,
    ) -> None:
        self.store = FormStore(db)
        self.catalog = catalog
        self.portal = portal
        self.scheduler = scheduler
        self.clock = clock
        self.grace = grace
        # One change of a schedule at a time: each reads the publications,
        # plans and writes them back whole, and must not undo another.
        self._changing = asyncio.Lock()

    # Reading.

    def definition(self, version: VersionRow) -> FormDefinition:
        """Return a stored version as a FormDefinition."""
        return FormDefinition.from_dict(json.loads(version.definition), self.catalog)

    async def form(self, tenant: str, slug: str) -> FormRow | None:
        """Return a form, deleted or not."""
        return await self.store.form(tenant, slug)

    async def version(self, form: FormRow, number: int) -> FormDefinition | None:
        """Return one version of a form as a definition, or None."""
        found = await self.store.version(form.id, number)
        return self.definition(found) if found else None

    async def overview(self, form: FormRow) -> Overview:
        """Return a form's newest version, state and schedule."""
        now = self.clock()
        publications = await self.store.publications(form.id)
        newest = await self.version(form, form.last_version)
        return Overview(
            form,
            newest,
            lifecycle.state_of(publications, form.deleted_at is not None, now),
            lifecycle.online_version(publications, now),
            publications,
        )

    # Saving versions.

    async def create(
        self, tenant: str, slug: str, title: str, record_type: str, clerk: str
    ) -> int:
        """Create a form whose first version is an empty draft."""
        if await self.store.form(tenant, slug) is not None:
            raise FormError(f"Die Adresse „{slug}“ hat bereits ein Formular.")
        draft = FormDefinition(
            tenant=tenant,
            slug=slug,
            title=title,
            record_type=record_type,
            intro="",
            max_submission_bytes=None,
            publish_from="",
            publish_until="",
            sections=(Section(FIRST_SECTION, "", ()),),
        )
        return await self._add(draft, clerk, "Neu angelegt")

    async def save(
        self, form: FormRow, definition: FormDefinition, clerk: str, note: str = ""
    ) -> int:
        """Save a definition as the form's next version; return its number."""
        if form.deleted_at is not None:
            raise FormError("Ein gelöschtes Formular kann nicht bearbeitet werden.")
        await self.refuse_other_record_type(form, definition.record_type)
        return await self._add(definition, clerk, note)

    async def refuse_other_record_type(self, form: FormRow, record_type: str) -> None:
        """Refuse a version whose record type is not the form's."""
        # Records of one form are of one record type; a new type is a new form.
        latest = await self.version(form, form.last_version)
        if latest is not None and latest.record_type != record_type:
            raise FormError(
                f"Das Formular {form.tenant}/{form.slug} gehört zur Belegart "
                f"{latest.record_type}; eine andere Belegart braucht ein neues "
                "Formular."
            )

    async def restore_version(self, form: FormRow, number: int, clerk: str) -> int:
        """Save an earlier version again as the newest draft."""
        old = await self.version(form, number)
        if old is None:
            raise FormError(f"Version {number} gibt es nicht.")
        return await self.save(
            form, old, clerk, f"Wiederhergestellt aus Version {number}"
        )

    async def _add(self, definition: FormDefinition, clerk: str, note: str) -> int:
        # The schedule lives with the form, never inside a version.
        unscheduled = dataclasses.replace(definition, publish_from="", publish_until="")
        number = await self.store.add_version(
            definition.tenant,
            definition.slug,
            json.dumps(unscheduled.to_dict(), ensure_ascii=False),
            clerk,
            iso(self.clock()),
            note,
        )
        log.info("Saved %s/%s version %s", definition.tenant, definition.slug, number)
        return number

    # The schedule.

    async def publish(
        self,
        form: FormRow,
        version: int,
        start: datetime | None,
        until: datetime | None,
        clerk: str,
    ) -> None:
        """Put a version online from `start` (None: now) until `until`."""
        now = self.clock()
        start = start or now
        definition = await self.version(form, version)
        if form.deleted_at is not None:
            raise FormError("Ein gelöschtes Formular kann nicht veröffentlicht werden.")
        if definition is None:
            raise FormError(f"Version {version} gibt es nicht.")
        if problems := publish_problems(definition):
            raise FormError(" ".join(problems))
        if start < now - timedelta(minutes=1):
            raise FormError("Der Beginn liegt in der Vergangenheit.")
        if until is not None and until <= max(start, now):
            raise FormError("Das Ende muss nach dem Beginn und in der Zukunft liegen.")
        new = Publication(version, max(start, now), until, clerk, now)
        event = (iso(now), "published", version, clerk)
        await self._change(form, lambda old: lifecycle.plan_publish(old, new), event)
        log.info("Scheduled %s/%s version %s", form.tenant, form.slug, version)

    async def end(self, form: FormRow, at: datetime | None, clerk: str) -> None:
        """Take a form offline at `at` (None: now)."""
        now = self.clock()
        at = at or now
        if at < now - timedelta(minutes=1):
            raise FormError("Das Ende liegt in der Vergangenheit.")
        if not await self.store.publications(form.id):
            raise FormError("Das Formular ist nicht veröffentlicht.")
        event = (iso(now), "ended", None, clerk)
        moment = max(at, now)
        await self._change(form, lambda old: lifecycle.plan_end(old, moment), event)
        log.info("Ended %s/%s", form.tenant, form.slug)

    async def delete(self, form: FormRow, clerk: str) -> None:
        """Take a form offline at once and mark it deleted, keeping its versions."""
        if form.deleted_at is not None:
            return
        now = self.clock()
        event = (iso(now), "deleted", None, clerk)
        await self._change(
            form, lambda old: lifecycle.plan_end(old, now), event, deleted_at=iso(now)
        )
        log.info("Deleted %s/%s", form.tenant, form.slug)

    async def undelete(self, form: FormRow, clerk: str) -> None:
        """Bring a deleted form back with all its versions, offline."""
        if form.deleted_at is None:
            return
        event = (iso(self.clock()), "undeleted", None, clerk)
        await self._change(form, list, event, deleted_at=None)
        log.info("Restored %s/%s", form.tenant, form.slug)

    async def import_definition(
        self,
        definition: FormDefinition,
        clerk: str,
        start: datetime | None,
        until: datetime | None,
    ) -> int:
        """Save a checked definition as a new version and schedule it."""
        existing = await self.store.form(definition.tenant, definition.slug)
        if existing is not None and existing.deleted_at is not None:
            raise FormError(
                f"Das Formular {definition.tenant}/{definition.slug} ist gelöscht; "
                "stellen Sie es zuerst im Back-Office wieder her."
            )
        if existing is not None:
            await self.refuse_other_record_type(existing, definition.record_type)
        if problems := publish_problems(definition):
            raise FormError(" ".join(problems))
        now = self.clock()
        if until is not None and until <= max(start or now, now):
            raise FormError(
                "publish_until muss nach publish_from und in der Zukunft liegen."
            )
        number = await self._add(definition, clerk, "Importiert")
        form = await self.store.form(definition.tenant, definition.slug)
        # An import may name a start in the past: that means online now.
        begin = max(start or now, now)
        await self.publish(form, number, begin, until, clerk)
        return number

    async def _change(
        self,
        form: FormRow,
        plan: Callable[[list[Publication]], list[Publication]],
        event: tuple[str, str, int | None, str],
        deleted_at: str | None | bool = False,
    ) -> None:
        """Replan a form's schedule whole, then hand it to the portal."""
        async with self._changing:
            schedule = plan(await self.store.publications(form.id))
            await self.store.save_schedule(form.id, schedule, event, deleted_at)
        await self._hand_over(form)

    # Handing the schedule to the portal, and the timer.

    async def _hand_over(self, form: FormRow) -> None:
        """Give the portal the form's schedule as it now stands, then re-arm."""
        current = await self.store.form(form.tenant, form.slug) or form
        versions = await self._schedule_now(current)
        await self.portal.publish_schedule(form.tenant, form.slug, versions)
        await self.arm()

    async def _schedule_now(self, form: FormRow) -> list[PublishedVersion]:
        """Return the versions of a form the portal should hold now."""
        # A deleted form is offline at once: no grace for pages still open.
        if form.deleted_at is not None:
            return []
        now = self.clock()
        versions = []
        for p in await self.store.publications(form.id):
            if p.until is not None and p.until + self.grace <= now:
                continue
            stored = await self.store.version(form.id, p.version)
            versions.append(
                PublishedVersion(
                    form.tenant,
                    form.slug,
                    p.version,
                    stored.definition,
                    iso(p.start),
                    iso(p.until) if p.until else None,
                )
            )
        return versions

    async def start(self) -> None:
        """At start: hand every schedule over, catch up on what fell due, arm."""
        # One transaction and one arming for all forms, so a start with
        # thousands of forms does not pay a durable commit for each.
        schedules = {
            (form.tenant, form.slug): await self._schedule_now(form)
            for form in await self.store.forms(None)
        }
        await self.portal.publish_schedules(schedules)
        await self.arm()
        await self.run_due()

    async def run_due(self) -> None:
        """Note every start and end that has happened, purge, and re-arm."""
        async with self._changing:
            await self._note_what_happened(self.clock())
        await self.portal.purge_ended(self.grace)
        await self.arm()

    async def _note_what_happened(self, now: datetime) -> None:
        # Limitation: every run reads the publications of every form; that is
        # cheap for a utility's few hundred forms, not for many thousands.
        for form_id, publications in (await self.store.all_publications()).items():
            for p in publications:
                if p.start <= now and not p.start_noted:
                    await self.store.note_happened(
                        form_id, p.version, "start_noted", "online", iso(p.start)
                    )
                    log.info("Form %s version %s is online", form_id, p.version)
                if p.until is not None and p.until <= now and not p.end_noted:
                    await self.store.note_happened(
                        form_id, p.version, "end_noted", "offline", iso(p.until)
                    )
                    log.info("Form %s version %s is offline", form_id, p.version)

    async def arm(self) -> None:
        """Set the one timer to the next due change, or cancel it."""
        now = self.clock()
        moments = []
        for publications in (await self.store.all_publications()).values():
            if any(_overdue(p, now) for p in publications):
                moments.append(now)
            moments.append(lifecycle.next_change(publications, now, self.grace))
        due = min((m for m in moments if m is not None), default=None)
        if due is None:
            self.scheduler.cancel(TIMER_KEY)
        else:
            self.scheduler.schedule(TIMER_KEY, due, self.run_due)


def _overdue(publication: Publication, now: datetime) -> bool:
    """Say whether a start or end has happened that is not noted yet."""
    started = publication.start <= now and not publication.start_noted
    until = publication.until
    return started or (until is not None and until <= now and not publication.end_noted)


FORMS: web.AppKey[FormDesk] = web.AppKey("forms")
