"""Typed keys for what the application shares between its parts."""

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from app.backoffice.links import LinkOffice
    from app.backoffice.service import BackOffice
    from app.config import Config
    from app.control import ControlServer
    from app.mail.outbox import Outbox
    from app.portal.links import PortalLinks
    from app.portal.queue import PendingQueue
    from app.portal.service import Portal
    from app.storage.backoffice import Clerk
    from app.tenants import Tenant
    from app.timers import Scheduler

CONFIG: web.AppKey["Config"] = web.AppKey("config")
TENANTS: web.AppKey[dict[str, "Tenant"]] = web.AppKey("tenants")
PORTAL: web.AppKey["Portal"] = web.AppKey("portal")
QUEUE: web.AppKey["PendingQueue"] = web.AppKey("queue")
BACKOFFICE: web.AppKey["BackOffice"] = web.AppKey("backoffice")
SCHEDULER: web.AppKey["Scheduler"] = web.AppKey("scheduler")
CONTROL: web.AppKey["ControlServer"] = web.AppKey("control")
PORTAL_LINKS: web.AppKey["PortalLinks"] = web.AppKey("portal_links")
LINK_OFFICE: web.AppKey["LinkOffice"] = web.AppKey("link_office")
OUTBOX: web.AppKey["Outbox"] = web.AppKey("outbox")

CLIENT_IP: web.RequestKey[str] = web.RequestKey("client_ip", str)
SECURE: web.RequestKey[bool] = web.RequestKey("secure", bool)
CLERK: web.RequestKey["Clerk"] = web.RequestKey("clerk", object)
