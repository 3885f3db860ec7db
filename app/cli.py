"""The command line: serve, and the admin's commands."""

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import ssl
import sys
from pathlib import Path

from aiohttp import web

from app.config import Config, ConfigError, load_config
from app.tenants import TenantError

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
API_COMMANDS = (
    "add-api-key",
    "revoke-api-key",
    "set-modwork-key",
    "new-receiver-key",
    "pull",
)
COMMANDS = (
    "serve",
    "add-clerk",
    "import-form",
    "export-form",
    "send-link",
    *API_COMMANDS,
)


def _positive(text: str) -> int:
    """Read a version number: a whole number from 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a version from 1, not {text!r}")
    return int(text)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML configuration file")
    parser.add_argument("--data", type=Path, help="folder of the runtime state")


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and its flags."""
    parser = argparse.ArgumentParser(prog="run.py", description="MODPORTAL")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the server (the default)")
    _common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    clerk = commands.add_parser(
        "add-clerk", help="create a clerk or reset its password"
    )
    clerk.add_argument("name")
    clerk.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        help="a tenant the clerk works for (repeatable; without it: every tenant)",
    )
    _common(clerk)
    form = commands.add_parser(
        "import-form", help="publish a form definition as a new version"
    )
    form.add_argument("file", type=Path)
    _common(form)
    _api_commands(commands)
    link = commands.add_parser(
        "send-link", help="mail a customer a secure link to a pre-filled form"
    )
    link.add_argument("tenant")
    link.add_argument("slug")
    link.add_argument("--to", required=True, help="the customer's e-mail address")
    link.add_argument(
        "--values",
        type=Path,
        required=True,
        help="YAML file: MODWORK field names and their values",
    )
    _common(link)
    export = commands.add_parser(
        "export-form", help="print a form's version as a definition file"
    )
    export.add_argument("tenant")
    export.add_argument("slug")
    export.add_argument(
        "--version",
        type=_positive,
        help="the version to print (default: the newest)",
    )
    _common(export)
    return parser


def _api_commands(commands) -> None:
    """Describe the commands that set up MODWORK's side and play it."""
    add_key = commands.add_parser(
        "add-api-key", help="create a tenant's API key and print it once"
    )
    add_key.add_argument("tenant")
    add_key.add_argument("name")
    add_key.add_argument(
        "--scopes",
        nargs="+",
        required=True,
        help="submissions:read submissions:ack forms:write links:write",
    )
    _common(add_key)
    revoke = commands.add_parser("revoke-api-key", help="end an API key at once")
    revoke.add_argument("tenant")
    revoke.add_argument("name")
    _common(revoke)
    modwork_key = commands.add_parser(
        "set-modwork-key", help="register MODWORK's public key for a tenant"
    )
    modwork_key.add_argument("tenant")
    modwork_key.add_argument("public_key", help="64 hex digits")
    _common(modwork_key)
    key_pair = commands.add_parser(
        "new-receiver-key", help="write a new private key, print its public key"
    )
    key_pair.add_argument("file", type=Path)
    pull = commands.add_parser(
        "pull", help="the reference client: take submissions into a folder"
    )
    pull.add_argument("--url", required=True, help="the API's base address")
    pull.add_argument("--api-key-file", type=Path, required=True)
    pull.add_argument("--receiver-key", type=Path, required=True)
    pull.add_argument("--out", type=Path, required=True)


def _load(args: argparse.Namespace) -> Config:
    overrides = {
        "data": str(args.data.resolve()) if args.data else None,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
    }
    config_path = args.config.resolve() if args.config else None
    return load_config(config_path, **overrides)


def _ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    for setting, path in (("tls.cert", config.tls_cert), ("tls.key", config.tls_key)):
        if not path.is_file():
            raise ConfigError(f"setting '{setting}': no file at {path}")
    if config.tls_key.stat().st_mode & 0o077:
        raise ConfigError(
            f"setting 'tls.key': {config.tls_key} must be readable by its owner "
            "alone (chmod 600)"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            f"settings 'tls.cert' and 'tls.key': cannot load {config.tls_cert} "
            f"with {config.tls_key}: {error.strerror or error}"
        ) from error
    return context


