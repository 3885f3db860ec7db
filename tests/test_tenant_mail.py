"""A tenant's mail sender and service providers, read from tenant.yaml."""

import shutil

import pytest

from app.config import ROOT
from app.tenants import TenantError, load_tenant

MUSTERSTADT = ROOT / "themes" / "musterstadt"
SENDER = """mail:
  from_name: Stadtwerke Musterstadt
  from_address: service@stadtwerke-musterstadt.example
"""


@pytest.fixture
def folder(tmp_path):
    return shutil.copytree(MUSTERSTADT, tmp_path / "musterstadt")


def rewrite(folder, old: str, new: str) -> None:
    path = folder / "tenant.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_demo_tenant_sends_as_itself_to_its_providers():
    tenant = load_tenant(MUSTERSTADT)
    assert (tenant.mail_from_name, tenant.mail_from_address) == (
        "Stadtwerke Musterstadt",
        "service@stadtwerke-musterstadt.example",
    )
    assert tenant.providers[0] == (
        "Messtechnik Muster GmbH",
        "auftraege@messtechnik-muster.example",
    )


def test_without_a_mail_section_the_name_and_contact_address_are_used(folder):
    rewrite(folder, SENDER, "")
    tenant = load_tenant(folder)
    assert (tenant.mail_from_name, tenant.mail_from_address) == (
        "Stadtwerke Musterstadt GmbH",
        "service@stadtwerke-musterstadt.example",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "from_address: service@stadtwerke-musterstadt.example",
            "from_address: Service <service@stadtwerke-musterstadt.example>",
            "mail.from_address must be one plain address",
        ),
        (
            "from_name: Stadtwerke Musterstadt",
            'from_name: "Stadtwerke Musterstadt\\r\\nBcc: a@b.example"',
            "mail.from_name must be one line",
        ),
        (
            "email: auftraege@messtechnik-muster.example",
            "email: auftraege",
            "provider 'Messtechnik Muster GmbH' needs one plain address",
        ),
        (
            "  - name: Elektro Beispiel KG\n",
            "  - Elektro Beispiel KG\n  - name: x\n",
            "each provider needs a name and an email",
        ),
    ],
)
def test_senders_and_providers_need_plain_addresses(folder, old, new, message):
    rewrite(folder, old, new)
    with pytest.raises(TenantError, match=message):
        load_tenant(folder)
