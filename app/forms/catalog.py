"""The MODWORK field catalog and the string-only YAML reading shared with forms."""

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")

FIELD_TYPES = (
    "text",
    "textarea",
    "email",
    "phone",
    "date",
    "number",
    "postal_code",
    "iban",
    "bic",
    "malo_id",
    "meter_reading",
    "choice",
    "consent",
    "file",
)
UPLOAD_TYPES = ("image/jpeg", "image/png", "application/pdf")
DATE_RULES = ("any", "past", "not_future", "not_past")
AUTOCOMPLETE_TOKENS = frozenset(
    {
        "off",
        "name",
        "honorific-prefix",
        "given-name",
        "additional-name",
        "family-name",
        "organization",
        "street-address",
        "address-line1",
        "address-line2",
        "address-level1",
        "address-level2",
        "postal-code",
        "country-name",
        "bday",
        "email",
        "tel",
    }
)

# The HTML maxlength each type gets unless the catalog sets one; None means the
# input has no length of its own (dates, choices, ticks, files).
DEFAULT_MAX_LENGTH = {
    "text": 200,
    "textarea": 2000,
    "email": 254,
    "phone": 30,
    "number": 20,
    "postal_code": 5,
    "iban": 42,
    "bic": 14,
    "malo_id": 11,
    "date": 10,
}
# Meter readings carry up to 3 decimals unless the catalog says otherwise.
DEFAULT_DECIMALS = {"number": 0, "meter_reading": 3}

_COMMON_KEYS = {"label", "type", "group", "nominative", "accusative", "help"}
_TYPE_KEYS = {
    "text": {"max_length", "autocomplete"},
    "textarea": {"max_length"},
    "email": {"max_length", "autocomplete"},
    "phone": {"max_length", "autocomplete"},
    "date": {"dates", "autocomplete"},
    "number": {"min", "max", "decimals", "autocomplete"},
    "postal_code": {"autocomplete"},
    "iban": set(),
    "bic": set(),
    "malo_id": set(),
    "meter_reading": {"digits", "decimals"},
    "choice": {"choices"},
    "consent": set(),
    "file": {"accept", "max_bytes"},
}
_KEY_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_POSITIVE_INT = re.compile(r"[1-9][0-9]*")
_SMALL_INT = re.compile(r"0|[1-9][0-9]?")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


# --- YAML reading shared by the catalog and the form definitions -------------


class YamlError(ValueError):
    """A YAML text that cannot be read or lacks the expected shape."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


class _StringLoader(yaml.BaseLoader):
    """A loader that keeps every scalar a string and refuses aliases."""

    def compose_node(self, parent, index):
        """Compose the next node, refusing an alias before it is expanded."""
        # Aliases let a few lines expand into a huge document, and no catalog
        # or form needs them.
        if self.check_event(yaml.AliasEvent):
            raise YamlError(line_of(self.peek_event()), "aliases are not supported")
        return super().compose_node(parent, index)


def line_of(node) -> int:
    """Return the 1-based line on which a YAML node or event starts."""
    return node.start_mark.line + 1


def compose_yaml(text: str) -> yaml.Node | None:
    """Parse YAML text into nodes whose scalars all stay strings."""
    try:
        return yaml.compose(text, Loader=_StringLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(mark.line + 1 if mark else None, str(exc.problem)) from None
    except yaml.YAMLError as exc:
        raise YamlError(None, str(exc)) from None
    except RecursionError:
        raise YamlError(None, "the document is nested too deeply") from None


def load_yaml(text: str) -> str | list | dict | None:
    """Load YAML text as plain dicts, lists and strings, refusing repeated keys."""
    return plain(compose_yaml(text))


def plain(node: yaml.Node | None) -> str | list | dict | None:
    """Convert a node tree into plain dicts, lists and strings."""
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [plain(item) for item in node.value]
    return {key: plain(value) for key, value in mapping_of(node, "a mapping").items()}


def mapping_of(
    node: yaml.Node | None,
    what: str,
    *,
    allowed: set[str] | None = None,
    required: tuple[str, ...] = (),
) -> dict[str, yaml.Node]:
    """Return a mapping's value nodes by key, refusing unknown and repeated keys."""
    if not isinstance(node, yaml.MappingNode):
        raise YamlError(_line_or_none(node), f"{what} must be a mapping")
    items: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = text_of(key_node, f"a key in {what}")
        if key in items:
            raise YamlError(line_of(key_node), f"key {key} appears twice in {what}")
        if allowed is not None and key not in allowed:
            raise YamlError(line_of(key_node), f"unknown key {key} in {what}")
        items[key] = value_node
    for key in required:
        if key not in items:
            raise YamlError(line_of(node), f"{what} lacks the key {key}")
    return items


