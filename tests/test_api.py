"""MODWORK's API over the real app: keys, the queue, acknowledgement, forms."""

import asyncio
import base64
import json
import time

import pytest
import yaml
from aiohttp.test_utils import TestServer

from app import crypto
from app.api.auth import API_KEYS
from app.api.commands import CommandError, new_receiver_key, set_modwork_key
from app.api.receivers import modwork_receiver
from app.application import create_app
from app.config import ConfigError, load_config
from app.keys import BACKOFFICE, CONFIG, PORTAL, QUEUE
from tests import api_support
from tests.api_support import ALL_SCOPES, bearer, modwork_config, new_key
from tests.conftest import send
from tests.images import jpeg_photo
from tests.test_submission import GOOD_METER, GOOD_SEPA

# The fixtures shared by the API's tests.
api = api_support.api
modwork_key_path = api_support.modwork_key_path

SEPA = "/musterstadt/sepa-mandat"
METER = "/musterstadt/zaehlerstand"
DEMO = "app/demo/forms/zaehlerstand.yaml"


async def sent(client, path=SEPA, fields=GOOD_SEPA, files=None) -> str:
    """Send a form and return the id of the submission it left pending."""
    before = await client.app[PORTAL].store.submission_ids()
    response = await send(client, path, fields, files)
    assert response.status == 200
    [submission_id] = await client.app[PORTAL].store.submission_ids() - before
    return submission_id


async def get_json(client, path, key):
    response = await client.get(path, headers=bearer(key))
    return response.status, await response.json()


async def records_soon(app, timeout: float = 10.0) -> list:
    """Wait until the built-in receiver has made at least one record."""
    deadline = time.monotonic() + timeout
    while not (found := await app[BACKOFFICE].store.records(None)):
        assert time.monotonic() < deadline, "no record was made in time"
        await asyncio.sleep(0.02)
    return found


async def left_pending(app, wanted: set[str], timeout: float = 10.0) -> None:
    """Wait until exactly these submissions are left pending in the portal."""
    deadline = time.monotonic() + timeout
    while (pending := await app[PORTAL].store.submission_ids()) != wanted:
        assert time.monotonic() < deadline, pending
        await asyncio.sleep(0.02)


def opened_values(envelope: dict, key_path) -> dict:
    """Open a fetched envelope's values as MODWORK would."""
    data_key = crypto.open_data_key(
        base64.b64decode(envelope["sealed_key"]),
        crypto.load_private_key(key_path),
        envelope["tenant"],
        envelope["id"],
    )
    blob = base64.b64decode(envelope["sealed_values"])
    plain = crypto.decrypt_values(data_key, envelope["tenant"], envelope["id"], blob)
    return json.loads(plain)


# Taking submissions.


async def test_pending_list_names_id_form_version_and_time(api):
    key = await new_key(api)
    submission_id = await sent(api)
    [pending] = await api.app[QUEUE].take(modwork_receiver("musterstadt"), 10)
    status, body = await get_json(api, "/api/v1/submissions", key)
    assert status == 200
    assert body == {
        "submissions": [
            {
                "id": submission_id,
                "form": {"slug": "sepa-mandat", "version": 1},
                "received_at": pending.received_at,
            }
        ],
        "more": False,
    }


async def test_limit_pages_the_oldest_first_and_says_more_wait(api):
    key = await new_key(api)
    first = await sent(api)
    await sent(api)
    status, body = await get_json(api, "/api/v1/submissions?limit=1", key)
    assert status == 200
    assert [s["id"] for s in body["submissions"]] == [first]
    assert body["more"] is True


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1", "1.5", "²"])
async def test_wrong_limit_is_a_problem_naming_the_parameter(api, limit):
    key = await new_key(api)
    response = await api.get(f"/api/v1/submissions?limit={limit}", headers=bearer(key))
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["errors"] == [
        {"field": "limit", "message": "Geben Sie eine ganze Zahl von 1 bis 500 an."}
    ]


async def test_fetched_values_open_with_modwork_key(api, modwork_key_path):
    key = await new_key(api)
    submission_id = await sent(api)
    status, envelope = await get_json(api, f"/api/v1/submissions/{submission_id}", key)
    assert status == 200
    payload = opened_values(envelope, modwork_key_path)
    assert payload["submission_id"] == submission_id
    assert payload["values"]["BANK_IBAN"] == "DE02120300000000202051"
    assert envelope["receipt"] == payload["receipt"]


