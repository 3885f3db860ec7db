"""What both sides share about secure links: the token's form and the states.

A token is `<link id>.<secret>`: the id (64 bits, not secret) finds the row,
the secret (256 bits from `secrets`) is the one-time password. Only the
SHA-256 hash of the whole token is stored, and the pre-filled values are
sealed under a key derived from it, so the portal's database alone opens
nothing.
"""

import json
import re
import secrets
from dataclasses import dataclass
from datetime import date

from app import crypto

KINDS = ("contract", "query", "order")
# Kinds whose answer lands on an existing record as a revision.
ANSWERS = frozenset({"query", "order"})
# The one list of link states, for the admin pages and for an API to report.
STATES = (
    ("created", "Angelegt"),
    ("sent", "Gesendet"),
    ("opened", "Geöffnet"),
    ("returned", "Zurückgekommen"),
    ("expired", "Abgelaufen"),
    ("revoked", "Widerrufen"),
    ("failed", "Nicht zustellbar"),
    ("overdue", "Überfällig"),
)
STATE_LABELS = dict(STATES)
# Notes on a step of a link's history that its state alone does not tell.
RESENT = "resent"
LOCKED_NOTE = "locked"
# A link in one of these states is over: nothing moves it on but a resend.
FINAL_STATES = frozenset({"returned", "expired", "revoked"})
# Wrong answers to a link's check before the link is locked for good.
MAX_CHECK_TRIES = 3
NOTE_LABELS = {
    RESENT: "Erneut gesendet (neuer Link)",
    LOCKED_NOTE: f"Gesperrt nach {MAX_CHECK_TRIES} falschen Antworten auf die "
    "Sicherheitsfrage",
}
_TOKEN = re.compile(r"^([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
_LINK_ID = re.compile(r"^[0-9a-f]{16}$")


def german_day(iso_date: str) -> str:
    """Show an ISO date the German way: 2026-12-24 as 24.12.2026."""
    return date.fromisoformat(iso_date).strftime("%d.%m.%Y")


def shown_value(field, value: str) -> str:
    """Return a stored value as a person reads it: a choice by its label."""
    if field.type == "choice":
        return dict(field.choices).get(value, value)
    if field.type == "consent" and value:
        return "Ja"
    if field.type == "date" and value:
        try:
            return german_day(value)
        except ValueError:
            return value
    return value


def new_link_id() -> str:
    """Return a fresh link id."""
    return secrets.token_hex(8)


def new_token(link_id: str) -> str:
    """Return a fresh token for a link."""
    return f"{link_id}.{crypto.new_link_secret()}"


def token_link_id(token: str) -> str | None:
    """Return the link id a token names, or None when it has the wrong form."""
    match = _TOKEN.match(token or "")
    return match.group(1) if match else None


def is_link_id(text: str) -> bool:
    """Say whether a text has the form of a link id."""
    return bool(_LINK_ID.match(text))


@dataclass(frozen=True)
class Prefill:
    """What a link opens with: values, and for a query the clerk's wishes."""

    kind: str
    values: dict[str, str]
    message: str = ""
    marked: tuple[str, ...] = ()
    others_editable: bool = True
    receipt: str = ""
    # An order's last day (ISO date): past it, the order is overdue.
    due: str = ""
    # The field whose value the customer types before the values show.
    check: str = ""
    # MODWORK's own reference of the record a query or order is about.
    record_ref: str = ""
    # The receiver the link was made for: its answer is sealed to it, even
    # once the tenant has switched to another receiver.
    receiver: str = ""

    def to_json(self) -> bytes:
        """Return the pre-fill as the JSON bytes that are sealed."""
        return json.dumps(self.to_dict(), ensure_ascii=False).encode()

    def to_dict(self) -> dict:
        """Return the pre-fill as a JSON-safe dict."""
        return {**self.__dict__, "marked": list(self.marked)}

    @classmethod
    def from_dict(cls, data: dict) -> "Prefill":
        """Rebuild a pre-fill from to_dict() output."""
        return cls(**{**data, "marked": tuple(data["marked"])})

    @classmethod
    def from_json(cls, raw: bytes) -> "Prefill":
        """Read a pre-fill from its opened JSON bytes."""
        return cls.from_dict(json.loads(raw))
