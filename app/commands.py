"""What the admin's commands do, the same through the control socket or not."""

import asyncio
import logging
import re
from datetime import datetime

from aiohttp import web

from app import localtime
from app.backoffice.forms import FORMS, FormDesk, FormError, schedule_of
from app.backoffice.links import LinkError, LinkOffice, LinkRequest
from app.backoffice.service import BackOffice
from app.clock import BERLIN
from app.control import ControlError
from app.forms.catalog import YamlError, load_yaml
from app.forms.definition import (
    DefinitionError,
    FormDefinition,
    definition_key,
    parse_definition,
)
from app.forms.source import definition_yaml
from app.keys import BACKOFFICE, CONTROL, LINK_OFFICE, PORTAL, TENANTS
from app.portal.service import Portal

log = logging.getLogger(__name__)


async def publish_definition(
    portal: Portal,
    backoffice: BackOffice,
    tenants,
    text: str,
    source: str,
    *,
    only_tenant: str | None = None,
    by: str = "import-form",
) -> dict:
    """Check a definition whole, save it as a new version and schedule it."""
    # A file that moves a form to another record type is refused for that,
    # before its fields are judged against the other type.
    key = definition_key(text)
    if key is not None and key[0] in tenants and only_tenant in (None, key[0]):
        desk = backoffice.form_desk(portal)
        existing = await desk.form(key[0], key[1])
        if existing is not None and existing.deleted_at is None:
            try:
                await desk.refuse_other_record_type(existing, key[2])
            except FormError as error:
                raise ControlError(f"{source}: {error}") from error
    try:
        # Parsing a large definition takes a while; the portal keeps serving.
        form = await asyncio.to_thread(parse_definition, text, backoffice.catalog)
    except DefinitionError as error:
        raise ControlError(f"{source}: {error}") from error
    if form.tenant not in tenants or only_tenant not in (None, form.tenant):
        line = _line_of_key(text, "tenant")
        raise ControlError(f"{source}: line {line}: unknown tenant {form.tenant!r}")
    try:
        version = await backoffice.publish(portal, form, by)
    except FormError as error:
        # A schedule or form that cannot go online is a fault of the file.
        raise ControlError(f"{source}: {error}") from DefinitionError(None, str(error))
    log.info("Imported %s/%s version %s", form.tenant, form.slug, version)
    return {
        "form": f"{form.tenant}/{form.slug}",
        "version": version,
        "schedule": _schedule_text(form, backoffice.form_desk(portal).clock()),
    }


def _schedule_text(form: FormDefinition, now: datetime) -> str:
    """Say in German when an imported version is online, as it was scheduled."""
    # Said in the answer, since an import without a start, or with one in the
    # past, goes online at once.
    start, until = schedule_of(form)
    begin = localtime.german_moment(start) if start and start > now else "sofort"
    end = f" bis {localtime.german_end(until)}" if until else ", ohne Ende"
    return f"online ab {begin}{end}"


def _line_of_key(text: str, key: str) -> int:
    """Return the line of a top-level key in a definition that parsed."""
    found = re.search(rf"^{key}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def _text_or_texts(value: object) -> bool:
    if isinstance(value, list):
        return all(isinstance(entry, str) for entry in value)
    return isinstance(value, str)


def read_values(text: str, source: str) -> dict[str, str | list[str]]:
    """Read a YAML mapping of MODWORK field names to strings or lists of strings.

    A list, one string per item, is for a field of a repeatable section; the
    form's check says which field takes which.
    """
    try:
        values = load_yaml(text) or {}
    except YamlError as error:
        raise ControlError(f"{source}: {error}") from error
    if not isinstance(values, dict) or not all(
        _text_or_texts(v) for v in values.values()
    ):
        raise ControlError(
            f"{source}: expected field names with one value each, or a list of "
            "values for a field of a repeatable section"
        )
    return values


async def send_link(office: LinkOffice, args: dict) -> dict:
    """Make a pre-filled link for a form and queue the mail that carries it."""
    source = str(args.get("source", "values"))
    request = LinkRequest(
        tenant=str(args.get("tenant", "")),
        slug=str(args.get("slug", "")),
        recipient=str(args.get("to", "")),
        values=read_values(str(args.get("values", "")), source),
    )
    try:
        link_id = await office.create(request, "send-link")
    except LinkError as error:
        raise ControlError(str(error)) from error
    return {"link": link_id, "form": f"{request.tenant}/{request.slug}"}


def _berlin_iso(moment: datetime) -> str:
    # Seconds only where the moment has some, so a re-import keeps it exactly.
    local = moment.astimezone(BERLIN)
    return local.isoformat(timespec="seconds" if local.second else "minutes")


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


def register_commands(app: web.Application) -> None:
    """Offer the admin's commands on the running server's control socket."""

    async def import_form(args: dict) -> dict:
        return await publish_definition(
            app[PORTAL],
            app[BACKOFFICE],
            app[TENANTS],
            str(args.get("text", "")),
            str(args.get("source", "form")),
        )

    async def send_link_command(args: dict) -> dict:
        return await send_link(app[LINK_OFFICE], args)

    async def export_form(args: dict) -> dict:
        version = args.get("version")
        return await export_text(
            app[FORMS],
            str(args.get("tenant", "")),
            str(args.get("slug", "")),
            int(version) if version else None,
        )

    app[CONTROL].register("import-form", import_form)
    app[CONTROL].register("send-link", send_link_command)
    app[CONTROL].register("export-form", export_form)
