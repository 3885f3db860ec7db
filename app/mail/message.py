"""Build German mails from templates, with every header value checked."""

import dataclasses
import email.utils
import logging
import re
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import jinja2

from app.clock import utcnow
from app.config import ROOT
from app.tenants import Tenant, Theme

log = logging.getLogger(__name__)

# A plain addr-spec: no display name, no comments, no quoting, one "@".
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[^@\s<>()\[\],;:\"]+$")
_FORBIDDEN = ("\r", "\n", "\x00")


class MailError(Exception):
    """A name or address that cannot go into a mail header."""


def check_header(value: str, what: str) -> str:
    """Return a header value, refusing line breaks that would forge headers."""
    if any(c in value for c in _FORBIDDEN):
        raise MailError(f"{what} may not contain a line break")
    return value.strip()


def check_address(address: str) -> str:
    """Return a checked e-mail address with its domain in IDNA form."""
    address = check_header(address, "an e-mail address")
    if len(address) > 254 or not _ADDRESS.match(address):
        raise MailError("the e-mail address is not a plain address")
    local, domain = address.rsplit("@", 1)
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise MailError("the e-mail address has an impossible domain") from error
    # Limitation: a local part beyond ASCII would need SMTPUTF8, which not
    # every relay offers, so such addresses are refused.
    if "." not in ascii_domain:
        raise MailError("the e-mail address needs a domain with a dot")
    return f"{local}@{ascii_domain.lower()}"


def build_message(
    *,
    sender_name: str,
    sender_address: str,
    to: str,
    subject: str,
    text: str,
    html: str,
) -> EmailMessage:
    """Assemble a multipart/alternative mail; non-ASCII is encoded by the policy."""
    sender = check_address(sender_address)
    message = EmailMessage(policy=SMTP)
    local, domain = sender.split("@")
    message["From"] = Address(
        check_header(sender_name, "the sender's name"), local, domain
    )
    to_local, to_domain = check_address(to).split("@")
    message["To"] = Address("", to_local, to_domain)
    message["Subject"] = check_header(subject, "the subject")
    message["Date"] = email.utils.format_datetime(utcnow())
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    # The text part goes as 8bit so that its link stays whole on one line, in
    # the .eml file too; quoted-printable would break it with soft breaks.
    # Limitation: a relay without 8BITMIME cannot take such a mail; every
    # common relay offers it.
    message.set_content(text, charset="utf-8", cte="8bit")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


class MailTemplates:
    """Mail templates under templates/mail/, which a tenant's theme may replace."""

    def __init__(
        self, themes: Path, theme_of: Callable[[Tenant], Theme] | None = None
    ) -> None:
        # The tenant's current design, as the back office keeps it; without
        # one (a command run with no server) the theme file's.
        self.theme_of = theme_of or (lambda tenant: tenant.theme)
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(ROOT / "templates"),
                jinja2.PrefixLoader({"tenant": jinja2.FileSystemLoader(themes)}),
            ]
        )
        # HTML parts are escaped, plain-text parts are not: a customer's "<"
        # must reach a text mail as "<", not as "&lt;".
        self.env = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def _template(self, tenant: Tenant, name: str) -> jinja2.Template:
        return self.env.get_or_select_template(
            [f"tenant/{tenant.slug}/templates/mail/{name}", f"mail/{name}"]
        )

    def render(self, tenant: Tenant, name: str, context: dict) -> tuple[str, str, str]:
        """Return the subject, plain text and HTML of a mail template."""
        theme = self.theme_of(tenant)
        tenant = dataclasses.replace(tenant, theme=theme)
        context = {**context, "tenant": tenant, "colors": theme.colors}
        text_template = self._template(tenant, f"{name}.txt")
        subject = str(text_template.make_module(context).subject())
        text = text_template.render(context)
        html = self._template(tenant, f"{name}.html").render(context)
        return " ".join(subject.split()), text.strip() + "\n", html

    def message(
        self, tenant: Tenant, name: str, to: str, context: dict
    ) -> EmailMessage:
        """Render a template into a mail from the tenant to one address."""
        subject, text, html = self.render(tenant, name, context)
        return build_message(
            sender_name=tenant.mail_from_name,
            sender_address=tenant.mail_from_address,
            to=to,
            subject=subject,
            text=text,
            html=html,
        )
