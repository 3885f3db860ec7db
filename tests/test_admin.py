"""The back office: first clerk, login, sessions, records, status and downloads."""

import asyncio
import re
from http.cookies import SimpleCookie

import aiohttp
import pytest

from app import crypto
from app.application import create_app
from app.config import load_config
from app.keys import BACKOFFICE
from tests.conftest import (
    ADMIN_PASSWORD,
    add_clerk,
    csrf_token,
    log_in,
    open_form,
    receipt_number,
    run_py,
    send,
    wait_until_taken,
)
from tests.images import jpeg_photo, png_photo
from tests.test_submission import GOOD_METER, GOOD_SEPA

SEPA = "/musterstadt/sepa-mandat"
METER = "/musterstadt/zaehlerstand"
ROW = re.compile(
    r'href="/admin/records/(\d+)">([A-Z0-9-]+)</a>.*?class="status status--\w+">'
    r"([^<]+)<",
    re.DOTALL,
)
ALERT = re.compile(
    r'<div class="alert alert--error" role="alert">.*?<p>([^<]+)</p>', re.DOTALL
)
EXPIRED = "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu."


def listed(html: str) -> list[tuple[str, str]]:
    """Return the (receipt, status label) of every row of a records page."""
    return [(receipt, status) for _, receipt, status in ROW.findall(html)]


def alert(html: str) -> str:
    """Return the message of a page's error box."""
    match = ALERT.search(html)
    assert match, "the page shows no error box"
    return match.group(1)


async def setup_address(client) -> str:
    """Make the one-time setup address, as the server prints it at start."""
    return f"/admin/setup/{await client.app[BACKOFFICE].new_setup_token()}"


async def send_setup(client, address: str, name: str, password: str, repeat: str):
    """Open the setup page and send it."""
    token = await open_form(client, address)
    fields = {"csrf_token": token, "name": name, "password": password}
    return await client.post(
        address, data={**fields, "repeat": repeat}, allow_redirects=False
    )


def session_token(client) -> str:
    """Return the admin session cookie the client holds."""
    [cookie] = [c for c in client.session.cookie_jar if c.key == "mp_admin"]
    return cookie.value


async def page_token(client, path: str = "/admin/records") -> str:
    """Return the form token of a back office page of the logged-in clerk."""
    response = await client.get(path)
    assert response.status == 200
    return csrf_token(await response.text())


async def sent_receipt(client, path: str, fields: dict, files=None) -> str:
    """Send a form and return the receipt number it shows."""
    response = await send(client, path, fields, files)
    assert response.status == 200, await response.text()
    return receipt_number(await response.text())


@pytest.fixture
async def clerk(client):
    """The client, logged in as a clerk for every tenant."""
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    assert (await log_in(client, "erika", ADMIN_PASSWORD)).status == 303
    return client


@pytest.fixture
async def meter_record(client):
    """A meter reading taken as a record, with a photo under a hostile name."""
    photo = {"ZAEHLER_FOTO": ('../../etc/pass"wd<>.jpg', jpeg_photo())}
    receipt = await sent_receipt(client, METER, GOOD_METER, photo)
    await wait_until_taken(client.app)
    store = client.app[BACKOFFICE].store
    [record] = await store.records(None, receipt)
    [attachment] = await store.attachments(record["id"])
    return record, attachment


# The first clerk's setup address.


async def test_setup_address_creates_the_first_clerk_and_logs_it_in(client):
    address = await setup_address(client)
    response = await send_setup(
        client, address, "erika", ADMIN_PASSWORD, ADMIN_PASSWORD
    )
    assert response.status == 303
    assert response.headers["Location"] == "/admin/records"
    assert (await client.get("/admin/records", allow_redirects=False)).status == 200
    found = await client.app[BACKOFFICE].store.password_hash("erika")
    assert (found[0].name, found[0].tenants) == ("erika", None)


async def test_setup_address_works_only_once(client):
    address = await setup_address(client)
    token = await open_form(client, address)
    fields = {"csrf_token": token, "password": ADMIN_PASSWORD, "repeat": ADMIN_PASSWORD}
    first = await client.post(address, data={**fields, "name": "erika"})
    again = await client.post(address, data={**fields, "name": "mallory"})
    assert (first.status, again.status) == (200, 404)
    assert (await client.get(address)).status == 404
    assert await client.app[BACKOFFICE].store.clerk_count() == 1
    assert await client.app[BACKOFFICE].new_setup_token() is None


