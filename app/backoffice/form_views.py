"""Handlers of the back office's form pages: list, create, schedule, versions."""

import logging
import re
from datetime import datetime

from aiohttp import web

from app import localtime
from app.backoffice import auth
from app.backoffice.forms import (
    FORMS,
    FormDesk,
    FormError,
    Overview,
    publish_problems,
)
from app.clock import german
from app.forms import compare, editor, group_editor, lifecycle, step_editor
from app.forms.catalog import unsafe_character
from app.forms.definition import FormDefinition
from app.forms.editor import MAX_TEXT, Posted
from app.forms.groups import MAX_ITEMS
from app.forms.lifecycle import STATE_LABELS
from app.keys import CLERK, CONFIG, TENANTS
from app.storage.forms import FormRow
from app.web import PageError, render

log = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,58}[a-z0-9]")
EVENT_LABELS = {
    "saved": "Version gespeichert",
    "published": "Veröffentlichung geplant",
    "online": "Online gegangen",
    "offline": "Offline gegangen",
    "ended": "Ende festgelegt",
    "deleted": "Gelöscht",
    "undeleted": "Wiederhergestellt",
}
DONE_MESSAGES = {
    "created": "Das Formular ist angelegt. Fügen Sie jetzt Felder hinzu.",
    "published": "Die Veröffentlichung ist gespeichert.",
    "ended": "Das Ende ist gespeichert.",
    "deleted": "Das Formular ist gelöscht und offline. Sie können es wiederherstellen.",
    "undeleted": "Das Formular ist wiederhergestellt. Es bleibt offline, bis Sie "
    "es veröffentlichen.",
    "restored": "Die Version ist als neuer Entwurf gespeichert.",
    "saved": "Der Entwurf ist gespeichert.",
}


def page(request: web.Request, name: str, context: dict, status: int = 200):
    """Render a clerk's page with the session's form token."""
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    context.setdefault("clerk", request.get(CLERK))
    context.setdefault("csrf_token", auth.session_csrf(token))
    return render(request, name, context, status=status)


async def posted(request: web.Request) -> dict[str, str]:
    """Read a clerk's form after checking its session token."""
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    return {key: str(value) for key, value in form.items()}


def form_url(form: FormRow, rest: str = "") -> str:
    """Return the admin address of a form, or of one of its pages."""
    return f"/admin/forms/{form.tenant}/{form.slug}{rest}"


async def clerks_form(request: web.Request) -> FormRow:
    """Return the form of the address if the clerk may work on it, else 404."""
    clerk = await auth.require_clerk(request)
    tenant = request.match_info["tenant"]
    if tenant not in request.app[TENANTS] or not clerk.may_see(tenant):
        raise PageError(404)
    form = await request.app[FORMS].form(tenant, request.match_info["slug"])
    if form is None:
        raise PageError(404)
    return form


def _clerks_tenants(request: web.Request) -> list[tuple[str, str]]:
    clerk = request[CLERK]
    return [
        (slug, tenant.name)
        for slug, tenant in request.app[TENANTS].items()
        if clerk.may_see(slug)
    ]


# The list and a new form.


async def forms_list(request: web.Request) -> web.Response:
    """List the clerk's forms with their state; deleted ones when asked for."""
    clerk = await auth.require_clerk(request)
    desk = request.app[FORMS]
    show_deleted = request.query.get("deleted") == "1"
    rows = []
    for form in await desk.store.forms(clerk.tenants):
        if form.deleted_at is not None and not show_deleted:
            continue
        rows.append(_summary(request, await desk.overview(form)))
    context = {
        "forms": rows,
        "show_deleted": show_deleted,
        "page_title": "Formulare",
    }
    return page(request, "admin/forms/list.html", context)


def _summary(request: web.Request, overview: Overview) -> dict:
    form = overview.form
    tenant = request.app[TENANTS].get(form.tenant)
    record_type = request.app[FORMS].catalog.record_types.get(
        overview.newest.record_type
    )
    return {
        "title": overview.newest.title,
        "url": form_url(form),
        "tenant_name": tenant.name if tenant else form.tenant,
        "slug": form.slug,
        "record_type_label": record_type.label if record_type else "",
        "links_only": overview.newest.links_only,
        "state": overview.state,
        "state_label": STATE_LABELS[overview.state],
        "online_version": overview.online_version,
        "last_version": form.last_version,
        "has_draft": overview.has_draft,
    }


