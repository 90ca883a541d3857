"""Liveness of the process and of the services it depends on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from infra.database import ping_database
from infra.services import Services

PROBE_TIMEOUT_S = 2.0


async def _probe(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), PROBE_TIMEOUT_S)
    except Exception as exc:  # any failure of a dependency is "unhealthy", never a 500
        return {"status": "unhealthy", "latency_ms": None, "error": type(exc).__name__}
    return {"status": "healthy", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def infra_health(services: Services) -> dict[str, Any]:
    if services.redis is None:
        redis = {"status": "healthy", "latency_ms": 0, "mode": "embedded"}
    else:
        redis = await _probe(services.redis.ping)
    database = await _probe(ping_database)
    healthy = redis["status"] == database["status"] == "healthy"
    return {
        "status": "healthy" if healthy else "unhealthy",
        "services": {"redis": redis, "database": database},
    }
