"""A local control socket, so commands reach a running server at once.

`import-form` and similar commands first try the socket under data/; with
no server listening they work on the database directly. The socket is a
Unix socket readable by the owner alone, speaking one JSON object per line
each way: `{"command": NAME, "args": {...}}` and `{"ok": true, ...}` or
`{"ok": false, "error": "..."}`.
"""

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_LINE = 4 * 1024 * 1024

Handler = Callable[[dict], Awaitable[dict]]


class ControlError(Exception):
    """A command sent over the socket was refused; the message says why."""


class ControlServer:
    """Serve registered commands on the data folder's control socket."""

    def __init__(self, data: Path) -> None:
        self.path = data / SOCKET_NAME
        self.handlers: dict[str, Handler] = {}
        self._server: asyncio.AbstractServer | None = None

    def register(self, name: str, handler: Handler) -> None:
        """Answer `name` with `handler(args)`."""
        self.handlers[name] = handler

    async def start(self) -> None:
        """Listen on the socket, owner-only, replacing a stale one."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_LINE
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        """Stop listening and remove the socket."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            request = json.loads(await reader.readline())
            handler = self.handlers.get(request.get("command", ""))
            if handler is None:
                raise ControlError(f"unknown command {request.get('command')!r}")
            answer = {"ok": True, **await handler(request.get("args") or {})}
        except (ControlError, ValueError) as error:
            answer = {"ok": False, "error": str(error)}
        except Exception:
            log.error("Control command failed", exc_info=True)
            answer = {"ok": False, "error": "internal error, see the server log"}
        writer.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


async def call(data: Path, command: str, args: dict) -> dict | None:
    """Send a command to the running server; None when no server listens."""
    path = data / SOCKET_NAME
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    try:
        message = {"command": command, "args": args}
        writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        await writer.drain()
        answer = json.loads(await reader.readline())
    finally:
        writer.close()
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "refused"))
    return answer
