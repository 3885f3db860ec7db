"""A record's repeated groups on its page: one line per item, files linked."""

from app.forms.definition import FormDefinition


def show_items(summary: dict, definition: FormDefinition | None) -> None:
    """Turn the list values of a record's summary into items a clerk reads.

    A value of a repeated group is a list with one entry per item; a file
    field's entries are attachment ids (or None where an item has no file).
    """
    names = {}
    if definition is not None:
        names = {
            f.name: (s.repeat.item, f)
            for s in definition.sections
            if s.repeat
            for f in s.fields
        }
    attachments = {a["id"]: a for a in summary["attachments"]}
    for entry in summary["values"]:
        if not isinstance(entry["value"], list):
            continue
        item, field = names.get(entry["name"], ("Eintrag", None))
        choices = dict(field.choices) if field else {}
        entry["items"] = []
        for number, value in enumerate(entry["value"], start=1):
            shown = {"label": f"{item} {number}", "value": value or "", "url": ""}
            if value in attachments:
                attachment = attachments[value]
                attachment["label"] += f" ({item} {number})"
                shown.update(value=attachment["filename"], url=attachment["url"])
            elif value in choices:
                shown["value"] = f"{value} ({choices[value]})"
            entry["items"].append(shown)
        entry["value"] = ""
