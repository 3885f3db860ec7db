"""MODWORK's part played against a running server: pull, listeners, commands."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import aiohttp
import pytest

from app.cli import main
from app.config import ROOT, ConfigError, load_config
from tests import api_support
from tests.api_support import live_send, owner_only_file, write_config
from tests.conftest import Server, free_port
from tests.images import png_photo
from tests.linkhelp import link_path, send_link_form, wait_for_mails
from tests.test_api_links import QUERY
from tests.test_submission import GOOD_METER, GOOD_SEPA

# The fixtures shared by the API's tests.
modwork_key_path = api_support.modwork_key_path

METER = "/musterstadt/zaehlerstand"


@pytest.fixture
def internal_port() -> int:
    return free_port()


@pytest.fixture
def live(tmp_path, data_dir, modwork_key_path, internal_port):
    config = write_config(
        tmp_path,
        modwork_key_path,
        internal={"host": "127.0.0.1", "port": internal_port},
    )
    running = Server(data_dir, args=["--config", str(config)]).start()
    running.internal_url = f"http://127.0.0.1:{internal_port}"
    yield running
    running.stop()


def run(*args: str) -> subprocess.CompletedProcess:
    """Run one of run.py's commands as the admin would."""
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def add_key(data_dir, tenant="musterstadt", scopes=None) -> str:
    """Create an API key with the admin's command; return what it printed."""
    scopes = scopes or ["submissions:read", "submissions:ack"]
    done = run(
        "add-api-key", tenant, "modwork", "--scopes", *scopes, "--data", str(data_dir)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def status_of(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def pull(url, key_file, receiver_key, out) -> subprocess.CompletedProcess:
    """Run the reference client as an integrator would."""
    return run(
        "pull",
        *("--url", url, "--api-key-file", str(key_file)),
        *("--receiver-key", str(receiver_key), "--out", str(out)),
    )


def pending(url: str) -> int:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
        return json.load(answer)["pending"]


# The reference client's round trip.


async def test_pulled_submission_is_written_decrypted_and_gone_from_portal(
    live, tmp_path, data_dir, modwork_key_path
):
    key_file = owner_only_file(tmp_path / "api.key", add_key(data_dir))
    photo = png_photo()
    files = {"ZAEHLER_FOTO": ("zähler.png", photo)}
    assert (await live_send(live.url, METER, GOOD_METER, files))[0] == 200
    done = pull(live.internal_url, key_file, modwork_key_path, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    [folder] = (tmp_path / "out").iterdir()
    record = json.loads((folder / "submission.json").read_text())
    assert record["values"]["ZAEHLER_STAND"] == "012345.6"
    assert record["files"][0]["file"] == "ZAEHLER_FOTO.png"
    assert (folder / "ZAEHLER_FOTO.png").read_bytes()[:8] == photo[:8]
    assert pending(live.url) == 0
    assert [p for p in (data_dir / "portal" / "files").rglob("*") if p.is_file()] == []


async def test_pull_with_the_wrong_receiver_key_leaves_everything_pending(
    live, tmp_path, data_dir
):
    key_file = owner_only_file(tmp_path / "api.key", add_key(data_dir))
    other = tmp_path / "other.key"
    assert run("new-receiver-key", str(other)).returncode == 0
    assert (await live_send(live.url, "/musterstadt/sepa-mandat", GOOD_SEPA))[0] == 200
    done = pull(live.internal_url, key_file, other, tmp_path / "out")
    assert done.returncode == 1
    assert "1 Eingänge konnten nicht geöffnet werden" in done.stderr
    assert pending(live.url) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_pull_refuses_an_api_key_file_others_may_read(tmp_path, modwork_key_path):
    key_file = tmp_path / "api.key"
    key_file.write_text("mpk_x")
    key_file.chmod(0o644)
    done = pull("http://127.0.0.1:9", key_file, modwork_key_path, tmp_path / "out")
    assert done.returncode == 1
    assert "must be readable by its owner only" in done.stderr


# A listener of its own for /admin/ and /api/.


@pytest.mark.parametrize(
    ("path", "public", "internal"),
    [
        ("/admin/login", 404, 200),
        ("/api/v1/openapi.json", 404, 200),
        ("/musterstadt/", 200, 404),
        ("/static/admin.css", 200, 200),
        ("/healthz", 200, 200),
    ],
)
def test_each_path_answers_only_on_its_own_listener(live, path, public, internal):
    assert status_of(live.url + path) == public
    assert status_of(live.internal_url + path) == internal


def test_first_clerks_address_names_the_internal_listener(live):
    assert f"{live.internal_url}/admin/setup/" in live.output()


def test_internal_listener_on_the_portals_port_is_refused(data_dir):
    internal = {"host": "127.0.0.1", "port": 8080}
    with pytest.raises(ConfigError, match="'internal.port' must differ from 'port'"):
        load_config(None, data=str(data_dir), internal=internal)


# The admin's commands against the running server.


def test_revoked_key_is_refused_by_the_running_server_at_once(live, data_dir):
    key = add_key(data_dir)
    url = f"{live.internal_url}/api/v1/submissions"
    assert status_of(url, key) == 200
    done = run("revoke-api-key", "musterstadt", "modwork", "--data", str(data_dir))
    assert done.stdout == "API-Schlüssel widerrufen.\n"
    assert status_of(url, key) == 401


def test_key_is_printed_once_and_only_its_hash_is_stored(data_dir):
    key = add_key(data_dir)
    stored = (data_dir / "portal" / "portal.db").read_bytes()
    assert key.startswith("mpk_") and len(key) == 47
    assert key.encode() not in stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add-api-key", "gibtsnicht", "k", "--scopes", "forms:write"],
            "unknown tenant",
        ),
        (["add-api-key", "musterstadt", "k", "--scopes", "all"], "unknown scope: all"),
        (["revoke-api-key", "musterstadt", "nie"], "gibt es nicht"),
        (["set-modwork-key", "musterstadt", "abc"], "64 hex digits"),
    ],
)
def test_wrong_command_is_refused_with_a_message(data_dir, args, message):
    with pytest.raises(SystemExit) as refused:
        main([*args, "--data", str(data_dir)])
    assert message in str(refused.value)


