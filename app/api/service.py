"""The API's part of the application's life: keys, receivers, webhooks."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from app.api import webhooks
from app.api.auth import API_KEYS
from app.api.receivers import modwork_receiver, register_modwork_keys
from app.keys import CONFIG, LINK_OFFICE, PORTAL, QUEUE, SCHEDULER, TENANTS
from app.storage.api import ApiKeyStore, LinkWebhookProgress

log = logging.getLogger(__name__)


def _webhooks(app: web.Application) -> list[webhooks.Webhook]:
    config = app[CONFIG]
    found = []
    for slug in app[TENANTS]:
        settings = config.tenant(slug)
        if settings.webhook_url and settings.webhook_secret_file:
            # Limitation: the secret is read at start, so a new one takes effect
            # only when the server is restarted.
            secret = webhooks.read_secret(settings.webhook_secret_file)
            hook = webhooks.Webhook(
                slug, modwork_receiver(slug), settings.webhook_url, secret
            )
            found.append(hook)
    return found


async def api_side(app: web.Application) -> AsyncIterator[None]:
    """Open the key store, keep MODWORK's keys and watch for its webhooks."""
    config = app[CONFIG]
    portal = app[PORTAL]
    app[API_KEYS] = ApiKeyStore(portal.store.db)
    register_modwork_keys(portal, app[TENANTS], config)

    hooks = _webhooks(app)
    session = aiohttp.ClientSession(timeout=webhooks.TIMEOUT)
    notifiers = [
        webhooks.Notifier(hook, app[QUEUE], app[SCHEDULER], session, config.webhooks)
        for hook in hooks
    ]
    link_states = webhooks.LinkStateNotifier(
        hooks,
        app[LINK_OFFICE],
        LinkWebhookProgress(portal.store.db),
        app[SCHEDULER],
        session,
        config.webhooks,
    )
    tasks = [
        asyncio.create_task(n.watch(), name=f"webhook-{n.webhook.tenant}")
        for n in notifiers
    ]
    if hooks:
        tasks.append(asyncio.create_task(link_states.watch(), name="link-webhooks"))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for notifier in notifiers:
        await notifier.close()
    await link_states.close()
    await session.close()