def list_of(node: yaml.Node, what: str) -> list[yaml.Node]:
    """Return the item nodes of a non-empty YAML sequence."""
    if not isinstance(node, yaml.SequenceNode):
        raise YamlError(line_of(node), f"{what} must be a list")
    if not node.value:
        raise YamlError(line_of(node), f"{what} must not be empty")
    return list(node.value)


# Control characters and the bidirectional overrides and isolates, which
# could make a label read backwards in a list; a line break and a tab stay.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def unsafe_character(text: str) -> str | None:
    """Return the first control or direction character in a text, if any."""
    found = _UNSAFE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def text_of(node: yaml.Node, what: str) -> str:
    """Return a scalar node's string, stripped of surrounding whitespace."""
    if not isinstance(node, yaml.ScalarNode):
        raise YamlError(line_of(node), f"{what} must be a single value")
    if bad := unsafe_character(node.value):
        raise YamlError(line_of(node), f"{what} contains the control character {bad}")
    return node.value.strip()


def filled_text_of(node: yaml.Node, what: str) -> str:
    """Return a scalar node's string, refusing an empty one."""
    value = text_of(node, what)
    if not value:
        raise YamlError(line_of(node), f"{what} must not be empty")
    return value


def flag_of(node: yaml.Node, what: str) -> bool:
    """Return a true/false scalar as a bool."""
    value = text_of(node, what)
    if value not in ("true", "false"):
        raise YamlError(line_of(node), f"{what} must be true or false, not {value!r}")
    return value == "true"


def positive_int_of(node: yaml.Node, what: str) -> int:
    """Return a scalar written as a positive decimal integer."""
    value = text_of(node, what)
    if not _POSITIVE_INT.fullmatch(value):
        raise YamlError(line_of(node), f"{what} must be a positive integer")
    return int(value)


def choices_of(node: yaml.Node, what: str) -> tuple[tuple[str, str], ...]:
    """Return a list of {value, label} mappings as (value, label) pairs."""
    choices: list[tuple[str, str]] = []
    for item in list_of(node, what):
        entry = mapping_of(
            item,
            f"a choice in {what}",
            allowed={"value", "label"},
            required=("value", "label"),
        )
        value = filled_text_of(entry["value"], "a choice value")
        if value in {known for known, _ in choices}:
            raise YamlError(line_of(item), f"choice value {value} appears twice")
        choices.append((value, filled_text_of(entry["label"], "a choice label")))
    return tuple(choices)


def accept_of(node: yaml.Node, what: str) -> tuple[str, ...]:
    """Return a list of upload MIME types, each one of UPLOAD_TYPES."""
    accept: list[str] = []
    for item in list_of(node, what):
        mime_type = text_of(item, "an accept type")
        if mime_type not in UPLOAD_TYPES:
            allowed = ", ".join(UPLOAD_TYPES)
            reason = f"accept type {mime_type} is not one of {allowed}"
            raise YamlError(line_of(item), reason)
        if mime_type in accept:
            raise YamlError(line_of(item), f"accept type {mime_type} appears twice")
        accept.append(mime_type)
    return tuple(accept)


def _line_or_none(node: yaml.Node | None) -> int | None:
    return line_of(node) if node is not None else None


# --- The catalog ------------------------------------------------------------


class CatalogError(YamlError):
    """A field catalog that cannot be used, with the line at fault."""


