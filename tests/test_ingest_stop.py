"""A server whose built-in receiver keeps failing still ends on SIGTERM."""

import asyncio
import signal
import sqlite3
import time

import aiohttp

from tests.conftest import Server, send
from tests.test_submission import GOOD_SEPA

RETRYING = "Taking submissions failed; retrying in"


def keep_submissions(data_dir) -> None:
    """Make the portal's real database refuse to forget any submission."""
    with sqlite3.connect(data_dir / "portal" / "portal.db") as db:
        db.execute(
            "CREATE TRIGGER kept BEFORE DELETE ON submissions "
            "BEGIN SELECT RAISE(ABORT, 'kept'); END"
        )


async def wait_for_log(server: Server, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.output():
        assert time.monotonic() < deadline, server.output()
        await asyncio.sleep(0.1)


async def test_sigterm_ends_a_server_whose_ingest_waits_to_retry(data_dir):
    server = Server(data_dir).start()
    server.stop()
    keep_submissions(data_dir)
    server.start()
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(server.url, cookie_jar=jar) as session:
            response = await send(session, "/musterstadt/sepa-mandat", GOOD_SEPA)
            assert response.status == 200
        await wait_for_log(server, RETRYING)

        server.process.send_signal(signal.SIGTERM)
        # A bound only so that a hang fails the test instead of stalling it.
        code = await asyncio.to_thread(server.process.wait, 20)
    finally:
        server.kill()
    assert code == 0, server.output()
