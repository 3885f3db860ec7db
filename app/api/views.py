"""Handlers of MODWORK's API: take sealed submissions, push form definitions.

Every handler first checks the key and its scope; a key sees only its own
tenant's MODWORK queue, and anything else answers as if it did not exist.
"""

import asyncio
import base64
import json
import logging
import re
from pathlib import Path

from aiohttp import web

from app.api.auth import require_key
from app.api.receivers import modwork_receiver
from app.backoffice.forms import FORMS
from app.commands import publish_definition
from app.control import ControlError
from app.forms.definition import DefinitionError, definition_key
from app.keys import BACKOFFICE, PORTAL, PORTAL_LINKS, QUEUE, TENANTS
from app.storage.api import ApiKey
from app.storage.portal import SealedSubmission
from app.web import Problem

log = logging.getLogger(__name__)

OPENAPI = (Path(__file__).resolve().parent / "openapi.json").read_bytes()
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
FILE_ID = re.compile(r"[0-9a-f]{16}")
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
DEFINITION_TYPES = {
    "application/json": "json",
    "application/yaml": "yaml",
    "application/x-yaml": "yaml",
    "text/yaml": "yaml",
}


async def openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI document that describes every handler here."""
    return web.Response(body=OPENAPI, content_type="application/json")


def _limit(request: web.Request) -> int:
    given = request.query.get("limit")
    if given is None:
        return DEFAULT_LIMIT
    if (
        len(given) <= len(str(MAX_LIMIT))
        and given.isascii()
        and given.isdigit()
        and 1 <= int(given) <= MAX_LIMIT
    ):
        return int(given)
    raise Problem(
        422,
        errors=[
            {
                "field": "limit",
                "message": f"Geben Sie eine ganze Zahl von 1 bis {MAX_LIMIT} an.",
            }
        ],
    )


def _summary(submission: SealedSubmission) -> dict:
    return {
        "id": submission.id,
        "form": {"slug": submission.form_slug, "version": submission.form_version},
        "received_at": submission.received_at,
    }


async def list_submissions(request: web.Request) -> web.Response:
    """List the oldest submissions waiting for the key's MODWORK."""
    key = await require_key(request, "submissions:read")
    limit = _limit(request)

    queue = request.app[QUEUE]
    batch = await queue.take(modwork_receiver(key.tenant), limit + 1)
    mine = [s for s in batch if s.tenant == key.tenant]
    return web.json_response(
        {"submissions": [_summary(s) for s in mine[:limit]], "more": len(mine) > limit}
    )


async def _pending(request: web.Request, key: ApiKey) -> SealedSubmission:
    submission_id = request.match_info["id"]
    submission = None
    if SUBMISSION_ID.fullmatch(submission_id):
        submission = await request.app[QUEUE].take_one(
            modwork_receiver(key.tenant), submission_id
        )
    if submission is None or submission.tenant != key.tenant:
        raise Problem(404, "Diesen wartenden Eingang gibt es nicht (mehr).")
    return submission


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def get_submission(request: web.Request) -> web.Response:
    """Return one sealed submission: its sealed key, values and file list."""
    key = await require_key(request, "submissions:read")
    submission = await _pending(request, key)

    base = f"/api/v1/submissions/{submission.id}/files"
    links = request.app[PORTAL_LINKS].store
    return web.json_response(
        {
            **_summary(submission),
            "tenant": submission.tenant,
            "receipt": submission.receipt,
            "link_id": await links.used_by(submission.tenant, submission.receipt),
            "format": 1,
            "sealed_key": _b64(submission.sealed_key),
            "sealed_values": _b64(submission.sealed_values),
            "files": [
                {
                    "id": f.file_id,
                    "field": f.field,
                    "sealed_size": f.sealed_size,
                    "href": f"{base}/{f.file_id}",
                }
                for f in submission.files
            ],
        }
    )