async def test_unacknowledged_submission_is_fetched_again_unchanged(api):
    key = await new_key(api)
    submission_id = await sent(api)
    path = f"/api/v1/submissions/{submission_id}"
    first = await get_json(api, path, key)
    again = await get_json(api, path, key)
    assert first == again
    assert first[0] == 200


async def test_sealed_file_streams_as_stored_and_opens(api, modwork_key_path):
    key = await new_key(api)
    photo = {"ZAEHLER_FOTO": ("z.jpg", jpeg_photo())}
    submission_id = await sent(api, METER, GOOD_METER, photo)
    _, envelope = await get_json(api, f"/api/v1/submissions/{submission_id}", key)
    [ref] = envelope["files"]
    response = await api.get(ref["href"], headers=bearer(key))
    sealed = await response.read()
    assert response.content_type == "application/octet-stream"
    assert sealed == api.app[QUEUE].file_path(submission_id, ref["id"]).read_bytes()
    assert (ref["field"], ref["sealed_size"]) == ("ZAEHLER_FOTO", len(sealed))


async def test_acknowledged_submission_is_deleted_with_its_files(api):
    key = await new_key(api)
    photo = {"ZAEHLER_FOTO": ("z.jpg", jpeg_photo())}
    submission_id = await sent(api, METER, GOOD_METER, photo)
    path = f"/api/v1/submissions/{submission_id}/ack"
    response = await api.post(path, headers=bearer(key))
    assert (response.status, await response.json()) == (
        200,
        {"id": submission_id, "acknowledged": True},
    )
    assert await api.app[PORTAL].store.submission_ids() == set()
    assert not api.app[QUEUE].folder(submission_id).exists()


async def test_second_acknowledgement_answers_as_the_first(api):
    key = await new_key(api)
    submission_id = await sent(api)
    path = f"/api/v1/submissions/{submission_id}/ack"
    first = await api.post(path, headers=bearer(key))
    second = await api.post(path, headers=bearer(key))
    assert (first.status, await first.json()) == (second.status, await second.json())
    assert second.status == 200


async def test_acknowledged_submission_is_gone_from_list_and_fetch(api):
    key = await new_key(api)
    submission_id = await sent(api)
    await api.post(f"/api/v1/submissions/{submission_id}/ack", headers=bearer(key))
    status, body = await get_json(api, f"/api/v1/submissions/{submission_id}", key)
    assert status == 404
    assert (await get_json(api, "/api/v1/submissions", key))[1]["submissions"] == []


# Keys: wrong, revoked, another tenant's, without the scope.


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (None, 'Bearer realm="modportal"'),
        ("Bearer mpk_not-a-key", 'Bearer realm="modportal", error="invalid_token"'),
        (
            "Basic bW9kd29yazpzZWNyZXQ=",
            'Bearer realm="modportal", error="invalid_token"',
        ),
        ("Bearer", 'Bearer realm="modportal", error="invalid_token"'),
    ],
)
async def test_missing_or_wrong_key_is_401_with_a_challenge(api, header, challenge):
    await sent(api)
    headers = {"Authorization": header} if header else {}
    response = await api.get("/api/v1/submissions", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == challenge
    assert (await response.json())["errors"] == []


async def test_revoked_key_is_refused_at_once(api):
    key = await new_key(api)
    submission_id = await sent(api)
    await api.app[API_KEYS].revoke("musterstadt", "modwork", "2026-01-01T00:00:00")
    response = await api.get(
        f"/api/v1/submissions/{submission_id}", headers=bearer(key)
    )
    assert response.status == 401
    assert submission_id not in await response.text()


async def test_other_tenants_key_sees_nothing_of_musterstadt(api):
    key = await new_key(api, tenant="nordstadt")
    submission_id = await sent(api)
    listing = await get_json(api, "/api/v1/submissions", key)
    one = await get_json(api, f"/api/v1/submissions/{submission_id}", key)
    assert listing == (200, {"submissions": [], "more": False})
    assert one[0] == 404
    assert submission_id not in json.dumps(one[1])


async def test_other_tenants_acknowledgement_deletes_nothing(api):
    key = await new_key(api, tenant="nordstadt")
    submission_id = await sent(api)
    path = f"/api/v1/submissions/{submission_id}/ack"
    response = await api.post(path, headers=bearer(key))
    assert response.status == 200
    assert await api.app[PORTAL].store.submission_ids() == {submission_id}


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/v1/submissions", "submissions:read"),
        ("GET", "/api/v1/submissions/{id}", "submissions:read"),
        ("POST", "/api/v1/submissions/{id}/ack", "submissions:ack"),
        ("POST", "/api/v1/forms", "forms:write"),
    ],
)
async def test_key_without_the_scope_is_403(api, method, path, scope):
    others = [s for s in ALL_SCOPES if s != scope]
    key = await new_key(api, scopes=others)
    submission_id = await sent(api)
    url = path.format(id=submission_id)
    response = await api.request(method, url, headers=bearer(key))
    assert response.status == 403
    assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]
    assert await api.app[PORTAL].store.submission_ids() == {submission_id}


