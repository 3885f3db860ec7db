"""MODWORK's forms over the real app: versions, restoring, deleting."""

import json

import jsonschema_rs
import pytest

from app.api.auth import API_KEYS, revoke_key
from app.backoffice.forms import FORMS
from app.config import ROOT
from app.keys import PORTAL
from tests import api_support
from tests.api_support import bearer, new_key
from tests.test_api import demo_definition

api = api_support.api
modwork_key_path = api_support.modwork_key_path

FORM = "/api/v1/forms/zaehlerstand"
DEMO_FORMS = ROOT / "app" / "demo" / "forms"


async def pushed(api, key, **changes) -> int:
    """Push the demo meter form with some changes; return its new version."""
    definition = demo_definition(**changes)
    response = await api.post("/api/v1/forms", json=definition, headers=bearer(key))
    assert response.status == 201
    return (await response.json())["version"]


async def test_versions_list_newest_first_with_author_note_and_state(api):
    key = await new_key(api)
    await pushed(api, key, title="Neu")
    desk = api.app[FORMS]
    stored = await desk.store.versions(
        (await desk.form("musterstadt", "zaehlerstand")).id
    )
    response = await api.get(f"{FORM}/versions", headers=bearer(key))
    assert response.status == 200
    assert await response.json() == {
        "slug": "zaehlerstand",
        "state": "live",
        "versions": [
            {
                "version": v.version,
                "created_by": v.created_by,
                "created_at": v.created_at,
                "note": v.note,
                "state": state,
            }
            for v, state in zip(stored, ["live", "ended"], strict=True)
        ],
    }
    assert [v.created_by for v in stored] == ["api:modwork", "system"]


async def test_fetched_version_is_the_definition_that_pushes_back(api):
    key = await new_key(api)
    await pushed(api, key, title="Zweite Fassung")
    response = await api.get(f"{FORM}/versions/1", headers=bearer(key))
    assert response.status == 200
    first = await response.json()
    assert (first["tenant"], first["slug"]) == ("musterstadt", "zaehlerstand")
    assert first["title"] == demo_definition()["title"]
    assert first["publish_from"] and first["publish_until"]
    # Its schedule ended when version 2 began: pushed again, it is online now.
    del first["publish_until"]
    again = await api.post("/api/v1/forms", json=first, headers=bearer(key))
    assert (await again.json())["version"] == 3


async def test_restored_version_is_a_new_draft_with_its_content(api):
    key = await new_key(api)
    await pushed(api, key, title="Zweite Fassung")
    response = await api.post(f"{FORM}/versions/1/restore", headers=bearer(key))
    assert response.status == 201
    assert await response.json() == {
        "slug": "zaehlerstand",
        "version": 3,
        "restored_from": 1,
    }
    listed = await (await api.get(f"{FORM}/versions", headers=bearer(key))).json()
    assert listed["versions"][0]["state"] == "draft"
    assert listed["versions"][0]["note"] == "Wiederhergestellt aus Version 1"
    third = await (await api.get(f"{FORM}/versions/3", headers=bearer(key))).json()
    assert third["title"] == demo_definition()["title"]


async def test_deleted_form_is_offline_at_once_and_comes_back_offline(api):
    key = await new_key(api)
    response = await api.delete(FORM, headers=bearer(key))
    assert response.status == 200
    assert await response.json() == {"slug": "zaehlerstand", "state": "deleted"}
    assert await api.app[PORTAL].live_form("musterstadt", "zaehlerstand") is None

    response = await api.post(f"{FORM}/restore", headers=bearer(key))
    assert response.status == 200
    assert await response.json() == {"slug": "zaehlerstand", "state": "ended"}
    assert await api.app[PORTAL].live_form("musterstadt", "zaehlerstand") is None


async def test_a_deleted_form_cannot_have_a_version_restored(api):
    key = await new_key(api)
    await api.delete(FORM, headers=bearer(key))
    response = await api.post(f"{FORM}/versions/1/restore", headers=bearer(key))
    assert response.status == 409
    assert (await response.json())["detail"] == (
        "Ein gelöschtes Formular kann nicht bearbeitet werden."
    )


CALLS = [
    ("GET", f"{FORM}/versions"),
    ("GET", f"{FORM}/versions/1"),
    ("POST", f"{FORM}/versions/1/restore"),
    ("DELETE", FORM),
    ("POST", f"{FORM}/restore"),
]


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_form_calls_need_forms_write(api, method, path):
    key = await new_key(api, scopes=["submissions:read", "links:write"])
    response = await api.request(method, path, headers=bearer(key))
    assert response.status == 403
    assert "forms:write" in response.headers["WWW-Authenticate"]
    assert await api.app[PORTAL].live_form("musterstadt", "zaehlerstand") is not None


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_form_calls_of_another_tenant_answer_as_unknown(api, method, path):
    key = await new_key(api, tenant="nordstadt")
    response = await api.request(method, path, headers=bearer(key))
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert await api.app[PORTAL].live_form("musterstadt", "zaehlerstand") is not None


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_form_calls_with_a_revoked_key_are_401(api, method, path):
    key = await new_key(api)
    assert await revoke_key(api.app[API_KEYS], "musterstadt", "modwork")
    response = await api.request(method, path, headers=bearer(key))
    assert response.status == 401
    assert await api.app[PORTAL].live_form("musterstadt", "zaehlerstand") is not None


