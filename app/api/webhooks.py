"""Tell MODWORK that submissions wait for it, by a signed webhook.

A webhook only says "come and take"; MODWORK then lists what is pending. So
a webhook that never arrives loses nothing: the submissions stay pending,
the next arrival sends another, and MODWORK may poll as well. Deliveries run
on the scheduler and are retried with a doubling delay.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp

from app.clock import iso, utcnow
from app.config import ConfigError, Webhooks
from app.portal.queue import PendingQueue
from app.storage.api import LinkWebhookProgress
from app.timers import Scheduler

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Modportal-Signature"
DELIVERY_HEADER = "X-Modportal-Delivery"
EVENT = "submissions.pending"
LINK_EVENT = "link.state"
MIN_SECRET_BYTES = 16
TIMEOUT = aiohttp.ClientTimeout(total=10)


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """Return the signature header for a body sent at a Unix time."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def read_secret(path: Path) -> bytes:
    """Read a webhook secret from a file only its owner may read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise ConfigError(f"webhook secret {path}: {error.strerror}") from error
    with os.fdopen(fd, "rb") as file:
        if os.fstat(file.fileno()).st_mode & 0o077:
            raise ConfigError(
                f"webhook secret {path} must be readable by its owner only"
            )
        secret = file.read().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"webhook secret {path} must have at least {MIN_SECRET_BYTES} characters"
        )
    return secret


@dataclass(frozen=True)
class Webhook:
    """Where one tenant's MODWORK hears of new submissions, and the shared secret."""

    tenant: str
    receiver: str
    url: str
    secret: bytes


class Notifier:
    """Send a tenant's webhook when submissions arrive, until one is taken in."""

    def __init__(
        self,
        webhook: Webhook,
        queue: PendingQueue,
        scheduler: Scheduler,
        session: aiohttp.ClientSession,
        policy: Webhooks,
    ) -> None:
        self.webhook = webhook
        self.queue = queue
        self.scheduler = scheduler
        self.session = session
        self.policy = policy
        self.timer = f"webhook:{webhook.tenant}"
        self.delivery = ""
        self.attempt = 0
        self._sending: asyncio.Task | None = None
        self._again = False

    async def watch(self) -> None:
        """Notify once for whatever already waits, then after every arrival."""
        arrival = self.queue.arrival(self.webhook.receiver)
        self.trigger()
        while True:
            await arrival.wait()
            arrival.clear()
            self.trigger()

    def trigger(self) -> None:
        """Start a new delivery now, replacing one that waits for its retry."""
        self.delivery = secrets.token_hex(8)
        self.attempt = 0
        self.scheduler.schedule(self.timer, utcnow(), self._send_beside)

    async def _send_beside(self) -> None:
        # The scheduler runs its actions one after another: a slow MODWORK must
        # not hold up publishing or mail, so the delivery runs as its own task.
        # One already under way covers this call too, as MODWORK lists it all.
        # One arriving while a delivery is under way is told right after it.
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(
                self._deliver_until_told(), name=self.timer
            )
        else:
            self._again = True

    async def _deliver_until_told(self) -> None:
        while True:
            self._again = False
            await self.deliver()
            if not self._again:
                return

    async def close(self) -> None:
        """Stop a delivery under way."""
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending

    async def deliver(self) -> None:
        """Send the webhook once; on failure schedule the next attempt."""
        if not await self.queue.take(self.webhook.receiver, 1):
            return  # taken meanwhile: nothing to tell
        self.attempt += 1
        delivery, attempt = self.delivery, self.attempt
        if await self._post(delivery, attempt):
            log.info(
                "Delivered webhook %s for %s (attempt %s)",
                delivery,
                self.webhook.tenant,
                attempt,
            )
            return
        if self.attempt >= self.policy.attempts:
            log.warning(
                "Gave up webhook %s for %s after %s attempts; submissions stay pending",
                self.delivery,
                self.webhook.tenant,
                self.attempt,
            )
            return
        delay = min(
            self.policy.first_retry_seconds * 2 ** (self.attempt - 1),
            self.policy.max_retry_seconds,
        )
        log.warning(
            "Webhook %s for %s failed; retrying in %ss",
            self.delivery,
            self.webhook.tenant,
            delay,
        )
        when = utcnow() + timedelta(seconds=delay)
        self.scheduler.schedule(self.timer, when, self._send_beside)

    async def _post(self, delivery: str, attempt: int) -> bool:
        return await post_event(
            self.session, self.webhook, EVENT, delivery, attempt, {}
        )


