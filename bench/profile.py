"""Profile a server while one part of the bench loads it, with py-spy.

`python -m bench.run --profile` attaches `py-spy record` to the server of
each part for as long as that part's load runs, and writes the raw stacks and
a summary of where the time went into bench/out/.
"""

import asyncio
import logging
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.servers import ROOT, Server

log = logging.getLogger(__name__)

RATE = 200  # samples per second
ATTACH_S = 0.5  # py-spy needs a moment before its first sample
TOP = 25


def py_spy() -> str | None:
    """Return the py-spy next to this interpreter or on the PATH, if any."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@asynccontextmanager
async def profiled(server: Server, name: str, folder: Path | None) -> AsyncIterator:
    """Record the server's stacks while the body runs; no-op without a folder."""
    # Limitation: a load of a few hundred milliseconds or less (the 2 MB
    # upload) gives py-spy too few samples at 200 per second to read much.
    binary = py_spy()
    if folder is None or binary is None:
        if folder is not None:
            log.warning("py-spy is not installed; %s runs unprofiled", name)
        yield
        return
    raw = folder / f"profile-{name}.txt"
    process = await asyncio.create_subprocess_exec(
        *(binary, "record", "--pid", str(server.pid), "--rate", str(RATE)),
        *("--format", "raw", "--nonblocking", "--output", str(raw)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(ATTACH_S)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
    if raw.exists():
        summary = folder / f"profile-{name}.md"
        summary.write_text(summarize(raw.read_text(), name), "utf-8")
        log.info("Wrote %s", summary)


def _frame_name(frame: str) -> str:
    """Shorten a py-spy frame to its function and file, without the line."""
    function, _, place = frame.partition(" (")
    path = place.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{function} ({path})"


def summarize(raw: str, name: str) -> str:
    """Return the busiest functions of py-spy's raw stacks as markdown."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    lines = [f"# Profile of {name}: {samples} samples", "", "## Own time", ""]
    lines += [f"- {n / samples:6.1%} {f}" for f, n in own.most_common(TOP)]
    lines += ["", "## Including callees", ""]
    lines += [f"- {n / samples:6.1%} {f}" for f, n in total.most_common(TOP * 2)]
    return "\n".join(lines) + "\n"


def profile_startup(folder: Path) -> Path:
    """Write the slowest imports of the server's start (python -X importtime)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app.cli, app.application"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((int(parts[0]), int(parts[1]), parts[2].rstrip()))
    lines = ["# Imports at start (python -X importtime)", ""]
    lines += ["| own ms | with imports ms | module |", "|---|---|---|"]
    for own, cumulative, module in sorted(rows, key=lambda r: -r[1])[:TOP]:
        lines.append(
            f"| {own / 1000:.1f} | {cumulative / 1000:.1f} | `{module.strip()}` |"
        )
    lines += ["", "Slowest on their own:", ""]
    for own, _, module in sorted(rows, key=lambda r: -r[0])[:10]:
        lines.append(f"- {own / 1000:.1f} ms `{module.strip()}`")
    path = folder / "profile-startup.md"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path
