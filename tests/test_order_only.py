"""An order form goes out only as an order, never as a customer's link."""

import pytest

from app.backoffice.links import ORDER_ONLY, LinkError, LinkRequest
from app.commands import send_link
from app.control import ControlError
from app.keys import LINK_OFFICE, OUTBOX
from tests import api_support
from tests.api_support import bearer, new_key
from tests.test_api_links import QUERY
from tests.test_orders import ORDER

api = api_support.api
modwork_key_path = api_support.modwork_key_path

AS_LINK = {"form": "zaehlerwechsel", "email": "erika@beispiel.de", "values": {}}
AS_QUERY = {**QUERY, "form": "zaehlerwechsel", "marked": ["ZAEHLER_NR"]}


@pytest.mark.parametrize(
    ("path", "body"), [("/api/v1/links", AS_LINK), ("/api/v1/queries", AS_QUERY)]
)
async def test_the_api_refuses_an_order_form_outside_orders(api, path, body):
    key = await new_key(api)
    response = await api.post(path, json=body, headers=bearer(key))
    assert response.status == 422
    errors = (await response.json())["errors"]
    assert {
        "field": "form",
        "message": "Ein Auftragsformular geht nur über /api/v1/orders.",
    } in errors
    assert await api.app[OUTBOX].store.waiting() == []


async def test_the_office_refuses_an_order_form_as_a_link(client):
    values = {k: v for k, v in ORDER.items() if not k.startswith("AUFTRAG_")}
    wanted = LinkRequest("musterstadt", "zaehlerwechsel", "erika@beispiel.de", values)
    with pytest.raises(LinkError, match=ORDER_ONLY):
        await client.app[LINK_OFFICE].create(wanted, "test")
    assert await client.app[OUTBOX].store.waiting() == []


async def test_send_link_refuses_an_order_form(client):
    args = {"tenant": "musterstadt", "slug": "zaehlerwechsel", "to": "e@beispiel.de"}
    with pytest.raises(ControlError, match=ORDER_ONLY):
        await send_link(client.app[LINK_OFFICE], args)
    assert await client.app[OUTBOX].store.waiting() == []