async def get_file(request: web.Request) -> web.StreamResponse:
    """Stream one sealed file of a pending submission, as it is stored."""
    key = await require_key(request, "submissions:read")
    submission = await _pending(request, key)
    file_id = request.match_info["file_id"]
    if not FILE_ID.fullmatch(file_id) or all(
        f.file_id != file_id for f in submission.files
    ):
        raise Problem(404, "Diese Datei gibt es bei diesem Eingang nicht.")

    path = request.app[QUEUE].file_path(submission.id, file_id)
    response = web.FileResponse(path)
    response.content_type = "application/octet-stream"
    return response


async def acknowledge(request: web.Request) -> web.Response:
    """Let the portal delete a taken submission; a repeat answers the same."""
    key = await require_key(request, "submissions:ack")
    submission_id = request.match_info["id"]
    if not SUBMISSION_ID.fullmatch(submission_id):
        raise Problem(404, "Diesen Eingang gibt es nicht.")

    queue = request.app[QUEUE]
    submission = await queue.take_one(modwork_receiver(key.tenant), submission_id)
    if submission is not None and submission.tenant == key.tenant:
        await queue.acknowledge([submission.id])
        log.info("MODWORK of %s acknowledged submission %s", key.tenant, submission.id)
    return web.json_response({"id": submission_id, "acknowledged": True})


async def _definition_text(request: web.Request) -> str:
    kind = DEFINITION_TYPES.get(request.content_type)
    if kind is None:
        raise Problem(
            415,
            "Senden Sie die Formulardefinition als application/json oder "
            "application/yaml.",
        )
    body = await request.read()
    try:
        text = body.decode("utf-8")
        if kind == "json" and not isinstance(json.loads(text), dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as error:
        wanted = "gültiges JSON-Objekt" if kind == "json" else "Text"
        message = f"Der Inhalt ist kein {wanted} in UTF-8."
        raise Problem(422, errors=[{"field": "body", "message": message}]) from error
    return text


def _refusal(error: ControlError) -> Problem:
    cause = error.__cause__
    # Limitation: a definition's faults are named in English, as the parser
    # words them for import-form.
    if isinstance(cause, DefinitionError):
        problems = [_fault(fault) for fault in (cause, *cause.others)]
    else:
        problems = [
            {
                "field": "tenant",
                "message": "Der API-Schlüssel gilt nur für Formulare seines Mandanten.",
            }
        ]
    return Problem(422, "Die Formulardefinition ist nicht gültig.", problems)


def _fault(fault) -> dict:
    problem = {"field": "body", "message": fault.reason}
    if fault.line is not None:
        problem["line"] = fault.line
    return problem


async def _refuse_deleted(request: web.Request, tenant: str, text: str) -> None:
    """Answer 409 for a definition of a deleted form: restore it first."""
    # Limitation: a form deleted between this check and the publication is
    # refused by the publication itself, with 422 instead of 409.
    found = await asyncio.to_thread(definition_key, text)
    if found is None or found[0] != tenant:
        return
    form = await request.app[FORMS].form(tenant, found[1])
    if form is not None and form.deleted_at is not None:
        raise Problem(
            409,
            "Ein gelöschtes Formular kann nicht veröffentlicht werden; stellen Sie "
            "es zuerst wieder her.",
        )


async def push_form(request: web.Request) -> web.Response:
    """Publish a form definition as the form's next version."""
    key = await require_key(request, "forms:write")
    text = await _definition_text(request)
    await _refuse_deleted(request, key.tenant, text)

    app = request.app
    try:
        published = await publish_definition(
            app[PORTAL],
            app[BACKOFFICE],
            app[TENANTS],
            text,
            "body",
            only_tenant=key.tenant,
            by=f"api:{key.name}",
        )
    except ControlError as error:
        log.warning("Refused a form definition from API key %s", key.id)
        raise _refusal(error) from error
    tenant, slug = published["form"].split("/")
    log.info("API key %s published %s version %s", key.id, slug, published["version"])
    return web.json_response(
        {"tenant": tenant, "slug": slug, "version": published["version"]}, status=201
    )
