"""`runtime-api`: the server's command line (docs/contract.md §1). Its help text is DESCRIPTION."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from http.server import ThreadingHTTPServer

from config import Settings
from config.settings import with_generated_secret

log = logging.getLogger("runtime_api")

DESCRIPTION = (
    "Runtime API: accounts, friends, shared schedule items, an inbox and an AG-UI agent runtime, "
    "over GraphQL (/graphql) and REST (/api/v1). With no configuration it runs on SQLite, "
    "in-process streams and a console mailer that logs verification codes."
)
EPILOG = (
    "Configuration comes from the environment and an optional .env file: DATABASE_URL, "
    "REDIS_URL, SMTP_URL, MAIL_FROM, JWT_SECRET, ACCESS_TOKEN_TTL, ENV, AGENT_MODEL, "
    "CORS_ORIGINS and the others listed in the README."
)


def _settings() -> Settings:
    return with_generated_secret(Settings())


def _configure_logging(settings: Settings) -> None:
    from observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


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
    settings = Settings()
    _configure_logging(settings)  # first: the warning below is a log line in LOG_FORMAT too
    if "JWT_SECRET" not in os.environ and settings.jwt_secret is None:
        # One key for every worker process, or a token minted by one is refused by another.
        log.warning("JWT_SECRET is not set: using a random key; sessions end on restart")
        os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)
        settings = Settings()
    with _serve_metrics(settings):  # first: migrating imports prometheus_client
        if not settings.uses_postgres:
            _log_sqlite_file(settings)
            _migrate(_settings())
            log.info("migrations applied")
        _run_uvicorn(args, settings)


@contextlib.contextmanager
def _serve_metrics(settings: Settings) -> Iterator[None]:
    """Metrics of every worker process of `serve`: prometheus-client's multiprocess mode, with a
    folder made before uvicorn spawns them (and removed after), and the METRICS_PORT listener
    in this process, which reads all their files (observability/exposition.py)."""
    if not settings.metrics_enabled:
        yield
        return
    from observability.multiprocess_dir import prepare_multiprocess_dir, remove_multiprocess_dir

    folder, owned = prepare_multiprocess_dir()  # before anything imports prometheus_client

    def remove_then_die(signum: int, _: object) -> None:
        # uvicorn ends a graceful shutdown by raising the SIGTERM it caught again, with the
        # handler it found (this one): the process dies of it, and no `finally` runs.
        if owned:
            remove_multiprocess_dir(folder)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    previous = signal.signal(signal.SIGTERM, remove_then_die)
    listener = _start_metrics_listener(settings)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if listener is not None:
            listener.shutdown()
        if owned:
            remove_multiprocess_dir(folder)


def _start_metrics_listener(settings: Settings) -> ThreadingHTTPServer | None:
    if settings.metrics_port is None:
        return None
    from observability.exposition import start_listener

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    listener = start_listener(settings.metrics_host, settings.metrics_port, token)
    host, port = listener.server_address[:2]
    log.info("metrics on http://%s:%s/metrics", host, port)
    return listener


def _run_uvicorn(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from observability.logs import logging_config

    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        # Ours, in every worker process: the root logger's too, and LOG_FORMAT=json for all.
        log_config=logging_config(settings.log_level, settings.log_format),
        ws_max_size=1 << 20,
        # Compressing every websocket message costs more CPU than the small JSON messages of
        # subscriptions save in bandwidth (a sixth of the server's time fanning events out).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )


def cmd_worker(_: argparse.Namespace) -> None:
    """Execute agent runs from the queue until SIGTERM or SIGINT."""

    from agent_runtime.worker import AgentWorker
    from infra.metric_samplers import sample_forever
    from infra.services import Services
    from infra.tasks import stop_task
    from observability.tracing import flush_tracing, setup_tracing

    settings = _settings()
    _configure_logging(settings)
    setup_tracing("runtime-api-worker")

    async def work() -> None:
        services = Services.build(settings)
        worker = AgentWorker(services)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        listener = _start_metrics_listener(settings)
        sampler = asyncio.create_task(sample_forever()) if settings.metrics_enabled else None
        log.info("agent worker %s ready (model %s)", worker.executor.worker_id, worker.model.name)
        try:
            await stop.wait()
        finally:
            if sampler is not None:
                await stop_task(sampler)
            if listener is not None:
                listener.shutdown()
            await worker.stop()
            await services.close()
            flush_tracing()

    asyncio.run(_with_database(settings, work))


def cmd_migrate(_: argparse.Namespace) -> None:
    _migrate(_settings())
    print("migrations applied", file=sys.stderr)


def _migrate(settings: Settings) -> None:
    from infra.database import apply_migrations, close_database, init_database

    async def run() -> None:
        await init_database(settings, create_db=False)
        try:
            await apply_migrations(settings)
        finally:
            await close_database()

    asyncio.run(run())


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
    parser = argparse.ArgumentParser(prog="runtime-api", description=DESCRIPTION, epilog=EPILOG)
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
