"""Prepare a stopped server's data folder through the product's own code.

Two things the bench needs cannot be had over HTTP today: a form with room
for a 200 MB photo, and pending submissions that no receiver has taken yet.
Both are made here, in the bench's process while no server runs on the
folder, by calling the same classes the server calls, so the rows and sealed
keys are exactly what a server would have written.
"""

import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from app.backoffice.service import BackOffice
from app.config import Config, load_config
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import FormDefinition, load_definition_file
from app.forms.validation import validate
from app.portal.service import Portal
from app.storage import schema
from app.storage.db import open_database
from app.tenants import load_tenants
from bench.servers import BENCH_CONFIG

log = logging.getLogger(__name__)

UPLOAD_FORM = Path(__file__).resolve().parent / "forms" / "zaehlerstand-gross.yaml"


def bench_config(data: Path) -> Config:
    """Load the bench config for a data folder, as `run.py --data` would."""
    return load_config(BENCH_CONFIG, data=str(data.resolve()))


@asynccontextmanager
async def both_sides(data: Path) -> AsyncIterator[tuple[Portal, BackOffice]]:
    """Open the portal and the back office of a data folder a server made."""
    config = bench_config(data)
    catalog = load_catalog(CATALOG_PATH)
    portal_db = await open_database(config.portal_dir / "portal.db", schema.PORTAL)
    backoffice_db = await open_database(
        config.backoffice_dir / "backoffice.db", schema.BACKOFFICE
    )
    try:
        yield (
            Portal(config, portal_db, catalog),
            BackOffice(config, backoffice_db, catalog),
        )
    finally:
        await portal_db.close()
        await backoffice_db.close()


def lift_file_limits(form: FormDefinition, max_bytes: int) -> FormDefinition:
    """Return the form with every file field allowed max_bytes."""
    sections = tuple(
        dataclasses.replace(
            section,
            fields=tuple(
                dataclasses.replace(field, max_bytes=max_bytes)
                if field.type == "file"
                else field
                for field in section.fields
            ),
        )
        for section in form.sections
    )
    return dataclasses.replace(form, sections=sections)


async def publish_upload_form(data: Path) -> str:
    """Publish the bench's upload form on a data folder; return its path."""
    async with both_sides(data) as (portal, backoffice):
        form = load_definition_file(UPLOAD_FORM, backoffice.catalog)
        # Limitation: the field's 10 MB cap comes from the catalog, which no
        # form may exceed, so the bench lifts it after reading the file; the
        # server then enforces the bench config's max_file_bytes instead.
        form = lift_file_limits(form, backoffice.config.uploads.max_file_bytes)
        await backoffice.publish(portal, form, "bench")
    return f"/{form.tenant}/{form.slug}"


async def add_pending(
    data: Path, tenant: str, slug: str, values: dict[str, str], count: int
) -> None:
    """Commit `count` checked sends of a form without files, as pending."""
    # Limitation: the pending sends are committed here, not sent over HTTP,
    # because the server cannot run with its built-in receiver paused; their
    # rows are the same, but the portal's request handling is not part of it.
    async with both_sides(data) as (portal, _):
        form = await portal.live_form(tenant, slug)
        if form is None:
            raise LookupError(f"{tenant}/{slug} is not live")
        receiver = load_tenants(portal.config.themes)[tenant].receiver
        for _ in range(count):
            intake = portal.new_intake(form)
            intake.values.update(values)
            result = validate(form.definition, intake.values, intake.uploads())
            if result.errors:
                raise ValueError(f"bench values refused: {sorted(result.errors)}")
            await portal.commit(intake, result.values, secrets.token_hex(16), receiver)
    log.info("Added %s pending submissions of %s/%s", count, tenant, slug)


SCHEDULE_FORM = Path(__file__).resolve().parents[1] / "app" / "demo" / "forms"


async def add_waiting_timers(data: Path, count: int) -> None:
    """Give a data folder `count` scheduled form changes and `count` live links."""
    from app.backoffice.links import LinkRequest, open_links
    from app.clock import utcnow
    from app.timers import Scheduler

    async with both_sides(data) as (portal, backoffice):
        base = load_definition_file(
            SCHEDULE_FORM / "sepa-mandat.yaml", backoffice.catalog
        )
        start = utcnow() + timedelta(days=1)
        for number in range(count):
            # Each a form of its own that goes live on a later day and ends a
            # week after: two timers' worth of schedule each, as clerks set.
            when = start + timedelta(hours=number)
            form = dataclasses.replace(
                base,
                slug=f"plan-{number}",
                publish_from=when.isoformat(),
                publish_until=(when + timedelta(days=7)).isoformat(),
            )
            await backoffice.publish(portal, form, "bench")
        tenants = load_tenants(portal.config.themes)
        scheduler = Scheduler()
        _, _, office = open_links(portal.config, portal, backoffice, tenants, scheduler)
        for number in range(count):
            await office.create(
                LinkRequest(
                    "musterstadt",
                    "sepa-mandat",
                    f"kunde{number}@example.org",
                    {"KUNDE_ORT": "Dresden"},
                ),
                "bench",
            )
        # The links' mails go out here (as .eml files, no SMTP in the bench
        # config), so the idle server has only the timers left to wait on.
        await scheduler.run_due()