# Receivers: sealing for MODWORK, switching.


async def test_modwork_tenant_submission_is_sealed_for_modwork_alone(api):
    submission_id = await sent(api)
    [pending] = await api.app[QUEUE].take(modwork_receiver("musterstadt"), 10)
    assert pending.id == submission_id
    assert await api.app[BACKOFFICE].store.records(None) == []


async def test_switching_back_leaves_pending_with_modwork(
    aiohttp_client, data_dir, modwork_key_path
):
    first = await aiohttp_client(create_app(modwork_config(data_dir, modwork_key_path)))
    submission_id = await sent(first)
    await first.close()
    builtin = await aiohttp_client(create_app(load_config(None, data=str(data_dir))))
    await sent(builtin)
    [record] = await records_soon(builtin.app)
    assert record["submission_id"] != submission_id
    # The record is committed a moment before the portal forgets its send.
    await left_pending(builtin.app, {submission_id})


async def test_new_modwork_key_seals_what_comes_after_and_keeps_what_was(
    api, tmp_path, modwork_key_path
):
    key = await new_key(api)
    before = await sent(api)
    new_path = tmp_path / "new.key"
    # The command as run with a config that leaves the key to the command.
    command_config = load_config(None, data=str(api.app[CONFIG].data))
    set_modwork_key(command_config, "musterstadt", new_receiver_key(new_path))
    after = await sent(api)
    _, old_envelope = await get_json(api, f"/api/v1/submissions/{before}", key)
    _, new_envelope = await get_json(api, f"/api/v1/submissions/{after}", key)
    assert opened_values(old_envelope, modwork_key_path)["submission_id"] == before
    assert opened_values(new_envelope, new_path)["submission_id"] == after
    with pytest.raises(crypto.CryptoError):
        opened_values(new_envelope, modwork_key_path)


def test_set_modwork_key_refuses_a_tenant_whose_key_the_config_names(api, tmp_path):
    public = new_receiver_key(tmp_path / "other.key")
    with pytest.raises(CommandError, match="tenants.musterstadt.modwork_key"):
        set_modwork_key(api.app[CONFIG], "musterstadt", public)


@pytest.mark.parametrize("key", ["00" * 32, "01" + "00" * 31])
async def test_a_key_nothing_can_be_sealed_to_stops_the_start(data_dir, key):
    tenants = {"musterstadt": {"receiver": "modwork", "modwork_key": key}}
    config = load_config(None, data=str(data_dir), tenants=tenants)
    server = TestServer(create_app(config))
    with pytest.raises(ConfigError, match="nothing can be sealed"):
        await server.start_server()
    await server.close()


async def test_modwork_tenant_without_a_key_stops_the_start(data_dir):
    tenants = {"musterstadt": {"receiver": "modwork"}}
    server = TestServer(
        create_app(load_config(None, data=str(data_dir), tenants=tenants))
    )
    with pytest.raises(ConfigError, match="set 'tenants.musterstadt.modwork_key'"):
        await server.start_server()
    await server.close()


@pytest.mark.parametrize(
    ("tenants", "message"),
    [
        ({"gibtsnicht": {}}, "unknown tenant 'gibtsnicht'"),
    ],
)
def test_config_naming_an_unknown_tenant_is_refused(data_dir, tenants, message):
    config = load_config(None, data=str(data_dir), tenants=tenants)
    with pytest.raises(ConfigError, match=message):
        create_app(config)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"receiver": "ftp"}, "must be builtin or modwork"),
        ({"modwork_key": "abcd"}, "must be 64 hex digits"),
        ({"modwork_key": "zz" * 32}, "must be 64 hex digits"),
        ({"webhook": {"url": "https://m.example/h"}}, "go together"),
        ({"webhook": {"url": "ftp://x", "secret_file": "s"}}, "http\\(s\\) address"),
        ({"colour": "blue"}, "unknown setting 'tenants.musterstadt.colour'"),
    ],
)
def test_wrong_tenant_setting_is_refused_naming_it(data_dir, entry, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, data=str(data_dir), tenants={"musterstadt": entry})


