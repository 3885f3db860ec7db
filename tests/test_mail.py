"""Mail leaves through a real SMTP server, waits while it is down, and is sealed."""

import logging
import os
from datetime import timedelta
from email.headerregistry import Address

import pytest

from app import crypto
from app.config import ConfigError, load_config
from app.mail.message import MailError, build_message, check_address
from app.mail.outbox import Outbox, retry_delay
from app.mail.transport import (
    DirectoryTransport,
    PasswordFileError,
    SmtpTransport,
    make_transport,
    read_password,
)
from app.storage import schema
from app.storage.db import open_database
from app.timers import Scheduler
from tests.conftest import free_port
from tests.smtp import SmtpServer

MAIL = {
    "sender_name": "Stadtwerke Müllheim",
    "sender_address": "service@stadtwerke.example",
    "to": "erika@beispiel.de",
    "subject": "Ihr Vertrag zum Prüfen",
    "text": "Guten Tag, bitte prüfen Sie Ihre Angaben.\n",
    "html": "<p>Guten Tag, bitte prüfen Sie Ihre Angaben.</p>",
}


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
async def db(tmp_path):
    database = await open_database(tmp_path / "backoffice.db", schema.BACKOFFICE)
    yield database
    await database.close()


def smtp_config(tmp_path, port: int, **mail):
    settings = {"host": "127.0.0.1", "port": port, "security": "none", **mail}
    return load_config(None, data=str(tmp_path / "data"), mail=settings)


async def queued(db, outbox: Outbox) -> str:
    async with db.transaction() as conn:
        return await outbox.queue(conn, build_message(**MAIL), None)


def outbox_for(db, transport) -> Outbox:
    key = crypto.new_data_key()
    return Outbox(db, key, transport, Scheduler(), timedelta(hours=48))


async def test_mail_arrives_with_umlauts_encoded_in_its_headers(tmp_path, smtp, db):
    outbox = outbox_for(db, make_transport(smtp_config(tmp_path, smtp.port)))
    await outbox.deliver(await queued(db, outbox))
    [message] = smtp.recorder.messages()
    assert message["Subject"] == "Ihr Vertrag zum Prüfen"
    assert message["From"].addresses[0] == Address(
        "Stadtwerke Müllheim", "service", "stadtwerke.example"
    )
    assert b"=?utf-8?" in smtp.recorder.raw[0].split(b"\r\n\r\n")[0]
    assert smtp.recorder.raw[0].split(b"\r\n\r\n")[0].isascii()
    assert await outbox.store.waiting() == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sender_name", "Stadtwerke\r\nBcc: alle@example.org"),
        ("to", "erika@beispiel.de\nBcc: alle@example.org"),
        ("subject", "Vertrag\rBcc: alle@example.org"),
        ("sender_address", "service@stadtwerke.example\r\n"),
    ],
)
def test_line_breaks_in_header_values_are_refused(key, value):
    with pytest.raises(MailError, match="line break"):
        build_message(**{**MAIL, key: value})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("erika@beispiel.de", "erika@beispiel.de"),
        ("Erika@München.de", "Erika@xn--mnchen-3ya.de"),
    ],
)
def test_addresses_get_their_domain_in_idna_form(given, expected):
    assert check_address(given) == expected


@pytest.mark.parametrize(
    "address", ["erika", "Erika <erika@beispiel.de>", "erika@localhost", "a@b@c.de"]
)
def test_addresses_that_are_not_plain_are_refused(address):
    with pytest.raises(MailError):
        check_address(address)


async def test_mail_waits_while_the_server_is_down_and_goes_once_it_is_back(
    tmp_path, db
):
    server = SmtpServer(free_port())
    outbox = outbox_for(db, make_transport(smtp_config(tmp_path, server.port)))
    mail_id = await queued(db, outbox)
    await outbox.deliver(mail_id)
    [waiting] = await outbox.store.waiting()
    assert (waiting.id, waiting.attempts) == (mail_id, 1)
    server.start()
    try:
        await outbox.deliver(mail_id)
    finally:
        server.stop()
    assert len(server.recorder.raw) == 1
    assert await outbox.store.waiting() == []


