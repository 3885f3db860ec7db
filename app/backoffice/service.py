"""The built-in back office: MODWORK's stand-in, and the default receiver."""

import json
import logging
import secrets
from datetime import timedelta
from pathlib import Path

from app import crypto
from app.backoffice.forms import FormDesk, schedule_of
from app.config import Config
from app.forms.catalog import Catalog
from app.forms.definition import FormDefinition, load_definition_file
from app.portal.service import Portal
from app.storage.backoffice import BackOfficeStore
from app.storage.db import Database, ensure_private_dir, secret_file
from app.timers import Scheduler

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
        # The server sets the desk that runs on its scheduler; a command
        # without a server gets one made on first use.
        self.forms: FormDesk | None = None

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

    def form_desk(self, portal: Portal) -> FormDesk:
        """Return the desk of this back office's forms, made on first use."""
        if self.forms is None:
            # No timer runs here; the server recomputes the schedule from the
            # database when it starts.
            scheduler = Scheduler()
            grace = timedelta(minutes=self.config.grace_minutes)
            self.forms = FormDesk(
                self.store.db, self.catalog, portal, scheduler, scheduler.clock, grace
            )
        return self.forms

    async def publish(self, portal: Portal, form: FormDefinition, clerk: str) -> int:
        """Save a checked definition as the form's next version and schedule it."""
        start, until = schedule_of(form)
        desk = self.form_desk(portal)
        return await desk.import_definition(form, clerk, start, until)

    async def load_demo_forms(self, portal: Portal, tenants) -> None:
        """Publish the demo forms, the way import-form does, into an empty store."""
        if await self.store.form_count():
            return
        for path in sorted(DEMO_FORMS.glob("*.yaml")):
            form = load_definition_file(path, self.catalog)
            if form.tenant in tenants:
                await self.publish(portal, form, "system")
