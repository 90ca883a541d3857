"""Counting runs of the `health` resolver, to show that a refused GraphQL document never ran
(the `health_calls` fixture of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


def count_health_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time `{ health }` is resolved, for this test."""
    import schema.account_query

    calls: list[int] = []
    real = getattr(schema.account_query, "infra_health")  # noqa: B009 (not re-exported)

    async def counting(services: Any) -> dict[str, Any]:
        calls.append(1)
        result: dict[str, Any] = await real(services)
        return result

    monkeypatch.setattr(schema.account_query, "infra_health", counting)
    return calls
