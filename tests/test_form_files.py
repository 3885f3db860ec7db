"""Definitions as files: export-form and import-form, with and without a server."""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from app.config import ROOT
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import parse_definition

GOOD = """\
tenant: musterstadt
slug: umzug
title: Umzug melden
record_type: ZAEHLERSTAND
publish_from: "{start}"
publish_until: "{until}"
sections:
  - title: Zähler
    fields:
      - field: ZAEHLER_NR
        required: "true"
"""


def run_py(*args: str, data) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args, "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def iso_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


def test_an_imported_form_exports_as_the_same_definition(tmp_path, data_dir, catalog):
    demo = ROOT / "app" / "demo" / "forms" / "zaehlerstand.yaml"
    imported = run_py("import-form", str(demo), data=data_dir)
    assert imported.stdout == (
        "musterstadt/zaehlerstand: Version 1 importiert, online ab sofort, ohne Ende.\n"
    )
    exported = run_py("export-form", "musterstadt", "zaehlerstand", data=data_dir)
    assert exported.stdout.startswith(
        "# Form musterstadt/zaehlerstand, version 1, exported from MODPORTAL\n"
    )
    again = parse_definition(exported.stdout, catalog)
    original = parse_definition(demo.read_text(encoding="utf-8"), catalog)
    assert (again.sections, again.intro) == (original.sections, original.intro)


def test_an_export_keeps_the_seconds_of_a_start(data_dir, tmp_path):
    start = "2027-01-04T08:00:30+01:00"
    path = tmp_path / "umzug.yaml"
    path.write_text(GOOD.format(start=start, until="2027-01-31"), encoding="utf-8")
    assert run_py("import-form", str(path), data=data_dir).returncode == 0
    exported = run_py("export-form", "musterstadt", "umzug", data=data_dir).stdout
    assert f'publish_from: "{start}"' in exported or f"publish_from: '{start}'" in (
        exported
    )


@pytest.mark.parametrize(
    ("line", "replace", "message"),
    [
        (
            "      - field: ZAEHLER_NR\n",
            "      - field: BANK_IBAN\n",
            "line 10: field BANK_IBAN is not carried by record type ZAEHLERSTAND",
        ),
        (
            'publish_from: "{start}"',
            'publish_from: "2027-03-28T02:30"',
            "line 5: publish_from: Die Uhrzeit 02:30 Uhr gibt es am 28.03.2027 nicht",
        ),
        (
            'publish_until: "{until}"',
            'publish_until: "2020-01-01"',
            "line 6: publish_until must come after publish_from",
        ),
    ],
)
def test_a_broken_file_is_refused_whole_with_the_line(
    tmp_path, data_dir, line, replace, message
):
    path = tmp_path / "umzug.yaml"
    text = GOOD.replace(line, replace).format(start=iso_in(60), until="2030-01-01")
    path.write_text(text, encoding="utf-8")
    refused = run_py("import-form", str(path), data=data_dir)
    assert refused.returncode == 1
    assert message in refused.stderr
    exported = run_py("export-form", "musterstadt", "umzug", data=data_dir)
    assert exported.stderr.endswith("there is no form musterstadt/umzug\n")


def test_an_import_while_the_server_runs_takes_effect_at_once(tmp_path, server):
    path = tmp_path / "umzug.yaml"
    path.write_text(GOOD.format(start=iso_in(-60), until="2030-01-01"), "utf-8")
    imported = run_py("import-form", str(path), data=server.data)
    assert imported.stdout == (
        "musterstadt/umzug: Version 1 importiert, online ab sofort bis 01.01.2030, "
        "24:00 Uhr.\n"
    )
    assert status(f"{server.url}/musterstadt/umzug") == 200
    exported = run_py("export-form", "musterstadt", "umzug", data=server.data)
    assert "title: Umzug melden\n" in exported.stdout
    assert "Imported musterstadt/umzug version 1" in server.output()


def first_moment(url: str, wanted: int, deadline: float) -> float:
    """Poll a page until it answers `wanted`; return the wall time it did."""
    while time.time() < deadline:
        if status(url) == wanted:
            return time.time()
        time.sleep(0.05)
    raise AssertionError(f"{url} never answered {wanted}")


def test_a_form_appears_within_a_second_of_its_start_and_goes_at_its_end(
    tmp_path, server
):
    start, until = time.time() + 4, time.time() + 7
    path = tmp_path / "umzug.yaml"
    text = GOOD.format(
        start=datetime.fromtimestamp(start, UTC).isoformat(),
        until=datetime.fromtimestamp(until, UTC).isoformat(),
    )
    path.write_text(text, encoding="utf-8")
    assert run_py("import-form", str(path), data=server.data).returncode == 0
    url = f"{server.url}/musterstadt/umzug"
    assert status(url) == 404
    appeared = first_moment(url, 200, start + 5)
    gone = first_moment(url, 404, until + 5)
    assert 0 <= appeared - start < 1
    assert 0 <= gone - until < 1


def test_the_documented_example_is_a_valid_definition(catalog):
    docs = (ROOT / "docs" / "forms.md").read_text(encoding="utf-8")
    example = docs.split("## Example\n\n```yaml\n", 1)[1].split("```", 1)[0]
    form = parse_definition(example, catalog)
    assert (form.slug, form.publish_from, form.publish_until) == (
        "zaehlerstand",
        "2026-12-07T08:00",
        "2026-12-31",
    )
    assert form.field("ABNST_STRASSE").show_if_value == "03"
