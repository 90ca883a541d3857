"""`runtime-api` — the command line of CONTRACT §1."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from config import Settings
from config.settings import with_generated_secret

log = logging.getLogger("runtime_api")


def _settings() -> Settings:
    return with_generated_secret(Settings())


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def _with_database(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    from infra.database import apply_migrations, close_database, init_database

    await init_database(settings)
    try:
        if not settings.uses_postgres:
            await apply_migrations(settings)
        await work()
    finally:
        await close_database()


def _log_sqlite_file(settings: Settings) -> None:
    """The relative default resolves against the working directory: a server started from
    another folder opens (and creates) another, empty database; the log says which."""
    from infra.database import sqlite_file

    path = sqlite_file(settings)
    log.info("SQLite database: %s", path if path is not None else "in memory")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    if "JWT_SECRET" not in os.environ and Settings().jwt_secret is None:
        # One key for every worker process, or a token minted by one is refused by another.
        log.warning("JWT_SECRET is not set: using a random key; sessions end on restart")
        os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)
    settings = Settings()
    _configure_logging(settings)
    if not settings.uses_postgres:
        _log_sqlite_file(settings)
        cmd_migrate(args)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        ws_max_size=1 << 20,
        # Compressing every websocket message costs more CPU than the small JSON messages of
        # subscriptions save in bandwidth (a sixth of the server's time fanning events out).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )


def cmd_worker(_: argparse.Namespace) -> None:
    """Execute agent runs from the queue until SIGTERM or SIGINT."""
    import signal

    from agent_runtime.worker import AgentWorker
    from infra.services import Services

    settings = _settings()
    _configure_logging(settings)

    async def work() -> None:
        services = Services.build(settings)
        worker = AgentWorker(services)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        log.info("agent worker %s ready (model %s)", worker.executor.worker_id, worker.model.name)
        try:
            await stop.wait()
        finally:
            await worker.stop()
            await services.close()

    asyncio.run(_with_database(settings, work))


def cmd_migrate(_: argparse.Namespace) -> None:
    from infra.database import apply_migrations, close_database, init_database

    settings = _settings()

    async def run() -> None:
        await init_database(settings, create_db=False)
        try:
            await apply_migrations(settings)
        finally:
            await close_database()

    asyncio.run(run())
    print("migrations applied", file=sys.stderr)


def cmd_export_schema(_: argparse.Namespace) -> None:
    from server.exports import schema_sdl

    sys.stdout.write(schema_sdl())


def cmd_export_openapi(_: argparse.Namespace) -> None:
    from server.exports import openapi_json

    sys.stdout.write(openapi_json())


def cmd_invite_create(args: argparse.Namespace) -> None:
    from resolvers.invites import create_code

    settings = _settings()
    expires = datetime.fromisoformat(args.expires_at) if args.expires_at else None
    if expires is not None and expires.tzinfo is None:
        raise SystemExit("--expires-at needs an offset, e.g. 2027-01-01T00:00:00Z")

    async def work() -> None:
        code = await create_code(owner_id=None, max_uses=args.max_uses, expires_at=expires)
        print(code.code)

    asyncio.run(_with_database(settings, work))


def cmd_set_role(args: argparse.Namespace) -> None:
    from resolvers.errors import NotFound
    from resolvers.users import set_role

    async def work() -> None:
        try:
            user = await set_role(args.email, args.role)
        except NotFound as exc:
            raise SystemExit(exc.detail) from None
        print(f"{user.email}: {user.role}")

    asyncio.run(_with_database(_settings(), work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runtime-api", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API, GraphQL, websockets and SSE on one port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="execute agent runs taken from the queue").set_defaults(
        func=cmd_worker
    )
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(
        func=cmd_export_schema
    )
    sub.add_parser("export-openapi", help="print the OpenAPI document").set_defaults(
        func=cmd_export_openapi
    )

    invites = sub.add_parser("invite-codes", help="manage invite codes")
    invite_sub = invites.add_subparsers(dest="action", required=True)
    create = invite_sub.add_parser("create", help="make a limited invite code and print it")
    create.add_argument("--max-uses", type=int, default=1)
    create.add_argument("--expires-at", help="ISO 8601 with offset")
    create.set_defaults(func=cmd_invite_create)

    users = sub.add_parser("users", help="manage users")
    user_sub = users.add_subparsers(dest="action", required=True)
    role = user_sub.add_parser("set-role", help="make a user an admin or a regular user")
    role.add_argument("email")
    role.add_argument("role", choices=["admin", "authenticated"])
    role.set_defaults(func=cmd_set_role)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
