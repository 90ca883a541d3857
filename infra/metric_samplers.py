"""Gauges read by polling rather than at each change: the PostgreSQL pool's connections.

Polling keeps the pool's hot path (every query acquires and releases) free of metric writes; a
few seconds' resolution is what a pool gauge needs. Runs in each process that serves metrics.
"""

from __future__ import annotations

import asyncio
import logging

from infra.database import pool_usage
from observability.metrics import set_db_pool

SAMPLE_INTERVAL_S = 2.0

log = logging.getLogger(__name__)


def sample_once() -> None:
    usage = pool_usage()
    if usage is not None:
        set_db_pool(*usage)


async def sample_forever(interval_s: float = SAMPLE_INTERVAL_S) -> None:
    while True:
        try:
            sample_once()
        except Exception:  # a sampler must never take the process down
            log.debug("metric sampling failed", exc_info=True)
        await asyncio.sleep(interval_s)
