"""`run.py send-link` from a YAML file: into data/outbox/, opened once, sealed."""

import subprocess
import sys
from email import message_from_bytes
from email.policy import default

import aiohttp
import pytest

from app.config import ROOT
from tests.conftest import Server, csrf_token, form_data, free_port
from tests.linkhelp import link_path, outbox_files
from tests.test_submission import GOOD_METER

VALUES = """\
KUNDE_NR: 0100234
ZAEHLER_NR: 1ESY1160523456
KUNDE_EMAIL: erika@beispiel.de
"""


def send_link(data, values_file, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", "send-link", "musterstadt", "zaehlerstand"]
        + ["--to", "erika@beispiel.de", "--values", str(values_file)]
        + ["--data", str(data), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def values_file(tmp_path):
    path = tmp_path / "werte.yaml"
    path.write_text(VALUES, encoding="utf-8")
    return path


def the_mail(data):
    [file] = outbox_files(data / "outbox")
    return message_from_bytes(file.read_bytes(), policy=default)


async def open_and_send(url: str, path: str, photo: bytes) -> tuple[int, str]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(url, cookie_jar=jar) as session:
        async with session.get(path) as page:
            html = await page.text()
            action = page.url.path
        fields = {**GOOD_METER, "KUNDE_NR": "0100234"}
        files = {"ZAEHLER_FOTO": ("z.png", photo)}
        async with session.post(
            action, data=form_data(csrf_token(html), fields, files)
        ) as sent:
            return sent.status, html


def test_without_a_server_the_link_lands_in_the_outbox_folder(data_dir, values_file):
    result = send_link(data_dir, values_file)
    assert result.returncode == 0, result.stderr
    assert "musterstadt/zaehlerstand: Link " in result.stdout
    mail = the_mail(data_dir)
    assert mail["To"] == "erika@beispiel.de"
    # A meter reading is no contract: the mail names the form, not a contract.
    assert mail["Subject"] == (
        "Ihr Formular zum Prüfen und Absenden: Zählerstand melden"
    )
    assert link_path(mail).startswith("/l/")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("KUNDE_NR: [1, 2]\n", "KUNDE_NR: Geben Sie einen Text an, keine Liste."),
        ("KUNDE_NR: {a: b}\n", "expected field names with one value each"),
        ("ZAEHLER_FOTO: x.png\n", "Dateien lassen sich nicht vorausfüllen"),
        ("GIBT_ES_NICHT: 1\n", "GIBT_ES_NICHT: Das Formular hat kein solches Feld."),
    ],
)
def test_a_values_file_the_form_cannot_take_is_refused(tmp_path, content, message):
    values = tmp_path / "werte.yaml"
    values.write_text(content, encoding="utf-8")
    result = send_link(tmp_path / "data", values)
    assert result.returncode == 1
    assert message in result.stderr


async def test_a_sent_link_opens_once_is_refused_after_and_leaves_nothing_plain(
    data_dir, values_file
):
    from tests.images import png_photo

    send_link(data_dir, values_file)
    path = link_path(the_mail(data_dir))
    server = Server(data_dir).start()
    try:
        status, html = await open_and_send(server.url, path, png_photo())
        async with aiohttp.ClientSession(server.url) as session:
            again = await session.get(path)
            tampered = await session.get(path[:-1] + ("x" if path[-1] != "x" else "y"))
            statuses = (status, again.status, tampered.status)
    finally:
        server.stop()
    assert 'value="0100234"' in html
    assert statuses == (200, 410, 404)
    token = path.split(".")[1].encode()
    for file in (data_dir / "portal").rglob("*"):
        if file.is_file():
            assert token not in file.read_bytes(), file
            assert b"1ESY1160523456" not in file.read_bytes(), file
    assert path.split(".")[1] not in server.output()


def test_with_the_server_running_the_link_goes_through_its_socket(server, values_file):
    result = send_link(server.data, values_file)
    assert result.returncode == 0, result.stderr
    mail = the_mail(server.data)
    token = link_path(mail).split(".")[1]
    assert token not in server.output()
    assert "No SMTP host configured" in server.output()


def test_without_a_server_and_with_the_relay_down_the_mail_waits(tmp_path, values_file):
    config = tmp_path / "portal.yaml"
    config.write_text(
        f"themes: {ROOT / 'themes'}\n"
        f"mail:\n  host: 127.0.0.1\n  port: {free_port()}\n  security: none\n",
        encoding="utf-8",
    )
    result = send_link(tmp_path / "data", values_file, "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "die E-Mail wartet im Postausgang, bis der Server wieder läuft" in (
        result.stdout
    )


def test_a_link_sent_beside_an_older_waiting_mail_says_its_own_went(
    tmp_path, values_file
):
    config = tmp_path / "portal.yaml"
    config.write_text(
        f"themes: {ROOT / 'themes'}\n"
        f"mail:\n  host: 127.0.0.1\n  port: {free_port()}\n  security: none\n",
        encoding="utf-8",
    )
    send_link(tmp_path / "data", values_file, "--config", str(config))
    result = send_link(tmp_path / "data", values_file)
    assert result.returncode == 0, result.stderr
    assert "die E-Mail ist unterwegs" in result.stdout
    assert len(outbox_files(tmp_path / "data" / "outbox")) == 1
