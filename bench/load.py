"""Clients that load a server: wrk for plain pages, aiohttp for forms and uploads.

Every loop here is bounded twice, by a duration and by a count, and aims only
at a URL the bench built from a server it started on loopback.
"""

import asyncio
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp.payload import AsyncIterablePayload

log = logging.getLogger(__name__)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECEIPT = re.compile(r"\b[A-Z]{2}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=600)
WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class LoadFailed(Exception):
    """The server answered something else than a load of this kind expects."""


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    client: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_s(self) -> float:
        """Return completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(durations: list[float], share: float) -> float:
    """Return the nearest-rank percentile of some durations (share in 0..1)."""
    if not durations:
        return 0.0
    ordered = sorted(durations)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def has_wrk() -> bool:
    """Say whether Debian's wrk is installed."""
    return shutil.which("wrk") is not None


def _wrk_ms(number: str, unit: str) -> float:
    return float(number) * WRK_UNITS[unit]


def parse_wrk(text: str) -> Load:
    """Read requests, duration and the 50 %/99 % latencies of wrk --latency."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", text)
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\b", text, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\b", text, re.MULTILINE)
    if not (total and p50 and p99):
        raise LoadFailed(f"unexpected wrk output: {text[-300:]!r}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if failed or (socket_errors and any(int(n) for n in socket_errors.groups())):
        raise LoadFailed(f"wrk saw failed requests: {text[-300:]!r}")
    return Load(
        client="wrk",
        requests=int(total.group(1)),
        seconds=_wrk_ms(total.group(2), total.group(3)) / 1000,
        p50_ms=_wrk_ms(*p50.groups()),
        p99_ms=_wrk_ms(*p99.groups()),
    )


async def wrk_load(url: str, connections: int, seconds: float) -> Load:
    """Load one URL with wrk on one thread and the given connections."""
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), seconds + 30)
    if process.returncode != 0:
        raise LoadFailed(f"wrk exited with {process.returncode}")
    return parse_wrk(output.decode(errors="replace"))


async def aiohttp_load(
    url: str, connections: int, seconds: float, max_requests: int
) -> Load:
    """Load one URL with GETs from `connections` loops of aiohttp's client."""
    durations: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=REQUEST_TIMEOUT,
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as session:
        began = time.monotonic()
        deadline = began + seconds

        async def one_loop() -> None:
            while time.monotonic() < deadline and len(durations) < max_requests:
                start = time.monotonic()
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        raise LoadFailed(f"GET answered {response.status}")
                durations.append((time.monotonic() - start) * 1000)

        await asyncio.gather(*(one_loop() for _ in range(connections)))
        elapsed = time.monotonic() - began
    return _load("aiohttp", durations, elapsed)


def _load(client: str, durations: list[float], elapsed: float) -> Load:
    return Load(
        client=client,
        requests=len(durations),
        seconds=elapsed,
        p50_ms=percentile(durations, 0.50),
        p99_ms=percentile(durations, 0.99),
    )


async def page_load(url: str, connections: int, seconds: float) -> Load:
    """Load a plain page with wrk where it is installed, else with aiohttp."""
    # Limitation: without wrk one Python client shares 2 cores with the
    # server and tops out below the bare handler's rate, so the baseline
    # (and with it the page's ratio) is then the client's limit.
    if has_wrk():
        return await wrk_load(url, connections, seconds)
    return await aiohttp_load(url, connections, seconds, max_requests=1_000_000)


def form_session() -> aiohttp.ClientSession:
    """Open a client session that keeps cookies as a browser does, on loopback."""
    # unsafe: the CSRF cookie comes from 127.0.0.1, an address and no name.
    return aiohttp.ClientSession(
        timeout=REQUEST_TIMEOUT, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def open_form(session: aiohttp.ClientSession, url: str) -> str:
    """Fetch a form page as a browser would and return its form token."""
    async with session.get(url) as response:
        html = await response.text()
    match = CSRF.search(html)
    if response.status != 200 or match is None:
        raise LoadFailed(f"form page answered {response.status} without a token")
    return match.group(1)


async def read_receipt(response: aiohttp.ClientResponse) -> str:
    """Return the receipt number of a receipt page, or raise."""
    html = await response.text()
    match = RECEIPT.search(html)
    if response.status != 200 or match is None:
        raise LoadFailed(f"send answered {response.status} without a receipt")
    return match.group(0)


async def send_form(
    session: aiohttp.ClientSession, url: str, fields: dict[str, str]
) -> str:
    """Open a form, send it without files and return the receipt number."""
    token = await open_form(session, url)
    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    data.add_field("csrf_token", token)
    for name, value in fields.items():
        data.add_field(name, value)
    async with session.post(url, data=data) as response:
        return await read_receipt(response)


async def send_load(
    url: str, fields: dict[str, str], workers: int, seconds: float, max_sends: int
) -> Load:
    """Send a form from `workers` browsers in a loop; time each open-and-send."""
    durations: list[float] = []
    began = time.monotonic()
    deadline = began + seconds

    async def one_browser() -> None:
        async with form_session() as session:
            while time.monotonic() < deadline and len(durations) < max_sends:
                start = time.monotonic()
                await send_form(session, url, fields)
                durations.append((time.monotonic() - start) * 1000)

    await asyncio.gather(*(one_browser() for _ in range(workers)))
    return _load("aiohttp", durations, time.monotonic() - began)


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def upload(
    url: str,
    fields: dict[str, str],
    file_field: str,
    chunks: Iterable[bytes],
    content_type: str,
) -> float:
    """Open a form and send it with one streamed file; return the send's seconds."""
    async with form_session() as session:
        token = await open_form(session, url)
        with aiohttp.MultipartWriter("form-data") as body:
            part = body.append(token)
            part.set_content_disposition("form-data", name="csrf_token")
            for name, value in fields.items():
                body.append(value).set_content_disposition("form-data", name=name)
            stream = AsyncIterablePayload(_stream(chunks), content_type=content_type)
            body.append_payload(stream).set_content_disposition(
                "form-data", name=file_field, filename="zaehler.png"
            )
        start = time.monotonic()
        async with session.post(url, data=body, timeout=UPLOAD_TIMEOUT) as response:
            await read_receipt(response)
        return time.monotonic() - start
