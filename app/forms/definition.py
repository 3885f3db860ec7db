"""Form definitions: which catalog fields a form shows, in which sections."""

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from app import localtime
from app.forms.catalog import (
    DATE_RULES,
    UPLOAD_TYPES,
    Catalog,
    CatalogField,
    RecordType,
    YamlError,
    accept_of,
    choices_of,
    compose_yaml,
    filled_text_of,
    flag_of,
    line_of,
    list_of,
    mapping_of,
    positive_int_of,
    text_of,
)
from app.forms.groups import Repeat, check_groups, repeat_from_dict, repeat_of

log = logging.getLogger(__name__)

INPUT_TYPES = {
    "text": "text",
    "textarea": "textarea",
    "email": "email",
    "phone": "tel",
    "date": "date",
    "number": "text",
    "postal_code": "text",
    "iban": "text",
    "bic": "text",
    "malo_id": "text",
    "meter_reading": "text",
    "choice": "radio",
    "consent": "checkbox",
    "file": "file",
}
# More choices than this are offered as a drop-down list instead of radios.
RADIO_LIMIT = 4
# Types whose inputs show a placeholder; on ticks, choices and files it has
# nowhere to appear.
_PLACEHOLDER_TYPES = frozenset(INPUT_TYPES) - {"choice", "consent", "file"}

_SLUG = re.compile(r"[a-z0-9-]{2,60}")
# A definition's top-level settings, in the order a file and to_dict give them.
_SETTINGS = (
    "tenant",
    "slug",
    "title",
    "record_type",
    "intro",
    "max_submission_bytes",
    "publish_from",
    "publish_until",
    "link_expiry_days",
    "confirmation_mail",
    "link_check",
    "links_only",
)
_TOP_KEYS = {*_SETTINGS, "sections", "steps"}
# What names a form and what its records are; see definition_key().
_KEY_SETTINGS = ("tenant", "slug", "record_type")
_SECTION_KEYS = {"title", "help", "fields", "repeat"}
_STEP_KEYS = {"title", "sections"}
_FIELD_KEYS = {
    "field",
    "label",
    "help",
    "placeholder",
    "required",
    "choices",
    "accept",
    "max_bytes",
    "show_if",
}
# The types a field may depend on: its value then is one of a few known ones.
CONDITION_TYPES = frozenset({"choice", "consent"})
# Record types of orders to service providers (app/backoffice/orders.py says
# which fields each has): a form of one is served only through secure links.
ORDER_RECORD_TYPES = frozenset({"ZAEHLERWECHSEL"})


class DefinitionError(YamlError):
    """A form definition that cannot be used; str() names the line and reason."""

    def __init__(
        self, line: int | None, reason: str, others: tuple[YamlError, ...] = ()
    ) -> None:
        super().__init__(line, reason)
        # Faults found beside the first, each independent of it.
        self.others = others
        if others:
            self.args = ("; ".join(str(e) for e in (YamlError(line, reason), *others)),)


class _Faults(YamlError):
    """Several independent faults of a definition's top-level members."""

    def __init__(self, faults: list[YamlError]) -> None:
        super().__init__(faults[0].line, faults[0].reason)
        self.others = tuple(faults[1:])


@dataclass(frozen=True, kw_only=True)
class FormField:
    """One input of a form: a catalog field with the form's own wording."""

    name: str
    label: str
    type: str
    input_type: str
    required: bool
    help: str = ""
    placeholder: str = ""
    autocomplete: str = "off"
    inputmode: str = ""
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    accept: tuple[str, ...] = ()
    max_bytes: int | None = None
    # How messages name the field; see CatalogField. A form that renames a
    # field gets neutral wording that quotes its label instead.
    nominative: str
    accusative: str
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    decimals: int = 0
    digits: int | None = None
    date_rule: str = "any"
    # Shown and checked only while the earlier field show_if_field has the
    # value show_if_value; empty for a field that is always shown.
    show_if_field: str = ""
    show_if_value: str = ""

    def to_dict(self) -> dict:
        """Return the field as a JSON-safe dict."""
        data = dataclasses.asdict(self)
        data["choices"] = [list(choice) for choice in self.choices]
        data["accept"] = list(self.accept)
        for key in ("min_value", "max_value"):
            data[key] = None if data[key] is None else str(data[key])
        return data


