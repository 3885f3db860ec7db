"""What every response shares: security headers, TLS, proxies and the access log."""

import asyncio
import ipaddress
import logging
import shutil
import socket
import ssl
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from app.application import create_app
from app.config import ROOT, load_config
from app.keys import BACKOFFICE
from app.tenants import TenantError, load_tenant, load_tenants
from app.web import AccessLogger
from tests.conftest import (
    ADMIN_PASSWORD,
    ConfiguredServer,
    add_clerk,
    csrf_token,
    form_data,
    log_in,
    open_form,
    receipt_number,
    run_py,
    send,
    wait_until_taken,
)
from tests.images import jpeg_photo
from tests.test_submission import GOOD_METER, GOOD_SEPA

SEPA = "/musterstadt/sepa-mandat"
METER = "/musterstadt/zaehlerstand"
HSTS = "max-age=63072000; includeSubDomains"
PROXY_CLIENT = "198.51.100.7"


def policy(header: str) -> dict[str, list[str]]:
    """Split a Content-Security-Policy into its directives and their sources."""
    directives = [d.split() for d in header.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


# One request of every kind of response, and the status it must have.


async def form_page(client):
    """Open a form page."""
    return await client.get(SEPA)


async def receipt(client):
    """Send a good form and get its receipt page."""
    response = await send(client, SEPA, GOOD_SEPA)
    await wait_until_taken(client.app)
    return response


async def refused_values(client):
    """Send a form with a wrong postcode."""
    return await send(client, SEPA, {**GOOD_SEPA, "KUNDE_PLZ": "1"})


async def missing_token(client):
    """Send a form without its token."""
    await open_form(client, SEPA)
    return await client.post(SEPA, data=form_data(None, GOOD_SEPA))


async def too_large(client):
    """Send a form with a text too long for it."""
    return await send(client, SEPA, {**GOOD_SEPA, "KUNDE_ORT": "x" * 20_000})


async def not_found(client):
    """Open a form that does not exist."""
    return await client.get("/musterstadt/gibt-es-nicht")


async def static_css(client):
    """Fetch the portal's stylesheet."""
    return await client.get("/static/portal.css")


async def admin_page(client):
    """Open the back office's login page."""
    return await client.get("/admin/login")


async def admin_records(client):
    """Open the records as a logged-in clerk."""
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    await log_in(client, "erika", ADMIN_PASSWORD)
    return await client.get("/admin/records")


async def attachment(client):
    """Download a photo a customer sent, as a clerk."""
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    await log_in(client, "erika", ADMIN_PASSWORD)
    sent = await send(
        client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("z.jpg", jpeg_photo())}
    )
    await wait_until_taken(client.app)
    store = client.app[BACKOFFICE].store
    [record] = await store.records(None, receipt_number(await sent.text()))
    [stored] = await store.attachments(record["id"])
    return await client.get(f"/admin/records/{record['id']}/attachments/{stored['id']}")


async def healthz(client):
    """Ask whether the server is ready."""
    return await client.get("/healthz")


async def wrong_method(client):
    """Use a method the address does not take."""
    return await client.put("/healthz")


KINDS = {
    "form page": (form_page, 200),
    "receipt": (receipt, 200),
    "422": (refused_values, 422),
    "403": (missing_token, 403),
    "413": (too_large, 413),
    "404": (not_found, 404),
    "405": (wrong_method, 405),
    "static css": (static_css, 200),
    "admin page": (admin_page, 200),
    "admin records": (admin_records, 200),
    "attachment": (attachment, 200),
    "healthz": (healthz, 200),
}
PAGES = [kind for kind in KINDS if kind != "static css"]


async def answer(client, kind: str):
    """Make the request of one kind and check it got the status of its kind."""
    request, status = KINDS[kind]
    response = await request(client)
    assert response.status == status, await response.text()
    return response


@pytest.mark.parametrize("kind", KINDS)
async def test_every_response_has_a_strict_content_security_policy(client, kind):
    response = await answer(client, kind)
    directives = policy(response.headers["Content-Security-Policy"])
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'none'"]
    sources = [source for listed in directives.values() for source in listed]
    assert [s for s in sources if s.startswith("'unsafe-")] == []


@pytest.mark.parametrize("kind", KINDS)
async def test_every_response_forbids_sniffing_framing_and_foreign_referrers(
    client, kind
):
    headers = (await answer(client, kind)).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("kind", PAGES)
async def test_every_page_is_kept_out_of_caches(client, kind):
    response = await answer(client, kind)
    assert response.headers["Cache-Control"] == "no-store"


async def test_static_files_may_be_cached(client):
    response = await answer(client, "static css")
    assert "no-store" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("kind", ["form page", "404", "admin page", "healthz"])
