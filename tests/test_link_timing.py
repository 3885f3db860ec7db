"""Unknown, used and expired links answer in about the same time."""

import statistics
import time

from app.application import create_app
from app.config import load_config
from app.keys import PORTAL_LINKS
from tests.linkhelp import mailed_link, make_link, send_link_form
from tests.test_submission import GOOD_SEPA

ROUNDS = 15
# Each answer takes a few milliseconds here; a path that did noticeably more
# work (a password hash, a decryption per guess) would stand out by far more.
SPREAD_MS = 10


async def median_ms(client, path: str) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = await client.get(path)
        await response.read()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def test_unknown_used_and_expired_links_take_about_as_long(
    aiohttp_client, data_dir
):
    throttle = {"link_opens_per_minute": 100}
    client = await aiohttp_client(
        create_app(load_config(None, data=str(data_dir), throttle=throttle))
    )
    await make_link(client)
    used = await mailed_link(client)
    await send_link_form(client, used, GOOD_SEPA)
    expired_id = await make_link(client)
    expired = await mailed_link(client, count=2)
    await client.app[PORTAL_LINKS].expire(expired_id)
    paths = (used[:-4] + "AAAA", used, expired)
    medians = [await median_ms(client, path) for path in paths]
    assert max(medians) - min(medians) < SPREAD_MS
