"""REST helpers for the friends, schedule-item, sharing and inbox tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.support.client import Account, Api

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 7807 problem with `status` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    assert body["instance"] == response.request.url.path
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def instant(value: str) -> datetime:
    """Parse a returned datetime, insisting on an explicit offset."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None, value
    return parsed


async def send_request(api: Api, sender: Account, target: Account, **body: Any) -> dict[str, Any]:
    r = await api.rest(
        "POST",
        "/friends/requests",
        sender.access_token,
        json={"target_user_id": target.id, **body},
    )
    created: dict[str, Any] = ok(r, 201)
    return created


async def befriend(api: Api, a: Account, b: Account) -> str:
    """Make a and b friends; return the friendship's id as a lists it."""
    request = await send_request(api, a, b)
    ok(await api.rest("POST", f"/friends/requests/{request['id']}/accept", b.access_token))
    friends = ok(await api.rest("GET", "/friends", a.access_token))
    return str(next(f["id"] for f in friends if f["friend_id"] == b.id))


async def create_item(api: Api, owner: Account, **body: Any) -> dict[str, Any]:
    fields = {"title": "Item", "start_at": "2026-03-01T09:00:00Z", **body}
    created: dict[str, Any] = ok(
        await api.rest("POST", "/schedule-items", owner.access_token, json=fields), 201
    )
    return created


async def share(
    api: Api, sharer: Account, item_id: str, email: str, **bits: bool
) -> httpx.Response:
    return await api.rest(
        "POST",
        f"/schedule-items/{item_id}/share",
        sharer.access_token,
        json={"email": email, **bits},
    )


async def inbox(api: Api, account: Account, **params: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = ok(
        await api.rest("GET", "/inbox/messages", account.access_token, params=params)
    )
    return messages


async def pending_invitation(api: Api, account: Account, item_id: str) -> dict[str, Any]:
    found = [
        m
        for m in await inbox(api, account, status="pending")
        if m["message_type"] == "calendar" and m["schedule_item_id"] == item_id
    ]
    assert len(found) == 1, found
    return found[0]


async def subscribe(
    api: Api,
    owner: Account,
    subscriber: Account,
    item_id: str,
    *,
    edit: bool = False,
    invite: bool = False,
) -> None:
    """Share `item_id` with `subscriber` and accept, holding view plus the asked bits."""
    bits = {"permission_edit": edit, "permission_invite": invite}
    ok(await share(api, owner, item_id, subscriber.email, **bits))
    message = await pending_invitation(api, subscriber, item_id)
    r = await api.rest(
        "POST",
        f"/inbox/messages/{message['id']}/accept",
        subscriber.access_token,
        json={"permission_view": True, **bits},
    )
    ok(r, 204)
