"""A form definition written back as the YAML an admin imports.

Only what the form sets on top of the catalog is written, so that the file
reads like one typed by hand and importing it gives the same definition.
"""

import yaml

from app.forms.catalog import Catalog
from app.forms.definition import FormDefinition, FormField
from app.forms.groups import Repeat, default_labels


def field_source(field: FormField, catalog: Catalog) -> dict:
    """Return one field's settings as a definition file states them."""
    known = catalog.fields[field.name]
    entry: dict = {"field": field.name}
    if field.label != known.label:
        entry["label"] = field.label
    if field.help and field.help != known.help:
        entry["help"] = field.help
    if field.placeholder:
        entry["placeholder"] = field.placeholder
    entry["required"] = "true" if field.required else "false"
    if field.choices != known.choices:
        entry["choices"] = [{"value": v, "label": label} for v, label in field.choices]
    if field.type == "file" and field.accept != known.accept:
        entry["accept"] = list(field.accept)
    if field.type == "file" and field.max_bytes != known.max_bytes:
        entry["max_bytes"] = str(field.max_bytes)
    if field.show_if_field:
        entry["show_if"] = {"field": field.show_if_field, "value": field.show_if_value}
    return entry


def repeat_source(rule: Repeat) -> dict:
    """Return a repeat rule as a file states it, button texts only if not default."""
    entry = {"min": str(rule.min), "max": str(rule.max), "item": rule.item}
    for key, default in zip(
        ("add_label", "remove_label"), default_labels(rule.item), strict=True
    ):
        if getattr(rule, key) != default:
            entry[key] = getattr(rule, key)
    return entry


def definition_source(
    form: FormDefinition, catalog: Catalog, publish_from: str, publish_until: str
) -> dict:
    """Return a whole definition as the mapping of its file."""
    top: dict = {
        "tenant": form.tenant,
        "slug": form.slug,
        "title": form.title,
        "record_type": form.record_type,
    }
    if form.intro:
        top["intro"] = form.intro
    if form.max_submission_bytes is not None:
        top["max_submission_bytes"] = str(form.max_submission_bytes)
    if form.link_expiry_days is not None:
        top["link_expiry_days"] = str(form.link_expiry_days)
    if form.confirmation_mail:
        top["confirmation_mail"] = "true"
    if form.link_check:
        top["link_check"] = form.link_check
    if form.links_only:
        top["links_only"] = "true"
    if publish_from:
        top["publish_from"] = publish_from
    if publish_until:
        top["publish_until"] = publish_until
    sections = []
    for section in form.sections:
        entry: dict = {"title": section.title}
        if section.help:
            entry["help"] = section.help
        if section.repeat:
            entry["repeat"] = repeat_source(section.repeat)
        entry["fields"] = [field_source(field, catalog) for field in section.fields]
        sections.append(entry)
    if not form.steps:
        top["sections"] = sections
        return top
    top["steps"] = []
    for step in form.steps:
        top["steps"].append({"title": step.title, "sections": sections[: step.size]})
        sections = sections[step.size :]
    return top


def definition_yaml(
    form: FormDefinition,
    catalog: Catalog,
    publish_from: str = "",
    publish_until: str = "",
    heading: str = "",
) -> str:
    """Write a definition as YAML that import-form reads back unchanged."""
    data = definition_source(form, catalog, publish_from, publish_until)
    text = yaml.safe_dump(
        data, allow_unicode=True, sort_keys=False, width=80, default_flow_style=False
    )
    return f"# {heading}\n{text}" if heading else text