async def test_setup_address_works_once_under_concurrent_sends(client):
    address = await setup_address(client)
    token = await open_form(client, address)
    fields = {"csrf_token": token, "password": ADMIN_PASSWORD, "repeat": ADMIN_PASSWORD}
    sends = [
        client.post(
            address, data={**fields, "name": f"clerk{n}"}, allow_redirects=False
        )
        for n in range(4)
    ]
    statuses = sorted(answer.status for answer in await asyncio.gather(*sends))
    assert statuses == [303, 404, 404, 404]
    assert await client.app[BACKOFFICE].store.clerk_count() == 1


async def test_setup_address_stops_working_once_a_clerk_exists_another_way(
    client, config
):
    address = await setup_address(client)
    made = run_py(
        "add-clerk", "erika", "--data", str(config.data), stdin=ADMIN_PASSWORD
    )
    assert made.stdout == "Sachbearbeiter angelegt.\n"
    assert (await client.get(address)).status == 404


async def test_setup_address_cannot_take_over_a_clerk_made_another_way(client, config):
    address = await setup_address(client)
    token = await open_form(client, address)
    arguments = ["erika", "--tenant", "nordstadt", "--data", str(config.data)]
    run_py("add-clerk", *arguments, stdin=ADMIN_PASSWORD)
    fields = {"csrf_token": token, "name": "erika", "repeat": "neues-Passwort-123"}
    await client.post(address, data={**fields, "password": "neues-Passwort-123"})
    clerk, _ = await client.app[BACKOFFICE].store.password_hash("erika")
    assert clerk.tenants == ("nordstadt",)
    assert (await log_in(client, "erika", ADMIN_PASSWORD)).status == 303


async def test_setup_address_with_a_wrong_token_is_not_found(client):
    await setup_address(client)
    assert (await client.get("/admin/setup/erraten")).status == 404


@pytest.mark.parametrize(
    ("password", "repeat", "message"),
    [
        (
            "elf-Zeichen",
            "elf-Zeichen",
            "Das Passwort muss mindestens 12 Zeichen lang sein.",
        ),
        ("", "", "Das Passwort muss mindestens 12 Zeichen lang sein."),
        (
            ADMIN_PASSWORD,
            ADMIN_PASSWORD + "!",
            "Die beiden Passwörter stimmen nicht überein.",
        ),
    ],
)
async def test_setup_refuses_a_bad_password_in_german(
    client, password, repeat, message
):
    address = await setup_address(client)
    response = await send_setup(client, address, "erika", password, repeat)
    assert response.status == 422
    assert alert(await response.text()) == message
    assert await client.app[BACKOFFICE].store.clerk_count() == 0
    assert (await client.get(address)).status == 200


async def test_setup_address_is_printed_at_start_and_opens_the_setup_page(served):
    [line] = [x for x in served.output().splitlines() if "/admin/setup/" in x]
    address = line.strip()
    assert address.startswith(f"{served.url}/admin/setup/")
    async with aiohttp.ClientSession() as session, session.get(address) as page:
        assert page.status == 200
        assert "Ersten Zugang einrichten" in await page.text()


# Login, sessions and logout.


async def test_login_with_the_right_password_starts_a_session(client):
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    response = await log_in(client, "erika", ADMIN_PASSWORD)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/records"
    page = await client.get("/admin/records", allow_redirects=False)
    assert page.status == 200
    assert "Angemeldet als erika" in await page.text()


@pytest.mark.parametrize(
    ("name", "password"),
    [("erika", "falsches-Passwort-1"), ("niemand", ADMIN_PASSWORD), ("", "")],
)
async def test_login_refuses_with_one_message_for_any_wrong_part(
    client, name, password
):
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    response = await log_in(client, name, password)
    assert response.status == 401
    assert alert(await response.text()) == "Name oder Passwort ist falsch."
    assert "mp_admin" not in response.cookies


