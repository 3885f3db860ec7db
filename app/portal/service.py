"""The portal side: published forms, form sessions and the sealing of sends."""

import dataclasses
import json
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app import crypto
from app.clock import iso, utcnow
from app.config import Config
from app.designs import Design
from app.forms.catalog import Catalog
from app.forms.definition import FormDefinition
from app.portal.intake import Intake, Limits, new_receipt
from app.portal.queue import PendingQueue
from app.storage.db import Database, ensure_private_dir, secret_file
from app.storage.designs import DesignVersion, PublishedDesignStore
from app.storage.portal import DuplicateNonce, PortalStore, PublishedVersion
from app.tenants import Tenant, Theme

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedForm:
    """A published form version as the portal serves it."""

    definition: FormDefinition
    version: int
    publish_until: str | None

    def __getattr__(self, name: str):
        return getattr(self.definition, name)


@dataclass(frozen=True)
class Receipt:
    number: str
    received_at: str


class Portal:
    """Everything the portal side does with its own store."""

    def __init__(
        self,
        config: Config,
        db: Database,
        catalog: Catalog,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = PortalStore(db)
        self.catalog = catalog
        folder = ensure_private_dir(config.portal_dir)
        self.queue = PendingQueue(self.store, folder / "files")
        self.receivers_dir = ensure_private_dir(folder / "receivers")
        self.csrf_secret = secret_file(folder / "csrf.secret")
        self._definitions: dict[tuple[str, str, int], FormDefinition] = {}
        self.design_store = PublishedDesignStore(db)
        # Every page's frame is drawn from these, so they live in memory.
        self._themes: dict[str, Theme] = {}
        self._logos: dict[str, bytes] = {}

    # Outward channel: what the back office publishes.

    def register_receiver(self, name: str, public_key: bytes) -> None:
        """Keep a receiver's public key, the only key the portal ever holds."""
        self.write_receiver_key(self.receivers_dir, name, public_key)

    @staticmethod
    def write_receiver_key(folder: Path, name: str, public_key: bytes) -> None:
        """Replace a receiver's key file whole, so no send reads half a key."""
        path = folder / f"{name}.pub"
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(public_key.hex() + "\n", encoding="ascii")
        tmp.chmod(0o600)
        os.replace(tmp, path)

    def receiver_key(self, name: str):
        """Return the public key that submissions for a receiver are sealed to."""
        raw = (self.receivers_dir / f"{name}.pub").read_text("ascii").strip()
        return crypto.load_public_key(bytes.fromhex(raw))

    async def publish(self, version: PublishedVersion) -> None:
        """Take a version the back office published."""
        await self.store.publish(version, iso(self.clock()))
        log.info(
            "Published %s/%s version %s", version.tenant, version.slug, version.version
        )

    async def publish_schedule(
        self, tenant: str, slug: str, versions: Sequence[PublishedVersion]
    ) -> None:
        """Take a form's whole schedule as the back office now has it."""
        await self.store.replace_schedule(tenant, slug, versions, iso(self.clock()))
        log.info("Took the schedule of %s/%s: %s versions", tenant, slug, len(versions))

    async def publish_schedules(
        self, schedules: dict[tuple[str, str], Sequence[PublishedVersion]]
    ) -> None:
        """Take many forms' schedules at once, as the back office has them at start."""
        await self.store.replace_schedules(schedules, iso(self.clock()))
        log.info("Took the schedules of %s forms", len(schedules))

    async def publish_design(self, published: DesignVersion) -> None:
        """Take a tenant's current design, which the back office published."""
        await self.design_store.replace(published, iso(self.clock()))
        self._keep_design(published)
        log.info("Took design version %s of %s", published.version, published.tenant)

    async def load_designs(self) -> None:
        """Read the designs the portal was given before, at start."""
        for published in await self.design_store.all():
            self._keep_design(published)

    def _keep_design(self, published: DesignVersion) -> None:
        design = Design.from_json(published.design)
        self._themes[published.tenant] = design.theme(
            published.tenant, published.version, published.logo is not None
        )
        if published.logo is None:
            self._logos.pop(published.tenant, None)
        else:
            self._logos[published.tenant] = published.logo

    def framed(self, tenant: Tenant) -> Tenant:
        """Return the tenant with the design the portal was last given."""
        theme = self._themes.get(tenant.slug)
        return tenant if theme is None else dataclasses.replace(tenant, theme=theme)

    def logo(self, tenant: str) -> bytes | None:
        """Return a tenant's current logo as PNG, or None."""
        return self._logos.get(tenant)

    async def purge_ended(self, grace: timedelta) -> int:
        """Forget versions that ended longer ago than the grace period."""
        purged = await self.store.purge_ended(iso(self.clock() - grace))
        for key in purged:
            self._definitions.pop(key, None)
        if purged:
            log.info("Forgot %s ended form versions", len(purged))
        return len(purged)

    # Serving forms.

    def _served(self, published: PublishedVersion) -> ServedForm:
        key = (published.tenant, published.slug, published.version)
        if key not in self._definitions:
            self._definitions[key] = FormDefinition.from_dict(
                json.loads(published.definition), self.catalog
            )
        return ServedForm(
            self._definitions[key], published.version, published.publish_until
        )

    async def live_forms(self, tenant: str) -> list[ServedForm]:
        """Return the public forms of a tenant that are live right now."""
        versions = await self.store.live_versions(tenant, iso(self.clock()))
        served = [self._served(v) for v in versions]
        return [form for form in served if not form.links_only]

    async def live_form(self, tenant: str, slug: str) -> ServedForm | None:
        """Return the live version of one public form, or None."""
        published = await self.store.live_version(tenant, slug, iso(self.clock()))
        served = self._served(published) if published else None
        # A form served only through links has no public address at all.
        return None if served is None or served.links_only else served

    async def published_form(
        self, tenant: str, slug: str, version: int
    ) -> ServedForm | None:
        """Return a published version whatever its schedule, as a link serves it."""
        published = await self.store.version(tenant, slug, version)
        return self._served(published) if published else None

    async def served_form(
        self, tenant: str, slug: str, version: int, grace: timedelta
    ) -> ServedForm | None:
        """Return the public version a customer was served, while it may be sent."""
        published = await self.store.version(tenant, slug, version)
        if published is None or self._served(published).links_only:
            return None
        until = published.publish_until
        if until and self.clock() >= datetime.fromisoformat(until) + grace:
            return None
        return self._served(published)

    # Inward: sealing and committing a submission.

    def new_intake(self, form: ServedForm, stream=None) -> Intake:
        """Start reading a submission of a served form."""
        uploads = self.config.uploads
        ceiling = uploads.max_submission_bytes
        if form.max_submission_bytes:
            ceiling = min(ceiling, form.max_submission_bytes)
        limits = Limits(
            uploads.max_file_bytes,
            ceiling,
            uploads.max_pixels,
            uploads.max_files,
            uploads.idle_timeout_s,
            uploads.send_timeout_s,
        )
        submission_id = secrets.token_hex(16)
        folder = self.queue.folder(submission_id)
        return Intake(
            form.definition,
            folder,
            limits,
            form.version,
            id=submission_id,
            stream=stream,
        )

    async def previous_receipt(self, nonce: str) -> Receipt | None:
        """Return the receipt of a form instance that was sent already."""
        found = await self.store.receipt_for_nonce(nonce)
        return Receipt(*found) if found else None

    async def commit(
        self,
        intake: Intake,
        values: dict[str, str],
        nonce: str,
        receiver: str,
        within=None,
        test: bool = False,
    ) -> Receipt:
        """Seal and durably store a checked submission; return its receipt.

        `within(conn, receipt)` runs inside the storing transaction.
        """
        now = self.clock()
        receipt = Receipt(new_receipt(intake.form.tenant), iso(now))
        sealed = intake.seal(
            values,
            self.receiver_key(receiver),
            receipt.number,
            receipt.received_at,
            receiver,
            test,
        )
        expires = iso(now + timedelta(hours=self.config.form_session_hours))
        await intake.sync_folder()
        try:
            await self.store.add_submission(
                sealed,
                nonce,
                expires,
                (lambda conn: within(conn, receipt)) if within else None,
            )
        except DuplicateNonce:
            await intake.discard()
            previous = await self.previous_receipt(nonce)
            if previous is None:
                raise
            return previous
        log.info("Stored submission %s for %s", intake.id, receiver)
        self.queue.notify(receiver)
        return receipt