def _new_context(request: web.Request, values: dict, errors: dict) -> dict:
    catalog = request.app[FORMS].catalog
    return {
        "tenants": _clerks_tenants(request),
        "record_types": [(t.key, t.label) for t in catalog.record_types.values()],
        "values": values,
        "errors": list(errors.items()),
        "error_map": errors,
        "page_title": ("Fehler: " if errors else "") + "Neues Formular",
    }


async def new_form_page(request: web.Request) -> web.Response:
    """Show the form for a new form: tenant, record type, address, title."""
    await auth.require_clerk(request)
    return page(request, "admin/forms/new.html", _new_context(request, {}, {}))


async def create_form(request: web.Request) -> web.Response:
    """Create a form whose first version is an empty draft."""
    clerk = await auth.require_clerk(request)
    values = await posted(request)
    errors = _new_form_errors(request, values)
    if not errors:
        try:
            await request.app[FORMS].create(
                values["tenant"],
                values["slug"],
                values["title"].strip(),
                values["record_type"],
                clerk.name,
            )
        except FormError as error:
            errors["slug"] = str(error)
    if errors:
        context = _new_context(request, values, errors)
        return page(request, "admin/forms/new.html", context, status=422)
    log.info("Clerk %s created form %s/%s", clerk.id, values["tenant"], values["slug"])
    url = f"/admin/forms/{values['tenant']}/{values['slug']}/edit?done=created"
    raise web.HTTPSeeOther(url)


def _new_form_errors(request: web.Request, values: dict) -> dict[str, str]:
    errors = {}
    if values.get("tenant") not in dict(_clerks_tenants(request)):
        errors["tenant"] = "Wählen Sie einen Mandanten."
    if values.get("record_type") not in request.app[FORMS].catalog.record_types:
        errors["record_type"] = "Wählen Sie eine Belegart."
    if not SLUG.fullmatch(values.get("slug", "")):
        errors["slug"] = (
            "Die Adresse besteht aus 2 bis 60 Kleinbuchstaben, Ziffern und "
            "Bindestrichen, zum Beispiel „umzug-melden“."
        )
    if not values.get("title", "").strip():
        errors["title"] = "Geben Sie einen Titel an."
    elif bad := unsafe_character(values["title"]):
        errors["title"] = f"Der Titel enthält das Steuerzeichen {bad}; bitte entfernen."
    elif len(values["title"]) > MAX_TEXT:
        errors["title"] = f"Der Titel ist länger als {MAX_TEXT} Zeichen."
    return errors


# One form: its state, schedule, versions and history.


def _moment_text(moment: datetime | None, end: bool = False) -> str:
    if moment is None:
        return "offen"
    return (localtime.german_end if end else localtime.german_moment)(moment)


def _schedule_rows(overview: Overview, now: datetime) -> list[dict]:
    return [
        {
            "version": p.version,
            "start": _moment_text(p.start),
            "until": _moment_text(p.until, end=True),
            "notes": [n for n in map(localtime.doubled_note, (p.start, p.until)) if n],
            "by": p.by,
            "online": p.online(now),
            "upcoming": p.start > now,
        }
        for p in overview.publications
    ]


async def _form_context(request: web.Request, form: FormRow) -> dict:
    desk: FormDesk = request.app[FORMS]
    overview = await desk.overview(form)
    now = desk.clock()
    versions = await desk.store.versions(form.id)
    events = await desk.store.events(form.id)
    summary = _summary(request, overview)
    return {
        "form": summary,
        "admin_url": form_url(form),
        "deleted": form.deleted_at is not None,
        "schedule": _schedule_rows(overview, now),
        "upcoming": lifecycle.upcoming(overview.publications, now) is not None,
        # A publication cut before its start leaves the schedule but not the
        # history, so an empty schedule alone does not mean a mere draft.
        "ever_published": any(e.event == "published" for e in events),
        "versions": [
            {
                "number": v.version,
                "by": v.created_by,
                "at": german(v.created_at),
                "note": v.note,
                "url": form_url(form, f"/versions/{v.version}"),
            }
            for v in versions
        ],
        "events": [
            {
                "at": german(e.at),
                "label": EVENT_LABELS.get(e.event, e.event),
                "version": e.version,
                "clerk": e.clerk,
            }
            for e in events
        ],
        "problems": publish_problems(overview.newest),
        "message": DONE_MESSAGES.get(request.query.get("done", "")),
        "error": None,
        "values": {},
        "page_title": f"Formular: {summary['title']}",
    }