@dataclass(frozen=True)
class Section:
    """A titled group of fields shown together."""

    title: str
    help: str
    fields: tuple[FormField, ...]
    # Filled in once per item, as often as the rule allows; see groups.py.
    repeat: Repeat | None = None


@dataclass(frozen=True)
class Step:
    """A page of a stepped form: a title over the next `size` sections."""

    title: str
    size: int


@dataclass(frozen=True)
class FormDefinition:
    """A form of one tenant: its record type, wording and fields in sections."""

    tenant: str
    slug: str
    title: str
    record_type: str
    intro: str
    max_submission_bytes: int | None
    publish_from: str
    publish_until: str
    sections: tuple[Section, ...]
    # How long a secure link to this form works; None: the server's default.
    link_expiry_days: int | None = None
    # Whether the receiver mails the customer a confirmation after taking a send.
    confirmation_mail: bool = False
    # A field whose value a customer must type before a link shows its values.
    link_check: str = ""
    # Served only through secure links: never listed, no public address.
    links_only: bool = False

    def __post_init__(self) -> None:
        # An order is for one provider's eyes; no setting can make it public.
        if self.record_type in ORDER_RECORD_TYPES:
            object.__setattr__(self, "links_only", True)

    # The pages of a stepped form over `sections` in order; empty: one page.
    steps: tuple[Step, ...] = ()

    @property
    def fields(self) -> tuple[FormField, ...]:
        """Return every field in page order."""
        return tuple(field for section in self.sections for field in section.fields)

    @property
    def file_fields(self) -> tuple[FormField, ...]:
        """Return the file fields in page order."""
        return tuple(field for field in self.fields if field.type == "file")

    def field(self, name: str) -> FormField:
        """Return the field of this name, raising KeyError if the form lacks it."""
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def condition_note(self, field: FormField) -> str:
        """Say in German when a conditional field applies, for its hint."""
        if not field.show_if_field:
            return ""
        controller = self.field(field.show_if_field)
        if controller.type == "consent":
            return f"Nur nötig, wenn Sie „{controller.label}“ angekreuzt haben."
        chosen = dict(controller.choices).get(field.show_if_value, field.show_if_value)
        return f"Nur nötig, wenn Sie bei „{controller.label}“ „{chosen}“ gewählt haben."

    def submission_limit(self, ceiling: int) -> int:
        """Return the byte limit for a submission under the server's ceiling."""
        if self.max_submission_bytes is None:
            return ceiling
        return min(ceiling, self.max_submission_bytes)

    def to_dict(self) -> dict:
        """Return the definition as a JSON-safe dict, the published version."""
        data = {key: getattr(self, key) for key in _SETTINGS}
        data["sections"] = [
            {
                "title": section.title,
                "help": section.help,
                "fields": [field.to_dict() for field in section.fields],
                "repeat": section.repeat.to_dict() if section.repeat else None,
            }
            for section in self.sections
        ]
        if self.steps:
            data["steps"] = [{"title": s.title, "size": s.size} for s in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: dict, catalog: Catalog) -> "FormDefinition":
        """Rebuild a definition from to_dict() output, checked against the catalog."""
        try:
            return _definition_from_dict(data, catalog)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise DefinitionError(None, f"malformed stored definition: {exc}") from None


def load_definition_file(path: Path, catalog: Catalog) -> FormDefinition:
    """Read a form definition from a YAML file."""
    form = parse_definition(path.read_text(encoding="utf-8"), catalog)
    log.info("Loaded form definition %s/%s", form.tenant, form.slug)
    return form


def parse_definition(text: str, catalog: Catalog) -> FormDefinition:
    """Parse a form definition, raising DefinitionError with the line at fault."""
    try:
        return _definition_from_node(compose_yaml(text), catalog)
    except YamlError as exc:
        others = getattr(exc, "others", ())
        raise DefinitionError(exc.line, exc.reason, others) from None


def definition_key(text: str) -> tuple[str, str, str] | None:
    """Return a definition's tenant, slug and record type, read before the rest.

    None if the file cannot be read that far; parse_definition then says why.
    """
    try:
        root = compose_yaml(text)
        top = mapping_of(root, "the definition")
        return tuple(text_of(top[key], key) for key in _KEY_SETTINGS)
    except (YamlError, KeyError):
        return None


# --- From YAML ---------------------------------------------------------------


