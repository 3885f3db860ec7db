"""A refused API body names every wrong member, within a bounded answer."""

import pytest

from app.web import MAX_PROBLEMS
from tests import api_support
from tests.api_support import bearer, new_key

api = api_support.api
modwork_key_path = api_support.modwork_key_path


async def wrong_fields(api, path: str, body: dict) -> list[str]:
    key = await new_key(api)
    response = await api.post(path, json=body, headers=bearer(key))
    assert response.status == 422
    return [error["field"] for error in (await response.json())["errors"]]


@pytest.mark.parametrize(
    ("path", "body", "wrong"),
    [
        (
            "/api/v1/links",
            {"form": 5, "email": "nope", "values": "x"},
            ["form", "email", "values"],
        ),
        (
            "/api/v1/queries",
            {"form": "keins", "email": "nope", "marked": 3},
            ["form", "email", "record_ref", "message", "marked"],
        ),
        (
            "/api/v1/orders",
            {"form": "sepa-mandat", "provider": "Niemand", "window": 1},
            ["form", "provider", "record_ref", "window"],
        ),
    ],
)
async def test_every_independent_wrong_member_is_named(api, path, body, wrong):
    assert sorted(await wrong_fields(api, path, body)) == sorted(wrong)


async def test_a_flood_of_wrong_members_is_capped_with_a_count(api):
    values = {f"UNBEKANNT_{n}": "x" for n in range(MAX_PROBLEMS + 10)}
    body = {"form": "sepa-mandat", "email": "erika@beispiel.de", "values": values}
    key = await new_key(api)
    response = await api.post("/api/v1/links", json=body, headers=bearer(key))
    errors = (await response.json())["errors"]
    assert len(errors) == MAX_PROBLEMS + 1
    assert errors[-1] == {"field": "body", "message": "… und 10 weitere Fehler."}


async def test_every_wrong_top_level_member_of_a_definition_is_named(api):
    body = {
        "tenant": "musterstadt",
        "slug": "X!",
        "title": "",
        "record_type": [],
        "sections": "a",
    }
    key = await new_key(api)
    response = await api.post("/api/v1/forms", json=body, headers=bearer(key))
    assert response.status == 422
    messages = [error["message"] for error in (await response.json())["errors"]]
    assert len(messages) == 4, messages
    for member in ("slug", "title", "record_type", "sections"):
        assert any(member in message for message in messages), (member, messages)