async def form_page(request: web.Request) -> web.Response:
    """Show a form: its state, schedule, versions and what happened to it."""
    form = await clerks_form(request)
    return page(request, "admin/forms/form.html", await _form_context(request, form))


async def _refused(
    request: web.Request, form: FormRow, error: Exception, values: dict
) -> web.Response:
    context = await _form_context(request, form)
    context["error"] = str(error)
    context["values"] = values
    context["page_title"] = f"Fehler: {context['page_title']}"
    log.warning("Refused a change of form %s/%s", form.tenant, form.slug)
    return page(request, "admin/forms/form.html", context, status=422)


def _moment(values: dict, prefix: str, *, until: bool = False):
    """Read an `at` choice with its date and time; None for now or open."""
    if values.get(f"{prefix}_mode") != "at":
        return None
    return localtime.from_form(
        values.get(f"{prefix}_date", ""), values.get(f"{prefix}_time", ""), until=until
    ).utc


async def publish(request: web.Request) -> web.Response:
    """Schedule a version: online from now or a time, until open or a time."""
    form = await clerks_form(request)
    values = await posted(request)
    try:
        version = int(values.get("version", ""))
        start = _moment(values, "start")
        until = _moment(values, "until", until=True)
        await request.app[FORMS].publish(
            form, version, start, until, request[CLERK].name
        )
    except ValueError as error:
        message = str(error) if isinstance(error, localtime.LocalTimeError) else None
        return await _refused(
            request, form, message or "Wählen Sie eine Version.", values
        )
    except FormError as error:
        return await _refused(request, form, error, values)
    raise web.HTTPSeeOther(form_url(form, "?done=published"))


async def end(request: web.Request) -> web.Response:
    """Take a form offline now or at a time."""
    form = await clerks_form(request)
    values = await posted(request)
    try:
        at = _moment(values, "end", until=True)
        await request.app[FORMS].end(form, at, request[CLERK].name)
    except (localtime.LocalTimeError, FormError) as error:
        return await _refused(request, form, error, values)
    raise web.HTTPSeeOther(form_url(form, "?done=ended"))


async def delete(request: web.Request) -> web.Response:
    """Delete a form: offline at once, versions kept, restorable."""
    form = await clerks_form(request)
    await posted(request)
    await request.app[FORMS].delete(form, request[CLERK].name)
    raise web.HTTPSeeOther(form_url(form, "?done=deleted"))


async def undelete(request: web.Request) -> web.Response:
    """Bring a deleted form back, offline, with all its versions."""
    form = await clerks_form(request)
    await posted(request)
    await request.app[FORMS].undelete(form, request[CLERK].name)
    raise web.HTTPSeeOther(form_url(form, "?done=undeleted"))


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PageError(404) from None


async def restore_version(request: web.Request) -> web.Response:
    """Save an earlier version again as the newest draft."""
    form = await clerks_form(request)
    await posted(request)
    number = _number(request.match_info["version"])
    try:
        await request.app[FORMS].restore_version(form, number, request[CLERK].name)
    except FormError as error:
        return await _refused(request, form, error, {})
    raise web.HTTPSeeOther(form_url(form, "?done=restored"))


async def version_page(request: web.Request) -> web.Response:
    """Show one version as it reads, without changing anything."""
    form = await clerks_form(request)
    number = _number(request.match_info["version"])
    definition = await request.app[FORMS].version(form, number)
    if definition is None:
        raise PageError(404)
    context = {
        "definition": definition,
        "number": number,
        "admin_url": form_url(form),
        "deleted": form.deleted_at is not None,
        "page_title": f"{definition.title}: Version {number}",
    }
    return page(request, "admin/forms/version.html", context)


