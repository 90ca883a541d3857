"""docs/contract.md §3 Users: `GET/PATCH /users/me`, `POST /users/search`; §4 `me`, `updateMe`,
`searchUsers`, `user(id)`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from models import PendingSignup, User
from tests.support.client import Account, Api
from tests.support.transports import Transport

PROFILE = {"id", "username", "avatar_url", "bio"}
OWN_PROFILE = PROFILE | {"timezone"}  # the caller's own settings, on `me` only


@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.sign_up("alice", "alice@example.com")


async def make_user(username: str, email: str | None = None, **fields: Any) -> User:
    """A confirmed account written straight to the database (search needs many of them)."""
    email = email or f"{username}@example.com"
    return await User.create(
        username=username,
        username_key=username.lower(),
        email=email,
        email_key=email.lower(),
        password_hash="$argon2id$unused",
        email_confirmed_at=datetime.now(UTC),
        **fields,
    )


# --- me ----------------------------------------------------------------------------------------


async def test_get_me(t: Transport, alice: Account) -> None:
    outcome = await t.me(alice.access_token)
    me = outcome.expect_ok()
    assert me == {
        "id": alice.id,
        "username": "alice",
        "avatar_url": None,
        "bio": None,
        "timezone": "UTC",
    }
    if t.kind == "rest":
        assert outcome.status == 200 and set(outcome.raw.json()) == OWN_PROFILE


async def test_graphql_me_has_the_account_fields(api: Api, alice: Account) -> None:
    body = await api.gql(
        "{ me { id username email avatarUrl bio createdAt emailConfirmedAt inviteCode } }",
        token=alice.access_token,
    )
    me = body["data"]["me"]
    user = await User.get(id=alice.id)
    assert me["id"] == alice.id and me["email"] == "alice@example.com"
    assert me["username"] == "alice" and me["avatarUrl"] is None and me["bio"] is None
    assert datetime.fromisoformat(me["createdAt"]) == user.created_at
    assert user.email_confirmed_at is not None
    assert datetime.fromisoformat(me["emailConfirmedAt"]) == user.email_confirmed_at
    assert len(me["inviteCode"]) == 8


async def test_me_needs_authentication(t: Transport) -> None:
    (await t.me(None)).expect("UNAUTHENTICATED")
    (await t.update_me(None, bio="hi")).expect("UNAUTHENTICATED")
    (await t.search_users(None, "alice")).expect("UNAUTHENTICATED")


async def test_update_me(t: Transport, alice: Account) -> None:
    outcome = await t.update_me(
        alice.access_token,
        username="Alicia",
        avatar_url="https://cdn.example.com/a.png",
        bio="Hello 世界",
    )
    expected = {
        "id": alice.id,
        "username": "Alicia",
        "avatar_url": "https://cdn.example.com/a.png",
        "bio": "Hello 世界",
        "timezone": "UTC",
    }
    assert outcome.expect_ok() == expected
    if t.kind == "rest":
        assert outcome.status == 200
    assert (await t.me(alice.access_token)).expect_ok() == expected
    user = await User.get(id=alice.id)
    assert user.username_key == "alicia"


async def test_update_is_partial_and_null_clears(t: Transport, alice: Account) -> None:
    (await t.update_me(alice.access_token, avatar_url="http://x.example/a", bio="bio")).expect_ok()
    me = (await t.update_me(alice.access_token, bio="new bio")).expect_ok()
    assert me["avatar_url"] == "http://x.example/a" and me["username"] == "alice"
    me = (await t.update_me(alice.access_token, avatar_url=None, bio=None)).expect_ok()
    assert me == {
        "id": alice.id,
        "username": "alice",
        "avatar_url": None,
        "bio": None,
        "timezone": "UTC",
    }
    me = (await t.update_me(alice.access_token)).expect_ok()
    assert me["username"] == "alice"


async def test_avatar_url_must_be_http(t: Transport, alice: Account) -> None:
    for avatar_url in (
        "ftp://x",
        "javascript:alert(1)",
        "http://",
        "not a url",
        "data:image/png;base64,AAAA",
        "//cdn.example.com/a.png",
    ):
        (await t.update_me(alice.access_token, avatar_url=avatar_url)).expect("BAD_USER_INPUT")
    assert (await User.get(id=alice.id)).avatar_url is None
    me = (await t.update_me(alice.access_token, avatar_url="HTTPS://cdn.example.com/a")).expect_ok()
    assert me["avatar_url"] == "HTTPS://cdn.example.com/a"


async def test_bio_at_most_200_characters(t: Transport, alice: Account) -> None:
    (await t.update_me(alice.access_token, bio="字" * 200)).expect_ok()
    (await t.update_me(alice.access_token, bio="x" * 201)).expect("BAD_USER_INPUT")
    assert (await User.get(id=alice.id)).bio == "字" * 200


async def test_invalid_username_update_is_422(t: Transport, alice: Account) -> None:
    for username in ("ab", "a b c", "x" * 31, None, "İ" * 30):
        (await t.update_me(alice.access_token, username=username)).expect("BAD_USER_INPUT")
    assert (await User.get(id=alice.id)).username == "alice"


async def test_taken_username_is_409(t: Transport, alice: Account) -> None:
    await make_user("Bob")
    for taken in ("bob", "BOB", "Bob"):
        (await t.update_me(alice.access_token, username=taken, bio="x")).expect("CONFLICT")
    user = await User.get(id=alice.id)
    assert user.username == "alice" and user.bio is None  # nothing of the update applied


async def test_own_or_released_username_is_free(t: Transport, api: Api, alice: Account) -> None:
    me = (await t.update_me(alice.access_token, username="ALICE")).expect_ok()
    assert me["username"] == "ALICE"
    bob = await api.sign_up("bob", "bob@example.com")
    (await t.update_me(alice.access_token, username="alice2")).expect_ok()
    (await t.update_me(bob.access_token, username="Alice")).expect_ok()


async def test_update_cannot_touch_email_or_role(api: Api, alice: Account) -> None:
    r = await api.rest(
        "PATCH",
        "/users/me",
        alice.access_token,
        json={"email": "evil@example.com", "role": "admin", "id": str(uuid.uuid4())},
    )
    assert r.status_code == 200 and r.json()["id"] == alice.id
    user = await User.get(id=alice.id)
    assert user.email == "alice@example.com" and user.role == "authenticated"


# --- search ------------------------------------------------------------------------------------


def names(outcome: Any) -> list[str]:
    return [u["username"] for u in outcome.expect_ok()]


async def test_search_by_email_is_exact_and_case_insensitive(t: Transport, alice: Account) -> None:
    bob = await make_user("bob", "Bob@Example.com")
    outcome = await t.search_users(alice.access_token, "BOB@example.COM")
    assert outcome.expect_ok() == [
        {"id": str(bob.id), "username": "bob", "avatar_url": None, "bio": None}
    ]
    assert names(await t.search_users(alice.access_token, "  bob@example.com ")) == ["bob"]
    for partial in ("bob@example", "ob@example.com", "@example.com", "bob@"):
        assert names(await t.search_users(alice.access_token, partial)) == []


async def test_search_never_answers_the_caller(t: Transport, alice: Account) -> None:
    await make_user("alicia")
    assert names(await t.search_users(alice.access_token, "alice@example.com")) == []
    assert names(await t.search_users(alice.access_token, "ALI")) == ["alicia"]


async def test_search_by_username_prefix_first_then_shortest(t: Transport, alice: Account) -> None:
    for name in ("marianne", "Annabel", "joann", "bob", "ANNA", "x_ann_y"):
        await make_user(name)
    found = names(await t.search_users(alice.access_token, "aNn"))
    # Prefix matches (shortest first), then the other substring matches (shortest first).
    assert found == ["ANNA", "Annabel", "joann", "x_ann_y", "marianne"]


async def test_search_query_is_literal_text_in_any_script(t: Transport, alice: Account) -> None:
    await make_user("李雷_x")
    await make_user("韩梅梅")
    await make_user("a_b")
    await make_user("axb")
    await make_user("a%b")  # not a valid username, but the query must not be a LIKE pattern
    assert names(await t.search_users(alice.access_token, "雷")) == ["李雷_x"]
    assert names(await t.search_users(alice.access_token, "a_b")) == ["a_b"]
    assert names(await t.search_users(alice.access_token, "%")) == ["a%b"]
    assert names(await t.search_users(alice.access_token, "_")) == ["a_b", "李雷_x"]
    assert names(await t.search_users(alice.access_token, "   ")) == []


async def test_search_answers_at_most_20_prefix_matches_first(t: Transport, alice: Account) -> None:
    for i in range(15):
        await make_user(f"a_kit{i:02d}")
    for i in range(15):
        await make_user(f"kit{i:02d}" + "x" * (i % 3))
    found = names(await t.search_users(alice.access_token, "KIT"))
    assert len(found) == 20
    assert all(n.startswith("kit") for n in found[:15])
    assert [len(n) for n in found[:15]] == sorted(len(n) for n in found[:15])
    assert all(n.startswith("a_kit") for n in found[15:])


async def test_search_only_finds_confirmed_users(t: Transport, api: Api, alice: Account) -> None:
    r = await api.rest(
        "POST",
        "/auth/verifications",
        json={"username": "pendingpat", "email": "pat@example.com", "password": "secret"},
    )
    assert r.status_code == 202
    assert await PendingSignup.exists()
    assert names(await t.search_users(alice.access_token, "pendingpat")) == []
    assert names(await t.search_users(alice.access_token, "pat@example.com")) == []


async def test_search_results_never_carry_an_email(t: Transport, alice: Account) -> None:
    await make_user("bobby", "bobby@example.com", bio="hi", avatar_url="https://x.example/b")
    for query in ("bob", "bobby@example.com"):
        outcome = await t.search_users(alice.access_token, query)
        [found] = outcome.expect_ok()
        assert set(found) == PROFILE
        assert found["bio"] == "hi" and found["avatar_url"] == "https://x.example/b"
        text = outcome.raw.text if t.kind == "rest" else str(outcome.raw)
        assert "bobby@example.com" not in text


async def test_graphql_user_type_has_no_email(api: Api, alice: Account) -> None:
    body = await api.gql('{ searchUsers(query: "bob") { id email } }', token=alice.access_token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert body.get("data") is None


async def test_search_query_length_is_validated(t: Transport, alice: Account) -> None:
    for query in ("", "x" * 101):
        (await t.search_users(alice.access_token, query)).expect("BAD_USER_INPUT")
    assert names(await t.search_users(alice.access_token, "x" * 100)) == []


# --- user(id) ----------------------------------------------------------------------------------

USER = "query($id: ID!) { user(id: $id) { id username avatarUrl bio } }"


async def test_user_by_id(api: Api, alice: Account) -> None:
    bob = await make_user("bob", bio="hello")
    body = await api.gql(USER, {"id": str(bob.id)}, alice.access_token)
    assert body == {
        "data": {"user": {"id": str(bob.id), "username": "bob", "avatarUrl": None, "bio": "hello"}}
    }


async def test_user_by_unknown_or_malformed_id_is_null(api: Api, alice: Account) -> None:
    for user_id in (str(uuid.uuid4()), "not-a-uuid", "", "1"):
        body = await api.gql(USER, {"id": user_id}, alice.access_token)
        assert body == {"data": {"user": None}}, user_id


async def test_user_by_id_needs_authentication(api: Api, alice: Account) -> None:
    body = await api.gql(USER, {"id": alice.id})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_user_by_email_over_graphql_follows_the_rest_rule(api: Api) -> None:
    me = await api.quick_user()
    other = await api.quick_user()
    query = "query($e: String!) { userByEmail(email: $e) { id email createdAt } }"
    own = await api.gql(query, {"e": me.email.upper()}, me.access_token)
    assert own["data"]["userByEmail"]["id"] == me.id
    for email in (other.email, "nobody@example.com"):
        body = await api.gql(query, {"e": email}, me.access_token)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await api.gql(query, {"e": "not-an-email"}, me.access_token)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
