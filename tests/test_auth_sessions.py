"""docs/contract.md §3 Auth: sign-in, access tokens, refresh rotation, sign-out and
`GET /auth/users`; §2 authentication (expired, malformed and revoked tokens are 401)."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from config import Settings
from models import AuthSession, PendingSignup, RefreshToken, User
from tests.support.client import Account, Api
from tests.support.transports import Transport, rest_outcome

SESSION_KEYS = {"access_token", "refresh_token", "expires_in", "token_type", "user"}


@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.sign_up("alice", "alice@example.com", password="alice password")


def claims(settings: Settings, token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token, settings.signing_key(), algorithms=["HS256"], audience="authenticated"
    )
    return decoded


# --- sign-in ---------------------------------------------------------------------------------


async def test_sign_in_answers_a_session(t: Transport, alice: Account) -> None:
    outcome = await t.sign_in("alice@example.com", "alice password")
    session = outcome.expect_ok()
    if t.kind == "rest":
        assert outcome.status == 200
    assert set(session) == SESSION_KEYS
    assert session["user"] == {"id": alice.id, "email": "alice@example.com"}
    assert session["token_type"] == "bearer" and session["expires_in"] == 3600
    assert session["refresh_token"] != alice.refresh_token
    (await t.me(session["access_token"])).expect_ok()
    # A new sign-in is a new session beside the first one.
    assert await AuthSession.filter(user_id=alice.id, revoked_at=None).count() == 2


@pytest.mark.usefixtures("alice")
async def test_wrong_password_unknown_and_unconfirmed_email_answer_alike(t: Transport) -> None:
    (
        await t.request_signup(username="pending", email="pending@example.com", password="secret")
    ).expect_ok()
    assert await PendingSignup.filter(email_key="pending@example.com").exists()
    wrong = (await t.sign_in("alice@example.com", "not her password")).expect("UNAUTHENTICATED")
    unknown = (await t.sign_in("nobody@example.com", "alice password")).expect("UNAUTHENTICATED")
    unconfirmed = (await t.sign_in("pending@example.com", "secret")).expect("UNAUTHENTICATED")
    assert wrong.detail == unknown.detail == unconfirmed.detail
    if t.kind == "rest":
        assert wrong.raw == {**unknown.raw, "instance": wrong.raw["instance"]}
        assert wrong.raw == unconfirmed.raw


@pytest.mark.usefixtures("alice")
async def test_unknown_email_still_costs_a_password_check(t: Transport, app: Any) -> None:
    """Same timing: when the user does not exist a dummy hash is verified instead."""
    passwords = app.state.services.passwords
    checked: list[str | None] = []
    original = passwords.verify

    async def spy(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        result: bool = await original(password_hash, password)
        return result

    passwords.verify = spy
    try:
        (await t.sign_in("nobody@example.com", "some password")).expect("UNAUTHENTICATED")
        (await t.sign_in("alice@example.com", "some password")).expect("UNAUTHENTICATED")
    finally:
        del passwords.verify
    assert len(checked) == 2
    assert checked[0] is None and checked[1] is not None


@pytest.mark.usefixtures("alice")
async def test_sign_in_is_case_insensitive_on_email_but_not_on_password(t: Transport) -> None:
    (await t.sign_in("ALICE@Example.com", "alice password")).expect_ok()
    (await t.sign_in("alice@example.com", "ALICE PASSWORD")).expect("UNAUTHENTICATED")
    # Malformed input is 422, not 401.
    (await t.sign_in("not an email", "secret")).expect("BAD_USER_INPUT")
    (await t.sign_in("alice@example.com", "12345")).expect("BAD_USER_INPUT")


# --- access tokens ---------------------------------------------------------------------------


async def test_access_token_claims(t: Transport, alice: Account, settings: Settings) -> None:
    session = (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    token = session["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    c = claims(settings, token)
    assert {"sub", "email", "sid", "role", "iat", "exp", "aud"} <= set(c)
    assert c["sub"] == alice.id and c["email"] == "alice@example.com"
    assert c["role"] == "authenticated" and c["aud"] == "authenticated"
    assert c["exp"] - c["iat"] == settings.access_token_ttl == session["expires_in"]
    assert abs(c["iat"] - time.time()) < 60
    row = await AuthSession.get(id=c["sid"])
    assert str(row.user_id) == alice.id and row.revoked_at is None
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another key", algorithms=["HS256"], audience="authenticated")


def forged(settings: Settings, alice: Account, key: str | None = None, **changes: Any) -> str:
    payload = {**claims(settings, alice.access_token), **changes}
    return jwt.encode(payload, key or settings.signing_key(), algorithm="HS256")


async def test_bad_access_tokens_are_401(
    t: Transport, api: Api, alice: Account, settings: Settings
) -> None:
    bob = await api.sign_up("bob", "bob@example.com")
    now = int(time.time())
    payload = claims(settings, alice.access_token)
    bad = {
        "expired": forged(settings, alice, iat=now - 7200, exp=now - 3600),
        "wrong key": forged(settings, alice, key="x" * 32),
        "wrong audience": forged(settings, alice, aud="anon"),
        "malformed": "not.a.jwt",
        "unknown sid": forged(settings, alice, sid=str(uuid.uuid4())),
        "sid of another user": forged(settings, alice, sub=bob.id),
        "no sid": jwt.encode(
            {k: v for k, v in payload.items() if k != "sid"}, settings.signing_key()
        ),
        "alg none": jwt.encode(payload, "", algorithm="none"),  # "none" takes no key
    }
    for case, token in [*bad.items(), ("missing", None)]:
        outcome = await t.me(token)
        assert outcome.code == "UNAUTHENTICATED", (case, outcome)
        if t.kind == "rest":
            assert outcome.headers.get("www-authenticate") == "Bearer"
    (await t.me(alice.access_token)).expect_ok()


async def test_non_bearer_authorization_is_401(api: Api, alice: Account) -> None:
    headers = {"Authorization": f"Basic {alice.access_token}"}
    rest_outcome(await api.client.get("/api/v1/users/me", headers=headers)).expect(
        "UNAUTHENTICATED"
    )
    r = await api.client.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- refresh ---------------------------------------------------------------------------------


async def test_refresh_tokens_are_opaque_random_and_stored_hashed(
    t: Transport, alice: Account
) -> None:
    session = (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    tokens = [alice.refresh_token, session["refresh_token"]]
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert "." not in token  # not a JWT
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
    rows = await RefreshToken.all().values()
    assert len(rows) == 2
    stored = {str(v) for row in rows for v in row.values()}
    assert not any(token in value for token in tokens for value in stored)
    hashes = {row["token_hash"] for row in rows}
    assert hashes == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}


async def test_refresh_rotates_and_answers_a_new_session(
    t: Transport, alice: Account, settings: Settings
) -> None:
    outcome = await t.refresh(alice.refresh_token)
    session = outcome.expect_ok()
    assert set(session) == SESSION_KEYS
    assert session["user"] == {"id": alice.id, "email": "alice@example.com"}
    assert session["refresh_token"] != alice.refresh_token
    # Same session: same sid.
    assert (
        claims(settings, session["access_token"])["sid"]
        == claims(settings, alice.access_token)["sid"]
    )
    (await t.me(session["access_token"])).expect_ok()
    (await t.refresh(session["refresh_token"])).expect_ok()


async def test_refresh_reuse_within_grace_succeeds_for_both(t: Transport, alice: Account) -> None:
    first = (await t.refresh(alice.refresh_token)).expect_ok()
    second = (await t.refresh(alice.refresh_token)).expect_ok()
    assert first["refresh_token"] != second["refresh_token"]
    for session in (first, second):
        (await t.me(session["access_token"])).expect_ok()
        (await t.refresh(session["refresh_token"])).expect_ok()


async def test_refresh_reuse_after_grace_revokes_the_session(t: Transport, alice: Account) -> None:
    """The grace window is measured from the rotation, so moving the rotation 11 s into the
    past is the same as waiting."""
    newest = (await t.refresh(alice.refresh_token)).expect_ok()
    await RefreshToken.filter(rotated_at__not_isnull=True).update(
        rotated_at=datetime.now(UTC) - timedelta(seconds=11)
    )
    (await t.refresh(alice.refresh_token)).expect("UNAUTHENTICATED")
    (await t.refresh(newest["refresh_token"])).expect("UNAUTHENTICATED")
    (await t.me(newest["access_token"])).expect("UNAUTHENTICATED")
    (await t.me(alice.access_token)).expect("UNAUTHENTICATED")
    assert await AuthSession.filter(user_id=alice.id, revoked_at=None).count() == 0


@pytest.mark.parametrize("settings_overrides", [{"refresh_reuse_grace_s": 0}], indirect=True)
async def test_refresh_reuse_without_grace_revokes_the_session(
    t: Transport, alice: Account
) -> None:
    other = (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    newest = (await t.refresh(alice.refresh_token)).expect_ok()
    (await t.refresh(alice.refresh_token)).expect("UNAUTHENTICATED")
    (await t.refresh(newest["refresh_token"])).expect("UNAUTHENTICATED")
    (await t.me(newest["access_token"])).expect("UNAUTHENTICATED")
    # Only that session: another sign-in of the same user goes on.
    (await t.me(other["access_token"])).expect_ok()
    (await t.refresh(other["refresh_token"])).expect_ok()


async def test_refresh_with_unknown_or_empty_token(t: Transport) -> None:
    (await t.refresh("x" * 43)).expect("UNAUTHENTICATED")
    (await t.refresh("")).expect("BAD_USER_INPUT")


async def test_refresh_picks_up_a_new_role(
    t: Transport, alice: Account, settings: Settings
) -> None:
    await User.filter(id=alice.id).update(role="admin")
    session = (await t.refresh(alice.refresh_token)).expect_ok()
    assert claims(settings, session["access_token"])["role"] == "admin"


# --- sign-out --------------------------------------------------------------------------------


async def test_sign_out_revokes_the_session_at_once(t: Transport, alice: Account) -> None:
    other = (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    outcome = (await t.sign_out(alice.refresh_token)).expect_ok()
    assert outcome is None
    (await t.me(alice.access_token)).expect("UNAUTHENTICATED")
    (await t.refresh(alice.refresh_token)).expect("UNAUTHENTICATED")
    # The other session of the same user is untouched.
    (await t.me(other["access_token"])).expect_ok()


async def test_sign_out_status_and_unknown_token(t: Transport, alice: Account) -> None:
    outcome = await t.sign_out("no such token")
    outcome.expect_ok()
    if t.kind == "rest":
        assert outcome.status == 204 and not outcome.raw.content
    else:
        assert outcome.raw == {"data": {"signOut": True}}
    (await t.me(alice.access_token)).expect_ok()
    # Twice is fine too.
    (await t.sign_out(alice.refresh_token)).expect_ok()
    (await t.sign_out(alice.refresh_token)).expect_ok()


async def test_sign_out_with_a_rotated_token_ends_the_session(t: Transport, alice: Account) -> None:
    newest = (await t.refresh(alice.refresh_token)).expect_ok()
    (await t.sign_out(alice.refresh_token)).expect_ok()
    (await t.me(newest["access_token"])).expect("UNAUTHENTICATED")
    (await t.refresh(newest["refresh_token"])).expect("UNAUTHENTICATED")


# --- GET /auth/users?email= (REST only: GraphQL has `me` for one's own account) -------------


async def lookup(api: Api, token: str, email: str) -> Any:
    return rest_outcome(await api.rest("GET", "/auth/users", token, params={"email": email}))


async def test_lookup_own_email(api: Api, alice: Account) -> None:
    outcome = await lookup(api, alice.access_token, "ALICE@example.com")
    body = outcome.expect_ok()
    assert outcome.status == 200
    assert set(body) == {"id", "email", "created_at", "email_confirmed_at"}
    assert body["id"] == alice.id and body["email"] == "alice@example.com"
    user = await User.get(id=alice.id)
    assert datetime.fromisoformat(body["created_at"]) == user.created_at
    assert user.email_confirmed_at is not None
    assert datetime.fromisoformat(body["email_confirmed_at"]) == user.email_confirmed_at


async def test_lookup_of_others_is_403_whether_or_not_they_exist(api: Api, alice: Account) -> None:
    await api.sign_up("bob", "bob@example.com")
    other = (await lookup(api, alice.access_token, "bob@example.com")).expect("FORBIDDEN")
    unknown = (await lookup(api, alice.access_token, "nobody@example.com")).expect("FORBIDDEN")
    assert other.detail == unknown.detail


async def test_admin_looks_up_anyone(api: Api, alice: Account) -> None:
    bob = await api.sign_up("bob", "bob@example.com")
    await User.filter(id=alice.id).update(role="admin")
    # The old token still carries the old role.
    (await lookup(api, alice.access_token, "bob@example.com")).expect("FORBIDDEN")
    signed_in = await api.rest(
        "POST", "/auth/sessions", json={"email": "alice@example.com", "password": "alice password"}
    )
    admin = signed_in.json()["access_token"]
    found = (await lookup(api, admin, "BOB@example.com")).expect_ok()
    assert found["id"] == bob.id and found["email"] == "bob@example.com"
    assert set(found) == {"id", "email", "created_at", "email_confirmed_at"}
    (await lookup(api, admin, "nobody@example.com")).expect("NOT_FOUND")
    (await lookup(api, admin, "alice@example.com")).expect_ok()


async def test_lookup_needs_authentication_and_a_valid_email(api: Api, alice: Account) -> None:
    rest_outcome(
        await api.rest("GET", "/auth/users", params={"email": "alice@example.com"})
    ).expect("UNAUTHENTICATED")
    (await lookup(api, alice.access_token, "not-an-email")).expect("BAD_USER_INPUT")
    rest_outcome(await api.rest("GET", "/auth/users", alice.access_token)).expect("BAD_USER_INPUT")
