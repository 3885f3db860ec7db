"""The add and remove buttons of repeatable sections, answered without script."""

import logging

from app.forms.definition import FormDefinition
from app.forms.groups import GroupError, apply_change, change_of
from app.portal.intake import Intake
from app.web import PageError

log = logging.getLogger(__name__)


async def changed_items(form: FormDefinition, intake: Intake) -> dict | None:
    """Answer an add or remove button: what the page shows next, nothing stored.

    Returns the keyword arguments of the re-shown form page, or None when the
    send was meant as a send. Every sealed part is deleted either way of a
    round trip, so a file must be chosen again.
    """
    try:
        change = change_of(intake.values)
        if change is None:
            return None
        values, errors = apply_change(form, intake.values, change)
    except GroupError as error:
        await intake.discard()
        log.warning("Refused a send with a malformed %s", error)
        raise PageError(400) from error
    await intake.discard()
    return {
        "values": values,
        "errors": errors,
        "reselect": intake.chosen_files,
        "status": 422 if errors else 200,
        "changed": True,
    }
