"""The floor: a bare Starlette + asyncpg app answering the schedule-item list of
`GET /api/v1/schedule-items` with one hand-written SQL query and orjson.

It does what the real route must do at the least: check the bearer token (HS256, the server's
JWT_SECRET; no session lookup), run one query for own + shared items with the caller's
permission bits, and serialize the same fields. Its throughput is the physical floor of this
stack (uvicorn, asyncpg, PostgreSQL) on this machine; the bench reports the server as ratios
to it. Run by `bench` as `uvicorn bench.baseline:app` with DATABASE_URL and JWT_SECRET.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

QUERY = """
SELECT i.id::text, i.title, i.description, i.start_at, i.end_at, i.timezone, i.metadata, i.status,
       i.source_type, i.created_at, i.updated_at, i.owner_id::text, 7 AS permission
FROM schedule_items i
WHERE i.owner_id = $1 AND i.deleted_at IS NULL
UNION ALL
SELECT i.id::text, i.title, i.description, i.start_at, i.end_at, i.timezone, i.metadata, i.status,
       i.source_type, i.created_at, i.updated_at, i.owner_id::text, s.permission
FROM schedule_subscriptions s JOIN schedule_items i ON i.id = s.item_id
WHERE s.user_id = $1 AND i.owner_id <> $1 AND i.deleted_at IS NULL
ORDER BY start_at, id
"""

_STATE: dict[str, Any] = {}


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        format="text",
    )


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"]
    pool_max = int(os.environ.get("DATABASE_POOL_MAX", "20"))
    _STATE["pool"] = await asyncpg.create_pool(url, min_size=1, max_size=pool_max, init=_init)
    _STATE["key"] = os.environ["JWT_SECRET"]
    try:
        yield
    finally:
        await _STATE["pool"].close()


def _unauthorized() -> Response:
    return Response(b'{"detail":"unauthorized"}', 401, media_type="application/json")


async def schedule_items(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return _unauthorized()
    try:
        claims = jwt.decode(
            header[7:], _STATE["key"], algorithms=["HS256"], audience="authenticated"
        )
        user_id = uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return _unauthorized()
    pool: asyncpg.Pool = _STATE["pool"]
    rows = await pool.fetch(QUERY, user_id)
    body = orjson.dumps([dict(row) for row in rows])
    return Response(body, media_type="application/json")


async def health(_: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/api/v1/schedule-items", schedule_items),
        Route("/health", health),
    ],
    lifespan=lifespan,
)