async def post_event(
    session: aiohttp.ClientSession,
    webhook: Webhook,
    event: str,
    delivery: str,
    attempt: int,
    details: dict,
) -> bool:
    """POST one signed event to a tenant's webhook; return whether it was taken."""
    sent = utcnow()
    body = json.dumps(
        {
            "type": event,
            "tenant": webhook.tenant,
            "delivery": delivery,
            "attempt": attempt,
            "sent_at": iso(sent),
            **details,
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(webhook.secret, int(sent.timestamp()), body),
        DELIVERY_HEADER: delivery,
    }
    try:
        async with session.post(
            webhook.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            return 200 <= response.status < 300
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False


def change_delivery(webhook: Webhook, seq: int) -> str:
    """Return the delivery id of one history row, the same on every attempt.

    Keyed by the tenant's secret, so MODWORK can drop a change it already
    has (one told again after a crash between its answer and our note of
    it), without learning how many changes other tenants had.
    """
    digest = hmac.new(webhook.secret, f"link.state:{seq}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


class LinkStateNotifier:
    """Tell each tenant's MODWORK of every state its links reach, in order.

    Every change is a row of the links' history. Per tenant the number of the
    last row MODWORK answered 2xx is kept in the portal's store; at start and
    after each change the notifier delivers what follows it, one change after
    another, and moves the mark on only after a 2xx. A failed change is
    retried as the submissions' webhook is; given up, it is tried again at
    the next change or start, so nothing is skipped.
    """

    def __init__(
        self,
        hooks: list[Webhook],
        office,
        progress: LinkWebhookProgress,
        scheduler: Scheduler,
        session: aiohttp.ClientSession,
        policy: Webhooks,
    ) -> None:
        self.hooks = {hook.tenant: hook for hook in hooks}
        self.office = office
        self.progress = progress
        self.scheduler = scheduler
        self.session = session
        self.policy = policy
        self.attempts: dict[str, int] = dict.fromkeys(self.hooks, 0)
        self._sending: dict[str, asyncio.Task] = {}
        self._again: dict[str, bool] = dict.fromkeys(self.hooks, False)

    async def watch(self) -> None:
        """Deliver what waits from before, then whatever changes after."""
        for tenant in self.hooks:
            if await self.progress.delivered(tenant) is None:
                # A tenant's webhook starts with the changes after it was set
                # up; MODWORK reads older states by GET /api/v1/links/{id}.
                seq = await self.office.store.last_history_row()
                await self.progress.advance(tenant, seq)
        changed = self.office.states_changed
        while True:
            changed.clear()
            for tenant in self.hooks:
                self._start(tenant)
            await changed.wait()

    def _start(self, tenant: str) -> None:
        sending = self._sending.get(tenant)
        if sending is None or sending.done():
            self._sending[tenant] = asyncio.create_task(
                self._deliver_until_done(tenant), name=f"link-webhook:{tenant}"
            )
        else:
            # The delivery under way looks again for changes when it is done.
            self._again[tenant] = True

    async def _deliver_until_done(self, tenant: str) -> None:
        while True:
            self._again[tenant] = False
            if not await self._deliver_all(tenant) or not self._again[tenant]:
                return

    async def _deliver_all(self, tenant: str) -> bool:
        """Deliver the tenant's changes in order; False when one failed."""
        after = await self.progress.delivered(tenant) or 0
        while rows := await self.office.store.history_since(tenant, after):
            for row in rows:
                if not await self._deliver(tenant, row):
                    return False
                after = row["seq"]
                # Let the note finish even at shutdown, so that no write is
                # left half done on a connection about to close.
                step = asyncio.ensure_future(self.progress.advance(tenant, after))
                try:
                    await asyncio.shield(step)
                except asyncio.CancelledError:
                    await step
                    raise
        return True

    async def _deliver(self, tenant: str, row) -> bool:
        """Send one change; on a failure schedule its retry and return False."""
        hook = self.hooks[tenant]
        delivery = change_delivery(hook, row["seq"])
        self.attempts[tenant] += 1
        attempt = self.attempts[tenant]
        details = {
            "link": {"id": row["link_id"], "state": row["state"], "at": row["at"]}
        }
        if await post_event(self.session, hook, LINK_EVENT, delivery, attempt, details):
            log.info("Delivered link state webhook %s", delivery)
            self.attempts[tenant] = 0
            return True
        if attempt >= self.policy.attempts:
            log.warning(
                "Gave up link state webhook %s after %s attempts; "
                "it is tried again at the next change or start",
                delivery,
                attempt,
            )
            self.attempts[tenant] = 0
            return False
        delay = min(
            self.policy.first_retry_seconds * 2 ** (attempt - 1),
            self.policy.max_retry_seconds,
        )
        log.warning("Link state webhook %s failed; retrying in %ss", delivery, delay)
        when = utcnow() + timedelta(seconds=delay)
        self.scheduler.schedule(
            f"link-webhook:{tenant}", when, lambda: self._retry(tenant)
        )
        return False

    async def _retry(self, tenant: str) -> None:
        # Run beside the scheduler, which must not wait for a slow MODWORK.
        self._start(tenant)

    async def close(self) -> None:
        """Stop the deliveries under way."""
        for task in self._sending.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
