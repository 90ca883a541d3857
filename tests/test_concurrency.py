"""Races (README "Decisions": uniqueness is enforced by the database, not only checked in Python).

Requests run concurrently through the ASGI app; on PostgreSQL they race in the database for
real (SQLite serializes writes, so there the tests mostly check the same outcome). Existing
tests race 20 friend accepts and 30 identical run starts over REST; these go to 50, mix REST
and GraphQL, and add the races around them: accept/decline/cancel of one request, requests in
both directions, refreshes of one refresh token, shares and answers on one item. The last tests
insert duplicates straight into the tables: the constraints themselves must refuse them.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    AgentMessage,
    AgentRun,
    AgentThread,
    AuthSession,
    FriendRequest,
    Friendship,
    InboxMessage,
    RefreshToken,
    ScheduleSubscription,
    User,
    VerificationCode,
)
from models.friends import pair_key
from resolvers.sessions import open_session
from tests.support.agent import ScriptedModel, new_thread, run_input, wait_idle
from tests.support.calendar_api import create_item, ok, send_request, share
from tests.support.client import Account, Api

N = 50


@pytest.fixture
def chat_model() -> ScriptedModel:
    return ScriptedModel()


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    counted = Counter(r.status_code for r in responses)
    assert not [r.text for r in responses if r.status_code >= 500], counted
    return counted


def gql_outcome(body: dict[str, Any]) -> str:
    """ "ok" or the error's extensions.code."""
    errors = body.get("errors") or []
    return str(errors[0]["extensions"]["code"]) if errors else "ok"


# --- friend requests ---------------------------------------------------------------------------

ACCEPT_REQUEST = "mutation($id: ID!) { acceptFriendRequest(id: $id) { id status } }"