def _definition_from_node(root: yaml.Node | None, catalog: Catalog) -> FormDefinition:
    if root is None:
        raise YamlError(1, "the definition is empty")
    top = mapping_of(
        root,
        "the definition",
        allowed=_TOP_KEYS,
        required=("tenant", "slug", "title", "record_type"),
    )
    if ("sections" in top) == ("steps" in top):
        reason = "the definition needs either sections or steps, not both"
        raise YamlError(line_of(top.get("steps", root)), reason)
    # Read in the order of the file, so that the first error reported is the
    # first one an admin meets reading from the top; the top-level members
    # are independent of each other, so every fault among them is named.
    faults: list[YamlError] = []

    def read(check, *args):
        try:
            return check(*args)
        except YamlError as exc:
            faults.append(exc)
            return None

    tenant = read(_slug, top["tenant"], "tenant")
    slug = read(_slug, top["slug"], "slug")
    title = read(filled_text_of, top["title"], "title")
    record_type = read(_record_type, top["record_type"], catalog)
    intro = read(_optional_text, top.get("intro"), "intro")
    size = top.get("max_submission_bytes")
    limit = read(_optional_size, size, "max_submission_bytes")
    publish_from = read(_optional_time, top.get("publish_from"), "publish_from")
    publish_until = read(_optional_time, top.get("publish_until"), "publish_until")
    link_days = read(_optional_size, top.get("link_expiry_days"), "link_expiry_days")
    confirm = "confirmation_mail" in top and read(
        flag_of, top["confirmation_mail"], "confirmation_mail"
    )
    steps: list[Step] = []
    section_nodes = read(_section_nodes, top, steps)
    if faults:
        raise _Faults(faults)
    # Limitation: inside sections and fields only the first fault is named,
    # since what a field may hold depends on what came before it.
    _schedule_in_order(top.get("publish_until"), publish_from, publish_until)
    seen: dict[str, FormField | None] = {}
    sections = tuple(
        _section(node, catalog, record_type, limit, seen) for node in section_nodes
    )
    link_check = _link_check(top.get("link_check"), sections)
    links_only = _links_only(top.get("links_only"), record_type)
    check_groups(section_nodes, sections, link_check, stepped=bool(steps))
    return FormDefinition(
        tenant=tenant,
        slug=slug,
        title=title,
        record_type=record_type.key,
        intro=intro,
        max_submission_bytes=limit,
        publish_from=publish_from,
        publish_until=publish_until,
        sections=sections,
        link_expiry_days=link_days,
        confirmation_mail=confirm,
        link_check=link_check,
        links_only=links_only,
        steps=tuple(steps),
    )


def _section_nodes(top: dict[str, yaml.Node], steps: list[Step]) -> list[yaml.Node]:
    """Return the section nodes in order, noting the steps they are grouped in."""
    if "sections" in top:
        return list_of(top["sections"], "sections")
    nodes = []
    for node in list_of(top["steps"], "steps"):
        entry = mapping_of(
            node, "a step", allowed=_STEP_KEYS, required=("title", "sections")
        )
        title = filled_text_of(entry["title"], "title")
        inner = list_of(entry["sections"], "the sections of a step")
        steps.append(Step(title, len(inner)))
        nodes += inner
    return nodes


def _links_only(node: yaml.Node | None, record_type: RecordType) -> bool:
    if node is None:
        return False
    links_only = flag_of(node, "links_only")
    if not links_only and record_type.key in ORDER_RECORD_TYPES:
        reason = (
            f"links_only cannot be false: record type {record_type.key} is an "
            "order, served through links only"
        )
        raise YamlError(line_of(node), reason)
    return links_only


def _link_check(node: yaml.Node | None, sections: tuple[Section, ...]) -> str:
    name = _optional_text(node, "link_check")
    if not name:
        return ""
    types = {f.name: f.type for s in sections for f in s.fields}
    if types.get(name) not in ("text", "postal_code", "number"):
        reason = f"link_check must name a text field of this form, not {name!r}"
        raise YamlError(line_of(node), reason)
    return name


def _record_type(node: yaml.Node, catalog: Catalog) -> RecordType:
    key = text_of(node, "record_type")
    if key not in catalog.record_types:
        raise YamlError(line_of(node), f"record type {key} is not in the catalog")
    return catalog.record_types[key]


def _slug(node: yaml.Node, what: str) -> str:
    value = text_of(node, what)
    if not _SLUG.fullmatch(value):
        reason = f"{what} {value!r} must be 2-60 characters out of a-z, 0-9 and -"
        raise YamlError(line_of(node), reason)
    return value


