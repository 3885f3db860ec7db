"""A listener of its own for /admin/ and /api/, apart from the portal's.

With `internal.host` set, the server listens twice: the portal on
host:port for customers, the back office and MODWORK's API on
internal.host:internal.port, an address the public cannot reach. Each
listener answers 404 for the other's paths, so neither is reachable
through the wrong door. The listeners are told apart by their local port.
"""

import socket

from aiohttp import web

from app.config import Config
from app.keys import CONFIG
from app.web import Handler, PageError

# Served on both listeners: the admin pages need the stylesheets too.
SHARED = ("/static/", "/healthz")


def is_internal_path(path: str) -> bool:
    """Say whether a path belongs on the internal listener."""
    return path == "/admin" or path.startswith(("/admin/", "/api/"))


def internal_socket(config: Config) -> socket.socket:
    """Bind the internal listener's socket."""
    family = socket.AF_INET6 if ":" in config.internal_host else socket.AF_INET
    return socket.create_server(
        (config.internal_host, config.internal_port), family=family
    )


def _local_port(request: web.Request) -> int | None:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport else None
    return sockname[1] if sockname else None


@web.middleware
async def listener_middleware(request: web.Request, handler: Handler):
    """Answer each path only on the listener it belongs to."""
    config = request.app[CONFIG]
    path = request.path
    if config.internal and not path.startswith(SHARED):
        on_internal = _local_port(request) == config.internal_port
        if is_internal_path(path) != on_internal:
            raise PageError(404)
    return await handler(request)
