"""Measure the portal next to what its machine can do: `make bench`.

Starts the real server (and a bare aiohttp baseline) on 127.0.0.1 as
subprocesses, drives them from this process, and writes bench/results.json
and bench/results.md. Every figure is measured in this run beside its
baseline; see bench/README.md for what each one means.
"""

import argparse
import asyncio
import logging
import os
import platform
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import aiohttp

from app.storage.db import PRAGMAS
from bench import load, prepare, report
from bench.bigpng import BigPng
from bench.profile import profile_startup, profiled
from bench.servers import ROOT, Server, baseline_server, portal_server

log = logging.getLogger(__name__)

PAGE = "/musterstadt/stromvertrag"  # the largest demo form
SEND = "/musterstadt/sepa-mandat"
WARM_PAGES = ("/", "/musterstadt/", SEND, "/musterstadt/zaehlerstand", PAGE)
CONNECTIONS = 32
# Scheduled form changes and live links waiting on timers while idle (item 6).
WAITING_TIMERS = 1_000
MB = 1_000_000
SEPA_VALUES = {
    "BANK_KONTOINHABER": "Max Beispiel",
    "KUNDE_STRASSE": "Am Markt",
    "KUNDE_HAUSNR": "12",
    "KUNDE_PLZ": "04109",
    "KUNDE_ORT": "Leipzig",
    "BANK_IBAN": "DE89 3704 0044 0532 0130 00",
    "SEPA_ZUSTIMMUNG": "ja",
    "DATENSCHUTZ_KENNTNIS": "ja",
}


def meter_values() -> dict[str, str]:
    """Return the text fields of a meter reading, read today."""
    return {
        "KUNDE_NR": "200417",
        "ZAEHLER_NR": "1ESY1161234567",
        "ZAEHLER_STAND": "004711,2",
        "ZAEHLER_ABLESEDATUM": date.today().isoformat(),
    }


@dataclass(frozen=True)
class Settings:
    """How long and how much each part of the run loads the server."""

    seconds: float
    warmup_s: float
    max_sends: int
    ingest_count: int
    idle_s: float
    upload_sizes: tuple[int, ...]


FULL = Settings(5.0, 1.0, 20_000, 2_000, 10.0, (2 * MB, 20 * MB, 200 * MB))
QUICK = Settings(1.0, 0.5, 2_000, 200, 2.0, (2 * MB, 20 * MB))


class Run:
    """One bench run: its work folder, its logs and what it measured so far."""

    def __init__(
        self, settings: Settings, work: Path, logs: Path, profile: Path | None
    ) -> None:
        self.settings = settings
        self.work = work
        self.logs = logs
        self.profile = profile
        self.template = work / "template"
        self.upload_path = ""
        self.figures = report.Figures(cpu_model=cpu_model(), cores=os.cpu_count() or 1)
        self._copies = 0

    def fresh_data(self) -> Path:
        """Return a new copy of the prepared data folder."""
        self._copies += 1
        target = self.work / f"data-{self._copies}"
        shutil.copytree(self.template, target)
        return target

    def portal(self, data: Path) -> Server:
        """Describe the real server on a data folder."""
        return portal_server(data, self.logs, f"portal-{data.name}")


def cpu_model() -> str:
    """Return the processor's model name as /proc/cpuinfo gives it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


async def healthz(server: Server) -> dict:
    """Return the server's /healthz answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/healthz") as response,
    ):
        return await response.json()


async def wait_until_taken(
    server: Server, timeout_s: float, every_s: float = 0.01
) -> float:
    """Poll until nothing is pending; return the time it was first seen empty."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        server.check_alive()
        if (await healthz(server))["pending"] == 0:
            return time.monotonic()
        await asyncio.sleep(every_s)
    raise TimeoutError(f"{server.name} still had pending submissions")


class CpuMeter:
    """Count a server's CPU time over a stretch of work."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.seconds = 0.0

    def __enter__(self) -> "CpuMeter":
        self._start = self.server.cpu_seconds()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = self.server.cpu_seconds() - self._start

    def ms_per(self, count: int) -> float:
        """Return the CPU milliseconds per unit of work."""
        return self.seconds * 1000 / count if count else 0.0


