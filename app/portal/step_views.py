"""The pages of a stepped form: each step, the check page and the final send.

Every page posts to the form's address; the button pressed says what to do
through its `formaction` (`?aktion=weiter`, `zurueck`, `aendern-2`,
`absenden`), so the choice is known before the body is read and no script
is needed. The form token is the first part, the state the second.
"""

import dataclasses
import logging

from aiohttp import web

from app import csrf
from app.forms import steps as stepping
from app.forms.validation import UploadInfo, applies, validate
from app.keys import PORTAL
from app.portal.condition_views import conditions_url
from app.portal.intake import Intake
from app.portal.service import ServedForm
from app.portal.steps import STEPS, StateRefused, StepState
from app.portal.views import (
    _purpose,
    in_page_order,
    read_all,
    receipt_page,
)
from app.tenants import Tenant
from app.web import PageError, browser_cookie, keep_csrf_cookie, render

log = logging.getLogger(__name__)

START_AGAIN = (
    "Ihre Angaben aus den bisherigen Schritten sind abgelaufen oder gehören "
    "nicht zu diesem Formular. Gespeichert wurde nichts. Bitte öffnen Sie das "
    "Formular neu und beginnen Sie von vorn."
)
CHECK_TITLE = "Bitte prüfen Sie Ihre Angaben"


def _binding(tenant: Tenant, form: ServedForm, cookie: str) -> tuple[str, ...]:
    return (tenant.slug, form.slug, str(form.version), cookie)


async def show_first_step(
    request: web.Request, tenant: Tenant, form: ServedForm
) -> web.Response:
    """Show a stepped form's first step with a fresh form session."""
    state = request.app[STEPS].new_state()
    return _step_page(request, tenant, form, browser_cookie(request), state)


async def send_step(
    request: web.Request, tenant: Tenant, form: ServedForm, reader
) -> web.Response:
    """Take one page of a stepped form and show the next, or send the whole."""
    steps, portal = request.app[STEPS], request.app[PORTAL]
    cookie = request.cookies[csrf.COOKIE]
    try:
        binding = _binding(tenant, form, cookie)
        state = await steps.read_state(reader, binding, len(form.fields))
    except StateRefused as refused:
        log.warning("Refused the state of a %s step page: %s", form.slug, refused)
        raise PageError(403, START_AGAIN, "Bitte neu beginnen") from refused
    if previous := await portal.previous_receipt(state.nonce):
        return receipt_page(request, tenant, form, previous)

    action = request.query.get("aktion", "weiter")
    errors = await _read_page(request, form, state, reader)
    count = len(form.steps)
    if action == "zurueck":
        state.step = max(state.step - 1, 0)
    elif action.startswith("aendern-"):
        state.step = _jump(action, state.step)
    elif errors:
        return _step_page(request, tenant, form, cookie, state, errors, status=422)
    elif action == "absenden":
        return await _send(request, tenant, form, cookie, state)
    else:
        state.step = min(state.step + 1, count)
    return _step_page(request, tenant, form, cookie, state)


def _jump(action: str, current: int) -> int:
    """Return the step an "Ändern" button goes back to; never one ahead."""
    number = action.removeprefix("aendern-")
    if not number.isdigit() or int(number) > current:
        raise PageError(400)
    return int(number)


async def _read_page(request, form: ServedForm, state: StepState, reader) -> dict:
    """Read a page's fields and files into the state; return its errors."""
    steps = request.app[STEPS]
    if state.step >= len(form.steps):
        # The check page carries no fields; whatever else came is read away.
        intake = _intake(
            request, form, state, dataclasses.replace(form.definition, sections=())
        )
        await read_all(intake, reader)
        await intake.discard()
        return {}
    page = stepping.only(form.definition, state.step)
    intake = _intake(request, form, state, page)
    await read_all(intake, reader)
    await steps.keep(state, intake)
    # The state keeps what was typed: checking is done again on the final
    # send, and a normalised value need not pass its check a second time.
    for page_field in page.fields:
        if page_field.type != "file":
            state.values[page_field.name] = intake.values.get(page_field.name, "")
    checked = validate(
        stepping.up_to(form.definition, state.step), state.values, _uploads(state)
    )
    names = {f.name for f in page.fields}
    errors = {k: v for k, v in checked.errors.items() if k in names}
    return in_page_order(form, {**errors, **intake.file_errors})


def _intake(request, form: ServedForm, state: StepState, page) -> Intake:
    """Start reading one page: its files sealed for the session's submission."""
    steps = request.app[STEPS]
    intake = request.app[PORTAL].new_intake(form, request.content)
    staged = sum(f.size for f in state.files)
    intake.limits = dataclasses.replace(
        intake.limits,
        max_submission_bytes=max(intake.limits.max_submission_bytes - staged, 0),
        max_files=max(intake.limits.max_files - len(state.files), 0),
    )
    intake.form, intake.id, intake.data_key = page, state.submission_id, state.data_key
    intake.folder = steps.incoming_folder(state)
    if page.file_fields:
        steps.staged_folder(state).mkdir(mode=0o700, exist_ok=True)
        steps.expire_at(state.staged_name, state.expires)
    return intake


