"""Conditional fields in the browser: a stylesheet that hides what not applies.

The portal runs no script (its CSP allows none), so a conditional field is
hidden by CSS alone: while the form holds no checked input or selected
option with the condition's value, the field's wrapper `#when-<name>` is not
shown. A browser without `:has()` shows every field with its hint ("Nur
nötig, wenn ..."), and the server judges by the same rule either way.
"""

from app.forms.definition import FormDefinition


def _css_string(text: str) -> str:
    """Quote a value for a CSS attribute selector."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else " " for c in escaped) + '"'


def conditions_css(form: FormDefinition) -> str:
    """Return the rules that hide each conditional field while it does not apply."""
    rules = []
    for field in form.fields:
        if not field.show_if_field:
            continue
        name = _css_string(field.show_if_field)
        value = _css_string(field.show_if_value)
        chosen = (
            f"input[name={name}][value={value}]:checked, "
            f"select[name={name}] option[value={value}]:checked"
        )
        rules.append(
            f".form:not(:has({chosen})) #when-{field.name} {{ display: none; }}"
        )
    return "\n".join(rules) + ("\n" if rules else "")


def has_conditions(form: FormDefinition) -> bool:
    """Say whether any field of a form depends on another."""
    return any(field.show_if_field for field in form.fields)
