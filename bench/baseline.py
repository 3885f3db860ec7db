"""The baseline: a bare aiohttp handler with the real server's settings.

Started like the real server (`python bench/baseline.py --port P`) with the
same run_app call, log level and format, and an access log line of the same
shape, so that what the bench compares is the portal's own work. It imports
nothing of the portal, so its memory is that of aiohttp alone.
"""

import argparse
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

log = logging.getLogger(__name__)


class AccessLogger(AbstractAccessLogger):
    """Log one line per request as the portal's access log does."""

    def log(
        self, request: web.BaseRequest, response: web.StreamResponse, duration: float
    ) -> None:
        """Log method, route, status, size and duration."""
        resource = request.match_info.route.resource
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.method,
            resource.canonical if resource is not None else "-",
            response.status,
            response.body_length,
            duration * 1000,
        )


async def hello(request: web.Request) -> web.Response:
    """Answer with a short text."""
    return web.Response(text="Hallo")


def main() -> None:
    """Serve the bare handler on / and /healthz until stopped."""
    parser = argparse.ArgumentParser(description="bare aiohttp baseline")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/healthz", hello)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log_class=AccessLogger,
        print=None,
    )


if __name__ == "__main__":
    main()
