"""Spoofed `X-Forwarded-For` (issue 11): rate limits key on the client address uvicorn
resolves, and uvicorn believes the header only from the proxies in FORWARDED_ALLOW_IPS. A
client that is not one of them cannot pick a fresh address per request to dodge the limits.

Runs `runtime-api serve` (the real proxy-header handling) twice: once with our loopback peer
untrusted (the attack: must be limited), once trusted (the control: each forwarded address is
its own client, which shows the test can tell the two apart)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND
from tests.support.server_process import ServerProcess, running_server

LIMIT = 3


@pytest.fixture(params=["untrusted", "trusted"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ServerProcess]]:
    env = {
        "RATE_LIMIT_LOGIN_IP": f"{LIMIT} per 1 minute",
        "RATE_LIMIT_LOGIN_EMAIL": "100 per 1 minute",
        # Only a proxy we are not; in the control, our own loopback address.
        "FORWARDED_ALLOW_IPS": "10.255.255.1" if request.param == "untrusted" else "127.0.0.1",
    }
    if BACKEND.redis_url is not None:  # the limits counted in Redis, as in production
        env["REDIS_URL"] = BACKEND.redis_url
        env["REDIS_PREFIX"] = f"rt-test-xff-{uuid.uuid4().hex[:8]}:"
        env["AGENT_WORKER_IN_SERVER"] = "true"
    with running_server(tmp_path / "cwd", env=env) as s:
        yield request.param, s


def sign_in(base_url: str, n: int) -> int:
    # A different email and a different claimed address each time: only the IP limit can bite.
    r = httpx.post(
        f"{base_url}/api/v1/auth/sessions",
        json={"email": f"nobody{n}@example.com", "password": "wrong password"},
        headers={"X-Forwarded-For": f"203.0.113.{n + 1}", "X-Real-IP": f"198.51.100.{n + 1}"},
        timeout=10,
    )
    return r.status_code


def test_a_spoofed_forwarded_for_does_not_dodge_the_ip_limit(
    server: tuple[str, ServerProcess],
) -> None:
    trust, process = server
    answers = [sign_in(process.base_url, n) for n in range(LIMIT + 2)]
    assert 500 not in answers
    if trust == "untrusted":
        assert answers == [401] * LIMIT + [429, 429], answers
    else:
        assert answers == [401] * (LIMIT + 2), answers
