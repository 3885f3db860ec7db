"""Refusals found by a fresh tester, each pinned down."""

import asyncio
import os

import aiohttp
import pytest
from multidict import CIMultiDict

from app.application import create_app
from app.cli import _ssl_context
from app.config import ROOT, ConfigError, load_config
from app.keys import BACKOFFICE, PORTAL
from app.throttle import Throttle
from tests.conftest import form_data, open_form
from tests.test_submission import GOOD_SEPA, SEPA


async def test_setup_address_dies_once_a_clerk_exists(client):
    token = await client.app[BACKOFFICE].new_setup_token()
    await client.app[BACKOFFICE].store.save_clerk("bob", "x", ["nordstadt"], "now")
    response = await client.get(f"/admin/setup/{token}")
    assert response.status == 404


async def test_setup_never_resets_an_existing_clerk(client):
    store = client.app[BACKOFFICE].store
    await store.save_clerk("bob", "old-hash", ["nordstadt"], "now")
    assert await store.add_first_clerk("bob", "new-hash", "now") is False
    clerk, stored = await store.password_hash("bob")
    assert (stored, clerk.tenants) == ("old-hash", ("nordstadt",))


async def proxied_client(aiohttp_client, data_dir, **settings):
    config = load_config(
        None,
        data=str(data_dir),
        trusted_proxies=["127.0.0.1"],
        throttle={"submissions_per_minute": 2, "logins_per_minute": 5},
        **settings,
    )
    return await aiohttp_client(create_app(config))


async def test_forwarded_for_is_read_from_the_right_over_all_lines(
    aiohttp_client, data_dir
):
    client = await proxied_client(aiohttp_client, data_dir)
    statuses = []
    for i in range(3):
        headers = CIMultiDict(
            [("X-Forwarded-For", f"10.9.9.{i}"), ("X-Forwarded-For", "203.0.113.7")]
        )
        token = await open_form(client, SEPA)
        response = await client.post(
            SEPA, data=form_data(token, GOOD_SEPA), headers=headers
        )
        statuses.append(response.status)
    assert statuses == [200, 200, 429]


async def test_multipart_with_a_wrong_boundary_is_400(client):
    await open_form(client, SEPA)
    response = await client.post(
        SEPA,
        data=b"--other\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=expected"},
    )
    assert response.status == 400
    assert "Ungültige Anfrage" in await response.text()


async def test_a_long_preamble_counts_against_the_ceiling(client):
    token = await open_form(client, SEPA)
    ceiling = client.app[PORTAL].config.uploads.max_submission_bytes
    body = form_data(token, GOOD_SEPA)()

    async def stream():
        for _ in range(ceiling // 65536 + 2):
            yield b"x" * 65535 + b"\n"
        yield (
            f"\r\n--{body.boundary}\r\nContent-Disposition: form-data; "
            f'name="csrf_token"\r\n\r\n{token}\r\n--{body.boundary}--\r\n'
        ).encode()

    response = await client.post(
        SEPA, data=stream(), headers={"Content-Type": body.content_type}
    )
    assert response.status == 413
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_a_client_gone_quiet_gets_408(aiohttp_client, data_dir):
    config = load_config(None, data=str(data_dir), uploads={"idle_timeout_s": 1})
    client = await aiohttp_client(create_app(config))
    token = await open_form(client, SEPA)
    boundary = "quiet"

    async def stream():
        yield (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="csrf_token"\r\n\r\n{token}\r\n--{boundary}\r\n'
            'Content-Disposition: form-data; name="KUNDE_ORT"\r\n\r\nDre'
        ).encode()
        await asyncio.sleep(3)
        yield b"sden\r\n"

    response = await client.post(
        SEPA,
        data=stream(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status == 408


def test_name_throttle_counts_only_what_is_hit():
    throttle = Throttle(2)
    assert throttle.exceeded("carol") is False
    throttle.hit("carol")
    throttle.hit("carol")
    assert throttle.exceeded("carol") is True
    assert throttle.exceeded("dave") is False


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.9", "192.0.2.9"),
        ("192.0.2.9", "192.0.2.9"),
    ],
)
def test_throttle_key_takes_ipv6_by_its_64(remote, key):
    from aiohttp.test_utils import make_mocked_request

    from app.keys import CLIENT_IP
    from app.web import throttle_key

    request = make_mocked_request("GET", "/")
    request[CLIENT_IP] = remote
    assert throttle_key(request) == key


def test_config_file_paths_are_its_own_and_defaults_stay(tmp_path):
    (tmp_path / "c.yaml").write_text("data: here\nthrottle:\n  logins_per_minute: 3\n")
    config = load_config(tmp_path / "c.yaml")
    assert config.data == tmp_path / "here"
    assert config.themes == ROOT / "themes"


def test_ipv6_host_gets_brackets_in_the_public_url():
    assert load_config(None, host="::1").public_url == "http://[::1]:8080"


def test_tls_key_readable_by_others_is_refused(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_text("not read")
    cert.write_text("not read")
    os.chmod(key, 0o644)
    config = load_config(None, tls={"cert": str(cert), "key": str(key)})
    with pytest.raises(ConfigError, match="tls.key"):
        _ssl_context(config)


async def test_missing_static_file_is_a_german_page(client):
    response = await client.get("/static/gibt-es-nicht.css")
    assert response.status == 404
    assert "Seite nicht gefunden" in await response.text()
    assert (await client.get("/favicon.ico")).status == 200


async def test_cached_form_page_gives_each_visit_its_own_token(client):
    first = await open_form(client, SEPA)
    second = await open_form(client, SEPA)
    assert first != second
    for token in (first, second):
        response = await client.post(SEPA, data=form_data(token, GOOD_SEPA))
        assert response.status == 200


async def test_no_server_header_is_sent(client):
    response = await client.get("/healthz")
    assert "Server" not in response.headers
    assert isinstance(response, aiohttp.ClientResponse)