# Pushing form definitions.


def demo_definition(**changes) -> dict:
    """Return the demo meter reading form as a dict, with some keys changed."""
    with open(DEMO, encoding="utf-8") as file:
        return {**yaml.safe_load(file), **changes}


async def test_pushed_json_definition_becomes_the_next_live_version(api):
    key = await new_key(api)
    definition = demo_definition(title="Zählerstand jetzt melden")
    response = await api.post("/api/v1/forms", json=definition, headers=bearer(key))
    assert response.status == 201
    assert await response.json() == {
        "tenant": "musterstadt",
        "slug": "zaehlerstand",
        "version": 2,
    }
    live = await api.app[PORTAL].live_form("musterstadt", "zaehlerstand")
    assert (live.version, live.title) == (2, "Zählerstand jetzt melden")


async def test_pushed_yaml_definition_is_published_too(api):
    key = await new_key(api)
    with open(DEMO, encoding="utf-8") as file:
        text = file.read()
    headers = {**bearer(key), "Content-Type": "application/yaml"}
    response = await api.post("/api/v1/forms", data=text.encode(), headers=headers)
    assert response.status == 201
    assert (await response.json())["version"] == 2


async def test_definition_of_another_tenant_is_refused_at_tenant(api):
    key = await new_key(api)
    definition = demo_definition(tenant="nordstadt")
    response = await api.post("/api/v1/forms", json=definition, headers=bearer(key))
    assert response.status == 422
    [error] = (await response.json())["errors"]
    assert error["field"] == "tenant"
    assert await api.app[PORTAL].live_form("nordstadt", "zaehlerstand") is None


async def test_wrong_definition_names_the_line_and_reason(api):
    key = await new_key(api)
    text = (
        "tenant: musterstadt\nslug: x-form\ntitle: T\nrecord_type: NOPE\nsections: []\n"
    )
    headers = {**bearer(key), "Content-Type": "application/yaml"}
    response = await api.post("/api/v1/forms", data=text.encode(), headers=headers)
    assert response.status == 422
    assert (await response.json())["errors"] == [
        {
            "field": "body",
            "message": "record type NOPE is not in the catalog",
            "line": 4,
        },
        {"field": "body", "message": "sections must not be empty", "line": 5},
    ]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"tenant: musterstadt", 415),
        ("application/json", b"[1, 2]", 422),
        ("application/json", b"{not json", 422),
        ("application/yaml", b"\xff\xfe", 422),
    ],
)
async def test_unusable_definition_body_is_refused(api, content_type, body, status):
    key = await new_key(api)
    headers = {**bearer(key), "Content-Type": content_type}
    response = await api.post("/api/v1/forms", data=body, headers=headers)
    assert response.status == status
    assert response.content_type == "application/problem+json"


# The document.


async def test_served_openapi_document_is_the_one_in_the_repository(api):
    response = await api.get("/api/v1/openapi.json")
    with open("app/api/openapi.json", "rb") as file:
        assert await response.read() == file.read()
    assert (await response.json())["openapi"] == "3.1.0"


async def test_every_api_route_is_in_the_document_and_back(api):
    document = json.loads(await (await api.get("/api/v1/openapi.json")).read())
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (route.method, route.resource.canonical)
        for route in api.app.router.routes()
        if route.resource.canonical.startswith("/api/") and route.method != "HEAD"
    }
    assert served == documented


async def test_a_key_of_undecodable_bytes_is_401_not_500(api):
    reader, writer = await asyncio.open_connection("127.0.0.1", api.server.port)
    writer.write(
        b"GET /api/v1/submissions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer mpk_\xc3\xa4\xff\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"401"


async def test_a_limit_of_thousands_of_digits_is_422(api):
    key = await new_key(api)
    response = await api.get(
        "/api/v1/submissions", params={"limit": "9" * 5000}, headers=bearer(key)
    )
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "limit"


async def test_deeply_nested_json_definition_is_422(api):
    key = await new_key(api)
    response = await api.post(
        "/api/v1/forms",
        data="[" * 200_000 + "]" * 200_000,
        headers={**bearer(key), "Content-Type": "application/json"},
    )
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "body"
