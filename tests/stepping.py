"""Helpers of the stepped form tests: walk a stepped form as a browser does."""

import re
from datetime import timedelta

from app.forms.checks import today_in_germany
from tests.conftest import csrf_token, form_data

CONTRACT = "/musterstadt/stromvertrag"
STATE = re.compile(r'name="state" value="([^"]+)"')
PROGRESS = re.compile(r'<p class="progress"[^>]*>([^<]+)</p>')
SUPPLY_FROM = (today_in_germany() + timedelta(days=30)).isoformat()
# The supply contract's four steps, as a customer who changes supplier fills them.
CONTRACT_PAGES = [
    {
        "VERTRAG_TARIF": "MS-OEKO",
        "VERTRAG_ANLASS": "01",
        "VERTRAG_BEGINN": SUPPLY_FROM,
    },
    {
        "KUNDE_ANREDE": "01",
        "KUNDE_VORNAME": "Erika",
        "KUNDE_NACHNAME": "Mustermann",
        "KUNDE_GEBURTSDATUM": "1980-04-12",
        "KUNDE_EMAIL": "erika@example.org",
    },
    {
        "ABNST_STRASSE": "Hauptstraße",
        "ABNST_HAUSNR": "5a",
        "ABNST_PLZ": "01067",
        "ABNST_ORT": "Dresden",
        "ZAEHLER_NR": "1ESY1160523456",
        "VERBRAUCH_KWH_JAHR": "2500",
        "VORVERSORGER": "Stromhaus Nord",
    },
    {
        "BANK_KONTOINHABER": "Erika Mustermann",
        "BANK_IBAN": "DE02 1203 0000 0000 2020 51",
        "SEPA_ZUSTIMMUNG": "ja",
        "AGB_ZUSTIMMUNG": "ja",
        "WIDERRUF_KENNTNIS": "ja",
        "DATENSCHUTZ_KENNTNIS": "ja",
    },
]


def state_of(html: str) -> str:
    """Return the encrypted state a step page carries."""
    match = STATE.search(html)
    assert match, "the page has no state"
    return match.group(1)


def progress_of(html: str) -> str:
    """Return the progress line of a step page."""
    match = PROGRESS.search(html)
    assert match, "the page has no progress line"
    return match.group(1).strip()


class Walk:
    """A customer's way through a stepped form: the page now shown and its parts."""

    def __init__(self, client, path: str = CONTRACT) -> None:
        self.client, self.path = client, path
        self.html, self.status = "", 0

    async def start(self) -> "Walk":
        response = await self.client.get(self.path)
        self.status, self.html = response.status, await response.text()
        return self

    async def post(self, fields=None, action="weiter", files=None, state=None):
        """Send the page shown with these fields through one of its buttons."""
        # The state right after the token, as the page's hidden inputs stand.
        state = state or state_of(self.html)
        data = form_data(
            csrf_token(self.html), {"state": state, **(fields or {})}, files
        )
        response = await self.client.post(f"{self.path}?aktion={action}", data=data)
        self.status, self.html = response.status, await response.text()
        return response

    async def through(self, pages) -> "Walk":
        """Fill and confirm each page in turn, each to be accepted."""
        for fields in pages:
            await self.post(fields)
            assert self.status == 200, self.html
        return self
