"""The bench's own parts: its PNG, its parsers, its report and its servers.

Run with `.venv/bin/python -m pytest bench/test_bench.py -q`; nothing here
times anything.
"""

import io
import json

import pytest
from PIL import Image

from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import load_definition_file
from app.uploads import sanitizer_for
from bench import load, prepare, report
from bench.bigpng import ROW_BYTES, BigPng, height_for, png_size
from bench.run import sqlite_commits_per_s
from bench.servers import memory, portal_server

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:4711/
  1 threads and 32 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.50ms
     99%    1.05s
  60120 requests in 5.01s, 8.10MB read
Requests/sec:  12000.00
"""
ISSUE_KEYS = {
    "baseline_rps", "page_rps", "page_p50_ms", "page_p99_ms", "submit_per_s",
    "sqlite_commits_per_s", "upload_mb_s", "upload_peak_rss_mb", "ingest_per_s",
    "idle_cpu_percent", "startup_s", "idle_rss_mb", "cpu_model", "cores",
}  # fmt: skip


@pytest.mark.parametrize("size", [9_000, 70_000, 1_000_000])
def test_big_png_decodes_to_the_announced_size(size):
    png = BigPng(size)
    data = b"".join(png.chunks())
    image = Image.open(io.BytesIO(data))
    image.load()
    assert len(data) == png.size
    assert image.size == (1000, png.height)


@pytest.mark.parametrize("size", [2_000_000, 20_000_000, 200_000_000])
def test_png_height_lands_within_one_row_of_the_size(size):
    assert abs(png_size(height_for(size)) - size) <= ROW_BYTES


@pytest.mark.parametrize("size", [100_000, 3_000_000])
def test_product_sanitizer_passes_the_big_png_unchanged(size):
    png = BigPng(size)
    sanitizer = sanitizer_for("image/png", max_pixels=40_000_000)
    cleaned, original = bytearray(), bytearray()
    for chunk in png.chunks():
        original += chunk
        cleaned += sanitizer.feed(chunk)
    cleaned += sanitizer.finish()
    assert bytes(cleaned) == bytes(original)


def test_wrk_output_gives_rate_and_latencies_in_ms():
    result = load.parse_wrk(WRK_OUTPUT)
    assert (result.requests, result.seconds) == (60120, 5.01)
    assert (result.p50_ms, result.p99_ms) == (0.812, 1050.0)
    assert result.client == "wrk"


@pytest.mark.parametrize(
    "trailer",
    ["  Non-2xx or 3xx responses: 3\n", "  Socket errors: connect 0, read 2, "
     "write 0, timeout 0\n"],
)  # fmt: skip
def test_wrk_output_with_failures_is_refused(trailer):
    with pytest.raises(load.LoadFailed):
        load.parse_wrk(WRK_OUTPUT + trailer)


@pytest.mark.parametrize(
    ("share", "expected"), [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.001, 1.0)]
)
def test_percentile_takes_the_nearest_rank(share, expected):
    durations = [float(n) for n in range(100, 0, -1)]
    assert load.percentile(durations, share) == expected


def test_results_json_has_exactly_the_issue_keys():
    figures = report.Figures(cpu_model="Testprozessor", cores=2)
    figures.upload_mb_s = {"2MB": 140.04}
    result = report.results_json(figures)
    assert set(result) == ISSUE_KEYS
    assert result["upload_mb_s"] == {"2MB": 140.0}
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(("page_rps", "met"), [(500.0, True), (499.0, False)])
def test_page_row_is_met_at_half_the_baseline(page_rps, met):
    figures = report.Figures(cpu_model="x", cores=2, baseline_rps=1000.0)
    figures.page_rps = page_rps
    page_row = report.rows(figures)[1]
    assert page_row.met is met
    assert page_row.cells()[5] == ("yes" if met else "**no**")


def test_bench_form_gets_the_lifted_limit_on_its_photo_only():
    form = load_definition_file(prepare.UPLOAD_FORM, load_catalog(CATALOG_PATH))
    lifted = prepare.lift_file_limits(form, 250_000_000)
    limits = {field.name: field.max_bytes for field in lifted.fields}
    assert limits["ZAEHLER_FOTO"] == 250_000_000
    assert {limits[n] for n in limits if n != "ZAEHLER_FOTO"} == {None}
    assert form.field("ZAEHLER_FOTO").max_bytes == 10_000_000


def test_sqlite_baseline_stops_at_its_count_and_leaves_no_file(tmp_path):
    rate = sqlite_commits_per_s(tmp_path, seconds=30, max_commits=20)
    assert rate > 0
    assert list(tmp_path.iterdir()) == []


async def test_portal_server_peak_resets_to_its_resident_memory(tmp_path):
    server = portal_server(tmp_path / "data", tmp_path / "logs")
    await server.start()
    try:
        server.reset_peak()
        figures = memory(server.pid)
        assert figures["VmHWM"] == figures["VmRSS"]
    finally:
        server.stop()
    assert server.process.returncode == 0