def serve(config: Config) -> None:
    """Run the server until it is stopped."""
    from app.application import create_app
    from app.web import AccessLogger

    if not config.tls and config.host not in LOOPBACK:
        log.warning(
            "Serving plain HTTP on %s: put a TLS proxy in front or set "
            "tls.cert and tls.key",
            config.host,
        )
    from app.listeners import internal_socket

    try:
        app = create_app(config)
        internal = [internal_socket(config)] if config.internal else None
        web.run_app(
            app,
            host=config.host,
            port=config.port,
            sock=internal,
            ssl_context=_ssl_context(config),
            access_log_class=AccessLogger,
            print=None,
        )
    except ConfigError as error:
        raise SystemExit(f"configuration: {error}") from error


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Passwort: ")
        if first != getpass.getpass("Passwort wiederholen: "):
            raise SystemExit("Die beiden Passwörter stimmen nicht überein.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def add_clerk(
    config: Config, name: str, tenants: list[str] | None, password: str
) -> bool:
    """Create or reset a clerk in the back office's database."""
    from app.backoffice.auth import hash_password, password_problem
    from app.clock import iso, utcnow
    from app.storage import schema
    from app.storage.backoffice import BackOfficeStore
    from app.storage.db import open_database
    from app.tenants import load_tenants

    if problem := password_problem(password):
        raise SystemExit(problem)
    known = load_tenants(config.themes)
    if unknown := [t for t in tenants or [] if t not in known]:
        raise SystemExit(f"unknown tenant: {', '.join(unknown)}")
    db = await open_database(config.backoffice_dir / "backoffice.db", schema.BACKOFFICE)
    try:
        store = BackOfficeStore(db)
        return await store.save_clerk(
            name, await hash_password(password), tenants, iso(utcnow())
        )
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def _both_sides(config: Config):
    """Open both sides' stores without a server, for a command on forms."""
    from app.backoffice.service import RECEIVER, BackOffice
    from app.forms.catalog import CATALOG_PATH, load_catalog
    from app.portal.service import Portal
    from app.storage import schema
    from app.storage.db import open_database

    catalog = load_catalog(CATALOG_PATH)
    portal_db = await open_database(config.portal_dir / "portal.db", schema.PORTAL)
    backoffice_db = await open_database(
        config.backoffice_dir / "backoffice.db", schema.BACKOFFICE
    )
    try:
        portal = Portal(config, portal_db, catalog)
        backoffice = BackOffice(config, backoffice_db, catalog)
        portal.register_receiver(RECEIVER, backoffice.public_key())
        yield portal, backoffice
    finally:
        await portal_db.close()
        await backoffice_db.close()


def _read_utf8(path: Path) -> str:
    """Read a file the admin names, refusing one that is not UTF-8 by its line."""
    from app.control import ControlError

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ControlError(f"{path}: {error.strerror}") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ControlError(
            f"{path}: line {line}: the file is not UTF-8 text"
        ) from error


async def import_form(config: Config, path: Path) -> dict:
    """Save a form definition file as the form's next version and schedule it."""
    from app import control
    from app.commands import publish_definition
    from app.tenants import load_tenants

    text = _read_utf8(path)
    args = {"text": text, "source": str(path)}
    if (answer := await control.call(config.data, "import-form", args)) is not None:
        return answer
    async with _both_sides(config) as (portal, backoffice):
        tenants = load_tenants(config.themes)
        return await publish_definition(portal, backoffice, tenants, text, str(path))


async def export_form(
    config: Config, tenant: str, slug: str, version: int | None
) -> dict:
    """Return a form's version as definition YAML, from the server or the store."""
    from app import control
    from app.commands import export_text

    args = {"tenant": tenant, "slug": slug, "version": version}
    if (answer := await control.call(config.data, "export-form", args)) is not None:
        return answer
    async with _both_sides(config) as (portal, backoffice):
        return await export_text(backoffice.form_desk(portal), tenant, slug, version)


def _run_api_command(args: argparse.Namespace) -> None:
    """Run one of MODWORK's commands, turning a refusal into a message."""
    from app.api.commands import CommandError

    handlers = {
        "add-api-key": _add_api_key,
        "revoke-api-key": _revoke_api_key,
        "set-modwork-key": _set_modwork_key,
        "new-receiver-key": _new_receiver_key,
        "pull": _pull,
    }
    try:
        handlers[args.command](args)
    except (CommandError, ConfigError) as error:
        raise SystemExit(str(error)) from error


def _add_api_key(args: argparse.Namespace) -> None:
    from app.api import commands

    config = _load(args)
    key = asyncio.run(commands.add_api_key(config, args.tenant, args.name, args.scopes))
    # The key alone on standard output, so that a script can keep it.
    print(key)  # noqa: T201
    print(  # noqa: T201
        "API-Schlüssel angelegt. Er wird nur dieses eine Mal angezeigt.",
        file=sys.stderr,
    )


def _revoke_api_key(args: argparse.Namespace) -> None:
    from app.api import commands

    config = _load(args)
    if not asyncio.run(commands.revoke_api_key(config, args.tenant, args.name)):
        raise SystemExit("Diesen API-Schlüssel gibt es nicht (mehr).")
    print("API-Schlüssel widerrufen.")  # noqa: T201


def _set_modwork_key(args: argparse.Namespace) -> None:
    from app.api import commands

    commands.set_modwork_key(_load(args), args.tenant, args.public_key)
    print("Öffentlicher Schlüssel von MODWORK gespeichert.")  # noqa: T201