async def compare_page(request: web.Request) -> web.Response:
    """Show two versions side by side: what was added, removed or changed."""
    form = await clerks_form(request)
    desk = request.app[FORMS]
    left_number = _number(request.query.get("a", ""))
    right_number = _number(request.query.get("b", ""))
    left = await desk.version(form, left_number)
    right = await desk.version(form, right_number)
    if left is None or right is None:
        raise PageError(404)
    changes = compare.compare(left, right)
    context = {
        "changes": changes,
        "kind_labels": compare.KIND_LABELS,
        "left": left_number,
        "right": right_number,
        "title": right.title,
        "admin_url": form_url(form),
        "page_title": f"{right.title}: Version {left_number} und {right_number}",
    }
    return page(request, "admin/forms/compare.html", context)


# The editor: one page per draft, every button a save.


def _editor_context(
    request: web.Request,
    form: FormRow,
    definition: FormDefinition,
    number: int,
    raw: Posted | None = None,
    errors: dict[str, str] | None = None,
) -> dict:
    desk = request.app[FORMS]
    max_file = request.app[CONFIG].uploads.max_file_bytes
    fields = {
        field.name: {
            "placeholder": editor.placeholder_allowed(field),
            "choices": editor.choices_text(field.choices),
            "accept_options": [
                (t, editor.TYPE_LABELS.get(t, t))
                for t in desk.catalog.fields[field.name].accept
            ],
            "max_mb": editor.mb_text(field.max_bytes),
            "ceiling_mb": editor.mb_text(
                editor.file_ceiling(
                    desk.catalog.fields[field.name], definition, max_file
                )
            ),
            "catalog_label": desk.catalog.fields[field.name].label,
            "conditions": (
                []
                if field.type == "file"
                else editor.condition_options(definition, field)
            ),
            "condition": editor.condition_of(field),
        }
        for field in definition.fields
    }
    errors = errors or {}
    return {
        "definition": definition,
        "number": number,
        "admin_url": form_url(form),
        "fields": fields,
        "addable": [
            (f.name, f.label) for f in editor.addable_fields(definition, desk.catalog)
        ],
        "links_only_fixed": editor.links_only_fixed(definition),
        "raw": raw,
        "errors": list(errors.items()),
        "error_map": errors,
        "problems": publish_problems(definition),
        "step_marks": step_editor.marks(definition),
        "repeat_inputs": [group_editor.inputs(s) for s in definition.sections],
        "max_items": MAX_ITEMS,
        "message": DONE_MESSAGES.get(request.query.get("done", "")),
        "page_title": ("Fehler: " if errors else "")
        + f"Bearbeiten: {definition.title}",
    }


async def editor_page(request: web.Request) -> web.Response:
    """Show the newest version of a form in the editor."""
    form = await clerks_form(request)
    if form.deleted_at is not None:
        raise PageError(404)
    definition = await request.app[FORMS].version(form, form.last_version)
    context = _editor_context(request, form, definition, form.last_version)
    return page(request, "admin/forms/editor.html", context)


async def save_draft(request: web.Request) -> web.Response:
    """Apply the editor's page and its button, and save it as the next version."""
    form = await clerks_form(request)
    data = await request.post()
    auth.check_csrf(request, str(data.get("csrf_token", "")))
    posted = Posted({key: [str(v) for v in data.getall(key)] for key in data})
    desk = request.app[FORMS]
    base = await desk.version(form, form.last_version)
    if posted.one("base") != str(form.last_version):
        errors = {"base": _stale(form)}
        context = _editor_context(request, form, base, form.last_version, None, errors)
        return page(request, "admin/forms/editor.html", context, status=409)
    try:
        max_file = request.app[CONFIG].uploads.max_file_bytes
        edited = editor.apply(base, posted, desk.catalog, max_file)
    except editor.EditRefused as refused:
        context = _editor_context(
            request, form, base, form.last_version, posted, refused.errors
        )
        return page(request, "admin/forms/editor.html", context, status=422)
    if edited != base:
        await desk.save(form, edited, request[CLERK].name)
    anchor = posted.one("action", "save").partition(":")[2]
    raise web.HTTPSeeOther(form_url(form, f"/edit?done=saved#{_anchor(anchor)}"))


def _stale(form: FormRow) -> str:
    return (
        f"Inzwischen wurde Version {form.last_version} gespeichert. Ihre Änderungen "
        "sind nicht übernommen; hier sehen Sie die neueste Version."
    )


def _anchor(target: str) -> str:
    """Return where the editor reopens: the section or field acted on."""
    if target.isdigit():
        return f"section-{target}"
    return f"field-{target}" if re.fullmatch(r"[A-Z0-9_]+", target) else "top"
