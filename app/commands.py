"""What the admin's commands do, the same through the control socket or not."""

import asyncio
import logging

from aiohttp import web

from app.backoffice.links import LinkError, LinkOffice, LinkRequest
from app.backoffice.service import BackOffice
from app.control import ControlError
from app.forms.catalog import YamlError, load_yaml
from app.forms.definition import DefinitionError, parse_definition
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
    """Check a definition whole and publish it as the form's next version."""
    try:
        # Parsing a large definition takes a while; the portal keeps serving.
        form = await asyncio.to_thread(parse_definition, text, backoffice.catalog)
    except DefinitionError as error:
        raise ControlError(f"{source}: {error}") from error
    if form.tenant not in tenants or only_tenant not in (None, form.tenant):
        raise ControlError(f"{source}: unknown tenant {form.tenant!r}")
    version = await backoffice.publish(portal, form, by)
    return {"form": f"{form.tenant}/{form.slug}", "version": version}


def read_values(text: str, source: str) -> dict[str, str]:
    """Read a YAML mapping of MODWORK field names to values, every value a string."""
    try:
        values = load_yaml(text) or {}
    except YamlError as error:
        raise ControlError(f"{source}: {error}") from error
    if not isinstance(values, dict) or not all(
        isinstance(v, str) for v in values.values()
    ):
        raise ControlError(f"{source}: expected field names with one value each")
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

    app[CONTROL].register("import-form", import_form)
    app[CONTROL].register("send-link", send_link_command)
