"""Sign-in: sequential `POST /auth/sessions`, with the Argon2 parameters in use (no target)."""

from __future__ import annotations

import time

import httpx

from bench import seed
from bench.clients.common import summary
from bench.context import Bench, Row
from config import Settings


def argon2_parameters() -> str:
    """The server's Argon2id parameters: its defaults (the bench does not override them)."""
    fields = Settings.model_fields
    t = fields["argon2_time_cost"].default
    m = fields["argon2_memory_cost_kib"].default
    par = fields["argon2_parallelism"].default
    return f"argon2id t={t} m={m} KiB p={par}"


async def sign_in(bench: Bench) -> None:
    assert bench.server is not None and bench.viewer is not None
    body = {"email": bench.viewer.email, "password": seed.PASSWORD}
    times: list[float] = []
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=bench.server.base_url, timeout=30) as client:
        await client.get("/api/v1/health")  # the connection, not the handshake, is measured
        for _ in range(bench.profile.sign_ins):
            started = time.perf_counter()
            response = await client.post("/api/v1/auth/sessions", json=body)
            times.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    stats = summary(times)
    ok = statuses == {200: bench.profile.sign_ins}
    bench.rows.append(
        Row(
            "Sign-in POST /auth/sessions",
            f"p50 {stats['p50']:.1f} ms, max {stats['max']:.1f} ms ({argon2_parameters()})",
            "none (tuning)",
            "INFO" if ok else "FAIL",
            {
                "latency_ms": stats,
                "statuses": {str(k): v for k, v in statuses.items()},
                "argon2": argon2_parameters(),
            },
        )
    )
