"""GraphQL calls as the API tests write them: an operation from its parts, the value of its one
top-level field when it must succeed, its error code when it must fail."""

from __future__ import annotations

from typing import Any

from tests.support.client import Account, Api, gql_code


def operation(head: str, call: str, fields: str = "") -> str:
    """`head { call { fields } }`, or `head { call }` for a field without a selection."""
    return f"{head} {{ {call} {{ {fields} }} }}" if fields else f"{head} {{ {call} }}"


def gql_data(body: dict[str, Any]) -> Any:
    """The value of the one top-level field of an answer without errors."""
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


async def gql_ok(api: Api, query: str, variables: dict[str, Any], who: Account) -> Any:
    """Run `query` as `who`; it must succeed: the value of its one top-level field."""
    return gql_data(await api.gql(query, variables, who.access_token))


async def gql_error_code(
    api: Api, query: str, variables: dict[str, Any], who: Account | None
) -> str | None:
    """Run `query` as `who` (anonymously for None); it must fail: the error's `extensions.code`."""
    body = await api.gql(query, variables, who.access_token if who else None)
    assert body.get("data") is None or next(iter(body["data"].values())) is None, body
    return gql_code(body)
