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

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "::1", "localhost")
COMMANDS = ("serve", "add-clerk", "import-form", "export-form")


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
    export = commands.add_parser(
        "export-form", help="print a form's version as a definition file"
    )
    export.add_argument("tenant")
    export.add_argument("slug")
    export.add_argument(
        "--version", type=int, help="the version to print (default: the newest)"
    )
    _common(export)
    return parser


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
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key)
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
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        ssl_context=_ssl_context(config),
        access_log_class=AccessLogger,
        print=None,
    )


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


async def import_form(config: Config, path: Path) -> dict:
    """Save a form definition file as the form's next version and schedule it."""
    from app import control
    from app.commands import publish_definition
    from app.tenants import load_tenants

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise control.ControlError(f"{path}: {error}") from error
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


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command."""
    # Whatever any command creates under data/ is for the owner alone.
    os.umask(0o077)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    command = args.command
    try:
        config = _load(args)
    except ConfigError as error:
        raise SystemExit(f"configuration: {error}") from error
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if command == "serve":
        serve(config)
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
        print(f"{answer['form']}: Version {answer['version']} importiert.")  # noqa: T201
    elif command == "export-form":
        from app.control import ControlError

        try:
            answer = asyncio.run(
                export_form(config, args.tenant, args.slug, args.version)
            )
        except ControlError as error:
            raise SystemExit(str(error)) from error
        sys.stdout.write(answer["text"])