async def test_plain_http_gets_no_hsts(client, kind):
    response = await answer(client, kind)
    assert "Strict-Transport-Security" not in response.headers


# TLS in-process, with a certificate made here.


def self_signed(folder) -> tuple:
    """Write a self-signed certificate for 127.0.0.1 and its key; return paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([address]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def trusting(cert_path, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """Make a client context that trusts the certificate, at one TLS version."""
    context = ssl.create_default_context(cafile=str(cert_path))
    if version is not None:
        # Seclevel 0 lets this client offer old versions at all, so that a
        # refusal comes from the server, not from the client's own library.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            # Offering TLS 1.0 and 1.1 is deprecated, and the point of the test.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = version
    return context


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """The real server serving HTTPS itself, with one clerk."""
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = self_signed(folder)
    config = folder / "config.yaml"
    config.write_text(
        f"themes: {ROOT / 'themes'}\ntls:\n  cert: {cert_path}\n  key: {key_path}\n"
    )
    data = folder / "data"
    run_py("add-clerk", "erika", "--data", str(data), stdin=ADMIN_PASSWORD)
    arguments = ["serve", "--config", str(config)]
    running = ConfiguredServer(data, arguments, trusting(cert_path)).start()
    running.cert_path = cert_path
    yield running
    running.stop()


async def fetch_over_tls(server, path: str) -> aiohttp.ClientResponse:
    """GET a path of the TLS server with a client that trusts its certificate."""
    connector = aiohttp.TCPConnector(ssl=server.context)
    url = f"{server.url}{path}"
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        await response.read()
        return response


@pytest.mark.parametrize(
    ("path", "status"),
    [("/healthz", 200), (SEPA, 200), ("/gibt-es-nicht/", 404), ("/admin", 303)],
)
async def test_tls_responses_carry_hsts(tls_server, path, status):
    response = await fetch_over_tls(tls_server, path)
    assert response.status == status
    assert response.headers["Strict-Transport-Security"] == HSTS


def handshake(port: int, context: ssl.SSLContext) -> str:
    """Open a TLS connection to a loopback port and return the version agreed."""
    address = ("127.0.0.1", port)
    with (
        socket.create_connection(address, timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


@pytest.mark.parametrize(
    ("version", "agreed"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls_1_2_and_newer_are_served(tls_server, version, agreed):
    assert handshake(tls_server.port, trusting(tls_server.cert_path, version)) == agreed


OLD_TLS = [(ssl.TLSVersion.TLSv1_1, "TLSv1.1"), (ssl.TLSVersion.TLSv1, "TLSv1")]


@pytest.mark.parametrize("version", [version for version, _ in OLD_TLS])
def test_tls_older_than_1_2_is_refused_by_the_server(tls_server, version):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(tls_server.port, trusting(tls_server.cert_path, version))
    # The server hangs up on the old hello, with or without an alert first.
    assert refused.value.reason in (
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNEXPECTED_EOF_WHILE_READING",
    )


@pytest.mark.parametrize(("version", "name"), OLD_TLS)
def test_client_of_the_refusal_test_can_speak_old_tls(tls_server, version, name):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(
        tls_server.cert_path, tls_server.cert_path.parent / "key.pem"
    )
    willing = trusting(tls_server.cert_path, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.set_ciphers("DEFAULT:@SECLEVEL=0")
        server.minimum_version = server.maximum_version = version
    with socket.create_server(("127.0.0.1", 0)) as listener:
        accepted = threading.Thread(target=accept_once, args=(listener, server))
        accepted.start()
        agreed = handshake(listener.getsockname()[1], willing)
        accepted.join(5)
    assert agreed == name


def accept_once(listener: socket.socket, context: ssl.SSLContext) -> None:
    """Accept one TLS connection and close it after the handshake."""
    connection, _ = listener.accept()
    with context.wrap_socket(connection, server_side=True):
        pass


async def test_tls_login_sets_a_secure_session_cookie(tls_server):
    connector = aiohttp.TCPConnector(ssl=tls_server.context)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as session:
        async with session.get(f"{tls_server.url}/admin/login") as page:
            token = csrf_token(await page.text())
        fields = {"csrf_token": token, "name": "erika", "password": ADMIN_PASSWORD}
        async with session.post(
            f"{tls_server.url}/admin/login", data=fields, allow_redirects=False
        ) as login:
            assert login.status == 303
            assert login.cookies["mp_admin"]["secure"] is True


# X-Forwarded-For and -Proto count only from a configured proxy.


async def proxied_client(aiohttp_client, data_dir, proxies: list[str], limit: int = 2):
    """Start the app with these trusted proxies and a low send throttle."""
    config = load_config(
        None,
        data=str(data_dir),
        trusted_proxies=proxies,
        throttle={"submissions_per_minute": limit},
    )
    return await aiohttp_client(create_app(config))


async def sends_from(client, forwarded: list[str]) -> list[int]:
    """POST an empty send once per X-Forwarded-For value; return the statuses."""
    statuses = []
    for value in forwarded:
        response = await client.post(SEPA, headers={"X-Forwarded-For": value})
        statuses.append(response.status)
    return statuses


@pytest.mark.parametrize("proxies", [["127.0.0.1"], ["127.0.0.0/8", "10.0.0.0/24"]])
async def test_throttle_keys_on_the_address_a_trusted_proxy_forwards(
    aiohttp_client, data_dir, proxies
):
    client = await proxied_client(aiohttp_client, data_dir, proxies)
    first = await sends_from(client, [PROXY_CLIENT] * 3)
    other = await sends_from(client, ["198.51.100.8"])
    assert (first, other) == ([400, 400, 429], [400])


async def test_forged_forwarded_address_does_not_dodge_the_throttle(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir, [])
    forged = [f"198.51.100.{n}" for n in range(1, 5)]
    assert await sends_from(client, forged) == [400, 400, 429, 429]


async def test_forged_entry_before_the_proxys_own_does_not_dodge_the_throttle(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir, ["127.0.0.1"])
    forged = [f"203.0.113.{n}, {PROXY_CLIENT}" for n in range(1, 5)]
    assert await sends_from(client, forged) == [400, 400, 429, 429]


async def test_chain_of_trusted_proxies_is_walked_to_the_client(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir, ["127.0.0.1", "10.0.0.2"])
    chained = [f"{PROXY_CLIENT}, 10.0.0.2"] * 2 + [PROXY_CLIENT]
    assert await sends_from(client, chained) == [400, 400, 429]


async def test_forged_header_line_before_the_proxys_does_not_dodge_the_throttle(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir, ["127.0.0.1"])
    statuses = []
    for n in range(1, 5):
        lines = [
            ("X-Forwarded-For", f"203.0.113.{n}"),
            ("X-Forwarded-For", PROXY_CLIENT),
        ]
        statuses.append((await client.post(SEPA, headers=CIMultiDict(lines))).status)
    assert statuses == [400, 400, 429, 429]


async def test_forwarded_ipv6_addresses_of_one_64_share_a_throttle(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir, ["127.0.0.1"])
    same_64 = [f"2001:db8:1:2::{n:x}" for n in range(1, 4)]
    other_64 = ["2001:db8:1:3::1"]
    assert await sends_from(client, same_64 + other_64) == [400, 400, 429, 400]


async def test_login_throttle_keys_on_the_forwarded_address(aiohttp_client, data_dir):
    config = load_config(
        None,
        data=str(data_dir),
        trusted_proxies=["127.0.0.1"],
        throttle={"logins_per_minute": 1},
    )
    client = await aiohttp_client(create_app(config))
    token = await open_form(client, "/admin/login")
    statuses = []
    for name, forwarded in [
        ("a", PROXY_CLIENT),
        ("b", PROXY_CLIENT),
        ("c", "10.9.9.9"),
    ]:
        fields = {"csrf_token": token, "name": name, "password": "x"}
        headers = {"X-Forwarded-For": forwarded}
        statuses.append(
            (await client.post("/admin/login", data=fields, headers=headers)).status
        )
    assert statuses == [401, 429, 401]


@pytest.mark.parametrize(("proxies", "hsts"), [(["127.0.0.1"], True), ([], False)])
async def test_forwarded_https_gives_hsts_only_from_a_trusted_proxy(
    aiohttp_client, data_dir, proxies, hsts
):
    client = await proxied_client(aiohttp_client, data_dir, proxies)
    response = await client.get(SEPA, headers={"X-Forwarded-Proto": "https"})
    assert ("Strict-Transport-Security" in response.headers) is hsts


@pytest.mark.parametrize(("proxies", "secure"), [(["127.0.0.1"], True), ([], False)])
async def test_forwarded_https_marks_cookies_secure_only_from_a_trusted_proxy(
    aiohttp_client, data_dir, proxies, secure
):
    client = await proxied_client(aiohttp_client, data_dir, proxies)
    response = await client.get(SEPA, headers={"X-Forwarded-Proto": "https"})
    assert bool(response.cookies["mp_csrf"]["secure"]) is secure


# The access log names routes and statuses, nothing a person typed or is.


@pytest.fixture
async def logged_client(aiohttp_client, config, caplog):
    """The app with the server's access logger, its lines captured."""
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    # aiohttp 3.14's TestServer drops the keywords given to its constructor
    # (server_kwargs); start_server hands them on to the runner.
    server = TestServer(create_app(config))
    await server.start_server(access_log_class=AccessLogger)
    return await aiohttp_client(server)