def _optional_text(node: yaml.Node | None, what: str) -> str:
    return "" if node is None else text_of(node, what)


def _optional_size(node: yaml.Node | None, what: str) -> int | None:
    if node is None or _optional_text(node, what) == "":
        return None
    return positive_int_of(node, what)


def _optional_time(node: yaml.Node | None, what: str) -> str:
    value = _optional_text(node, what)
    if value:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            reason = f"{what} must be an ISO 8601 date or time, not {value!r}"
            raise YamlError(line_of(node), reason) from None
        try:
            localtime.from_iso(value, until=what == "publish_until")
        except localtime.LocalTimeError as error:
            # The skipped spring hour: the German sentence says why.
            raise YamlError(line_of(node), f"{what}: {error}") from None
    return value


def _schedule_in_order(node: yaml.Node | None, start: str, until: str) -> None:
    """Refuse a publish_until that does not come after publish_from."""
    if start and until:
        begin = localtime.from_iso(start).utc
        end = localtime.from_iso(until, until=True).utc
        if end <= begin:
            reason = "publish_until must come after publish_from"
            raise YamlError(line_of(node), reason)


def _section(
    node: yaml.Node,
    catalog: Catalog,
    record_type: RecordType,
    limit: int | None,
    seen: dict[str, FormField | None],
) -> Section:
    entry = mapping_of(
        node, "a section", allowed=_SECTION_KEYS, required=("title", "fields")
    )
    fields = tuple(
        _form_field(item, catalog, record_type, limit, seen)
        for item in list_of(entry["fields"], "the fields of a section")
    )
    return Section(
        title=filled_text_of(entry["title"], "title"),
        help=_optional_text(entry.get("help"), "help"),
        fields=fields,
        repeat=repeat_of(entry.get("repeat")),
    )


def _form_field(
    node: yaml.Node,
    catalog: Catalog,
    record_type: RecordType,
    limit: int | None,
    seen: dict[str, FormField | None],
) -> FormField:
    entry = mapping_of(node, "a field", allowed=_FIELD_KEYS, required=("field",))
    source = _catalog_field(entry["field"], catalog, record_type, seen)
    condition = _condition(entry, source, seen)
    _refuse_misplaced(entry, source)
    label = filled_text_of(entry["label"], "label") if "label" in entry else ""
    choices = source.choices
    if "choices" in entry:
        choices = choices_of(entry["choices"], f"the choices of {source.name}")
    if source.type == "choice" and not choices:
        raise YamlError(line_of(node), f"field {source.name} needs choices")
    field = build_field(
        source,
        label=label,
        help=_optional_text(entry.get("help"), "help"),
        placeholder=_optional_text(entry.get("placeholder"), "placeholder"),
        required="required" in entry and flag_of(entry["required"], "required"),
        choices=choices,
        accept=_accept(entry, source),
        max_bytes=_max_bytes(entry, source, limit),
        show_if=condition,
    )
    seen[field.name] = field
    return field


def _condition(
    entry: dict[str, yaml.Node], source: CatalogField, seen: dict
) -> tuple[str, str]:
    """Read show_if: an earlier choice or consent field and one of its values."""
    if "show_if" not in entry:
        return ("", "")
    node = entry["show_if"]
    rule = mapping_of(
        node, "show_if", allowed={"field", "value"}, required=("field", "value")
    )
    name, value = text_of(rule["field"], "field"), text_of(rule["value"], "value")
    if source.type == "file":
        reason = f"file field {source.name} cannot be conditional"
        raise YamlError(line_of(node), reason)
    controller = seen.get(name)
    if controller is None or controller.type not in CONDITION_TYPES:
        reason = f"show_if needs a choice or consent field before {source.name}"
        raise YamlError(line_of(rule["field"]), reason)
    allowed = ["ja"] if controller.type == "consent" else dict(controller.choices)
    if value not in allowed:
        raise YamlError(line_of(rule["value"]), f"{value!r} is not a value of {name}")
    return (name, value)


