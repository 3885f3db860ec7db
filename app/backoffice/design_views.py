"""Handlers of the back office's design pages: edit, preview, versions, restore.

The edit form works without JavaScript: one multipart form with the logo,
colours, layout, links and footer, and two buttons, "Vorschau" and
"Speichern". A preview keeps the unsaved design as the clerk's draft in
memory and shows the tenant's start page and its forms in it, under /admin,
so only clerks see it; nothing is stored until the clerk saves.
"""

import asyncio
import logging
from dataclasses import replace

from aiohttp import web

from app.backoffice import auth
from app.backoffice.designs import DESIGNS, DesignDesk, Draft
from app.backoffice.form_views import page, posted
from app.backoffice.forms import FORMS
from app.clock import german
from app.designs import (
    COLOR_LABELS,
    LAYOUT_LABELS,
    MAX_LOGO_BYTES,
    Design,
    DesignRefused,
    check_design,
    process_logo,
)
from app.forms.conditions import has_conditions
from app.keys import CLERK, TENANTS
from app.portal.service import ServedForm
from app.portal.views import theme_stylesheet
from app.tenants import Tenant
from app.web import PageError, render

log = logging.getLogger(__name__)

MAX_NOTE = 200
DONE_MESSAGES = {
    "saved": "Das Design ist gespeichert und im Portal zu sehen.",
    "restored": "Die Version ist als neues Design gespeichert und im Portal zu sehen.",
}
NO_DRAFT = (
    "Zu dieser Vorschau gibt es kein ungespeichertes Design mehr. Bitte öffnen "
    "Sie die Vorschau erneut aus dem Design-Formular."
)


def design_url(tenant: str, rest: str = "") -> str:
    """Return the admin address of a tenant's design, or of one of its pages."""
    return f"/admin/tenants/{tenant}/design{rest}"


async def clerks_tenant(request: web.Request) -> Tenant:
    """Return the tenant of the address if the clerk works for it, else 404."""
    clerk = await auth.require_clerk(request)
    tenant = request.app[TENANTS].get(request.match_info["tenant"])
    if tenant is None or not clerk.may_see(tenant.slug):
        raise PageError(404)
    return tenant


async def designs_list(request: web.Request) -> web.Response:
    """List the clerk's tenants with their current design version."""
    clerk = await auth.require_clerk(request)
    desk = request.app[DESIGNS]
    tenants = [
        {
            "name": tenant.name,
            "url": design_url(slug),
            "version": (await desk.current(slug)).version,
        }
        for slug, tenant in request.app[TENANTS].items()
        if clerk.may_see(slug)
    ]
    context = {"tenants": tenants, "page_title": "Design"}
    return page(request, "admin/design/list.html", context)


# The edit form.


async def _edit_context(
    request: web.Request, tenant: Tenant, values: dict, errors: dict, from_draft: bool
) -> dict:
    current = await request.app[DESIGNS].current(tenant.slug)
    return {
        "tenant": {"slug": tenant.slug, "name": tenant.name},
        "admin_url": design_url(tenant.slug),
        "values": values,
        "errors": list(errors.items()),
        "error_map": errors,
        "layouts": list(LAYOUT_LABELS.items()),
        "colors": list(COLOR_LABELS.items()),
        "version": current.version,
        "logo_url": (
            design_url(tenant.slug, f"/versions/{current.version}/logo.png")
            if current.logo
            else None
        ),
        "from_draft": from_draft,
        "message": DONE_MESSAGES.get(request.query.get("done", "")),
        "page_title": ("Fehler: " if errors else "") + f"Design: {tenant.name}",
    }


async def edit_page(request: web.Request) -> web.Response:
    """Show the current design in the form, or the clerk's draft after a preview."""
    tenant = await clerks_tenant(request)
    desk = request.app[DESIGNS]
    draft = desk.draft(request[CLERK].id, tenant.slug)
    if request.query.get("draft") == "1" and draft is not None:
        values, from_draft = draft.design.form_values(), True
    else:
        current = await desk.current(tenant.slug)
        values, from_draft = Design.from_json(current.design).form_values(), False
    context = await _edit_context(request, tenant, values, {}, from_draft)
    return page(request, "admin/design/edit.html", context)