# --- Baselines of the machine ------------------------------------------------


def sqlite_commits_per_s(folder: Path, seconds: float, max_commits: int) -> float:
    """Commit single-row transactions with the portal's pragmas; return the rate."""
    path = folder / "commits.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)")
        body = os.urandom(600)  # about one sealed send without files
        began = time.monotonic()
        commits = 0
        while commits < max_commits and time.monotonic() - began < seconds:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO rows (body) VALUES (?)", (body,))
            conn.execute("COMMIT")
            commits += 1
        return commits / (time.monotonic() - began)
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def disk_write_mb_s(folder: Path, size: int) -> float:
    """Write size bytes in 1 MiB chunks and fsync once; return MB/s."""
    path = folder / "disk-write.bin"
    chunk = os.urandom(1024 * 1024)
    began = time.monotonic()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            written += out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.monotonic() - began
    path.unlink()
    return written / MB / elapsed


# --- The parts of the run ----------------------------------------------------


async def first_start(run: Run) -> None:
    """Start on an empty folder (item 7), then publish the bench's upload form."""
    server = run.portal(run.template)
    try:
        run.figures.startup_s = await server.start()
    finally:
        server.stop()
    run.upload_path = await prepare.publish_upload_form(run.template)


async def baseline_load(run: Run) -> None:
    """Load the bare handler (item 1) the same way the form page is loaded."""
    server = baseline_server(run.logs)
    try:
        await server.start()
        url = f"{server.url}/"
        await load.page_load(url, CONNECTIONS, run.settings.warmup_s)
        result = await load.page_load(url, CONNECTIONS, run.settings.seconds)
    finally:
        server.stop()
    run.figures.baseline_rps = result.per_s
    run.figures.client = result.client


async def pages_and_sends(run: Run) -> None:
    """Load the largest form page (2), then send forms next to SQLite (3)."""
    server = run.portal(run.fresh_data())
    figures, settings = run.figures, run.settings
    try:
        figures.restart_s = await server.start()
        url = f"{server.url}{PAGE}"
        await load.page_load(url, CONNECTIONS, settings.warmup_s)
        with CpuMeter(server) as page_cpu:
            async with profiled(server, "page", run.profile):
                page = await load.page_load(url, CONNECTIONS, settings.seconds)
        figures.sqlite_commits_per_s = await asyncio.to_thread(
            sqlite_commits_per_s, run.work, settings.seconds, 100_000
        )
        with CpuMeter(server) as send_cpu:
            async with profiled(server, "sends", run.profile):
                sends = await load.send_load(
                    f"{server.url}{SEND}",
                    SEPA_VALUES,
                    CONNECTIONS,
                    settings.seconds,
                    settings.max_sends,
                )
                await wait_until_taken(server, 60)
    finally:
        server.stop()
    figures.page_path, figures.page_rps = PAGE, page.per_s
    figures.page_p50_ms, figures.page_p99_ms = page.p50_ms, page.p99_ms
    figures.page_cpu_ms = page_cpu.ms_per(page.requests)
    figures.submit_per_s, figures.submits = sends.per_s, sends.requests
    figures.submit_p50_ms, figures.submit_p99_ms = sends.p50_ms, sends.p99_ms
    figures.submit_cpu_ms = send_cpu.ms_per(sends.requests)


async def ingest(run: Run) -> None:
    """Start on a folder of pending sends and time the receiver taking them (5)."""
    data = run.fresh_data()
    count = run.settings.ingest_count
    await prepare.add_pending(data, "musterstadt", "sepa-mandat", SEPA_VALUES, count)
    server = run.portal(data)
    try:
        await server.start()
        began = time.monotonic()
        pending = (await healthz(server))["pending"]
        # Each poll reads every pending id, so poll rarely enough not to
        # slow the receiver: 25 ms is about 1 % of the time measured.
        async with profiled(server, "ingest", run.profile):
            emptied = await wait_until_taken(server, 120, every_s=0.025)
    finally:
        server.stop()
    if pending == 0:
        raise RuntimeError("the receiver took everything before the first poll")
    run.figures.ingest_per_s = pending / (emptied - began)
    run.figures.ingest_count = count


