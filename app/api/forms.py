"""MODWORK's forms through the API: versions, restoring one, deleting a form.

Each handler goes through the same FormDesk the back office's clerks use; a
key reaches only its own tenant's forms, and another tenant's slug answers
as an unknown one does.
"""

import json
import logging
import re
from datetime import datetime

from aiohttp import web

from app.api.auth import require_key
from app.backoffice.forms import FORMS, FormError
from app.clock import BERLIN
from app.commands import export_text
from app.forms import lifecycle
from app.forms.catalog import load_yaml
from app.storage.forms import FormRow
from app.web import Problem

log = logging.getLogger(__name__)

VERSION = re.compile(r"[1-9][0-9]{0,8}")


async def _form(request: web.Request, tenant: str) -> FormRow:
    """Return the tenant's form named in the path, deleted or not, or 404."""
    form = await request.app[FORMS].form(tenant, request.match_info["slug"])
    if form is None:
        raise Problem(404, "Dieses Formular gibt es nicht.")
    return form


def _version_number(request: web.Request, form: FormRow) -> int:
    given = request.match_info["version"]
    if not VERSION.fullmatch(given) or int(given) > form.last_version:
        raise Problem(404, "Diese Version des Formulars gibt es nicht.")
    return int(given)


async def list_versions(request: web.Request) -> web.Response:
    """List a form's versions: number, who saved it when, its note and state."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)

    desk = request.app[FORMS]
    now = desk.clock()
    publications = {p.version: p for p in await desk.store.publications(form.id)}
    deleted = form.deleted_at is not None
    versions = [
        {
            "version": v.version,
            "created_by": v.created_by,
            "created_at": v.created_at,
            "note": v.note,
            "state": lifecycle.state_of(
                [publications[v.version]] if v.version in publications else [],
                deleted,
                now,
            ),
        }
        for v in await desk.store.versions(form.id)
    ]
    overview = await desk.overview(form)
    return web.json_response(
        {"slug": form.slug, "state": overview.state, "versions": versions}
    )


async def get_version(request: web.Request) -> web.Response:
    """Return one version as a definition, in the shape of export-form."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)
    number = _version_number(request, form)

    exported = await export_text(request.app[FORMS], key.tenant, form.slug, number)
    # The exported YAML holds strings only, so it reads back as plain JSON.
    return web.json_response(load_yaml(exported["text"]))


async def restore_version(request: web.Request) -> web.Response:
    """Save an earlier version again as the form's newest draft."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)
    number = _version_number(request, form)

    try:
        new = await request.app[FORMS].restore_version(form, number, f"api:{key.name}")
    except FormError as error:
        raise Problem(409, str(error)) from error
    log.info("API key %s restored %s version %s as %s", key.id, form.slug, number, new)
    return web.json_response(
        {"slug": form.slug, "version": new, "restored_from": number}, status=201
    )


def _moment(body: dict, name: str, errors: list[dict]) -> datetime | None:
    """Read an optional ISO 8601 time; one without an offset is Berlin's."""
    given = body.get(name)
    if given is None:
        return None
    try:
        moment = datetime.fromisoformat(given)
    except (TypeError, ValueError):
        message = "Geben Sie einen Zeitpunkt nach ISO 8601 an."
        errors.append({"field": name, "message": message})
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=BERLIN)


async def _schedule(request: web.Request) -> tuple[datetime | None, datetime | None]:
    """Read the optional body of a publication: when it starts and ends."""
    raw = await request.read()
    body = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
    if not isinstance(body, dict):
        message = "Der Inhalt muss ein JSON-Objekt sein."
        raise Problem(422, errors=[{"field": "body", "message": message}])
    errors: list[dict] = []
    start = _moment(body, "publish_from", errors)
    until = _moment(body, "publish_until", errors)
    if errors:
        raise Problem(422, "Die Angaben sind nicht vollständig.", errors)
    return start, until


async def publish_version(request: web.Request) -> web.Response:
    """Put a version online now or from a time, until an optional end."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)
    number = _version_number(request, form)
    start, until = await _schedule(request)

    desk = request.app[FORMS]
    if form.deleted_at is not None:
        raise Problem(409, "Ein gelöschtes Formular kann nicht veröffentlicht werden.")
    try:
        await desk.publish(form, number, start, until, f"api:{key.name}")
    except FormError as error:
        raise Problem(422, errors=[{"field": "body", "message": str(error)}]) from error
    log.info("API key %s published %s version %s", key.id, form.slug, number)
    overview = await desk.overview(await desk.form(key.tenant, form.slug))
    return web.json_response(
        {"slug": form.slug, "version": number, "state": overview.state}
    )


async def delete_form(request: web.Request) -> web.Response:
    """Take a form offline at once and mark it deleted, keeping its versions."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)

    await request.app[FORMS].delete(form, f"api:{key.name}")
    return web.json_response({"slug": form.slug, "state": lifecycle.DELETED})


async def undelete_form(request: web.Request) -> web.Response:
    """Bring a deleted form back with its versions; it stays offline."""
    key = await require_key(request, "forms:write")
    form = await _form(request, key.tenant)

    desk = request.app[FORMS]
    await desk.undelete(form, f"api:{key.name}")
    overview = await desk.overview(await desk.form(key.tenant, form.slug))
    return web.json_response({"slug": form.slug, "state": overview.state})