def _uploads(state: StepState) -> dict[str, list[UploadInfo]]:
    return {f.field: [UploadInfo(f.field, f.content_type, f.size)] for f in state.files}


async def _send(request, tenant: Tenant, form: ServedForm, cookie: str, state):
    """Check the whole form again and store it, its staged files adopted whole."""
    steps, portal = request.app[STEPS], request.app[PORTAL]
    checked = validate(form.definition, state.values, _uploads(state))
    if checked.errors:
        state.step = len(form.steps)
        errors = in_page_order(form, checked.errors)
        return _step_page(request, tenant, form, cookie, state, errors, status=422)
    # One send of a session at a time, so a double click cannot adopt the
    # staged files twice or discard those of the send that was stored.
    async with steps.sending(state):
        if previous := await portal.previous_receipt(state.nonce):
            return receipt_page(request, tenant, form, previous)
        if steps.missing_files(state):
            log.warning("Refused a %s send whose staged files are gone", form.slug)
            raise PageError(403, START_AGAIN, "Bitte neu beginnen")
        intake = portal.new_intake(form)
        intake.id, intake.data_key = state.submission_id, state.data_key
        intake.folder = portal.queue.folder(state.submission_id)
        intake.files = list(state.files)
        await steps.adopt(state, intake.folder)
        try:
            receipt = await portal.commit(
                intake, checked.values, state.nonce, tenant.receiver
            )
        except BaseException:
            await intake.discard()
            raise
    return receipt_page(request, tenant, form, receipt)


# Rendering.


def _step_page(
    request, tenant, form: ServedForm, cookie, state, errors=None, status=200
):
    """Render the page a state stands on: a step, or the check page."""
    portal, steps = request.app[PORTAL], request.app[STEPS]
    binding = _binding(tenant, form, cookie)
    token = csrf.issue(
        portal.csrf_secret, cookie, _purpose(tenant, form.slug), form.version
    )
    pages = stepping.pages(form.definition)
    base = f"/{tenant.slug}/{form.slug}"
    context = {
        "form": form,
        "csrf_token": token,
        "state": steps.seal(state, binding),
        "action": f"{base}?aktion=weiter",
        "base": base,
        "errors": list((errors or {}).items()),
        "error_map": errors or {},
        "values": state.values,
        "count": len(pages),
        "privacy_url": tenant.theme.privacy_url,
    }
    if state.step >= len(pages):
        context |= _check_context(form, pages, state)
        # The fields are not on this page, so the messages link nowhere.
        context["errors"] = [("", message) for message in (errors or {}).values()]
        template = "portal/step_check.html"
    else:
        context |= _step_context(request, tenant, form, pages, state)
        template = "portal/step.html"
    response = render(request, template, context, status=status, tenant=tenant)
    keep_csrf_cookie(request, response, cookie)
    return response


def _step_context(request, tenant, form, pages, state: StepState) -> dict:
    page = pages[state.step]
    earlier = {f.name for p in pages[: state.step] for f in p.fields}
    shown, hidden = set(), set()
    for page_field in page.fields:
        if page_field.show_if_field in earlier:
            target = shown if applies(page_field, state.values) else hidden
            target.add(page_field.name)
    limit = request.app[PORTAL].config.uploads.max_submission_bytes
    if form.max_submission_bytes:
        limit = min(limit, form.max_submission_bytes)
    return {
        "page": page,
        "number": state.step + 1,
        "page_title": stepping.progress(state.step + 1, len(pages), page.title),
        "decided": shown,
        "hidden": hidden,
        "staged": {f.field: f for f in state.files},
        "max_upload_label": f"{limit / 1_000_000:g} MB",
        "conditions_url": conditions_url(tenant.slug, form),
    }


def _check_context(form: ServedForm, pages, state: StepState) -> dict:
    files = {f.field: f for f in state.files}
    answers = []
    for index, page in enumerate(pages):
        rows = []
        for page_field in page.fields:
            if not applies(page_field, state.values):
                continue
            if page_field.type == "file":
                stored = files.get(page_field.name)
                text = f"{stored.filename} ({_size(stored.size)})" if stored else ""
            else:
                text = _shown_value(page_field, state.values.get(page_field.name, ""))
            rows.append((page_field.label, text or "Keine Angabe"))
        answers.append({"index": index, "title": page.title, "rows": rows})
    return {"answers": answers, "page_title": CHECK_TITLE}


def _shown_value(page_field, value: str) -> str:
    if page_field.type == "consent":
        return "Ja" if value else "Nein"
    if page_field.type == "choice":
        return dict(page_field.choices).get(value, value)
    return value


def _size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB".replace(".", ",")
    return f"{max(size // 1000, 1)} kB"