async def send_png(run: Run, server: Server, png: BigPng) -> float:
    """Send the upload form with one PNG, wait until it is taken; return seconds."""
    seconds = await load.upload(
        f"{server.url}{run.upload_path}",
        meter_values(),
        "ZAEHLER_FOTO",
        png.chunks(),
        "image/png",
    )
    await wait_until_taken(server, 300)
    return seconds


async def one_upload(run: Run, size: int) -> None:
    """Upload one streamed PNG to a freshly started server (item 4)."""
    data = run.fresh_data()
    server = run.portal(data)
    png, key = BigPng(size), report.SIZE_KEYS[size]
    try:
        await server.start()
        # The first send after a start loads OpenSSL's bindings and compiles
        # the receipt page; one small upload first keeps that out of MB/s.
        first = await send_png(run, server, BigPng(MB))
        run.figures.first_upload_ms = run.figures.first_upload_ms or 1000 * first
        # A file of 10 kB costs what any send costs; larger ones add to it.
        tiny = 1000 * await send_png(run, server, BigPng(10_000))
        run.figures.small_upload_ms = min(run.figures.small_upload_ms or tiny, tiny)
        idle = server.memory_mb("VmRSS")
        # The start's own peak (scrypt's memory for a password hash, for one)
        # is not the upload's: count the peak from here.
        server.reset_peak()
        async with profiled(server, f"upload-{key}", run.profile):
            seconds = await send_png(run, server, png)
        peak = server.memory_mb("VmHWM")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    run.figures.upload_mb_s[key] = png.size / MB / seconds
    run.figures.upload_peak_rss_mb[key] = peak
    run.figures.upload_idle_rss_mb[key] = idle


async def warm(server: Server) -> None:
    """Fetch each demo page once, as the first visitors of the day would."""
    async with aiohttp.ClientSession() as session:
        for path in WARM_PAGES:
            async with session.get(f"{server.url}{path}") as response:
                await response.read()


async def idle(run: Run) -> None:
    """Measure CPU and memory of both servers idle side by side (6 and 7)."""
    data = run.fresh_data()
    await prepare.add_waiting_timers(data, WAITING_TIMERS)
    portal, baseline = run.portal(data), baseline_server(run.logs)
    try:
        run.figures.loaded_startup_s = await portal.start()
        run.figures.baseline_startup_s = await baseline.start()
        await warm(portal)
        await asyncio.sleep(2)
        before = portal.cpu_seconds(), baseline.cpu_seconds()
        began = time.monotonic()
        await asyncio.sleep(run.settings.idle_s)
        wall = time.monotonic() - began
        run.figures.idle_cpu_percent = (portal.cpu_seconds() - before[0]) / wall * 100
        run.figures.baseline_idle_cpu_percent = (
            (baseline.cpu_seconds() - before[1]) / wall * 100
        )
        run.figures.idle_rss_mb = portal.memory_mb("VmRSS")
        run.figures.baseline_idle_rss_mb = baseline.memory_mb("VmRSS")
        run.figures.idle_seconds = run.settings.idle_s
    finally:
        portal.stop()
        baseline.stop()


# --- The whole run -----------------------------------------------------------


def server_errors(logs: Path) -> int:
    """Count the ERROR lines the servers of this run logged."""
    return sum(
        line.split(" ", 3)[2:3] == ["ERROR"]
        for path in logs.glob("*.log")
        for line in path.read_text(errors="replace").splitlines()
    )