async def submit(request: web.Request) -> web.Response:
    """Check the form; then preview it as a draft or save it as a new version."""
    tenant = await clerks_tenant(request)
    # Limitation: a whole request over aiohttp's 1 MiB body limit meets the
    # general "Zu groß" page, not the logo field's message; a logo is refused
    # with its own message from 512 kB up to that limit.
    data = await request.post()
    auth.check_csrf(request, str(data.get("csrf_token", "")))
    values = {k: v for k, v in data.items() if isinstance(v, str)}

    desk, clerk = request.app[DESIGNS], request[CLERK]
    errors: dict[str, str] = {}
    design = logo = None
    try:
        design = check_design(values)
    except DesignRefused as refused:
        errors.update(refused.errors)
    try:
        logo = await _logo(desk, clerk.id, tenant.slug, data)
    except DesignRefused as refused:
        errors.update(refused.errors)
    if errors:
        log.warning("Refused a design of %s: %s", tenant.slug, ", ".join(errors))
        from_draft = values.get("logo_from") == "draft"
        context = await _edit_context(request, tenant, values, errors, from_draft)
        return page(request, "admin/design/edit.html", context, status=422)

    if values.get("action") == "preview":
        desk.keep_draft(clerk.id, tenant.slug, Draft(design, logo))
        raise web.HTTPSeeOther(design_url(tenant.slug, "/preview"))
    await _save(desk, tenant, design, logo, clerk, values.get("note", ""))
    raise web.HTTPSeeOther(design_url(tenant.slug, "?done=saved"))


# Limitation: a design's logo can be replaced but not removed on this page;
# every tenant that ships has one, and a design without a logo shows the name.
async def _logo(desk: DesignDesk, clerk_id: int, tenant: str, data) -> bytes | None:
    """Return the logo to use: a new upload, the draft's, or the current one."""
    upload = data.get("logo")
    if isinstance(upload, web.FileField):
        # One byte over the limit is enough for process_logo to refuse it.
        content = upload.file.read(MAX_LOGO_BYTES + 1)
        if content:
            return await asyncio.to_thread(process_logo, content)
    draft = desk.draft(clerk_id, tenant)
    if data.get("logo_from") == "draft" and draft is not None:
        return draft.logo
    return (await desk.current(tenant)).logo


async def _save(desk, tenant, design, logo, clerk, note: str) -> int:
    note = " ".join(note.split())[:MAX_NOTE] or "Design geändert"
    number = await desk.save(tenant.slug, design, logo, clerk.name, note)
    desk.drop_draft(clerk.id, tenant.slug)
    log.info("Clerk %s saved design version %s of %s", clerk.id, number, tenant.slug)
    return number


# The preview of a draft, for clerks only.


def _draft(request: web.Request, tenant: Tenant) -> Draft:
    draft = request.app[DESIGNS].draft(request[CLERK].id, tenant.slug)
    if draft is None:
        raise PageError(404, NO_DRAFT, "Keine Vorschau")
    return draft


def _preview_render(
    request: web.Request, tenant: Tenant, draft: Draft, name: str, context: dict
) -> web.Response:
    base = design_url(tenant.slug)
    theme = draft.design.theme(tenant.slug, 0, draft.logo is not None)
    if draft.logo is not None:
        theme = replace(theme, logo_url=f"{base}/preview/logo.png")
    context["theme_css_url"] = f"{base}/preview/theme.css"
    context["design_preview"] = {
        "admin_url": base,
        "edit_url": f"{base}?draft=1",
        "save_url": f"{base}/preview/save",
        "start_url": f"{base}/preview",
        "csrf_token": auth.session_csrf(request.cookies.get(auth.SESSION_COOKIE, "")),
    }
    return render(request, name, context, tenant=tenant, theme=theme)


async def _online_forms(request: web.Request, tenant: Tenant) -> list[ServedForm]:
    """Return the tenant's forms as they are online now, by the back office's plan."""
    desk = request.app[FORMS]
    found = []
    for form in await desk.store.forms([tenant.slug]):
        overview = await desk.overview(form)
        if form.deleted_at is None and overview.online_version is not None:
            definition = await desk.version(form, overview.online_version)
            found.append(ServedForm(definition, overview.online_version, None))
    return sorted(found, key=lambda f: f.title)


async def preview_start(request: web.Request) -> web.Response:
    """Show the tenant's start page in the clerk's unsaved design."""
    tenant = await clerks_tenant(request)
    draft = _draft(request, tenant)
    base = design_url(tenant.slug)
    forms = [
        {"title": f.title, "intro": f.intro, "url": f"{base}/preview/forms/{f.slug}"}
        for f in await _online_forms(request, tenant)
        # As on the real start page: a links-only form is never listed.
        if not f.definition.links_only
    ]
    context = {"forms": forms, "page_title": tenant.short_name}
    return _preview_render(request, tenant, draft, "portal/index.html", context)


