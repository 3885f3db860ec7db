"""Tenant designs in the back office: versions, restoring, drafts, publishing.

Every save is a new version and a version never changes; the newest is the
current design. The back office hands the current design to the portal over
its outward channel, at start and after every save, as it hands over form
schedules; the portal draws its frame from what it was given alone.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from aiohttp import web

from app.clock import iso
from app.designs import Design, DesignRefused, check_design, from_theme, process_logo
from app.portal.service import Portal
from app.storage.db import Database
from app.storage.designs import DesignStore, DesignVersion
from app.tenants import Tenant, TenantError, Theme

log = logging.getLogger(__name__)

SEED_NOTE = "Aus dem Theme-Ordner übernommen"


@dataclass(frozen=True)
class Draft:
    """A design a clerk previews before saving; it lives in memory only."""

    design: Design
    logo: bytes | None


class DesignDesk:
    """What clerks and the start do with tenant designs."""

    def __init__(
        self,
        db: Database,
        portal: Portal,
        tenants: dict[str, Tenant],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = DesignStore(db)
        self.portal = portal
        self.tenants = tenants
        self.clock = clock
        # The current design of each tenant, for the mails the back office
        # writes; the portal keeps its own copy.
        self.themes: dict[str, Theme] = {}
        # Limitation: drafts for the preview live in this process's memory,
        # one per clerk and tenant, and are gone after a restart; nothing of
        # a draft is stored until the clerk saves it.
        self._drafts: dict[tuple[int, str], Draft] = {}
        self._saving = asyncio.Lock()

    async def start(self) -> None:
        """Store each theme file as its tenant's first version, then publish all."""
        for slug, tenant in self.tenants.items():
            current = await self.store.current(slug)
            if current is None:
                await self._seed(tenant)
                current = await self.store.current(slug)
            await self._hand_over(current)

    async def _seed(self, tenant: Tenant) -> None:
        try:
            design = check_design(from_theme(tenant.theme).form_values())
            path = tenant.theme.logo_path
            logo = None
            if path is not None:
                logo = await asyncio.to_thread(process_logo, path.read_bytes())
        except DesignRefused as refused:
            errors = "; ".join(refused.errors.values())
            raise TenantError(f"themes/{tenant.slug}: {errors}") from refused
        await self.store.add_version(
            tenant.slug, design.to_json(), logo, "system", iso(self.clock()), SEED_NOTE
        )
        log.info("Stored the theme file of %s as design version 1", tenant.slug)

    def theme_of(self, tenant: Tenant) -> Theme:
        """Return a tenant's current design as templates read it."""
        return self.themes.get(tenant.slug, tenant.theme)

    def with_design(self, tenant: Tenant) -> Tenant:
        """Return the tenant with its current design, for mails."""
        return replace(tenant, theme=self.theme_of(tenant))

    async def current(self, tenant: str) -> DesignVersion:
        """Return a tenant's current version (there is one from the start on)."""
        found = await self.store.current(tenant)
        assert found is not None, "every tenant has a design from the start on"
        return found

    async def save(
        self, tenant: str, design: Design, logo: bytes | None, clerk: str, note: str
    ) -> int:
        """Save a checked design as the tenant's next version and publish it."""
        async with self._saving:
            number = await self.store.add_version(
                tenant, design.to_json(), logo, clerk, iso(self.clock()), note
            )
            await self._hand_over(await self.current(tenant))
        log.info("Saved design version %s of %s", number, tenant)
        return number

    async def restore(self, tenant: str, number: int, clerk: str) -> int | None:
        """Save an earlier version again as the current one; None if unknown."""
        old = await self.store.version(tenant, number)
        if old is None:
            return None
        note = f"Wiederhergestellt aus Version {number}"
        return await self.save(
            tenant, Design.from_json(old.design), old.logo, clerk, note
        )

    async def _hand_over(self, current: DesignVersion) -> None:
        design = Design.from_json(current.design)
        self.themes[current.tenant] = design.theme(
            current.tenant, current.version, current.logo is not None
        )
        await self.portal.publish_design(current)

    # Drafts for the preview.

    def keep_draft(self, clerk_id: int, tenant: str, draft: Draft) -> None:
        """Keep a clerk's unsaved design for the preview."""
        self._drafts[(clerk_id, tenant)] = draft

    def draft(self, clerk_id: int, tenant: str) -> Draft | None:
        """Return a clerk's unsaved design of a tenant, or None."""
        return self._drafts.get((clerk_id, tenant))

    def drop_draft(self, clerk_id: int, tenant: str) -> None:
        """Forget a clerk's unsaved design, once saved or discarded."""
        self._drafts.pop((clerk_id, tenant), None)


DESIGNS: web.AppKey[DesignDesk] = web.AppKey("designs")
