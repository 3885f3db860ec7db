"""The reference client against the real app: written durably, then acknowledged."""

import asyncio
import fcntl
import json
import os

import aiohttp
import pytest

from app import crypto
from app.api.client import PullBusy, Puller, Vanished, pull
from app.keys import PORTAL
from tests import api_support
from tests.api_support import bearer, new_key
from tests.conftest import send
from tests.images import png_photo
from tests.test_submission import GOOD_SEPA

# The fixtures shared by the API's tests.
api = api_support.api
modwork_key_path = api_support.modwork_key_path

SEPA = "/musterstadt/sepa-mandat"


async def pending_ids(client) -> set[str]:
    return await client.app[PORTAL].store.submission_ids()


async def test_lost_acknowledgement_is_made_up_without_writing_again(
    api, tmp_path, modwork_key_path
):
    await send(api, SEPA, GOOD_SEPA)
    url = str(api.make_url("")).rstrip("/")
    read_only = await new_key(api, scopes=["submissions:read"], name="read")
    first = await pull(url, read_only, modwork_key_path, tmp_path / "out")
    [folder] = (tmp_path / "out").iterdir()
    (folder / "submission.json").write_text('{"kept": true}')
    second = await pull(url, await new_key(api), modwork_key_path, tmp_path / "out")
    assert (len(first.failed), second.taken) == (1, first.failed)
    assert json.loads((folder / "submission.json").read_text()) == {"kept": True}
    assert await pending_ids(api) == set()


async def test_half_written_folder_of_a_crash_is_written_anew(
    api, tmp_path, modwork_key_path
):
    await send(api, SEPA, GOOD_SEPA)
    [submission_id] = await pending_ids(api)
    staging = tmp_path / "out" / f".{submission_id}.partial"
    staging.mkdir(parents=True)
    (staging / "submission.json").write_text("{")
    url = str(api.make_url("")).rstrip("/")
    result = await pull(url, await new_key(api), modwork_key_path, tmp_path / "out")
    record = json.loads(
        (tmp_path / "out" / submission_id / "submission.json").read_text()
    )
    assert (result.taken, record["values"]["KUNDE_PLZ"]) == ([submission_id], "01067")
    assert not staging.exists()


async def test_every_waiting_submission_is_taken_in_one_run(
    api, tmp_path, modwork_key_path
):
    for _ in range(3):
        await send(api, SEPA, GOOD_SEPA)
    waiting = await pending_ids(api)
    url = str(api.make_url("")).rstrip("/")
    result = await pull(url, await new_key(api), modwork_key_path, tmp_path / "out")
    assert set(result.taken) == waiting
    assert {p.name for p in (tmp_path / "out").iterdir()} == waiting


async def test_a_second_pull_on_the_same_folder_is_refused(tmp_path):
    key_path = tmp_path / "receiver.key"
    crypto.write_private_key(key_path, crypto.generate_private_key())
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        with pytest.raises(PullBusy, match="another pull"):
            await pull("http://127.0.0.1:9", "mpk_x", key_path, out)
    finally:
        os.close(held)
    assert list(out.iterdir()) == []


async def test_repeated_groups_are_written_as_lists_with_files_per_item(
    api, tmp_path, modwork_key_path
):
    fields = {
        "KUNDE_NR": "100234",
        "ZAEHLER_ABLESEDATUM": "2026-12-01",
        "items.2": "2",
        "ZAEHLER_NR.1": "M1",
        "ZAEHLER_STAND.1": "1",
        "ZAEHLER_NR.2": "M2",
        "ZAEHLER_STAND.2": "2",
    }
    photo = {"ZAEHLER_FOTO.2": ("zwei.png", png_photo())}
    assert (await send(api, "/musterstadt/zaehlerstaende", fields, photo)).status == 200
    url = str(api.make_url("")).rstrip("/")
    await pull(url, await new_key(api), modwork_key_path, tmp_path / "out")
    [folder] = (tmp_path / "out").iterdir()
    record = json.loads((folder / "submission.json").read_text())
    [file] = record["files"]
    assert record["values"]["ZAEHLER_NR"] == ["M1", "M2"]
    assert record["values"]["ZAEHLER_STAND"] == ["1", "2"]
    assert record["values"]["ZAEHLER_FOTO"] == [None, "ZAEHLER_FOTO.png"]
    assert (file["file"], file["field"], file["index"], file["filename"]) == (
        "ZAEHLER_FOTO.png",
        "ZAEHLER_FOTO",
        1,
        "zwei.png",
    )
    assert (folder / file["file"]).read_bytes()[:4] == b"\x89PNG"


METERS = {
    "KUNDE_NR": "100234",
    "ZAEHLER_ABLESEDATUM": "2026-12-01",
    "items.1": "1",
    "ZAEHLER_NR.1": "M1",
    "ZAEHLER_STAND.1": "1",
}


async def send_meters(api, count: int) -> set[str]:
    photo = {"ZAEHLER_FOTO.1": ("eins.png", png_photo())}
    for _ in range(count):
        assert (await send(api, "/musterstadt/zaehlerstaende", METERS, photo)).status
    return await pending_ids(api)


def puller(api, session, key_path, out) -> Puller:
    out.mkdir()
    url = str(api.make_url("")).rstrip("/")
    return Puller(session, url, crypto.load_private_key(key_path), out)


async def test_a_submission_taken_by_another_client_is_reported_gone(
    api, tmp_path, modwork_key_path
):
    [submission_id] = await send_meters(api, 1)
    key = await new_key(api)
    async with aiohttp.ClientSession(headers=bearer(key)) as session:
        late = puller(api, session, modwork_key_path, tmp_path / "late")
        envelope = await late._json("GET", f"/api/v1/submissions/{submission_id}")
        url = str(api.make_url("")).rstrip("/")
        first = await pull(url, key, modwork_key_path, tmp_path / "first")
        with pytest.raises(Vanished):
            await late._write(envelope, late.out / submission_id)
        with pytest.raises(Vanished):
            await late.take(submission_id)
    assert first.taken == [submission_id]
    assert list(late.out.iterdir()) == []


async def test_two_pulls_at_once_take_everything_once_and_leave_no_partials(
    api, tmp_path, modwork_key_path
):
    waiting = await send_meters(api, 6)
    url = str(api.make_url("")).rstrip("/")
    outs = [tmp_path / "a", tmp_path / "b"]
    keys = [await new_key(api, name="a"), await new_key(api, name="b")]
    results = await asyncio.gather(
        *(
            pull(url, k, modwork_key_path, out)
            for k, out in zip(keys, outs, strict=True)
        )
    )
    assert [r.failed for r in results] == [[], []]
    assert set(results[0].taken) | set(results[1].taken) == waiting
    for result, out in zip(results, outs, strict=True):
        assert {p.name for p in out.iterdir()} == set(result.taken)
        assert set(result.gone) <= waiting - set(result.taken)
    assert await pending_ids(api) == set()
