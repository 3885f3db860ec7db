"""Shared fixtures: the real app over real SQLite files in a temporary folder."""

import asyncio
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from app.application import create_app
from app.config import ROOT, load_config
from app.keys import PORTAL

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def config(data_dir: Path):
    return load_config(None, data=str(data_dir))


@pytest.fixture
async def client(aiohttp_client, config):
    return await aiohttp_client(create_app(config))


def csrf_token(html: str) -> str:
    """Return the form token of a rendered form page."""
    match = CSRF.search(html)
    assert match, "the page has no csrf_token input"
    return match.group(1)


def form_data(
    token: str | None,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes]] | None = None,
) -> aiohttp.FormData:
    """Build a multipart body as a browser sends it: the token first."""
    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    if token is not None:
        data.add_field("csrf_token", token)
    for name, value in fields.items():
        data.add_field(name, value)
    for name, (filename, content) in (files or {}).items():
        # A BytesIO, since aiohttp warns of large raw bytes bodies.
        data.add_field(
            name,
            io.BytesIO(content),
            filename=filename,
            content_type="application/octet-stream",
        )
    return data


async def open_form(client, path: str) -> str:
    """Fetch a form page as a browser would and return its token."""
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return csrf_token(await response.text())


async def send(client, path: str, fields: dict[str, str], files=None):
    """Open a form and send it; return the response."""
    token = await open_form(client, path)
    return await client.post(path, data=form_data(token, fields, files))


async def wait_until_taken(app, timeout: float = 10.0) -> None:
    """Wait until the receiver has taken every pending submission."""
    store = app[PORTAL].store
    deadline = time.monotonic() + timeout
    while await store.submission_ids():
        assert time.monotonic() < deadline, "submissions were not taken in time"
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The real server as a separate process on loopback."""

    def __init__(self, data: Path, port: int | None = None, args=()) -> None:
        self.data = data
        self.args = list(args)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = data.parent / f"server-{self.port}.log"

    def start(self) -> "Server":
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "run.py", "serve", "--port", str(self.port)]
                + ["--data", str(self.data), *self.args],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def server(data_dir: Path):
    running = Server(data_dir).start()
    yield running
    running.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--lang=de",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, driven by Playwright, for one test module.

    While open, Playwright's sync API leaves its event loop marked as running
    in the main thread, so a browser kept for the whole session would make
    every async test collected after its module fail.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing at /usr/bin/chromium: install it with "
            "`apt-get install chromium` (bash .ci/run does), then run make test."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


CLERK_PASSWORD = "ein langes Passwort"


@pytest.fixture
def page(browser, server):
    """A tab of chromium in which the clerk anna is logged in."""
    subprocess.run(
        [sys.executable, "run.py", "add-clerk", "anna", "--data", str(server.data)],
        input=CLERK_PASSWORD + "\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    context = browser.new_context(base_url=server.url, locale="de-DE")
    tab = context.new_page()
    tab.goto("/admin/login")
    tab.fill("input[name=name]", "anna")
    tab.fill("input[name=password]", CLERK_PASSWORD)
    tab.click("button[type=submit]")
    yield tab
    context.close()


# Helpers of the back office, command line and web layer tests.

ADMIN_PASSWORD = "richtig-langes-Passwort-42"
RECEIPT = re.compile(r'class="panel__receipt">([A-Z0-9-]+)<')


def receipt_number(html: str) -> str:
    """Return the receipt number a receipt page shows."""
    match = RECEIPT.search(html)
    assert match, "the page shows no receipt number"
    return match.group(1)


async def add_clerk(app, name: str, password: str, tenants=None) -> None:
    """Create a clerk in the back office's store, as `run.py add-clerk` does."""
    from app.backoffice.auth import hash_password
    from app.clock import iso, utcnow
    from app.keys import BACKOFFICE

    store = app[BACKOFFICE].store
    await store.save_clerk(name, await hash_password(password), tenants, iso(utcnow()))


async def log_in(client, name: str, password: str):
    """Open the login page and send a name and password; return the answer."""
    token = await open_form(client, "/admin/login")
    fields = {"csrf_token": token, "name": name, "password": password}
    return await client.post("/admin/login", data=fields, allow_redirects=False)


class ConfiguredServer(Server):
    """The real server started with a chosen command line, over HTTP or HTTPS."""

    def __init__(self, data: Path, arguments: list[str], context=None) -> None:
        super().__init__(data)
        self.arguments = arguments
        self.context = context
        if context is not None:
            self.url = f"https://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """Return the command line: the chosen words, then port and data folder."""
        port = ["--port", str(self.port), "--data", str(self.data)]
        return [sys.executable, "run.py", *self.arguments, *port]

    def start(self) -> "ConfiguredServer":
        # The child holds its own copy of the descriptor, so ours may close now.
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(
                    f"{self.url}/healthz", timeout=1, context=self.context
                ) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"server did not start: {self.log.read_text()}")


@pytest.fixture
def served(data_dir: Path):
    """The real server on loopback, like `server`, leaving no file open."""
    running = ConfiguredServer(data_dir, ["serve"]).start()
    yield running
    running.stop()


def run_py(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess:
    """Run `python run.py` as an admin would, input on stdin, and wait for it."""
    return subprocess.run(
        [sys.executable, "run.py", *arguments],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


# Helpers of the end-to-end tests: browser, crash and no trace.


def wait_for(condition, timeout: float = 10.0, what: str = "a condition") -> None:
    """Poll a condition every 20 ms until it holds; fail after the timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def pending(server: Server) -> int:
    """Return how many sealed submissions a running server says are waiting."""
    import json

    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as answer:
        return json.load(answer)["pending"]
