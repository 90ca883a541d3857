"""docs/security.md: no published JWT secret in production, the compose file requires one, the
invitation text names the sender by username, and exact-email searches are rate limited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from config import Settings
from config.settings import PUBLISHED_SECRETS
from tests.support.calendar_api import create_item, inbox, ok, problem, share
from tests.support.client import API, Account, Api
from tests.support.server_process import run_cli
from tests.support.settings_marks import with_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
# `JWT_SECRET=value` / `JWT_SECRET: value` with a literal value in a file we ship.
SECRET_ASSIGNMENT = re.compile(r"JWT_SECRET[\"']?\s*[:=]\s*[\"']?([^\s\"'$`]{8,})")
SHIPPED = [COMPOSE, ROOT / "README.md", ROOT / "Dockerfile", *sorted((ROOT / "docs").glob("*.md"))]
SHIPPED += sorted(ROOT.glob(".env*"))


# --- JWT secret -------------------------------------------------------------------------------


def test_compose_requires_a_jwt_secret_and_ships_none() -> None:
    text = COMPOSE.read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("JWT_SECRET")]
    assert lines == ["JWT_SECRET: ${JWT_SECRET:?set JWT_SECRET (see README, Configuration)}"]
    assert "${JWT_SECRET:-" not in text and "${JWT_SECRET-" not in text


def test_every_secret_written_in_a_shipped_file_is_refused_in_production() -> None:
    found = {
        match.group(1)
        for path in SHIPPED
        if path.is_file()
        for match in SECRET_ASSIGNMENT.finditer(path.read_text())
    }
    for secret in found | PUBLISHED_SECRETS:
        with pytest.raises(ValidationError, match="JWT_SECRET"):
            Settings(_env_file=None, env="production", jwt_secret=SecretStr(secret))


REFUSED = [
    "change-me-to-a-long-random-string-in-production",  # the compose file's former default
    "please-CHANGEME-before-going-live-0123456789",  # a placeholder marker anywhere in it
    "short-but-random-Zq8",  # under 32 bytes
]


@pytest.mark.parametrize("secret", REFUSED)
def test_production_serve_refuses_a_published_or_short_secret(tmp_path: Path, secret: str) -> None:
    env = {"ENV": "production", "JWT_SECRET": secret, "DATABASE_URL": "sqlite://data/x.db"}
    result = run_cli("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path, env=env)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "JWT_SECRET" in result.stderr, result.stderr
    assert not (tmp_path / "data" / "x.db").exists()  # it stopped before touching anything


@pytest.mark.parametrize("secret", REFUSED)
def test_development_accepts_any_secret(secret: str) -> None:
    built = Settings(_env_file=None, env="development", jwt_secret=SecretStr(secret))
    assert built.signing_key() == secret


def test_production_accepts_a_generated_secret() -> None:
    secret = "Zq8-" + "k3" * 24
    built = Settings(_env_file=None, env="production", jwt_secret=SecretStr(secret))
    assert built.is_production


# --- invitation text --------------------------------------------------------------------------

SHARE = (
    "mutation($id: ID!, $input: ShareScheduleItemInput!) "
    "{ shareScheduleItem(id: $id, input: $input) { message } }"
)
GQL_INBOX = "{ inboxMessages { content messageType } }"


def assert_named_by_username(content: str, sender: Account) -> None:
    assert content.startswith(f"{sender.username} shared "), content
    assert sender.email not in content and "@" not in content, content


async def test_the_invitation_names_the_sender_by_username(api: Api) -> None:
    ann, bob, cat = await api.quick_user(), await api.quick_user(), await api.quick_user()
    item = await create_item(api, ann, title="Planning")
    ok(await share(api, ann, item["id"], bob.email))  # REST
    body = await api.gql(SHARE, {"id": item["id"], "input": {"email": cat.email}}, ann.access_token)
    assert "errors" not in body, body  # GraphQL
    for recipient in (bob, cat):
        (message,) = await inbox(api, recipient)
        assert_named_by_username(message["content"], ann)
        body = await api.gql(GQL_INBOX, None, recipient.access_token)
        (listed,) = body["data"]["inboxMessages"]
        assert_named_by_username(listed["content"], ann)


# --- exact-email look-ups ----------------------------------------------------------------------

TWO_LOOKUPS = with_settings(rate_limit_email_lookup_user="2/hour")
GQL_SEARCH = "query($q: String!) { searchUsers(query: $q) { id username } }"


async def rest_search(api: Api, who: Account, query: str) -> Any:
    return await api.rest("POST", "/users/search", who.access_token, json={"query": query})


async def gql_search(api: Api, who: Account, query: str) -> dict[str, Any]:
    return await api.gql(GQL_SEARCH, {"q": query}, who.access_token)


@TWO_LOOKUPS
async def test_exact_email_searches_are_limited_per_user_over_rest(api: Api) -> None:
    ann, bob, cat = await api.quick_user(), await api.quick_user(), await api.quick_user()
    found = ok(await rest_search(api, ann, bob.email))
    assert [user["id"] for user in found] == [bob.id]
    assert ok(await rest_search(api, ann, "nobody@example.com")) == []  # a miss counts too
    refused = await rest_search(api, ann, cat.email)
    body = problem(refused, 429)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert body["instance"] == f"{API}/users/search"
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    # Username searches are not look-ups of an address; other users have their own budget.
    assert [u["id"] for u in ok(await rest_search(api, ann, cat.username))] == [cat.id]
    assert [u["id"] for u in ok(await rest_search(api, bob, cat.email))] == [cat.id]


@TWO_LOOKUPS
async def test_exact_email_searches_are_limited_per_user_over_graphql(api: Api) -> None:
    ann, bob, cat = await api.quick_user(), await api.quick_user(), await api.quick_user()
    first = await gql_search(api, ann, bob.email)
    assert [u["id"] for u in first["data"]["searchUsers"]] == [bob.id]
    # Both doors draw on one budget.
    ok(await rest_search(api, ann, "nobody@example.com"))
    refused = await gql_search(api, ann, cat.email)
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", refused
    assert 1 <= error["extensions"]["retryAfter"] <= 3600
    again = await gql_search(api, ann, cat.username)
    assert [u["id"] for u in again["data"]["searchUsers"]] == [cat.id]
