"""The stylesheet that hides a published form's conditional fields."""

import json

from aiohttp import web

from app.forms.conditions import conditions_css, has_conditions
from app.forms.definition import FormDefinition
from app.keys import PORTAL, TENANTS
from app.web import PageError


def conditions_url(tenant: str, form) -> str | None:
    """Return the address of a served form's conditions stylesheet, if it needs one."""
    if not has_conditions(form.definition):
        return None
    return f"/static/tenant/{tenant}/forms/{form.slug}/{form.version}/conditions.css"


def css_response(form: FormDefinition) -> web.Response:
    """Answer with a version's conditions; a version never changes, so cache it."""
    response = web.Response(text=conditions_css(form), content_type="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# Limitation: the conditions stylesheet of a links-only form is served to
# anyone who guesses its slug and version, since a link's pages must load it
# without their cookie; it tells that the form exists and names its
# conditional fields, though never a value anyone typed.
async def conditions_stylesheet(request: web.Request) -> web.Response:
    """Serve the conditions of a version the portal holds."""
    portal = request.app[PORTAL]
    tenant = request.match_info["tenant"]
    if (
        tenant not in request.app[TENANTS]
        or not request.match_info["version"].isdigit()
    ):
        raise PageError(404)
    published = await portal.store.version(
        tenant, request.match_info["slug"], int(request.match_info["version"])
    )
    if published is None:
        raise PageError(404)
    definition = FormDefinition.from_dict(
        json.loads(published.definition), portal.catalog
    )
    return css_response(definition)
