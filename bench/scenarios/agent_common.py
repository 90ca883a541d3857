"""Agent helpers of the orchestrator: a run to its end through `POST /agent`, run bodies."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def run_body(thread: str, run_id: str, text: str = "hello there") -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": run_id,
        "messages": [{"id": f"m-{run_id}-{uuid.uuid4().hex[:6]}", "role": "user", "content": text}],
    }


async def run_to_end(base_url: str, token: str, thread: str) -> list[tuple[str, str]]:
    """A run through `POST /api/v1/agent`, which streams it to its terminal event: returns its
    (id, type) pairs. Creates the thread on its first run."""
    body = run_body(thread, f"warmup-{uuid.uuid4().hex[:8]}")
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    events: list[tuple[str, str]] = []
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream("POST", "/api/v1/agent", json=body, headers=headers) as response,
    ):
        if response.status_code != 200:
            await response.aread()
            raise RuntimeError(f"POST /agent: {response.status_code} {response.text[:500]}")
        event_id = kind = None
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line == "" and event_id is not None:
                events.append((event_id, kind or ""))
                event_id = kind = None
    if not events or events[-1][1] not in ("RUN_FINISHED", "RUN_ERROR"):
        raise RuntimeError(f"the warm-up run did not end: {events[-3:]}")
    return events


async def start_runs(base_url: str, token: str, thread: str, count: int, prefix: str) -> list[int]:
    """`count` runs accepted on one thread (they execute one after another); their statuses."""
    statuses: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for i in range(count):
            response = await client.post(
                "/api/v1/agent/runs", json=run_body(thread, f"{prefix}-{i}")
            )
            statuses.append(response.status_code)
    return statuses