@pytest.mark.parametrize("version", ["0", "99", "x", "01"])
async def test_unknown_version_is_404(api, version):
    key = await new_key(api)
    response = await api.get(f"{FORM}/versions/{version}", headers=bearer(key))
    assert response.status == 404
    assert (await response.json())["detail"] == (
        "Diese Version des Formulars gibt es nicht."
    )


async def test_unknown_form_is_404(api):
    key = await new_key(api)
    response = await api.get(
        "/api/v1/forms/gibt-es-nicht/versions", headers=bearer(key)
    )
    assert response.status == 404
    assert (await response.json())["detail"] == "Dieses Formular gibt es nicht."


def document_schema(name: str):
    """Return a validator of one schema of the served OpenAPI document."""
    with open("app/api/openapi.json", encoding="utf-8") as document:
        components = json.load(document)["components"]
    ref = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema_rs.validator_for(ref)


@pytest.mark.parametrize("slug", sorted(p.stem for p in DEMO_FORMS.glob("*.yaml")))
async def test_every_demo_version_matches_the_documents_schema(api, slug):
    key = await new_key(api)
    response = await api.get(f"/api/v1/forms/{slug}/versions/1", headers=bearer(key))
    assert response.status == 200
    errors = document_schema("FormDefinition").iter_errors(await response.json())
    assert [error.message for error in errors] == []


@pytest.mark.parametrize(
    "definition", [{"sections": [], "steps": []}, {}], ids=["both", "neither"]
)
def test_a_definition_has_sections_or_steps_but_not_both(definition):
    base = {"tenant": "t", "slug": "ab", "title": "T", "record_type": "r"}
    assert not document_schema("FormDefinition").is_valid({**base, **definition})


async def test_pushing_a_deleted_forms_definition_is_409_until_restored(api):
    key = await new_key(api)
    await api.delete(FORM, headers=bearer(key))
    definition = demo_definition(title="Neu")
    response = await api.post("/api/v1/forms", json=definition, headers=bearer(key))
    assert response.status == 409
    assert "gelöschtes Formular" in (await response.json())["detail"]
    await api.post(f"{FORM}/restore", headers=bearer(key))
    assert await pushed(api, key, title="Neu") > 1


async def publish(api, key, version: int, body=None):
    path = f"{FORM}/versions/{version}/publish"
    return await api.post(path, json=body, headers=bearer(key))


async def version_states(api, key) -> dict[int, str]:
    response = await api.get(f"{FORM}/versions", headers=bearer(key))
    return {v["version"]: v["state"] for v in (await response.json())["versions"]}


async def restored_draft(api, key) -> int:
    await pushed(api, key, title="Neu")
    response = await api.post(f"{FORM}/versions/1/restore", headers=bearer(key))
    return (await response.json())["version"]


async def test_a_restored_draft_is_published_now(api):
    key = await new_key(api)
    draft = await restored_draft(api, key)
    response = await publish(api, key, draft)
    assert response.status == 200
    assert await response.json() == {
        "slug": "zaehlerstand",
        "version": draft,
        "state": "live",
    }
    assert (await version_states(api, key))[draft] == "live"


async def test_a_version_is_published_at_a_berlin_time(api):
    key = await new_key(api)
    draft = await restored_draft(api, key)
    body = {"publish_from": "2099-01-01T08:00", "publish_until": "2099-02-01"}
    assert (await publish(api, key, draft, body)).status == 200
    assert (await version_states(api, key))[draft] == "scheduled"
    desk = api.app[FORMS]
    form = await desk.form("musterstadt", "zaehlerstand")
    [planned] = [
        p for p in await desk.store.publications(form.id) if p.version == draft
    ]
    assert planned.start.isoformat() == "2099-01-01T07:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"publish_until": "2000-01-01T00:00"}, "body"),
        ({"publish_from": "morgen"}, "publish_from"),
        ([1], "body"),
    ],
)
async def test_a_wrong_publication_is_refused(api, body, field):
    key = await new_key(api)
    draft = await restored_draft(api, key)
    response = await publish(api, key, draft, body)
    assert response.status == 422
    assert [e["field"] for e in (await response.json())["errors"]] == [field]
    assert (await version_states(api, key))[draft] == "draft"


async def test_a_deleted_form_is_not_published(api):
    key = await new_key(api)
    draft = await restored_draft(api, key)
    await api.delete(FORM, headers=bearer(key))
    response = await publish(api, key, draft)
    assert response.status == 409
    assert (await version_states(api, key))[draft] == "deleted"