async def test_a_5xx_answer_ends_the_mail_as_failed(tmp_path, smtp, db):
    smtp.recorder.answer = "550 5.1.1 No such user"
    outbox = outbox_for(db, make_transport(smtp_config(tmp_path, smtp.port)))
    outcomes = []

    async def listener(conn, link_id, outcome, reason):
        outcomes.append((link_id, outcome, reason))

    outbox.listeners.append(listener)
    async with db.transaction() as conn:
        mail_id = await outbox.queue(conn, build_message(**MAIL), "abc")
    await outbox.deliver(mail_id)
    assert outcomes == [
        ("abc", "failed", "Der Mailserver hat die E-Mail abgewiesen (550).")
    ]
    assert await outbox.store.waiting() == []


async def test_a_4xx_answer_keeps_the_mail_for_later(tmp_path, smtp, db):
    smtp.recorder.answer = "451 4.3.0 Try again later"
    outbox = outbox_for(db, make_transport(smtp_config(tmp_path, smtp.port)))
    mail_id = await queued(db, outbox)
    await outbox.deliver(mail_id)
    [waiting] = await outbox.store.waiting()
    assert (waiting.attempts, outbox.scheduler.due_at(f"mail:{mail_id}") is None) == (
        1,
        False,
    )


async def test_queued_mail_is_sealed_at_rest(db):
    outbox = outbox_for(db, DirectoryTransport(db.path.parent / "outbox"))
    await queued(db, outbox)
    [waiting] = await outbox.store.waiting()
    assert b"Guten Tag" not in waiting.sealed_mail
    assert b"erika" not in waiting.sealed_mail


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]
)
def test_retries_wait_longer_each_time_up_to_an_hour(attempts, seconds):
    assert retry_delay(attempts) == timedelta(seconds=seconds)


async def test_login_takes_the_password_from_its_file(tmp_path, db):
    server = SmtpServer(free_port(), login=("portal", "geheim-und-lang")).start()
    secret = tmp_path / "smtp.password"
    secret.write_text("geheim-und-lang\n")
    secret.chmod(0o600)
    config = smtp_config(
        tmp_path, server.port, username="portal", password_file=str(secret)
    )
    try:
        outbox = outbox_for(db, make_transport(config))
        await outbox.deliver(await queued(db, outbox))
    finally:
        server.stop()
    assert len(server.recorder.raw) == 1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_password_file_others_may_read_is_refused(tmp_path, mode):
    secret = tmp_path / "smtp.password"
    secret.write_text("geheim\n")
    os.chmod(secret, mode)
    with pytest.raises(PasswordFileError, match=f"mode {mode:o}"):
        read_password(secret)


def test_without_a_host_mails_go_to_the_outbox_folder_and_the_log_says_so(
    tmp_path, caplog
):
    config = load_config(None, data=str(tmp_path / "data"))
    with caplog.at_level(logging.WARNING):
        transport = make_transport(config)
    assert isinstance(transport, DirectoryTransport)
    assert transport.folder == tmp_path / "data" / "outbox"
    assert "No SMTP host configured" in caplog.text


def test_with_a_host_mails_go_through_smtp(tmp_path):
    transport = make_transport(smtp_config(tmp_path, 2525, security="tls"))
    assert isinstance(transport, SmtpTransport)
    assert (transport.settings.port, transport.settings.security) == (2525, "tls")


@pytest.mark.parametrize(
    ("mail", "message"),
    [
        ({"security": "ssl"}, "must be one of starttls, tls, none"),
        ({"username": "portal"}, "go together"),
        ({"password_file": "pw"}, "go together"),
        ({"host": "smtp.example\r\nX: y"}, "may not hold a line break"),
        ({"port": 0}, "between 1 and 65535"),
        ({"give_up_hours": 0}, "must be positive"),
    ],
)
def test_mail_settings_that_cannot_work_stop_the_start(tmp_path, mail, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, data=str(tmp_path), mail=mail)


def test_the_password_file_is_read_from_the_config_files_folder(tmp_path):
    config_file = tmp_path / "portal.yaml"
    config_file.write_text("mail:\n  username: portal\n  password_file: smtp.pw\n")
    assert load_config(config_file).mail.password_file == tmp_path / "smtp.pw"
