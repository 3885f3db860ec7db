"""The webhook to MODWORK: signed, retried while its receiver is down."""

import asyncio
import hashlib
import hmac
import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.application import create_app
from app.config import ConfigError
from app.keys import LINK_OFFICE, PORTAL, SCHEDULER
from app.storage.api import LinkWebhookProgress
from tests import api_support
from tests.api_support import bearer, modwork_config, new_key, owner_only_file
from tests.conftest import free_port, send
from tests.linkhelp import wait_for_state
from tests.test_api import demo_definition
from tests.test_api_links import LINK
from tests.test_link_versions import send_link_command
from tests.test_submission import GOOD_SEPA

# The fixtures shared by the API's tests.
modwork_key_path = api_support.modwork_key_path

SECRET = "ein-geheimnis-nur-fuer-den-test-0123"
SEPA = "/musterstadt/sepa-mandat"


class Receiver:
    """The test's own webhook receiver on loopback, checking each signature."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.deliveries: list[dict] = []
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp, _, digest = request.headers["X-Modportal-Signature"].partition(",v1=")
        signed = stamp.removeprefix("t=").encode() + b"." + body
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        self.deliveries.append(
            {
                "valid": hmac.compare_digest(expected, digest),
                "fresh": abs(time.time() - int(stamp.removeprefix("t="))) < 300,
                "delivery": request.headers["X-Modportal-Delivery"],
                "body": json.loads(body),
            }
        )
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def hooked_app(aiohttp_client, tmp_path, data_dir, key_path, port, **policy):
    """Start the real app with musterstadt's webhook aimed at the test's port."""
    secret = owner_only_file(tmp_path / "webhook.secret", SECRET + "\n")
    webhook = {"url": f"http://127.0.0.1:{port}/hook", "secret_file": str(secret)}
    config = modwork_config(
        data_dir,
        key_path,
        webhook=webhook,
        webhooks={"first_retry_seconds": 1, "max_retry_seconds": 2, **policy},
    )
    return await aiohttp_client(create_app(config))


async def until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


async def test_webhook_is_retried_while_receiver_is_down_then_signed(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    receiver = Receiver(free_port())
    client = await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port
    )
    await send(client, SEPA, GOOD_SEPA)
    await until(lambda: "failed; retrying in 1s" in caplog.text)
    assert client.app[SCHEDULER].due_at("webhook:musterstadt") is not None
    await receiver.start()
    await until(lambda: receiver.deliveries)
    await receiver.stop()
    [delivery] = receiver.deliveries
    body = delivery["body"]
    assert (delivery["valid"], delivery["fresh"]) == (True, True)
    assert (body["type"], body["tenant"]) == ("submissions.pending", "musterstadt")
    assert (body["delivery"], body["attempt"] >= 2) == (delivery["delivery"], True)
    assert set(body) == {"type", "tenant", "delivery", "attempt", "sent_at"}


async def test_missed_webhook_leaves_the_submission_to_be_taken(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    client = await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, free_port(), attempts=1
    )
    key = await new_key(client)
    await send(client, SEPA, GOOD_SEPA)
    await until(lambda: "Gave up webhook" in caplog.text)
    response = await client.get("/api/v1/submissions", headers=bearer(key))
    assert len((await response.json())["submissions"]) == 1


async def test_webhook_is_sent_at_start_for_what_already_waits(
    aiohttp_client, tmp_path, data_dir, modwork_key_path
):
    first = await aiohttp_client(create_app(modwork_config(data_dir, modwork_key_path)))
    await send(first, SEPA, GOOD_SEPA)
    await first.close()
    receiver = Receiver(free_port())
    await receiver.start()
    await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port
    )
    await until(lambda: receiver.deliveries)
    await receiver.stop()
    assert [d["body"]["attempt"] for d in receiver.deliveries] == [1]


async def test_no_webhook_when_nothing_waits(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    receiver = Receiver(free_port())
    await receiver.start()
    client = await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port
    )
    await client.get("/healthz")
    await asyncio.sleep(0.5)
    await receiver.stop()
    assert receiver.deliveries == []


async def test_secret_file_others_may_read_stops_the_start(
    tmp_path, data_dir, modwork_key_path
):
    secret = owner_only_file(tmp_path / "webhook.secret", SECRET)
    secret.chmod(0o644)
    webhook = {"url": "http://127.0.0.1:9/hook", "secret_file": str(secret)}
    server = TestServer(create_app(modwork_config(data_dir, modwork_key_path, webhook)))
    with pytest.raises(ConfigError, match="must be readable by its owner only"):
        await server.start_server()
    await server.close()


async def test_link_states_are_told_in_order_signed_after_the_receiver_was_down(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    receiver = Receiver(free_port())
    client = await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port
    )
    key = await new_key(client)
    response = await client.post("/api/v1/links", json=LINK, headers=bearer(key))
    link_id = (await response.json())["id"]
    await until(lambda: "Link state webhook" in caplog.text)
    await receiver.start()
    await until(lambda: len(receiver.deliveries) >= 2)
    await receiver.stop()
    first, second = receiver.deliveries[:2]
    assert all(d["valid"] and d["fresh"] for d in (first, second))
    assert [d["body"]["link"]["state"] for d in (first, second)] == ["created", "sent"]
    assert {d["body"]["link"]["id"] for d in (first, second)} == {link_id}
    assert (first["body"]["type"], first["body"]["attempt"] >= 2) == (
        "link.state",
        True,
    )
    assert first["body"]["delivery"] == first["delivery"] != second["delivery"]
    assert set(first["body"]) == {
        "type",
        "tenant",
        "delivery",
        "attempt",
        "sent_at",
        "link",
    }


async def test_link_states_of_another_tenant_are_not_told(
    aiohttp_client, tmp_path, data_dir, modwork_key_path
):
    receiver = Receiver(free_port())
    await receiver.start()
    client = await hooked_app(
        aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port
    )
    other = await new_key(client, tenant="nordstadt", name="other")
    ours = await new_key(client)
    nordstadts = demo_definition(tenant="nordstadt")
    pushed = await client.post("/api/v1/forms", json=nordstadts, headers=bearer(other))
    assert pushed.status == 201
    body = {**LINK, "form": "zaehlerstand", "values": {}}
    response = await client.post("/api/v1/links", json=body, headers=bearer(other))
    assert response.status == 201
    response = await client.post("/api/v1/links", json=LINK, headers=bearer(ours))
    link_id = (await response.json())["id"]
    await until(lambda: len(receiver.deliveries) >= 2)
    await receiver.stop()
    assert {d["body"]["link"]["id"] for d in receiver.deliveries} == {link_id}
    assert {d["body"]["tenant"] for d in receiver.deliveries} == {"musterstadt"}


async def told(client, receiver, count: int) -> list[tuple[str, str]]:
    """Wait until `count` link states were told and noted; return (id, state)."""
    progress = LinkWebhookProgress(client.app[PORTAL].store.db)
    last = client.app[LINK_OFFICE].store.last_history_row
    await until(lambda: len(receiver.deliveries) >= count)
    deadline = time.monotonic() + 15
    while await progress.delivered("musterstadt") != await last():
        assert time.monotonic() < deadline, "the progress was not noted in time"
        await asyncio.sleep(0.05)
    assert client.app[SCHEDULER].due_at("link-webhook:musterstadt") is None
    assert len({d["delivery"] for d in receiver.deliveries}) == count
    return [
        (d["body"]["link"]["id"], d["body"]["link"]["state"])
        for d in receiver.deliveries
    ]


async def api_link(client, key) -> str:
    response = await client.post("/api/v1/links", json=LINK, headers=bearer(key))
    assert response.status == 201
    link_id = (await response.json())["id"]
    await wait_for_state(client, link_id, "sent")
    return link_id


async def test_a_link_change_made_while_the_server_was_down_is_told_after_restart(
    aiohttp_client, tmp_path, data_dir, modwork_key_path
):
    receiver = Receiver(free_port())
    await receiver.start()
    args = (aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port)
    first = await hooked_app(*args)
    before = await api_link(first, await new_key(first))
    await told(first, receiver, 2)
    await first.close()
    values = tmp_path / "werte.yaml"
    values.write_text("KUNDE_ORT: Dresden\n", encoding="utf-8")
    assert (await send_link_command(data_dir, values))[0] == 0
    second = await hooked_app(*args)
    states = await told(second, receiver, 4)
    await receiver.stop()
    [during] = {link_id for link_id, _ in states} - {before}
    assert states == [
        (before, "created"),
        (before, "sent"),
        (during, "created"),
        (during, "sent"),
    ]


async def test_a_change_still_waiting_at_shutdown_is_told_after_restart(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    receiver = Receiver(free_port())
    args = (aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port)
    first = await hooked_app(*args)
    link_id = await api_link(first, await new_key(first))
    await until(lambda: "Link state webhook" in caplog.text)
    await first.close()
    await receiver.start()
    second = await hooked_app(*args)
    states = await told(second, receiver, 2)
    await receiver.stop()
    assert states == [(link_id, "created"), (link_id, "sent")]
    assert [d["body"]["attempt"] for d in receiver.deliveries] == [1, 1]


async def test_a_receiver_down_then_up_gets_every_change_in_order_once(
    aiohttp_client, tmp_path, data_dir, modwork_key_path, caplog
):
    receiver = Receiver(free_port())
    args = (aiohttp_client, tmp_path, data_dir, modwork_key_path, receiver.port)
    client = await hooked_app(*args)
    link_id = await api_link(client, key := await new_key(client))
    revoked = await client.post(f"/api/v1/links/{link_id}/revoke", headers=bearer(key))
    assert revoked.status == 200
    await until(lambda: "Link state webhook" in caplog.text)
    await receiver.start()
    states = await told(client, receiver, 3)
    await receiver.stop()
    assert states == [(link_id, "created"), (link_id, "sent"), (link_id, "revoked")]
    assert receiver.deliveries[0]["body"]["attempt"] >= 2