@dataclass(frozen=True)
class CatalogField:
    """One MODWORK field a form may use, with the rules its input must meet."""

    name: str
    label: str
    type: str
    group: str
    # How messages name the field: "Die IBAN ist ungültig", "Geben Sie Ihre
    # IBAN an". Empty for consent fields, whose messages quote their label.
    nominative: str
    accusative: str
    help: str = ""
    autocomplete: str = "off"
    max_length: int | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    decimals: int = 0
    digits: int | None = None
    date_rule: str = "any"
    choices: tuple[tuple[str, str], ...] = ()
    accept: tuple[str, ...] = ()
    max_bytes: int | None = None


@dataclass(frozen=True)
class RecordType:
    """A kind of record (Belegart) and the catalog fields it carries."""

    key: str
    label: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    """The field catalog: field groups, fields and record types by key."""

    groups: dict[str, str]
    fields: dict[str, CatalogField]
    record_types: dict[str, RecordType]

    def field(self, name: str) -> CatalogField:
        """Return the catalog field of this name, raising KeyError if unknown."""
        return self.fields[name]

    def record_type(self, key: str) -> RecordType:
        """Return the record type of this key, raising KeyError if unknown."""
        return self.record_types[key]


def load_catalog(path: Path) -> Catalog:
    """Read and check the field catalog from a YAML file."""
    catalog = parse_catalog(path.read_text(encoding="utf-8"))
    log.info(
        "Loaded the field catalog: %s fields, %s record types",
        len(catalog.fields),
        len(catalog.record_types),
    )
    return catalog


def parse_catalog(text: str) -> Catalog:
    """Parse and check a field catalog, raising CatalogError with the line at fault."""
    try:
        return _catalog_from_node(compose_yaml(text))
    except CatalogError:
        raise
    except YamlError as exc:
        raise CatalogError(exc.line, exc.reason) from None


def _catalog_from_node(root: yaml.Node | None) -> Catalog:
    top = mapping_of(
        root,
        "the catalog",
        allowed={"groups", "fields", "record_types"},
        required=("groups", "fields", "record_types"),
    )
    groups = {
        _key_name(key, node): filled_text_of(node, f"the label of group {key}")
        for key, node in mapping_of(top["groups"], "groups").items()
    }
    fields = {
        _key_name(name, node): _catalog_field(name, node, groups)
        for name, node in mapping_of(top["fields"], "fields").items()
    }
    record_types = {
        _key_name(key, node): _record_type(key, node, fields)
        for key, node in mapping_of(top["record_types"], "record_types").items()
    }
    return Catalog(groups=groups, fields=fields, record_types=record_types)


def _key_name(key: str, node: yaml.Node) -> str:
    if not _KEY_NAME.fullmatch(key):
        raise YamlError(line_of(node), f"{key} is not an upper snake case name")
    return key


def _catalog_field(name: str, node: yaml.Node, groups: dict[str, str]) -> CatalogField:
    where = f"field {name}"
    type_node = mapping_of(node, where).get("type")
    field_type = text_of(type_node, "type") if type_node is not None else ""
    if field_type not in FIELD_TYPES:
        known = ", ".join(FIELD_TYPES)
        raise YamlError(line_of(node), f"{where} needs a type out of {known}")
    entry = mapping_of(
        node,
        where,
        allowed=_COMMON_KEYS | _TYPE_KEYS[field_type],
        required=("label", "group"),
    )
    group = text_of(entry["group"], "group")
    if group not in groups:
        raise YamlError(line_of(entry["group"]), f"group {group} is not listed")
    nominative, accusative = _wording(entry, where, field_type, line_of(node))
    return CatalogField(
        name=name,
        label=filled_text_of(entry["label"], "label"),
        type=field_type,
        group=group,
        nominative=nominative,
        accusative=accusative,
        help=text_of(entry["help"], "help") if "help" in entry else "",
        **_rules(entry, field_type, line_of(node)),
    )