async def access_lines(caplog, count: int) -> list[str]:
    """Wait for this many access log lines and return them."""
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.01)


async def visit_form_with_a_query(client):
    """Open a form with a customer number in the query."""
    await client.get(f"{SEPA}?kundennummer=K-4711")
    return ["K-4711", "kundennummer"], ["GET /{tenant}/{form} 200"]


async def send_a_form(client):
    """Send a good form; its values and receipt must stay out."""
    response = await send(client, SEPA, GOOD_SEPA)
    await wait_until_taken(client.app)
    secrets = [receipt_number(await response.text()), "Mustermann", "DE02", "Dresden"]
    return secrets, ["GET /{tenant}/{form} 200", "POST /{tenant}/{form} 200"]


async def refused_send(client):
    """Send a form that is refused; its values must stay out."""
    await send(client, SEPA, {**GOOD_SEPA, "KUNDE_PLZ": "9999x"})
    return ["9999x", "Mustermann"], [
        "GET /{tenant}/{form} 200",
        "POST /{tenant}/{form} 422",
    ]


async def open_the_setup_page(client):
    """Open the one-time setup address."""
    token = await client.app[BACKOFFICE].new_setup_token()
    await client.get(f"/admin/setup/{token}")
    return [token], ["GET /admin/setup/{token} 200"]