def notes(run: Run) -> list[str]:
    """Say how each figure was taken, for the table's readers."""
    f, s = run.figures, run.settings
    return [
        f"Pages: {f.client} against {PAGE} and the bare handler, "
        f"{CONNECTIONS} connections, {s.seconds:g} s each after "
        f"{s.warmup_s:g} s of warm-up; the server spent "
        f"{f.page_cpu_ms:.2f} ms of CPU per page.",
        f"Sends: {CONNECTIONS} aiohttp clients, each with its own cookie, open "
        f"{SEND} and send it without files until the receipt page; "
        f"{f.submits} sends, open-and-send p50 {f.submit_p50_ms:.1f} ms, "
        f"p99 {f.submit_p99_ms:.1f} ms, {f.submit_cpu_ms:.2f} ms of server CPU "
        "per send (page, send and the receiver's share). The built-in "
        "receiver takes them meanwhile, in the same process. The SQLite "
        "baseline commits one 600-byte row per transaction with the pragmas "
        "of app/storage/db.py (WAL, synchronous=FULL) on the same disk, while "
        "the server is idle.",
        "Uploads: a valid 16-bit RGBA PNG of noise, generated and streamed in "
        "chunks of 1 MiB (chunked transfer, never whole in memory), each to a "
        "freshly started server after one warm-up upload of 1 MB (the first "
        f"send after a start took {f.first_upload_ms:.0f} ms) and one of "
        f"10 kB (at best {f.small_upload_ms:.1f} ms: the fixed cost of a "
        "send); MB/s is the "
        "file's size over the time from the POST's start to the receipt. "
        "Peak memory is VmHWM, reset just before the upload, read after the "
        "back office has taken the file too; idle is VmRSS just before. The "
        "disk baseline writes 200 MB and fsyncs once. The upload form is "
        "bench/forms/zaehlerstand-gross.yaml, published by bench/prepare.py.",
        f"Ingest: {f.ingest_count} SEPA mandates (no files) committed as "
        "pending with the portal's own Portal.commit while no server ran; "
        "then the server starts and /healthz is polled: rate = pending at the "
        "first answer / time until pending is 0.",
        f"Idle: {s.idle_s:g} s of utime+stime from /proc/<pid>/stat, "
        "after each demo page was fetched once, with 1,000 scheduled form "
        "changes (forms going live on later days and ending a week after) and "
        "1,000 live links waiting on the scheduler's timers; that server "
        f"started in {f.loaded_startup_s:.2f} s.",
        f"Start: {f.startup_s:.2f} s is the first start on an empty data "
        "folder (keys, migrations, demo forms); a restart on a prepared folder "
        f"took {f.restart_s:.2f} s.",
        "Memory figures are MiB (VmRSS, VmHWM of /proc/<pid>/status); MB/s "
        "counts 10^6 bytes.",
        f"The servers logged {server_errors(run.logs)} ERROR lines in this run "
        "(logs in bench/out/).",
    ]


async def measure(run: Run) -> None:
    """Run every part in turn, each against its own server."""
    parts = [first_start, baseline_load, pages_and_sends, ingest]
    parts += [
        lambda r, size=size: one_upload(r, size) for size in run.settings.upload_sizes
    ]
    parts.append(idle)
    for number, part in enumerate(parts, start=1):
        log.info("Part %s of %s", number, len(parts))
        await part(run)
    run.figures.disk_write_mb_s = await asyncio.to_thread(
        disk_write_mb_s, run.work, 200 * MB
    )


def main() -> None:
    """Parse the flags, run the bench and write the results."""
    parser = argparse.ArgumentParser(description="MODPORTAL benchmarks")
    parser.add_argument("--quick", action="store_true", help="short loads, no 200 MB")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile each part with py-spy into bench/out/ (skews the figures)",
    )
    parser.add_argument("--out", type=Path, help="folder of the results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # The product's own INFO lines (one per prepared submission) are noise here.
    logging.getLogger("app").setLevel(logging.WARNING)
    logs = ROOT / "bench" / "out"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    out = args.out or (logs if args.profile else ROOT / "bench")
    work = Path(tempfile.mkdtemp(prefix="modportal-bench-"))
    settings = QUICK if args.quick else FULL
    run = Run(settings, work, logs, logs if args.profile else None)
    load_before = os.getloadavg()[0]
    try:
        if args.profile:
            profile_startup(logs)
        asyncio.run(measure(run))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    extra = [f"1-minute load average before the run: {load_before:.2f}."]
    json_path, md_path = report.write(out, run.figures, notes(run) + extra)
    print(md_path.read_text("utf-8"))  # noqa: T201
    log.info("Wrote %s and %s", json_path, md_path)


if __name__ == "__main__":
    main()