async def test_fifty_concurrent_accepts_over_both_doors_make_one_friendship(
    api: Api, alice: Account, bob: Account
) -> None:
    request = await send_request(api, alice, bob)
    path = f"/friends/requests/{request['id']}/accept"
    rest = [api.rest("POST", path, bob.access_token) for _ in range(N // 2)]
    gql = [api.gql(ACCEPT_REQUEST, {"id": request["id"]}, bob.access_token) for _ in range(N // 2)]
    answers = await asyncio.gather(*rest, *gql)
    rest_answers: list[httpx.Response] = list(answers[: N // 2])  # type: ignore[arg-type]
    gql_answers: list[dict[str, Any]] = list(answers[N // 2 :])  # type: ignore[arg-type]
    counted = statuses(rest_answers)
    outcomes = Counter(gql_outcome(b) for b in gql_answers)
    assert set(counted) <= {200, 409} and set(outcomes) <= {"ok", "CONFLICT"}, (counted, outcomes)
    assert counted[200] + outcomes["ok"] == 1, (counted, outcomes)
    assert await Friendship.all().count() == 1
    assert (await FriendRequest.get(id=request["id"])).status == "accepted"
    (message,) = await InboxMessage.filter(friend_request_id=request["id"])
    assert message.status == "accepted"


async def test_concurrent_accepts_declines_and_cancels_have_one_winner(
    api: Api, alice: Account, bob: Account
) -> None:
    request = await send_request(api, alice, bob)
    base = f"/friends/requests/{request['id']}"
    calls = (
        [("accept", api.rest("POST", base + "/accept", bob.access_token)) for _ in range(20)]
        + [("decline", api.rest("POST", base + "/decline", bob.access_token)) for _ in range(20)]
        + [("cancel", api.rest("DELETE", base, alice.access_token)) for _ in range(10)]
    )
    responses = await asyncio.gather(*(call for _, call in calls))
    statuses(list(responses))
    won = [kind for (kind, _), r in zip(calls, responses, strict=True) if r.status_code < 300]
    assert len(won) == 1, Counter(
        (k, r.status_code) for (k, _), r in zip(calls, responses, strict=True)
    )
    for (kind, _), r in zip(calls, responses, strict=True):
        if r.status_code >= 300:  # losers: 409 for the recipient, 404 for the sender
            assert r.status_code == (404 if kind == "cancel" else 409), (kind, r.text)
    final = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}[won[0]]
    inbox_final = {"accept": "accepted", "decline": "rejected", "cancel": "dismissed"}[won[0]]
    stored = await FriendRequest.get(id=request["id"])
    assert stored.status == final and stored.open_pair is None
    assert await Friendship.all().count() == (1 if won[0] == "accept" else 0)
    (message,) = await InboxMessage.filter(friend_request_id=request["id"])
    assert message.status == inbox_final


async def test_concurrent_requests_in_both_directions_leave_one_pending(
    api: Api, alice: Account, bob: Account
) -> None:
    calls = [
        api.rest("POST", "/friends/requests", sender.access_token, json={"target_user_id": to.id})
        for _ in range(N // 2)
        for sender, to in ((alice, bob), (bob, alice))
    ]
    counted = statuses(list(await asyncio.gather(*calls)))
    assert counted == Counter({201: 1, 409: N - 1}), counted
    assert await FriendRequest.filter(status="pending").count() == 1
    assert await InboxMessage.filter(message_type="friend_request").count() == 1


# --- agent runs ------------------------------------------------------------------------------

START = "mutation($input: JSON!) { startAgentRun(input: $input) { taskId threadId runId created } }"


async def test_fifty_concurrent_identical_starts_over_both_doors_make_one_run(
    api: Api, alice: Account
) -> None:
    thread_id = new_thread()
    body = run_input(thread_id, "run-x", "hello")
    rest = [api.rest("POST", "/agent/runs", alice.access_token, json=body) for _ in range(N // 2)]
    gql = [api.gql(START, {"input": body}, alice.access_token) for _ in range(N // 2)]
    answers = await asyncio.gather(*rest, *gql)
    tickets = []
    for r in answers[: N // 2]:
        assert isinstance(r, httpx.Response) and r.status_code == 202, r
        tickets.append(r.json())
    for b in answers[N // 2 :]:
        assert isinstance(b, dict) and gql_outcome(b) == "ok", b
        tickets.append(b["data"]["startAgentRun"])
    assert sum(t["created"] for t in tickets) == 1, tickets
    assert len({t["taskId"] for t in tickets}) == 1 and {t["runId"] for t in tickets} == {"run-x"}
    assert await AgentRun.filter(thread_id=thread_id).count() == 1
    assert await AgentThread.filter(id=thread_id).count() == 1
    await wait_idle(thread_id)
    assert await AgentMessage.filter(thread_id=thread_id, role="user").count() == 1


# --- refresh tokens --------------------------------------------------------------------------
# A "token family" is a session (`auth_sessions`): every refresh token rotated out of one
# sign-in belongs to it, and revoking it kills every token of the family at once.


async def refresh(api: Api, token: str) -> httpx.Response:
    return await api.rest("POST", "/auth/sessions/refresh", json={"refresh_token": token})


async def live_tokens(session_id: Any) -> int:
    """Refresh tokens of the session that would still rotate: not rotated, session alive."""
    if await AuthSession.filter(id=session_id, revoked_at=None).exists():
        return await RefreshToken.filter(session_id=session_id, rotated_at=None).count()
    return 0


async def session_of(token: str) -> Any:
    row = await RefreshToken.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
    return row.session_id


async def test_concurrent_refreshes_within_the_grace_stay_in_one_family_that_dies_together(
    api: Api, alice: Account
) -> None:
    """README: within the 10 s grace a rotated token yields another fresh token of the same
    session (racing tabs all keep working); reuse after it revokes the whole session."""
    session_id = await session_of(alice.refresh_token)
    responses = await asyncio.gather(*(refresh(api, alice.refresh_token) for _ in range(N)))
    assert statuses(list(responses)) == Counter({200: N})
    new = [r.json() for r in responses]
    assert len({s["refresh_token"] for s in new}) == N
    # One family: no racing request opened a second session.
    assert await AuthSession.filter(user_id=alice.id).count() == 1
    assert {await session_of(s["refresh_token"]) for s in new} == {session_id}
    assert await live_tokens(session_id) == N
    # After the grace, reusing the rotated token revokes the family: every token in it dies.
    await RefreshToken.filter(rotated_at__not_isnull=True).update(
        rotated_at=datetime.now(UTC) - timedelta(seconds=11)
    )
    assert (await refresh(api, alice.refresh_token)).status_code == 401
    assert await live_tokens(session_id) == 0
    again = await asyncio.gather(*(refresh(api, s["refresh_token"]) for s in new))
    assert statuses(list(again)) == Counter({401: N})
    r = await api.rest("GET", "/users/me", new[0]["access_token"])
    assert r.status_code == 401, r.text


@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_s": 0}], indirect=True)
async def test_without_grace_concurrent_refreshes_leave_at_most_one_live_token(
    api: Api, alice: Account
) -> None:
    """Without a grace every reuse of a rotated token is a reuse: of N racing refreshes one
    rotates the token, and the others either fail or revoke the session. Either way at most one
    refresh token of the family can still be used."""
    session_id = await session_of(alice.refresh_token)
    responses = await asyncio.gather(*(refresh(api, alice.refresh_token) for _ in range(N)))
    counted = statuses(list(responses))
    assert set(counted) <= {200, 401}, counted
    usable = [r.json() for r in responses if r.status_code == 200]
    alive = await AuthSession.filter(id=session_id, revoked_at=None).exists()
    assert await live_tokens(session_id) <= 1, (counted, alive)
    if alive:
        assert counted[200] == 1, f"{counted[200]} tokens minted from one rotated token"
    later = await asyncio.gather(*(refresh(api, s["refresh_token"]) for s in usable))
    assert sum(r.status_code == 200 for r in later) <= 1, [r.status_code for r in later]


@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_s": 0}], indirect=True)
async def test_without_grace_two_racing_tabs_never_both_keep_a_live_token(
    api: Api, alice: Account
) -> None:
    """The common race: two tabs refresh the same token at once. Without a grace the loser's
    call is a reuse; it must not come back with a second live token of the family."""
    assert api.services is not None
    user = await User.get(id=alice.id)
    outcomes = []
    for _ in range(10):
        tokens = await open_session(api.services, user)
        session_id = await session_of(tokens.refresh_token)
        pair = await asyncio.gather(*(refresh(api, tokens.refresh_token) for _ in range(2)))
        counted = statuses(list(pair))
        alive = await AuthSession.filter(id=session_id, revoked_at=None).exists()
        outcomes.append((counted[200], alive))
        assert await live_tokens(session_id) <= 1, outcomes


# --- shares and answers on one item ----------------------------------------------------------

EVERYTHING = {"permission_view": True, "permission_edit": True, "permission_invite": True}
BITS = [
    {},
    {"permission_invite": True},
    {"permission_edit": True},
    {"permission_edit": True, "permission_invite": True},
]


async def test_concurrent_shares_and_answers_leave_consistent_permissions(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    for round_ in range(3):
        item = (await create_item(api, alice, title=f"Contested {round_}"))["id"]
        ok(await share(api, alice, item, bob.email))
        ok(await share(api, alice, item, carol.email))
        (bob_msg,) = await InboxMessage.filter(schedule_item_id=item, recipient_id=bob.id)
        (carol_msg,) = await InboxMessage.filter(schedule_item_id=item, recipient_id=carol.id)
        calls: list[tuple[str, Any]] = []
        for i in range(15):
            for who in (bob, carol):
                calls.append(("share", share(api, alice, item, who.email, **BITS[i % 4])))
        for _ in range(10):
            accept = f"/inbox/messages/{bob_msg.id}/accept"
            calls.append(("accept", api.rest("POST", accept, bob.access_token, json=EVERYTHING)))
        for i in range(10):
            action = "accept" if i % 2 else "dismiss"
            path = f"/inbox/messages/{carol_msg.id}/{action}"
            body = EVERYTHING if action == "accept" else None
            calls.append((action, api.rest("POST", path, carol.access_token, json=body)))
        responses = await asyncio.gather(*(call for _, call in calls))
        statuses(list(responses))
        allowed = {"share": {200, 409}, "accept": {204, 400}, "dismiss": {204, 400}}
        for (kind, _), r in zip(calls, responses, strict=True):
            assert r.status_code in allowed[kind], (kind, r.status_code, r.text)

        # Bob: one subscription, with exactly the bits of the invitation he accepted.
        await bob_msg.refresh_from_db()
        assert bob_msg.status == "accepted", bob_msg.status
        (sub,) = await ScheduleSubscription.filter(item_id=item, user_id=bob.id)
        assert sub.permission == bob_msg.permission, (
            f"round {round_}: bob subscribed with {sub.permission}, "
            f"the accepted invitation records {bob_msg.permission}"
        )
        # Carol: exactly one of her answers won.
        await carol_msg.refresh_from_db()
        subs = await ScheduleSubscription.filter(item_id=item, user_id=carol.id)
        if carol_msg.status == "accepted":
            assert [s.permission for s in subs] == [carol_msg.permission], round_
        else:
            assert carol_msg.status in ("dismissed", "pending") and subs == [], round_
        for who in (bob, carol):
            pending = InboxMessage.filter(schedule_item_id=item, recipient_id=who.id)
            assert await pending.filter(status="pending").count() <= 1
        assert await ScheduleSubscription.filter(item_id=item).count() == 1 + len(subs)


# --- the constraints themselves --------------------------------------------------------------


async def _refused(create: Any) -> None:
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await create()


async def test_the_database_refuses_duplicates_itself(
    api: Api, alice: Account, bob: Account
) -> None:
    low, high = sorted((uuid.UUID(alice.id), uuid.UUID(bob.id)), key=str)
    await Friendship.create(user_low_id=low, user_high_id=high)
    await _refused(lambda: Friendship.create(user_low_id=low, user_high_id=high))

    key = pair_key(uuid.UUID(alice.id), uuid.UUID(bob.id))
    await FriendRequest.create(from_user_id=alice.id, to_user_id=bob.id, open_pair=key)
    await _refused(
        lambda: FriendRequest.create(from_user_id=bob.id, to_user_id=alice.id, open_pair=key)
    )

    item = (await create_item(api, alice))["id"]
    await ScheduleSubscription.create(item_id=item, user_id=bob.id, permission=1)
    await _refused(lambda: ScheduleSubscription.create(item_id=item, user_id=bob.id, permission=7))

    invitation: dict[str, Any] = {
        "recipient_id": bob.id,
        "message_type": "calendar",
        "schedule_item_id": item,
        "open_invitation": f"{item}:{bob.id}",
    }
    await InboxMessage.create(**invitation)
    await _refused(lambda: InboxMessage.create(**invitation))

    thread = await AgentThread.create(
        id=uuid.uuid4(), owner_id=alice.id, last_active_at=datetime.now(UTC)
    )
    run: dict[str, Any] = {
        "thread_id": thread.id,
        "run_id": "run-1",
        "input": {},
        "status": "finished",
    }
    await AgentRun.create(task_id="task-1", **run)
    await _refused(lambda: AgentRun.create(task_id="task-2", **run))

    token: dict[str, Any] = {
        "session_id": await session_of(alice.refresh_token),
        "token_hash": "f" * 64,
    }
    await RefreshToken.create(**token)
    await _refused(lambda: RefreshToken.create(**token))

    code: dict[str, Any] = {
        "email_key": "x@example.com",
        "purpose": "signup",
        "code_hash": "0" * 64,
    }
    expires = datetime.now(UTC) + timedelta(minutes=10)
    await VerificationCode.create(expires_at=expires, **code)
    await _refused(lambda: VerificationCode.create(expires_at=expires, **code))
