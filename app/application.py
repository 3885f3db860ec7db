"""The application factory: one function builds the whole server."""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import aiohttp_jinja2
import jinja2
from aiohttp import web

from app.api import routes as api_routes
from app.api.receivers import apply_receivers
from app.api.service import api_side
from app.backoffice import routes as backoffice_routes
from app.backoffice.designs import DESIGNS, DesignDesk
from app.backoffice.forms import FORMS, FormDesk
from app.backoffice.ingest import Ingest, remove_orphan_attachments
from app.backoffice.links import open_links
from app.backoffice.service import RECEIVER, BackOffice
from app.backoffice.views import (
    LOGIN_THROTTLE,
    NAME_FAILURES_PER_WINDOW,
    NAME_THROTTLE,
)
from app.clock import utcnow
from app.commands import register_commands
from app.config import ROOT, Config
from app.control import ControlServer
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.groups import page_items
from app.forms.steps import step_heads
from app.keys import (
    BACKOFFICE,
    CONFIG,
    CONTROL,
    LINK_OFFICE,
    OUTBOX,
    PORTAL,
    PORTAL_LINKS,
    QUEUE,
    SCHEDULER,
    TENANTS,
)
from app.listeners import listener_middleware
from app.portal import routes as portal_routes
from app.portal.link_views import LINK_THROTTLE
from app.portal.service import Portal
from app.portal.steps import STEPS, Steps
from app.portal.views import EMPTY_FORMS, SEND_THROTTLE
from app.storage import schema
from app.storage.db import ensure_private_dir, open_database
from app.tenants import load_tenants
from app.throttle import Throttle
from app.timers import Scheduler
from app.web import (
    AccessLogger,
    error_middleware,
    forwarded_middleware,
    security_headers,
)

log = logging.getLogger(__name__)

READY: web.AppKey[asyncio.Event] = web.AppKey("ready")
STOP_TIMEOUT_S = 30.0


async def healthz(request: web.Request) -> web.Response:
    """Answer once the server is ready."""
    if not request.app[READY].is_set():
        raise web.HTTPServiceUnavailable()
    pending = await request.app[PORTAL].store.submission_ids()
    return web.json_response({"status": "ok", "pending": len(pending)})


def _setup_templates(app: web.Application, config: Config) -> None:
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(ROOT / "templates"),
            jinja2.PrefixLoader({"tenant": jinja2.FileSystemLoader(config.themes)}),
        ]
    )
    env = aiohttp_jinja2.setup(
        app, loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.globals["json"] = json.dumps
    env.globals["step_heads"] = step_heads
    env.globals["group_items"] = page_items


async def _sides(app: web.Application) -> AsyncIterator[None]:
    """Open both sides' stores, wire them together and run the receiver."""
    config = app[CONFIG]
    os.umask(0o077)
    ensure_private_dir(config.data)
    catalog = load_catalog(CATALOG_PATH)
    portal_db = await open_database(config.portal_dir / "portal.db", schema.PORTAL)
    backoffice_db = await open_database(
        config.backoffice_dir / "backoffice.db", schema.BACKOFFICE
    )
    try:
        portal, backoffice, scheduler = await _wire(
            app, portal_db, backoffice_db, catalog
        )
    except BaseException:
        # An open database keeps its thread, and with it the process, alive:
        # a start refused half-way must close them to end at all.
        await portal_db.close()
        await backoffice_db.close()
        raise

    control = app[CONTROL] = ControlServer(config.data)
    register_commands(app)
    await control.start()
    await _announce_setup(backoffice, config)
    tasks = [
        asyncio.create_task(
            Ingest(
                backoffice,
                portal.queue,
                config.batch_size,
                app[LINK_OFFICE].confirmations,
            ).run(),
            name="ingest",
        ),
        asyncio.create_task(app[SCHEDULER].run(), name="scheduler"),
        asyncio.create_task(app[LINK_OFFICE].run(), name="links"),
    ]
    app[READY].set()
    log.info("Ready on %s", config.public_url)
    yield
    await control.close()
    # The scheduler ends between actions, so no query is cut off half-way;
    # one that hangs is cancelled after a while.
    ingest, timers, links = tasks
    scheduler.stop()
    ingest.cancel()
    links.cancel()
    await asyncio.wait([timers], timeout=STOP_TIMEOUT_S)
    timers.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await portal_db.close()
    await backoffice_db.close()


async def _wire(app: web.Application, portal_db, backoffice_db, catalog):
    """Build both sides over their stores and hand over what the portal needs."""
    config = app[CONFIG]
    scheduler = app[SCHEDULER]
    portal = Portal(config, portal_db, catalog, scheduler.clock)
    backoffice = BackOffice(config, backoffice_db, catalog)
    portal.register_receiver(RECEIVER, backoffice.public_key())
    grace = timedelta(minutes=config.grace_minutes)
    desk = FormDesk(backoffice_db, catalog, portal, scheduler, scheduler.clock, grace)
    app[FORMS] = backoffice.forms = desk
    await backoffice.load_demo_forms(portal, app[TENANTS])
    await desk.start()
    await portal.load_designs()
    designs = DesignDesk(backoffice_db, portal, app[TENANTS], scheduler.clock)
    await designs.start()
    app[DESIGNS] = designs
    await portal.queue.remove_orphans()
    app[STEPS] = Steps(portal, scheduler)
    await app[STEPS].start()
    await remove_orphan_attachments(backoffice)
    app[PORTAL], app[QUEUE], app[BACKOFFICE] = portal, portal.queue, backoffice
    parts = open_links(
        config, portal, backoffice, app[TENANTS], app[SCHEDULER], designs.theme_of
    )
    app[PORTAL_LINKS], app[OUTBOX], app[LINK_OFFICE] = parts
    for part in parts:
        await part.resume()
    return portal, backoffice, scheduler


async def _announce_setup(backoffice: BackOffice, config: Config) -> None:
    """Print, once, the one-time address for the first clerk's password."""
    token = await backoffice.new_setup_token()
    if token:
        # Printed, never logged: the address is a secret for the admin alone.
        print(  # noqa: T201
            "No clerk exists yet. Set the first clerk's password, once, at:\n"
            f"  {config.admin_url}/admin/setup/{token}",
            flush=True,
        )


def create_app(
    config: Config, clock: Callable[[], datetime] = utcnow
) -> web.Application:
    """Build the application for a configuration (and, in tests, a clock)."""
    app = web.Application(
        middlewares=[error_middleware, forwarded_middleware, listener_middleware]
    )
    app[CONFIG] = config
    app[TENANTS] = apply_receivers(load_tenants(config.themes), config)
    app[READY] = asyncio.Event()
    app[SCHEDULER] = Scheduler(clock)
    app[SEND_THROTTLE] = Throttle(config.submissions_per_minute)
    app[EMPTY_FORMS] = {}
    app[LOGIN_THROTTLE] = Throttle(config.logins_per_minute)
    app[NAME_THROTTLE] = Throttle(NAME_FAILURES_PER_WINDOW, window_s=15 * 60)
    app[LINK_THROTTLE] = Throttle(config.link_opens_per_minute)
    _setup_templates(app, config)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_sides)
    app.cleanup_ctx.append(api_side)

    app.router.add_get("/healthz", healthz)
    backoffice_routes.add_routes(app)
    api_routes.add_routes(app)
    portal_routes.add_routes(app)
    return app


__all__ = ["AccessLogger", "create_app"]
