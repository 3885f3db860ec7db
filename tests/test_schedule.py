"""Publishing on schedule, by an injected clock: on time, re-armed, after a
restart, on both daylight-saving days, and with the grace period."""

from datetime import UTC, datetime, timedelta

import pytest

from app.application import create_app
from app.backoffice.forms import FORMS, TIMER_KEY
from app.commands import publish_definition
from app.keys import BACKOFFICE, PORTAL, SCHEDULER, TENANTS
from tests.admin_helpers import ADMIN, Clock, log_in_clerk, page_text, post
from tests.conftest import form_data, open_form, wait_until_taken
from tests.test_submission import GOOD_SEPA

# A Monday in March 2026: the spring change is on the 29th.
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MONDAY_8 = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
# The end of March 31 in Berlin, already summer time.
END_OF_MONTH = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
FORM = """\
tenant: musterstadt
slug: umzug
title: Umzug melden
record_type: ZAEHLERSTAND
publish_from: "2026-03-09T08:00"
publish_until: "2026-03-31"
sections:
  - title: Zähler
    fields:
      - field: ZAEHLER_NR
        required: "true"
"""


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def client(aiohttp_client, config, clock):
    return await aiohttp_client(create_app(config, clock))


async def import_form(client, text: str = FORM) -> int:
    app = client.app
    answer = await publish_definition(
        app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "test"
    )
    return answer["version"]


async def test_an_import_answers_with_the_window_it_scheduled(client):
    app = client.app
    answer = await publish_definition(
        app[PORTAL], app[BACKOFFICE], app[TENANTS], FORM, "test"
    )
    assert answer["schedule"] == (
        "online ab 09.03.2026, 08:00 Uhr bis 31.03.2026, 24:00 Uhr"
    )


async def status_at(client, clock, moment: datetime, path="/musterstadt/umzug"):
    clock.now = moment
    return (await client.get(path)).status


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        (MONDAY_8 - SECOND, 404),
        (MONDAY_8, 200),
        (END_OF_MONTH - SECOND, 200),
        (END_OF_MONTH, 404),
    ],
)
async def test_an_imported_form_is_online_exactly_in_its_window(
    client, clock, moment, status
):
    await import_form(client)
    assert await status_at(client, clock, moment) == status


async def test_the_start_page_lists_the_form_only_while_it_is_online(client, clock):
    await import_form(client)
    listed = []
    for moment in (MONDAY_8 - SECOND, MONDAY_8, END_OF_MONTH):
        clock.now = moment
        listed.append("/musterstadt/umzug" in await page_text(client, "/musterstadt/"))
    assert listed == [False, True, False]


async def test_the_timer_is_armed_for_each_next_change_and_notes_it(client, clock):
    await import_form(client)
    scheduler, desk = client.app[SCHEDULER], client.app[FORMS]
    await scheduler.run_due()
    assert scheduler.due_at(TIMER_KEY) == MONDAY_8
    clock.now = MONDAY_8
    assert await scheduler.run_due() == 1
    assert scheduler.due_at(TIMER_KEY) == END_OF_MONTH
    form = await desk.form("musterstadt", "umzug")
    events = [(e.event, e.at) for e in await desk.store.events(form.id)]
    assert events[0] == ("online", "2026-03-09T07:00:00.000000+00:00")


async def test_a_change_that_fell_due_while_down_happens_at_start(
    aiohttp_client, config, clock
):
    first = await aiohttp_client(create_app(config, clock))
    await import_form(first)
    await first.close()
    clock.now = END_OF_MONTH + timedelta(hours=2)
    again = await aiohttp_client(create_app(config, clock))
    desk = again.app[FORMS]
    form = await desk.form("musterstadt", "umzug")
    events = [(e.event, e.at) for e in await desk.store.events(form.id)][:2]
    assert events == [
        ("offline", "2026-03-31T22:00:00.000000+00:00"),
        ("online", "2026-03-09T07:00:00.000000+00:00"),
    ]
    assert (
        await again.app[FORMS].portal.store.version("musterstadt", "umzug", 1) is None
    )


async def test_a_newer_version_replaces_the_live_one_at_its_own_time(client, clock):
    clock.now = MONDAY_8
    await import_form(client)
    await import_form(client, FORM.replace('"2026-03-09T08:00"', '"2026-03-10T08:00"'))
    shown = []
    for moment in (MONDAY_8, MONDAY_8 + timedelta(days=1)):
        clock.now = moment
        shown.append(
            "Formularversion 2" in await page_text(client, "/musterstadt/umzug")
        )
    assert shown == [False, True]


@pytest.mark.parametrize(
    ("minutes", "status", "text"),
    [
        (69, 200, "Angaben gesendet"),
        (70, 410, "Dieses Formular ist nicht mehr online, deshalb konnten wir"),
    ],
)
async def test_an_opened_form_may_be_sent_within_the_grace_after_its_end(
    client, clock, minutes, status, text
):
    clock.now = MONDAY_8
    desk = client.app[FORMS]
    form = await desk.form("musterstadt", "sepa-mandat")
    await desk.end(form, MONDAY_8 + timedelta(minutes=10), "anna")
    token = await open_form(client, "/musterstadt/sepa-mandat")
    clock.now = MONDAY_8 + timedelta(minutes=minutes)
    late = await client.post(
        "/musterstadt/sepa-mandat", data=form_data(token, GOOD_SEPA)
    )
    assert (late.status, text in await late.text()) == (status, True)
    await wait_until_taken(client.app)


async def schedule(client, **fields):
    token = await log_in_clerk(client)
    return await post(client, f"{ADMIN}/sepa-mandat/publish", token, fields)


async def test_a_time_in_the_skipped_spring_hour_is_refused_on_the_page(client):
    response = await schedule(
        client,
        version="1",
        start_mode="at",
        start_date="2026-03-29",
        start_time="02:30",
    )
    assert response.status == 422
    assert (
        "Die Uhrzeit 02:30 Uhr gibt es am 29.03.2026 nicht: Um 2:00 Uhr werden die "
        "Uhren auf 3:00 Uhr vorgestellt (Beginn der Sommerzeit)."
    ) in await response.text()


async def test_a_time_in_the_doubled_autumn_hour_is_its_first_and_says_so(client):
    response = await schedule(
        client,
        version="1",
        start_mode="at",
        start_date="2026-10-25",
        start_time="02:30",
    )
    assert response.status == 303
    page = await page_text(client, f"{ADMIN}/sepa-mandat")
    assert "<td>25.10.2026, 02:30 Uhr</td>" in page
    assert (
        "02:30 Uhr gibt es am 25.10.2026 zweimal, weil die Sommerzeit endet; "
        "gemeint ist das erste Mal, noch in der Sommerzeit (MESZ)."
    ) in page
    desk = client.app[FORMS]
    [publication] = await desk.store.publications(
        (await desk.form("musterstadt", "sepa-mandat")).id
    )
    assert publication.start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


async def test_an_end_given_as_a_date_alone_is_the_end_of_that_day(client, clock):
    response = await schedule(
        client,
        version="1",
        start_mode="now",
        until_mode="at",
        until_date="2026-03-31",
    )
    assert response.status == 303
    assert (
        await status_at(
            client, clock, END_OF_MONTH - SECOND, "/musterstadt/sepa-mandat"
        )
        == 200
    )
    assert (
        await status_at(client, clock, END_OF_MONTH, "/musterstadt/sepa-mandat") == 404
    )
