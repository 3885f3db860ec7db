"""Time the steps of the built-in receiver: `python -m bench.ingest_steps`.

A profiler shows the receiver mostly waiting on aiosqlite's thread, which
hides which of its calls waits. This runs the real `Ingest.take_batch` in
this process over a data folder of pending SEPA mandates and adds up the
wall time of each step it awaits.
"""

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from app.backoffice.ingest import Ingest
from bench import prepare
from bench.run import SEPA_VALUES
from bench.servers import portal_server

log = logging.getLogger(__name__)

STEPS = {
    "queue": ("take", "acknowledge"),
    "store": ("taken_submissions", "add_records"),
    "ingest": ("_open",),
    "backoffice": ("definition",),
    "portal_store": ("delete_submissions", "purge_nonces"),
    "portal_db": ("checkpoint",),
}


def time_calls(owner: object, name: str, totals: Counter) -> None:
    """Wrap one awaited method so that its wall time adds up in totals."""
    method = getattr(owner, name)

    async def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start

    setattr(owner, name, timed)


async def measure(
    count: int, batch_size: int, work: Path
) -> tuple[int, float, Counter]:
    """Take `count` pending mandates in batches; return count, seconds, steps."""
    data = work / "data"
    server = portal_server(data, work / "logs", "ingest-steps")
    await server.start()
    server.stop()
    await prepare.add_pending(data, "musterstadt", "sepa-mandat", SEPA_VALUES, count)
    totals: Counter = Counter()
    async with prepare.both_sides(data) as (portal, backoffice):
        ingest = Ingest(backoffice, portal.queue, batch_size)
        owners = {
            "queue": portal.queue,
            "store": backoffice.store,
            "ingest": ingest,
            "backoffice": backoffice,
            "portal_store": portal.store,
            "portal_db": portal.store.db,
        }
        for owner, names in STEPS.items():
            for name in names:
                time_calls(owners[owner], name, totals)
        start, taken = time.perf_counter(), 0
        while done := await ingest.take_batch():
            taken += done
        return taken, time.perf_counter() - start, totals


def main() -> None:
    """Print how long each step of taking the pending mandates took."""
    parser = argparse.ArgumentParser(description="time the receiver's steps")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="modportal-ingest-"))
    try:
        taken, seconds, totals = asyncio.run(measure(args.count, args.batch_size, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{taken} taken in {seconds * 1000:.0f} ms: {taken / seconds:.0f}/s")  # noqa: T201
    for name, spent in totals.most_common():
        print(f"  {name:20} {spent * 1000:8.1f} ms")  # noqa: T201


if __name__ == "__main__":
    main()