def _catalog_field(
    node: yaml.Node,
    catalog: Catalog,
    record_type: RecordType,
    seen: dict[str, FormField | None],
) -> CatalogField:
    name = text_of(node, "field")
    if name not in catalog.fields:
        raise YamlError(line_of(node), f"field {name} is not in the catalog")
    if name not in record_type.fields:
        reason = f"field {name} is not carried by record type {record_type.key}"
        raise YamlError(line_of(node), reason)
    if name in seen:
        raise YamlError(line_of(node), f"field {name} is used twice")
    seen[name] = None
    return catalog.fields[name]


def _refuse_misplaced(entry: dict[str, yaml.Node], source: CatalogField) -> None:
    misplaced = [
        ("choices", source.type != "choice", "choice"),
        ("accept", source.type != "file", "file"),
        ("max_bytes", source.type != "file", "file"),
        ("placeholder", source.type not in _PLACEHOLDER_TYPES, "text-like"),
    ]
    for key, wrong, kind in misplaced:
        if key in entry and wrong:
            reason = f"{key} applies to {kind} fields only, not to {source.name}"
            raise YamlError(line_of(entry[key]), reason)


def _accept(entry: dict[str, yaml.Node], source: CatalogField) -> tuple[str, ...]:
    if "accept" not in entry:
        return source.accept
    accept = accept_of(entry["accept"], "accept")
    for mime_type in accept:
        if mime_type not in source.accept:
            reason = f"field {source.name} does not accept {mime_type}"
            raise YamlError(line_of(entry["accept"]), reason)
    return accept


def _max_bytes(
    entry: dict[str, yaml.Node], source: CatalogField, limit: int | None
) -> int | None:
    if "max_bytes" not in entry:
        return source.max_bytes
    node = entry["max_bytes"]
    max_bytes = positive_int_of(node, "max_bytes")
    if source.max_bytes is not None and max_bytes > source.max_bytes:
        reason = f"max_bytes may not exceed the catalog's {source.max_bytes}"
        raise YamlError(line_of(node), reason)
    if limit is not None and max_bytes > limit:
        reason = f"max_bytes may not exceed max_submission_bytes {limit}"
        raise YamlError(line_of(node), reason)
    return max_bytes


def build_field(
    source: CatalogField,
    *,
    label: str = "",
    help: str = "",
    placeholder: str = "",
    required: bool = False,
    choices: tuple[tuple[str, str], ...] | None = None,
    accept: tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    show_if: tuple[str, str] = ("", ""),
) -> FormField:
    """Make a form field from a catalog field and the form's overrides."""
    choices = source.choices if choices is None else choices
    renamed = bool(label) and label != source.label
    nominative, accusative = source.nominative, source.accusative
    if renamed and source.type != "consent":
        nominative, accusative = f"Die Angabe „{label}“", ""
    return FormField(
        name=source.name,
        label=label or source.label,
        type=source.type,
        input_type=_input_type(source.type, choices),
        required=required,
        help=help or source.help,
        placeholder=placeholder,
        autocomplete=source.autocomplete,
        inputmode=_inputmode(source),
        max_length=source.max_length,
        choices=choices,
        accept=source.accept if accept is None else accept,
        max_bytes=max_bytes,
        nominative=nominative,
        accusative=accusative,
        min_value=source.min_value,
        max_value=source.max_value,
        decimals=source.decimals,
        digits=source.digits,
        date_rule=source.date_rule,
        show_if_field=show_if[0],
        show_if_value=show_if[1],
    )


def _input_type(field_type: str, choices: tuple[tuple[str, str], ...]) -> str:
    if field_type == "choice" and len(choices) > RADIO_LIMIT:
        return "select"
    return INPUT_TYPES[field_type]


def _inputmode(source: CatalogField) -> str:
    if source.type in ("postal_code", "malo_id"):
        return "numeric"
    if source.type in ("number", "meter_reading"):
        # Phone keypads for "numeric" lack a comma, so fields with decimals
        # ask for the decimal keypad instead.
        return "decimal" if source.decimals else "numeric"
    return ""


# --- From the stored dict ----------------------------------------------------

_FIELD_ATTRIBUTES = tuple(attribute.name for attribute in dataclasses.fields(FormField))
_DEFINITION_KEYS = {attribute.name for attribute in dataclasses.fields(FormDefinition)}