def _wording(
    entry: dict[str, yaml.Node], where: str, field_type: str, line: int
) -> tuple[str, str]:
    if field_type == "consent":
        if "nominative" in entry or "accusative" in entry:
            raise YamlError(line, f"{where}: consent fields are named by their label")
        return "", ""
    if "nominative" not in entry or "accusative" not in entry:
        raise YamlError(line, f"{where} needs a nominative and an accusative")
    return (
        filled_text_of(entry["nominative"], "nominative"),
        filled_text_of(entry["accusative"], "accusative"),
    )


def _rules(entry: dict[str, yaml.Node], field_type: str, line: int) -> dict:
    """Turn the type-specific rules of a catalog entry into CatalogField values."""
    rules: dict = {"decimals": DEFAULT_DECIMALS.get(field_type, 0)}
    if "autocomplete" in entry:
        rules["autocomplete"] = _autocomplete(entry["autocomplete"])
    if "min" in entry:
        rules["min_value"] = _decimal(entry["min"], "min")
    if "max" in entry:
        rules["max_value"] = _decimal(entry["max"], "max")
    if "decimals" in entry:
        rules["decimals"] = _small_int(entry["decimals"], "decimals")
    if "digits" in entry:
        rules["digits"] = positive_int_of(entry["digits"], "digits")
    elif field_type == "meter_reading":
        raise YamlError(line, "meter readings need digits")
    if "dates" in entry:
        rules["date_rule"] = _date_rule(entry["dates"])
    if "choices" in entry:
        rules["choices"] = choices_of(entry["choices"], "choices")
    if "accept" in entry:
        rules["accept"] = accept_of(entry["accept"], "accept")
    elif field_type == "file":
        rules["accept"] = UPLOAD_TYPES
    if "max_bytes" in entry:
        rules["max_bytes"] = positive_int_of(entry["max_bytes"], "max_bytes")
    rules["max_length"] = _max_length(entry, field_type, rules)
    return rules


def _max_length(
    entry: dict[str, yaml.Node], field_type: str, rules: dict
) -> int | None:
    if "max_length" in entry:
        return positive_int_of(entry["max_length"], "max_length")
    if field_type == "meter_reading":
        # Pre-decimal digits, the comma and the decimals.
        decimals = rules["decimals"]
        return rules["digits"] + (decimals + 1 if decimals else 0)
    return DEFAULT_MAX_LENGTH.get(field_type)


def _autocomplete(node: yaml.Node) -> str:
    token = text_of(node, "autocomplete")
    if token not in AUTOCOMPLETE_TOKENS:
        raise YamlError(line_of(node), f"autocomplete token {token} is not known")
    return token


def _decimal(node: yaml.Node, what: str) -> Decimal:
    value = text_of(node, what)
    if not _DECIMAL.fullmatch(value):
        raise YamlError(line_of(node), f"{what} must be a decimal number like 2.5")
    return Decimal(value)


def _small_int(node: yaml.Node, what: str) -> int:
    value = text_of(node, what)
    if not _SMALL_INT.fullmatch(value):
        raise YamlError(line_of(node), f"{what} must be an integer from 0 to 99")
    return int(value)


def _date_rule(node: yaml.Node) -> str:
    rule = text_of(node, "dates")
    if rule not in DATE_RULES:
        raise YamlError(line_of(node), f"dates must be one of {', '.join(DATE_RULES)}")
    return rule


def _record_type(
    key: str, node: yaml.Node, fields: dict[str, CatalogField]
) -> RecordType:
    where = f"record type {key}"
    entry = mapping_of(
        node, where, allowed={"label", "fields"}, required=("label", "fields")
    )
    names: list[str] = []
    for item in list_of(entry["fields"], f"the fields of {where}"):
        name = text_of(item, "a field name")
        if name not in fields:
            raise YamlError(line_of(item), f"field {name} is not in the catalog")
        if name in names:
            raise YamlError(line_of(item), f"field {name} appears twice in {where}")
        names.append(name)
    return RecordType(
        key=key, label=filled_text_of(entry["label"], "label"), fields=tuple(names)
    )