async def preview_form(request: web.Request) -> web.Response:
    """Show one of the tenant's online forms in the clerk's unsaved design."""
    tenant = await clerks_tenant(request)
    draft = _draft(request, tenant)
    slug = request.match_info["slug"]
    served = next(
        (f for f in await _online_forms(request, tenant) if f.slug == slug), None
    )
    if served is None:
        raise PageError(404)
    form_admin = f"/admin/forms/{tenant.slug}/{slug}"
    context = {
        "form": served,
        "values": {},
        "errors": [],
        "error_map": {},
        # Nothing is sent from a design's preview: the form has no token and
        # its address takes no send.
        "csrf_token": "",
        "action": design_url(tenant.slug, f"/preview/forms/{slug}"),
        "reselect_files": False,
        "max_upload_label": "",
        "privacy_url": draft.design.privacy_url,
        "conditions_url": (
            f"{form_admin}/preview/{served.version}/conditions.css"
            if has_conditions(served.definition)
            else None
        ),
        "page_title": served.title,
    }
    return _preview_render(request, tenant, draft, "portal/form.html", context)


async def preview_css(request: web.Request) -> web.Response:
    """Serve the unsaved design's colours as the portal serves a tenant's."""
    tenant = await clerks_tenant(request)
    design = _draft(request, tenant).design
    response = theme_stylesheet(request, design.colors, design.layout)
    response.headers["Cache-Control"] = "no-store"
    return response


async def preview_logo(request: web.Request) -> web.Response:
    """Serve the unsaved design's logo."""
    tenant = await clerks_tenant(request)
    logo = _draft(request, tenant).logo
    if logo is None:
        raise PageError(404)
    return web.Response(
        body=logo, content_type="image/png", headers={"Cache-Control": "no-store"}
    )


async def save_draft(request: web.Request) -> web.Response:
    """Save the previewed draft as the tenant's next design version."""
    tenant = await clerks_tenant(request)
    values = await posted(request)
    draft = _draft(request, tenant)
    desk, clerk = request.app[DESIGNS], request[CLERK]
    await _save(desk, tenant, draft.design, draft.logo, clerk, values.get("note", ""))
    raise web.HTTPSeeOther(design_url(tenant.slug, "?done=saved"))


# Versions.


async def versions_page(request: web.Request) -> web.Response:
    """List every version of the tenant's design with who, when and why."""
    tenant = await clerks_tenant(request)
    versions = []
    for stored in await request.app[DESIGNS].store.versions(tenant.slug):
        design = Design.from_json(stored.design)
        versions.append(
            {
                "number": stored.version,
                "by": stored.created_by,
                "at": german(stored.created_at),
                "note": stored.note,
                "layout": LAYOUT_LABELS[design.layout].split(":")[0],
                "colors": [(COLOR_LABELS[k], v) for k, v in design.colors.items()],
                "restore_url": design_url(
                    tenant.slug, f"/versions/{stored.version}/restore"
                ),
                "logo_url": (
                    design_url(tenant.slug, f"/versions/{stored.version}/logo.png")
                    if stored.logo is not None
                    else None
                ),
            }
        )
    context = {
        "tenant": {"name": tenant.name},
        "admin_url": design_url(tenant.slug),
        "versions": versions,
        "page_title": f"Design-Versionen: {tenant.name}",
    }
    return page(request, "admin/design/versions.html", context)


async def version_logo(request: web.Request) -> web.Response:
    """Serve the logo of one stored version, from the back office's own store."""
    tenant = await clerks_tenant(request)
    text = request.match_info["version"]
    stored = await request.app[DESIGNS].store.version(
        tenant.slug, int(text) if text.isdigit() else 0
    )
    if stored is None or stored.logo is None:
        raise PageError(404)
    return web.Response(body=stored.logo, content_type="image/png")


async def restore(request: web.Request) -> web.Response:
    """Save an earlier version again as the current design."""
    tenant = await clerks_tenant(request)
    await posted(request)
    text = request.match_info["version"]
    desk, clerk = request.app[DESIGNS], request[CLERK]
    number = int(text) if text.isdigit() else 0
    if await desk.restore(tenant.slug, number, clerk.name) is None:
        raise PageError(404)
    log.info("Clerk %s restored design version %s of %s", clerk.id, number, tenant.slug)
    raise web.HTTPSeeOther(design_url(tenant.slug, "?done=restored"))