async def test_session_cookie_is_httponly_strict_and_only_for_admin(client):
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    response = await log_in(client, "erika", ADMIN_PASSWORD)
    [header] = [h for h in response.headers.getall("Set-Cookie") if "mp_admin" in h]
    morsel = SimpleCookie(header)["mp_admin"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/admin"
    assert morsel["max-age"] == "28800"


async def test_session_is_stored_only_as_a_hash(clerk, config):
    token = session_token(clerk)
    stored = await clerk.app[BACKOFFICE].store.db.fetchall(
        "SELECT token_hash FROM sessions"
    )
    assert [row["token_hash"] for row in stored] == [crypto.token_hash(token)]
    files = sorted(config.backoffice_dir.glob("backoffice.db*"))
    assert files
    assert all(token.encode() not in path.read_bytes() for path in files)


async def test_logout_ends_the_session_on_the_server(clerk):
    token = session_token(clerk)
    response = await clerk.post(
        "/admin/logout",
        data={"csrf_token": await page_token(clerk)},
        allow_redirects=False,
    )
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    replayed = await clerk.get(
        "/admin/records", headers={"Cookie": f"mp_admin={token}"}, allow_redirects=False
    )
    assert (replayed.status, replayed.headers["Location"]) == (303, "/admin/login")


@pytest.mark.parametrize("limit", [1, 3])
async def test_login_is_throttled_after_the_configured_number(
    aiohttp_client, config, limit
):
    throttled_config = load_config(
        None, data=str(config.data), throttle={"logins_per_minute": limit}
    )
    client = await aiohttp_client(create_app(throttled_config))
    statuses = [
        (await log_in(client, "erika", "falsches-Passwort-1")).status
        for _ in range(limit + 1)
    ]
    assert statuses == [401] * limit + [429]
    throttled = await log_in(client, "erika", "falsches-Passwort-1")
    assert "Zu viele Anfragen" in await throttled.text()


# Every admin POST needs the right form token.


@pytest.mark.parametrize("token", [None, "", "falsch", "AAAA.BBBB"])
async def test_login_without_the_right_token_is_forbidden(client, token):
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    await open_form(client, "/admin/login")
    fields = {"name": "erika", "password": ADMIN_PASSWORD}
    if token is not None:
        fields["csrf_token"] = token
    response = await client.post("/admin/login", data=fields, allow_redirects=False)
    assert response.status == 403
    assert EXPIRED in await response.text()


@pytest.mark.parametrize("token", [None, "", "falsch"])
async def test_setup_without_the_right_token_is_forbidden(client, token):
    address = await setup_address(client)
    await open_form(client, address)
    fields = {"name": "erika", "password": ADMIN_PASSWORD, "repeat": ADMIN_PASSWORD}
    if token is not None:
        fields["csrf_token"] = token
    response = await client.post(address, data=fields, allow_redirects=False)
    assert response.status == 403
    assert await client.app[BACKOFFICE].store.clerk_count() == 0


async def test_login_token_of_another_browser_is_forbidden(client, aiohttp_client):
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    other = await aiohttp_client(client.server)
    token = await open_form(other, "/admin/login")
    await open_form(client, "/admin/login")
    fields = {"csrf_token": token, "name": "erika", "password": ADMIN_PASSWORD}
    response = await client.post("/admin/login", data=fields, allow_redirects=False)
    assert response.status == 403


@pytest.mark.parametrize("token", [None, "", "falsch", "login"])
async def test_logout_without_the_right_token_is_forbidden(clerk, token):
    fields = {} if token is None else {"csrf_token": token}
    if token == "login":
        fields["csrf_token"] = await open_form(clerk, "/admin/login")
    response = await clerk.post("/admin/logout", data=fields, allow_redirects=False)
    assert response.status == 403
    assert EXPIRED in await response.text()
    assert (await clerk.get("/admin/records", allow_redirects=False)).status == 200


@pytest.mark.parametrize("token", [None, "", "falsch", "login"])
async def test_status_change_without_the_right_token_is_forbidden(
    clerk, meter_record, token
):
    record, _ = meter_record
    fields = {"status": "done"}
    if token is not None:
        fields["csrf_token"] = token
    if token == "login":
        fields["csrf_token"] = await open_form(clerk, "/admin/login")
    path = f"/admin/records/{record['id']}/status"
    response = await clerk.post(path, data=fields, allow_redirects=False)
    assert response.status == 403
    assert (await clerk.app[BACKOFFICE].store.record(record["id"]))["status"] == "new"


async def test_form_token_of_another_session_is_forbidden(clerk, meter_record):
    record, _ = meter_record
    stale = await page_token(clerk)
    assert (await log_in(clerk, "erika", ADMIN_PASSWORD)).status == 303
    path = f"/admin/records/{record['id']}/status"
    response = await clerk.post(
        path, data={"status": "done", "csrf_token": stale}, allow_redirects=False
    )
    assert response.status == 403


# Records: the list, the search and the status.


async def test_records_are_listed_newest_first(clerk):
    receipts = [await sent_receipt(clerk, SEPA, GOOD_SEPA) for _ in range(3)]
    await wait_until_taken(clerk.app)
    page = await clerk.get("/admin/records")
    assert listed(await page.text()) == [(r, "Neu") for r in reversed(receipts)]
    assert "3 Belege, neueste zuerst" in " ".join((await page.text()).split())


@pytest.mark.parametrize("typed", [str, str.lower, lambda r: f"  {r.lower()} "])
async def test_records_search_finds_one_by_receipt_number(clerk, typed):
    receipts = [await sent_receipt(clerk, SEPA, GOOD_SEPA) for _ in range(3)]
    await wait_until_taken(clerk.app)
    page = await clerk.get("/admin/records", params={"q": typed(receipts[1])})
    assert listed(await page.text()) == [(receipts[1], "Neu")]


async def test_records_search_for_an_unknown_number_finds_nothing(clerk):
    await sent_receipt(clerk, SEPA, GOOD_SEPA)
    await wait_until_taken(clerk.app)
    page = await clerk.get("/admin/records", params={"q": "MU-AAAA-AAAA"})
    html = await page.text()
    assert listed(html) == []
    assert "Zu Ihrer Suche gibt es keine Belege." in html


async def test_status_change_from_new_to_done_shows_on_the_list(clerk, meter_record):
    record, _ = meter_record
    path = f"/admin/records/{record['id']}"
    shown = []
    for status in ("in_progress", "done"):
        fields = {"status": status, "csrf_token": await page_token(clerk, path)}
        response = await clerk.post(f"{path}/status", data=fields)
        assert "Status gespeichert." in await response.text()
        page = await clerk.get("/admin/records")
        shown += listed(await page.text())
    receipt = record["receipt"]
    assert shown == [(receipt, "In Bearbeitung"), (receipt, "Erledigt")]


async def test_status_filter_lists_only_records_of_that_status(clerk, meter_record):
    record, _ = meter_record
    other = await sent_receipt(clerk, SEPA, GOOD_SEPA)
    await wait_until_taken(clerk.app)
    fields = {"status": "done", "csrf_token": await page_token(clerk)}
    await clerk.post(f"/admin/records/{record['id']}/status", data=fields)
    done = await clerk.get("/admin/records", params={"status": "done"})
    new = await clerk.get("/admin/records", params={"status": "new"})
    assert listed(await done.text()) == [(record["receipt"], "Erledigt")]
    assert listed(await new.text()) == [(other, "Neu")]


async def test_status_that_does_not_exist_is_refused(clerk, meter_record):
    record, _ = meter_record
    fields = {"status": "deleted", "csrf_token": await page_token(clerk)}
    response = await clerk.post(f"/admin/records/{record['id']}/status", data=fields)
    assert response.status == 400
    assert "Diesen Status gibt es nicht." in await response.text()
    assert (await clerk.app[BACKOFFICE].store.record(record["id"]))["status"] == "new"


# A clerk sees only the tenants it works for.


@pytest.fixture
async def nordstadt_clerk(client):
    """The client, logged in as a clerk for nordstadt alone."""
    await add_clerk(client.app, "nord", ADMIN_PASSWORD, ["nordstadt"])
    assert (await log_in(client, "nord", ADMIN_PASSWORD)).status == 303
    return client


@pytest.mark.parametrize(
    ("tenant", "sees"), [("nordstadt", False), ("musterstadt", True)]
)
async def test_clerk_sees_only_records_of_its_tenants(
    client, meter_record, tenant, sees
):
    record, _ = meter_record
    await add_clerk(client.app, "eine", ADMIN_PASSWORD, [tenant])
    await log_in(client, "eine", ADMIN_PASSWORD)
    expected = [(record["receipt"], "Neu")] if sees else []
    page = await client.get("/admin/records")
    searched = await client.get("/admin/records", params={"q": record["receipt"]})
    assert listed(await page.text()) == expected
    assert listed(await searched.text()) == expected
    assert (record["receipt"] in await page.text()) is sees


@pytest.mark.parametrize(
    "path",
    [
        "/admin/records/{id}",
        "/admin/records/{id}/attachments/{attachment}",
    ],
)
async def test_clerk_of_another_tenant_gets_not_found(
    nordstadt_clerk, meter_record, path
):
    record, attachment = meter_record
    address = path.format(id=record["id"], attachment=attachment["id"])
    response = await nordstadt_clerk.get(address, allow_redirects=False)
    assert response.status == 404
    assert record["receipt"] not in await response.text()


async def test_clerk_of_another_tenant_cannot_change_the_status(
    nordstadt_clerk, meter_record
):
    record, _ = meter_record
    fields = {"status": "done", "csrf_token": await page_token(nordstadt_clerk)}
    path = f"/admin/records/{record['id']}/status"
    response = await nordstadt_clerk.post(path, data=fields, allow_redirects=False)
    assert response.status == 404
    stored = await nordstadt_clerk.app[BACKOFFICE].store.record(record["id"])
    assert stored["status"] == "new"


# Attachments.


@pytest.mark.parametrize(
    ("filename", "photo", "content_type", "disposition"),
    [
        ('../../etc/pass"wd<>.jpg', jpeg_photo(), "image/jpeg", "etc_pass_wd.jpg"),
        ("Zählerstand Keller.png", png_photo(), "image/png", "Zaehlerstand_Keller.png"),
        ("Straße ÖL.jpg", jpeg_photo(), "image/jpeg", "Strasse_OeL.jpg"),
        ("zaehler.png", jpeg_photo(), "image/jpeg", "zaehler.jpg"),
        ("<>.jpeg", jpeg_photo(), "image/jpeg", "datei.jpg"),
        ("..\\..\\boot.ini.jpg", jpeg_photo(), "image/jpeg", "boot.ini.jpg"),
    ],
)
async def test_attachment_downloads_with_a_safe_name_and_the_sniffed_type(
    clerk, filename, photo, content_type, disposition
):
    receipt = await sent_receipt(
        clerk, METER, GOOD_METER, {"ZAEHLER_FOTO": (filename, photo)}
    )
    await wait_until_taken(clerk.app)
    store = clerk.app[BACKOFFICE].store
    [record] = await store.records(None, receipt)
    [attachment] = await store.attachments(record["id"])
    url = f"/admin/records/{record['id']}/attachments/{attachment['id']}"
    response = await clerk.get(url)
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{disposition}"'
    )
    assert response.content_type == content_type
    assert len(await response.read()) == attachment["size"]