def _new_receiver_key(args: argparse.Namespace) -> None:
    from app.api import commands

    public = commands.new_receiver_key(args.file.resolve())
    # The public key alone on standard output, for the config or set-modwork-key.
    print(public)  # noqa: T201
    message = "Privater Schlüssel geschrieben; oben steht sein öffentlicher."
    print(message, file=sys.stderr)  # noqa: T201


def _pull(args: argparse.Namespace) -> None:
    from app import crypto
    from app.api.client import PullError, pull, read_api_key

    try:
        api_key = read_api_key(args.api_key_file)
        result = asyncio.run(
            pull(args.url, api_key, args.receiver_key, args.out.resolve())
        )
    except (OSError, PullError, crypto.CryptoError, ValueError) as error:
        raise SystemExit(f"pull: {error}") from error
    print(f"{len(result.taken)} Eingänge abgeholt und bestätigt.")  # noqa: T201
    if result.gone:
        gone = f"{len(result.gone)} Eingänge hat inzwischen ein anderer Abruf abgeholt."
        print(gone)  # noqa: T201
    if result.failed:
        raise SystemExit(
            f"{len(result.failed)} Eingänge konnten nicht geöffnet werden; "
            "sie bleiben im Portal."
        )


async def send_link(config: Config, args: argparse.Namespace) -> dict:
    """Make a link through the running server, or on the databases directly."""
    from app import control
    from app.backoffice.designs import DesignDesk
    from app.backoffice.links import open_links
    from app.commands import send_link as make_link
    from app.tenants import load_tenants
    from app.timers import Scheduler

    path = args.values.resolve()
    text = _read_utf8(path)
    request = {
        "tenant": args.tenant,
        "slug": args.slug,
        "to": args.to,
        "values": text,
        "source": str(path),
    }
    if (answer := await control.call(config.data, "send-link", request)) is not None:
        return answer
    async with _both_sides(config) as (portal, backoffice):
        scheduler = Scheduler()
        tenants = load_tenants(config.themes)
        await backoffice.load_demo_forms(portal, tenants)
        # The mail goes out in the tenant's current design, as from the server.
        designs = DesignDesk(backoffice.store.db, portal, tenants, scheduler.clock)
        await designs.start()
        _, outbox, office = open_links(
            config, portal, backoffice, tenants, scheduler, designs.theme_of
        )
        answer = await make_link(office, request)
        # No server runs the timers, so the mail is tried once now; if it
        # cannot go, it waits in the outbox for the server's next start.
        await scheduler.run_due()
        waiting = await outbox.store.waiting()
        own = any(mail.link_id == answer["link"] for mail in waiting)
        return {**answer, "waiting": own}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command."""
    # Whatever any command creates under data/ is for the owner alone.
    os.umask(0o077)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    command = args.command
    if command in API_COMMANDS:
        logging.basicConfig(
            level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        _run_api_command(args)
        return
    try:
        config = _load(args)
    except ConfigError as error:
        raise SystemExit(f"configuration: {error}") from error
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from app.web import ProtocolErrorFilter

    logging.getLogger("aiohttp.server").addFilter(ProtocolErrorFilter())
    # aiosqlite logs every statement's parameters at DEBUG: personal data.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.root.level))
    if command == "serve":
        try:
            serve(config)
        except (ConfigError, TenantError, OSError) as error:
            raise SystemExit(f"cannot start: {error}") from error
    elif command == "add-clerk":
        name = args.name.strip()
        if not name:
            raise SystemExit("the clerk needs a name")
        created = asyncio.run(add_clerk(config, name, args.tenants, _read_password()))
        message = "Sachbearbeiter angelegt." if created else "Passwort zurückgesetzt."
        print(message)  # noqa: T201
    elif command == "import-form":
        from app.control import ControlError

        try:
            answer = asyncio.run(import_form(config, args.file.resolve()))
        except ControlError as error:
            raise SystemExit(str(error)) from error
        print(  # noqa: T201
            f"{answer['form']}: Version {answer['version']} importiert, "
            f"{answer['schedule']}."
        )
    elif command == "send-link":
        from app.control import ControlError

        try:
            answer = asyncio.run(send_link(config, args))
        except ControlError as error:
            raise SystemExit(str(error)) from error
        state = (
            "die E-Mail wartet im Postausgang, bis der Server wieder läuft"
            if answer.get("waiting")
            else "die E-Mail ist unterwegs"
        )
        print(f"{answer['form']}: Link {answer['link']} angelegt; {state}.")  # noqa: T201
    elif command == "export-form":
        from app.control import ControlError

        try:
            answer = asyncio.run(
                export_form(config, args.tenant, args.slug, args.version)
            )
        except ControlError as error:
            raise SystemExit(str(error)) from error
        sys.stdout.write(answer["text"])
