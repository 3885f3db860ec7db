"""What the admin's commands do, the same through the control socket or not."""

import asyncio
import logging

from aiohttp import web

from app.backoffice.service import BackOffice
from app.control import ControlError
from app.forms.definition import DefinitionError, parse_definition
from app.keys import BACKOFFICE, CONTROL, PORTAL, TENANTS
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

    app[CONTROL].register("import-form", import_form)