async def search_a_receipt(client):
    """Search a receipt number without a session."""
    await client.get("/admin/records?q=MU-7KQ4-XH2P", allow_redirects=False)
    return ["MU-7KQ4-XH2P", "q="], ["GET /admin/records 303"]


async def log_in_wrongly(client):
    """Log in with a wrong name and password."""
    await log_in(client, "erika.mustermann", "geheimes-Passwort")
    return ["erika", "geheimes"], ["GET /admin/login 200", "POST /admin/login 401"]


async def visit_an_unknown_path(client):
    """Open an address no route takes."""
    await client.get("/gibt/es/nicht?wer=Erika")
    return ["gibt", "Erika"], ["GET - 404"]


VISITS = [
    visit_form_with_a_query,
    send_a_form,
    refused_send,
    open_the_setup_page,
    search_a_receipt,
    log_in_wrongly,
    visit_an_unknown_path,
]


@pytest.mark.parametrize("visit", VISITS, ids=lambda v: v.__name__)
async def test_access_log_names_route_and_status_and_nothing_personal(
    logged_client, caplog, visit
):
    secrets, expected = await visit(logged_client)
    lines = await access_lines(caplog, len(expected))
    assert [" ".join(line.split()[:3]) for line in lines] == expected
    leaked = [s for s in [*secrets, "127.0.0.1"] if any(s in line for line in lines)]
    assert leaked == []


async def test_server_process_logs_access_without_the_setup_token(served):
    output = served.output()
    token = output.split("/admin/setup/")[1].split()[0]
    url = f"{served.url}/admin/setup/{token}?von=Erika"
    async with aiohttp.ClientSession() as session, session.get(url) as page:
        assert page.status == 200
    deadline = time.monotonic() + 5
    while "aiohttp.access: GET /admin/setup/{token} 200" not in served.output():
        assert time.monotonic() < deadline, served.output()
        await asyncio.sleep(0.05)
    assert (served.output().count(token), "Erika" in served.output()) == (1, False)


# Tenant slugs never take one of the server's own paths.


def tenant_folder(tmp_path, slug: str):
    """Copy a real tenant's files into a folder of the given name."""
    folder = tmp_path / "themes" / slug
    shutil.copytree(ROOT / "themes" / "musterstadt", folder)
    return folder


@pytest.mark.parametrize("slug", ["admin", "api", "healthz", "static", "l"])
def test_tenant_folder_named_like_a_server_path_is_refused(tmp_path, slug):
    folder = tenant_folder(tmp_path, slug)
    with pytest.raises(TenantError) as refused:
        load_tenant(folder)
    assert str(refused.value) == (
        f"{folder / 'tenant.yaml'}: {slug!r} cannot be a tenant's address"
    )


def test_tenant_folder_with_an_ordinary_name_is_taken(tmp_path):
    folder = tenant_folder(tmp_path, "suedstadt")
    assert load_tenant(folder).slug == "suedstadt"


def test_one_reserved_tenant_folder_stops_loading_every_tenant(tmp_path):
    tenant_folder(tmp_path, "musterstadt")
    tenant_folder(tmp_path, "static")
    with pytest.raises(TenantError):
        load_tenants(tmp_path / "themes")
