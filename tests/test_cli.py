"""The command line: add-clerk, --help, the configuration checks and serve."""

import json
import urllib.request
from dataclasses import fields

import pytest

from app.config import ROOT, load_config
from app.keys import BACKOFFICE
from tests.conftest import (
    ADMIN_PASSWORD,
    ConfiguredServer,
    free_port,
    log_in,
    run_py,
)

SHORT = "Das Passwort muss mindestens 12 Zeichen lang sein.\n"


def add_clerk(config, name: str, password: str, *tenants: str):
    """Run `run.py add-clerk` against the test's data folder."""
    flags = [arg for tenant in tenants for arg in ("--tenant", tenant)]
    data = ["--data", str(config.data)]
    return run_py("add-clerk", name, *flags, *data, stdin=f"{password}\n")


def serve_with(tmp_path, text: str, port: int | None = None):
    """Start `run.py serve` with a config file of this text; return its result."""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    flags = ["--data", str(tmp_path / "data"), "--port", str(port or free_port())]
    return run_py("serve", "--config", str(path), *flags)


def healthz(url: str, context=None) -> dict:
    """Return what a running server's /healthz answers."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=5, context=context) as r:
        return json.loads(r.read())


# add-clerk


async def test_add_clerk_creates_a_clerk_who_can_log_in(client, config):
    made = add_clerk(config, "erika", ADMIN_PASSWORD)
    assert (made.returncode, made.stdout, made.stderr) == (
        0,
        "Sachbearbeiter angelegt.\n",
        "",
    )
    assert (await log_in(client, "erika", ADMIN_PASSWORD)).status == 303


async def test_add_clerk_again_resets_the_password(client, config):
    add_clerk(config, "erika", ADMIN_PASSWORD)
    reset = add_clerk(config, "erika", "ein-ganz-neues-Passwort")
    assert (reset.returncode, reset.stdout) == (0, "Passwort zurückgesetzt.\n")
    assert (await log_in(client, "erika", ADMIN_PASSWORD)).status == 401
    assert (await log_in(client, "erika", "ein-ganz-neues-Passwort")).status == 303
    assert await client.app[BACKOFFICE].store.clerk_count() == 1


async def test_add_clerk_reset_ends_the_clerks_sessions(client, config):
    add_clerk(config, "erika", ADMIN_PASSWORD)
    assert (await log_in(client, "erika", ADMIN_PASSWORD)).status == 303
    assert (await client.get("/admin/records", allow_redirects=False)).status == 200
    add_clerk(config, "erika", "ein-ganz-neues-Passwort")
    page = await client.get("/admin/records", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (303, "/admin/login")


@pytest.mark.parametrize(
    ("tenants", "stored"),
    [
        ((), None),
        (("nordstadt",), ("nordstadt",)),
        (("nordstadt", "musterstadt"), ("nordstadt", "musterstadt")),
    ],
)
async def test_add_clerk_keeps_the_tenants_it_was_given(
    client, config, tenants, stored
):
    assert add_clerk(config, "erika", ADMIN_PASSWORD, *tenants).returncode == 0
    clerk, _ = await client.app[BACKOFFICE].store.password_hash("erika")
    assert clerk.tenants == stored


@pytest.mark.parametrize(
    ("tenants", "message"),
    [
        (("atlantis",), "unknown tenant: atlantis\n"),
        (("nordstadt", "atlantis", "admin"), "unknown tenant: atlantis, admin\n"),
    ],
)
def test_add_clerk_refuses_an_unknown_tenant(config, tenants, message):
    refused = add_clerk(config, "erika", ADMIN_PASSWORD, *tenants)
    assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", message)
    assert not (config.backoffice_dir / "backoffice.db").exists()


@pytest.mark.parametrize("password", ["", "a" * 11, "elf Zeichen", "  kurz  "])
def test_add_clerk_refuses_a_short_password(config, password):
    refused = add_clerk(config, "erika", password)
    assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", SHORT)
    assert not (config.backoffice_dir / "backoffice.db").exists()


async def test_add_clerk_takes_a_password_of_exactly_twelve_characters(client, config):
    assert add_clerk(config, "erika", "zwölf Zeiche").returncode == 0
    assert (await log_in(client, "erika", "zwölf Zeiche")).status == 303


@pytest.mark.parametrize("name", ["", "   "])
def test_add_clerk_refuses_an_empty_name(config, name):
    refused = add_clerk(config, name, ADMIN_PASSWORD)
    assert (refused.returncode, refused.stderr) == (1, "the clerk needs a name\n")


async def test_server_prints_no_setup_address_once_a_clerk_exists(data_dir, config):
    add_clerk(config, "erika", ADMIN_PASSWORD)
    running = ConfiguredServer(data_dir, ["serve"]).start()
    try:
        assert healthz(running.url) == {"status": "ok", "pending": 0}
    finally:
        running.stop()
    assert "/admin/setup/" not in running.output()


# --help


@pytest.mark.parametrize(
    ("arguments", "mentions"),
    [
        (["--help"], ["usage: run.py", "serve", "add-clerk"]),
        (["-h"], ["usage: run.py", "serve", "add-clerk"]),
        (["serve", "--help"], ["--config", "--data", "--host", "--port"]),
        (["add-clerk", "--help"], ["name", "--tenant", "--config", "--data"]),
    ],
)
def test_help_describes_the_commands(arguments, mentions):
    shown = run_py(*arguments)
    assert (shown.returncode, shown.stderr) == (0, "")
    assert [word for word in mentions if word not in shown.stdout] == []


# The configuration is checked at start.


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: blue\n", "unknown setting 'colour'"),
        ("throttle:\n  per_hour: 3\n", "unknown setting 'throttle.per_hour'"),
        ("grace_minutes: '60'\n", "setting 'grace_minutes' must be int, not str"),
        ("uploads: 5\n", "setting 'uploads' must be a mapping"),
        (
            "uploads:\n  max_files: true\n",
            "setting 'uploads.max_files' must be int, not bool",
        ),
        (
            "trusted_proxies: 10.0.0.1\n",
            "setting 'trusted_proxies' must be list, not str",
        ),
        (
            "trusted_proxies: [localhost]\n",
            "setting 'trusted_proxies': 'localhost' does not appear to be an IPv4 "
            "or IPv6 network",
        ),
        ("log_level: 10\n", "setting 'log_level' must be str, not int"),
        ("tls:\n  cert: cert.pem\n", "settings 'tls.cert' and 'tls.key' go together"),
        ("tls:\n  key: key.pem\n", "settings 'tls.cert' and 'tls.key' go together"),
        (
            "throttle:\n  logins_per_minute: 0\n",
            "setting 'throttle.logins_per_minute' must be positive",
        ),
        (
            "public_url: ftp://portal\n",
            "setting 'public_url' must start with http:// or https://",
        ),
    ],
)
def test_bad_config_stops_the_server_with_a_message_naming_the_key(
    tmp_path, text, message
):
    stopped = serve_with(tmp_path, text)
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert stopped.stderr == f"configuration: {message}\n"
    assert not (tmp_path / "data").exists()


def test_port_flag_out_of_range_stops_the_server(tmp_path):
    stopped = serve_with(tmp_path, "", port=70000)
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert stopped.stderr == (
        "configuration: setting 'port' must be between 1 and 65535\n"
    )


def test_config_that_is_not_a_mapping_stops_the_server(tmp_path):
    stopped = serve_with(tmp_path, "- port\n- 8080\n")
    path = tmp_path / "config.yaml"
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert stopped.stderr == (
        f"configuration: config {path} must be a mapping at the top\n"
    )


def test_unknown_log_level_stops_the_server_with_a_message_naming_the_key(tmp_path):
    stopped = serve_with(tmp_path, "log_level: LOUD\n")
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert "Traceback" not in stopped.stderr
    assert "'log_level'" in stopped.stderr


def test_missing_certificate_file_stops_the_server_naming_it(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("not used\n")
    key.chmod(0o600)
    stopped = serve_with(tmp_path, f"tls:\n  cert: missing-cert.pem\n  key: {key}\n")
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert "Traceback" not in stopped.stderr
    named = (str(tmp_path / "missing-cert.pem"), "'tls.cert'")
    assert [name for name in named if name in stopped.stderr] != []


def test_tls_key_readable_by_others_stops_the_server(tmp_path):
    for name in ("cert.pem", "key.pem"):
        (tmp_path / name).write_text("not used\n")
    (tmp_path / "key.pem").chmod(0o644)
    stopped = serve_with(tmp_path, "tls:\n  cert: cert.pem\n  key: key.pem\n")
    assert (stopped.returncode, stopped.stdout) == (1, "")
    assert "Traceback" not in stopped.stderr
    assert "setting 'tls.key'" in stopped.stderr


# Flags over the file, the file over the defaults.


@pytest.mark.parametrize(
    ("text", "flags", "port", "logins"),
    [
        ("", {}, 8080, 5),
        ("port: 9001\n", {}, 9001, 5),
        ("port: 9001\n", {"port": 9002}, 9002, 5),
        ("port: 9001\n", {"port": None}, 9001, 5),
        ("throttle:\n  logins_per_minute: 3\n", {}, 8080, 3),
    ],
)
def test_flags_beat_the_file_and_the_file_beats_defaults(
    tmp_path, text, flags, port, logins
):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, **flags)
    assert (config.port, config.logins_per_minute) == (port, logins)
    assert config.submissions_per_minute == 20


@pytest.mark.parametrize(
    ("text", "flags", "data"),
    [
        ("data: state\n", {}, "state"),
        ("data: state\n", {"data": "/srv/portal"}, "/srv/portal"),
    ],
)
def test_data_folder_of_the_file_is_read_from_the_files_folder(
    tmp_path, text, flags, data
):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path, **flags).data == tmp_path / data


def test_defaults_a_file_leaves_out_are_read_from_the_project(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("port: 9001\n", encoding="utf-8")
    config = load_config(path)
    assert (config.themes, config.data) == (ROOT / "themes", ROOT / "data")


def test_documented_example_config_says_what_the_defaults_are():
    example = load_config(ROOT / "docs" / "config.example.yaml")
    defaults = load_config()
    paths = {"data", "themes", "source"}
    names = [f.name for f in fields(defaults) if f.name not in paths]
    assert [n for n in names if getattr(example, n) != getattr(defaults, n)] == []
    assert (example.logins_per_minute, example.batch_size) == (5, 200)


def test_flag_beats_the_file_in_the_running_server(tmp_path, data_dir):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"port: 1\nthemes: {ROOT / 'themes'}\npublic_url: https://portal.example\n"
    )
    running = ConfiguredServer(data_dir, ["serve", "--config", str(path)]).start()
    try:
        assert healthz(running.url) == {"status": "ok", "pending": 0}
    finally:
        running.stop()
    assert "  https://portal.example/admin/setup/" in running.output()


# serve is the default command.


@pytest.mark.parametrize("arguments", [["serve"], []])
def test_server_starts_with_or_without_the_serve_word(data_dir, arguments):
    running = ConfiguredServer(data_dir, arguments).start()
    try:
        assert healthz(running.url) == {"status": "ok", "pending": 0}
    finally:
        running.stop()
    assert (data_dir / "backoffice" / "backoffice.db").is_file()