def _definition_from_dict(data: dict, catalog: Catalog) -> FormDefinition:
    # Versions stored before links existed lack the key; they use the default.
    if isinstance(data, dict):
        defaults = {"link_expiry_days": None, "confirmation_mail": False}
        data = {
            **defaults,
            "link_check": "",
            "links_only": False,
            "steps": [],
            **data,
        }
    _exact_keys(data, _DEFINITION_KEYS, "the definition")
    record_type = catalog.record_types[_string(data["record_type"])]
    seen: set[str] = set()
    sections = []
    for section in _list(data["sections"]):
        # Versions stored before repeatable sections lack the key.
        section = {"repeat": None, **section} if isinstance(section, dict) else section
        _exact_keys(section, {"title", "help", "fields", "repeat"}, "a section")
        fields = tuple(
            _field_from_dict(item, catalog, record_type, seen)
            for item in _list(section["fields"])
        )
        repeat = repeat_from_dict(section["repeat"])
        sections.append(
            Section(_string(section["title"]), _string(section["help"]), fields, repeat)
        )
    return FormDefinition(
        tenant=_string(data["tenant"]),
        slug=_string(data["slug"]),
        title=_string(data["title"]),
        record_type=record_type.key,
        intro=_string(data["intro"]),
        max_submission_bytes=_optional_int(data["max_submission_bytes"]),
        publish_from=_string(data["publish_from"]),
        publish_until=_string(data["publish_until"]),
        sections=tuple(sections),
        link_expiry_days=_optional_int(data["link_expiry_days"]),
        confirmation_mail=_boolean(data["confirmation_mail"]),
        link_check=_string(data["link_check"]),
        links_only=_boolean(data["links_only"]),
        steps=_steps_from_dict(data["steps"], len(sections)),
    )


def _steps_from_dict(value: object, section_count: int) -> tuple[Step, ...]:
    steps = []
    for item in _list(value):
        _exact_keys(item, {"title", "size"}, "a step")
        steps.append(Step(_string(item["title"]), _integer(item["size"])))
    sizes = [step.size for step in steps]
    if steps and (min(sizes) < 1 or sum(sizes) != section_count):
        raise ValueError("the steps do not cover the sections")
    return tuple(steps)


def _field_from_dict(
    data: dict, catalog: Catalog, record_type: RecordType, seen: set[str]
) -> FormField:
    # Limitation: a published version whose field was since dropped from the
    # catalog or its record type, or given another type, can no longer be
    # loaded, so the catalog may only grow while such versions are served.
    # Versions stored before conditions existed lack their two keys.
    data = {"show_if_field": "", "show_if_value": "", **data}
    _exact_keys(data, set(_FIELD_ATTRIBUTES), "a field")
    name = _string(data["name"])
    if name not in record_type.fields or name in seen:
        raise ValueError(f"field {name} is unknown to {record_type.key} or repeated")
    seen.add(name)
    values = {key: _FROM_JSON[key](data[key]) for key in _FIELD_ATTRIBUTES}
    field = FormField(**values)
    if field.type != catalog.fields[name].type:
        raise ValueError(f"field {name} no longer has type {field.type}")
    if not set(field.accept) <= set(UPLOAD_TYPES) or field.date_rule not in DATE_RULES:
        raise ValueError(f"field {name} has unknown rules")
    if field.show_if_field and field.show_if_field not in seen - {name}:
        raise ValueError(f"field {name} depends on a field that is not before it")
    return field


def _exact_keys(data: object, keys: set[str], what: str) -> None:
    if not isinstance(data, dict) or set(data) != keys:
        raise ValueError(f"{what} does not have the expected keys")


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _integer(value: object) -> int:
    # bool is an int in Python; a stored true must not pass as 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _optional_int(value: object) -> int | None:
    return None if value is None else _integer(value)


def _optional_decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(_string(value))
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value}")
    return number


def _list(value: object) -> list:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _list(value):
        value_, label = _list(item)
        pairs.append((_string(value_), _string(label)))
    return tuple(pairs)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(_string(item) for item in _list(value))


_FROM_JSON = {
    "name": _string,
    "label": _string,
    "type": _string,
    "input_type": _string,
    "required": _boolean,
    "help": _string,
    "placeholder": _string,
    "autocomplete": _string,
    "inputmode": _string,
    "max_length": _optional_int,
    "choices": _pairs,
    "accept": _strings,
    "max_bytes": _optional_int,
    "nominative": _string,
    "accusative": _string,
    "min_value": _optional_decimal,
    "max_value": _optional_decimal,
    "decimals": _integer,
    "digits": _optional_int,
    "date_rule": _string,
    "show_if_field": _string,
    "show_if_value": _string,
}
