"""schemathesis holds every API handler to the OpenAPI document.

aiohttp is neither ASGI nor WSGI, so the cases go over HTTP to the real
server running on 127.0.0.1: no answer may be a 5xx, and every answer must
match the status, headers, content type and schema the document promises.
The document is read from the repository when the tests are collected; the
server serves that very file (test_api.py checks it byte for byte).
"""

import asyncio
import json
import secrets
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import crypto
from app.api.auth import KEY_PREFIX
from app.crypto import token_hash
from app.storage.api import ApiKeyStore
from app.storage.db import open_database
from app.storage.schema import PORTAL
from tests.api_support import live_send, write_config
from tests.conftest import Server
from tests.test_submission import GOOD_SEPA

# Limitation: schemathesis 4.32.5 loads a schema from a fixture only through
# pytest internals that pytest 9 no longer has (Node._nodeid), so the
# document is loaded from the repository at collection instead of over HTTP.
with open("app/api/openapi.json", encoding="utf-8") as document:
    schema = schemathesis.openapi.from_dict(json.load(document))
# schemathesis lays the key on its cases when it collects them, before any
# server runs, so the key is made here and its hash stored at the start.
KEY = KEY_PREFIX + secrets.token_urlsafe(32)
SCOPES = ["submissions:read", "submissions:ack", "forms:write", "links:write"]
# A definition or a link can be valid by the document's schema and still name
# forms or fields the tenant lacks; the document cannot say which, so a 422
# there is right.
JUDGED_BY_THE_CATALOG = {
    ("POST", path): [positive_data_acceptance]
    for path in ("/api/v1/forms", "/api/v1/links", "/api/v1/queries", "/api/v1/orders")
}


@schema.auth()
class ApiKeyAuth:
    """Give each case the test's key, except where schemathesis drops it."""

    def get(self, case, context):
        return KEY

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


async def store_key(data: Path) -> None:
    """Store the key's hash where the server will look for it."""
    db = await open_database(data / "portal" / "portal.db", PORTAL)
    try:
        await ApiKeyStore(db).add("musterstadt", "schema", SCOPES, token_hash(KEY), "")
    finally:
        await db.close()


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema")
    key_path = folder / "modwork.key"
    crypto.write_private_key(key_path, crypto.generate_private_key())
    asyncio.run(store_key(folder / "data"))
    config = write_config(folder, key_path)
    running = Server(folder / "data", args=["--config", str(config)]).start()
    # Something waits, so that the listing has an entry to describe.
    asyncio.run(live_send(running.url, "/musterstadt/sepa-mandat", GOOD_SEPA))
    yield running
    running.stop()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_matches_the_document(case, live_api):
    excluded = JUDGED_BY_THE_CATALOG.get((case.method, case.path), [])
    case.call_and_validate(base_url=live_api.url, excluded_checks=excluded)
