"""What the admin's commands do, the same through the control socket or not."""

import logging
from datetime import datetime
from pathlib import Path

from aiohttp import web

from app import localtime
from app.backoffice.forms import FORMS, FormDesk, FormError
from app.clock import BERLIN
from app.control import ControlError
from app.forms.definition import DefinitionError, FormDefinition, parse_definition
from app.forms.source import definition_yaml
from app.keys import CONTROL, TENANTS

log = logging.getLogger(__name__)

DEMO_FORMS = Path(__file__).resolve().parent / "demo" / "forms"


def _schedule(form: FormDefinition) -> tuple[datetime | None, datetime | None]:
    """Return a definition's publish_from and publish_until as UTC moments."""
    start = localtime.from_iso(form.publish_from).utc if form.publish_from else None
    until = None
    if form.publish_until:
        until = localtime.from_iso(form.publish_until, until=True).utc
    return start, until


def _berlin_iso(moment: datetime) -> str:
    return moment.astimezone(BERLIN).isoformat(timespec="minutes")


async def import_text(
    desk: FormDesk, tenants, text: str, source: str, clerk: str = "import-form"
) -> dict:
    """Check a definition whole, save it as a new version and schedule it."""
    try:
        form = parse_definition(text, desk.catalog)
    except DefinitionError as error:
        raise ControlError(f"{source}: {error}") from error
    if form.tenant not in tenants:
        raise ControlError(f"{source}: unknown tenant {form.tenant!r}")
    start, until = _schedule(form)
    try:
        version = await desk.import_definition(form, clerk, start, until)
    except FormError as error:
        raise ControlError(f"{source}: {error}") from error
    log.info("Imported %s/%s version %s", form.tenant, form.slug, version)
    return {"form": f"{form.tenant}/{form.slug}", "version": version}


async def export_text(
    desk: FormDesk, tenant: str, slug: str, version: int | None = None
) -> dict:
    """Write a form's version (default: the newest) as a definition file."""
    form = await desk.form(tenant, slug)
    if form is None:
        raise ControlError(f"there is no form {tenant}/{slug}")
    number = version or form.last_version
    definition = await desk.version(form, number)
    if definition is None:
        raise ControlError(f"form {tenant}/{slug} has no version {number}")
    schedule = [
        p for p in await desk.store.publications(form.id) if p.version == number
    ]
    start = until = ""
    if schedule:
        start = _berlin_iso(schedule[0].start)
        if schedule[0].until is not None:
            until = _berlin_iso(schedule[0].until)
    heading = f"Form {tenant}/{slug}, version {number}, exported from MODPORTAL"
    text = definition_yaml(definition, desk.catalog, start, until, heading)
    return {"form": f"{tenant}/{slug}", "version": number, "text": text}


async def import_demo_forms(desk: FormDesk, tenants) -> None:
    """Import the demo forms, the same way as import-form, into an empty store."""
    if await desk.store.forms(None):
        return
    for path in sorted(DEMO_FORMS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if parse_definition(text, desk.catalog).tenant in tenants:
            await import_text(desk, tenants, text, path.name, clerk="system")


def register_commands(app: web.Application) -> None:
    """Offer the admin's commands on the running server's control socket."""

    async def import_form(args: dict) -> dict:
        return await import_text(
            app[FORMS],
            app[TENANTS],
            str(args.get("text", "")),
            str(args.get("source", "form")),
        )

    async def export_form(args: dict) -> dict:
        version = args.get("version")
        return await export_text(
            app[FORMS],
            str(args.get("tenant", "")),
            str(args.get("slug", "")),
            int(version) if version else None,
        )

    app[CONTROL].register("import-form", import_form)
    app[CONTROL].register("export-form", export_form)