async def test_attachment_keeps_the_name_the_customer_gave(clerk, meter_record):
    _, attachment = meter_record
    assert attachment["filename"] == '../../etc/pass"wd<>.jpg'


async def test_record_page_links_its_attachment(clerk, meter_record):
    record, attachment = meter_record
    page = await clerk.get(f"/admin/records/{record['id']}")
    html = await page.text()
    url = f"/admin/records/{record['id']}/attachments/{attachment['id']}"
    assert f'href="{url}"' in html
    assert "../../etc/pass&#34;wd&lt;&gt;.jpg" in html


async def test_unknown_attachment_of_a_record_is_not_found(clerk, meter_record):
    record, _ = meter_record
    url = f"/admin/records/{record['id']}/attachments/{'0' * 32}"
    assert (await clerk.get(url)).status == 404


# Without a session.


@pytest.mark.parametrize(
    ("path", "cookie"),
    [
        ("/admin/records", None),
        ("/admin/records?q=MU", None),
        ("/admin/records/{id}", None),
        ("/admin/records/{id}/attachments/{attachment}", None),
        ("/admin/records/{id}", "erfunden"),
        ("/admin/records/{id}/attachments/{attachment}", "erfunden"),
    ],
)
async def test_records_are_unreachable_without_login(
    client, meter_record, path, cookie
):
    record, attachment = meter_record
    address = path.format(id=record["id"], attachment=attachment["id"])
    headers = {"Cookie": f"mp_admin={cookie}"} if cookie else {}
    response = await client.get(address, headers=headers, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")


async def test_status_change_is_unreachable_without_login(client, meter_record):
    record, _ = meter_record
    path = f"/admin/records/{record['id']}/status"
    response = await client.post(path, data={"status": "done"}, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/admin/login")
    assert (await client.app[BACKOFFICE].store.record(record["id"]))["status"] == "new"
