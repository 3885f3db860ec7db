"""The built-in back office: MODWORK's stand-in, and the default receiver."""

import json
import logging
import secrets
from datetime import datetime
from pathlib import Path

from app import crypto
from app.clock import BERLIN, iso, utcnow
from app.config import Config
from app.forms.catalog import Catalog
from app.forms.definition import FormDefinition, load_definition_file
from app.portal.service import Portal
from app.storage.backoffice import BackOfficeStore
from app.storage.db import Database, ensure_private_dir, secret_file
from app.storage.portal import PublishedVersion

log = logging.getLogger(__name__)

DEMO_FORMS = Path(__file__).resolve().parent.parent / "demo" / "forms"
RECEIVER = "builtin"


class BackOffice:
    """Clerks, forms, records and the receiver's private key."""

    def __init__(self, config: Config, db: Database, catalog: Catalog) -> None:
        self.config = config
        self.store = BackOfficeStore(db)
        self.catalog = catalog
        folder = ensure_private_dir(config.backoffice_dir)
        self.attachments_dir = ensure_private_dir(folder / "attachments")
        self.key_path = folder / "receiver.key"
        if not self.key_path.exists():
            crypto.write_private_key(self.key_path, crypto.generate_private_key())
            log.info("Created the built-in receiver's key")
        self.private_key = crypto.load_private_key(self.key_path)
        self.form_secret = secret_file(folder / "forms.secret")
        self.setup_token_hash: str | None = None
        self._definitions: dict[tuple[str, str, int], FormDefinition] = {}

    def public_key(self) -> bytes:
        """Return the receiver's public key, for the portal to seal to."""
        return crypto.public_key_bytes(self.private_key.public_key())

    def attachment_path(self, attachment_id: str) -> Path:
        """Return where an attachment's bytes are kept."""
        return self.attachments_dir / attachment_id

    async def new_setup_token(self) -> str | None:
        """While no clerk exists, make the one-time token for the first one."""
        if await self.store.clerk_count():
            self.setup_token_hash = None
            return None
        token = secrets.token_urlsafe(24)
        self.setup_token_hash = crypto.token_hash(token)
        return token

    async def definition(self, tenant: str, slug: str, version: int):
        """Return a stored form version as a FormDefinition, or None."""
        # A stored version never changes, so what was parsed once is kept.
        key = (tenant, slug, version)
        if key not in self._definitions:
            text = await self.store.form_definition(tenant, slug, version)
            if text is None:
                return None
            self._definitions[key] = FormDefinition.from_dict(
                json.loads(text), self.catalog
            )
        return self._definitions[key]

    async def publish(self, portal: Portal, form: FormDefinition, clerk: str) -> int:
        """Store a form as a new version and publish it on the portal."""
        definition = json.dumps(form.to_dict(), ensure_ascii=False)
        now = iso(utcnow())
        number = await self.store.add_form_version(
            form.tenant, form.slug, definition, clerk, now
        )
        await portal.publish(
            PublishedVersion(
                form.tenant,
                form.slug,
                number,
                definition,
                _utc(form.publish_from),
                _utc(form.publish_until),
            )
        )
        return number

    async def load_demo_forms(self, portal: Portal, tenants) -> None:
        """Publish the demo forms when the database has no form at all."""
        if await self.store.form_count():
            return
        for path in sorted(DEMO_FORMS.glob("*.yaml")):
            form = load_definition_file(path, self.catalog)
            if form.tenant in tenants:
                await self.publish(portal, form, "system")


def _utc(moment: str | None) -> str | None:
    """Normalise a schedule time to stored UTC; without an offset it is Berlin."""
    if not moment:
        return None
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BERLIN)
    return iso(parsed)
