"""The portal's side of secure links: check a token, open its pre-fill, claim it.

The portal keeps, per link, the hash of its token and the pre-filled values
sealed under a key derived from the token. It learns the token only when a
customer brings it, so a copy of its database opens no pre-fill.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from app import crypto, links
from app.clock import iso, utcnow
from app.links import Prefill
from app.portal.service import Portal, ServedForm
from app.storage.portal_links import PortalLink, PortalLinkStore, claim_link
from app.timers import Scheduler

log = logging.getLogger(__name__)

# A hash no token has, compared against when the id is unknown, so that an
# unknown link costs the same work as a known one.
_NO_HASH = crypto.token_hash("no link has this token")


@dataclass(frozen=True)
class LinkCheck:
    """The outcome of checking a token: "open", "used", "expired" or "unknown"."""

    status: str
    link: PortalLink | None = None
    prefill: Prefill | None = None
    form: ServedForm | None = field(default=None)

    @property
    def reason(self) -> str:
        """Say for the log why a token opens nothing: a word, no token, no data."""
        link = self.link
        if self.status != "expired" or link is None:
            return self.status
        if link.check_failures >= links.MAX_CHECK_TRIES:
            return "locked"
        if link.revoked_at:
            return "revoked"
        if link.sealed_prefill is None:
            return "expired"
        if datetime.fromisoformat(link.expires_at) <= utcnow():
            return "expired"
        return "form no longer served"


class PortalLinks:
    """Links published to the portal, their expiry timers and their events."""

    def __init__(self, portal: Portal, scheduler: Scheduler) -> None:
        self.portal = portal
        self.store = PortalLinkStore(portal.store.db)
        self.scheduler = scheduler
        self.changed = asyncio.Event()

    # Outward channel: what the back office publishes.

    async def publish(self, link: PortalLink) -> None:
        """Take a new link, or a resent one with its new token."""
        await self.store.publish(link)
        self._schedule_expiry(link)
        log.info("Published link %s", link.id)

    async def revoke(self, link_id: str) -> None:
        """Stop a link at once and delete its sealed pre-fill."""
        self.scheduler.cancel(f"link-expiry:{link_id}")
        await self.store.forget_prefill(link_id, iso(utcnow()), True, None)
        log.info("Revoked link %s", link_id)

    async def resume(self) -> None:
        """Schedule the expiry of every link that is still open."""
        for link in await self.store.open_links():
            self._schedule_expiry(link)

    def _schedule_expiry(self, link: PortalLink) -> None:
        when = datetime.fromisoformat(link.expires_at)
        self.scheduler.schedule(
            f"link-expiry:{link.id}", when, lambda: self.expire(link.id)
        )

    async def expire(self, link_id: str) -> None:
        """Delete an expired link's sealed pre-fill and tell the back office."""
        found = await self.store.link(link_id)
        if found is None or found.sealed_prefill is None:
            return
        await self.store.forget_prefill(link_id, iso(utcnow()), False, "expired")
        log.info("Link %s expired", link_id)
        self.changed.set()

    # Customers bringing tokens.

    async def check(self, token: str) -> LinkCheck:
        """Check a token in constant time and open its pre-fill if it is live."""
        link_id = links.token_link_id(token) or "0" * 16
        found = await self.store.link(link_id)
        expected = found.token_hash if found else _NO_HASH
        if not crypto.constant_time_equal(expected, crypto.token_hash(token or "")):
            return LinkCheck("unknown")
        if found.used_at:
            return LinkCheck("used", found)
        if found.revoked_at or found.sealed_prefill is None:
            return LinkCheck("expired", found)
        if datetime.fromisoformat(found.expires_at) <= utcnow():
            return LinkCheck("expired", found)
        try:
            raw = crypto.decrypt_for_link(token, found.id, found.sealed_prefill)
        except crypto.CryptoError:
            log.error("Link %s does not open with its own token", found.id)
            return LinkCheck("unknown")
        form = await self.portal.published_form(
            found.tenant, found.form_slug, found.form_version
        )
        if form is None:
            return LinkCheck("expired", found)
        return LinkCheck("open", found, Prefill.from_json(raw), form)

    async def check_failed(self, link_id: str) -> int:
        """Count a wrong answer; lock the link after the last try. Return tries left."""
        failures = await self.store.count_check_failure(link_id)
        left = max(links.MAX_CHECK_TRIES - failures, 0)
        if not left:
            self.scheduler.cancel(f"link-expiry:{link_id}")
            await self.store.forget_prefill(link_id, iso(utcnow()), True, "locked")
            self.changed.set()
            log.warning("Locked link %s after wrong answers", link_id)
        return left

    async def opened(self, link_id: str) -> None:
        """Note that a customer opened a link."""
        await self.store.note(link_id, "opened", iso(utcnow()))
        self.changed.set()

    def claimer(self, link_id: str):
        """Return what claims the link inside the transaction that stores a send."""

        async def claim(conn, receipt) -> None:
            await claim_link(conn, link_id, receipt.number, receipt.received_at)
            await self.store.add_event(conn, link_id, "returned", receipt.received_at)

        return claim

    # Inward channel: what happened to each link.

    async def take_events(self):
        """Return the events the back office has not taken yet."""
        return await self.store.events()

    async def acknowledge_events(self, up_to: int) -> None:
        """Forget events the back office has taken."""
        await self.store.delete_events(up_to)