def test_second_live_key_of_the_same_name_is_refused(data_dir):
    add_key(data_dir)
    args = ("add-api-key", "musterstadt", "modwork", "--scopes", "forms:write")
    done = run(*args, "--data", str(data_dir))
    assert done.returncode == 1
    assert (
        done.stderr == "musterstadt has a live key named 'modwork'; revoke it first\n"
    )


def test_modwork_key_set_by_command_lets_the_server_start(
    tmp_path, data_dir, modwork_key_path
):
    public_key = api_support.public_hex(modwork_key_path)
    main(["set-modwork-key", "musterstadt", public_key, "--data", str(data_dir)])
    config = tmp_path / "config.yaml"
    config.write_text(
        f"themes: {ROOT / 'themes'}\ntenants:\n  musterstadt:\n    receiver: modwork\n"
    )
    running = Server(data_dir, args=["--config", str(config)]).start()
    running.stop()
    assert "Tenant musterstadt is taken by modwork-musterstadt" in running.output()


async def test_a_query_made_over_http_comes_back_to_the_pull_client_with_its_record(
    live, tmp_path, data_dir, modwork_key_path
):
    scopes = ["submissions:read", "submissions:ack", "links:write"]
    key = add_key(data_dir, scopes=scopes)
    key_file = owner_only_file(tmp_path / "api.key", key)
    request = urllib.request.Request(
        f"{live.internal_url}/api/v1/queries",
        data=json.dumps(QUERY).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 201
        link_id = json.load(answer)["id"]
        assert answer.headers["Location"] == f"/api/v1/links/{link_id}"
    [mail] = await wait_for_mails(data_dir / "outbox", 1)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=live.url, cookie_jar=jar) as session:
        sent = await send_link_form(session, link_path(mail), GOOD_SEPA)
        assert sent.status == 200

    done = pull(live.internal_url, key_file, modwork_key_path, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    [folder] = (tmp_path / "out").iterdir()
    record = json.loads((folder / "submission.json").read_text())
    assert (record["link_id"], record["record_ref"]) == (link_id, QUERY["record_ref"])
    assert record["values"]["BANK_IBAN"] == "DE02120300000000202051"
    state = urllib.request.Request(
        f"{live.internal_url}/api/v1/links/{link_id}",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(state, timeout=5) as answer:
        assert json.load(answer)["state"] == "returned"
