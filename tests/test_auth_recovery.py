"""docs/contract.md §3 Auth: `POST /auth/resend` / `resendCode` (signup and recovery) and recovery
with `POST /auth/verify` type recovery / `verifyRecovery`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import AuthSession, User, VerificationCode
from tests.support.client import Account, Api
from tests.support.mail import MailSink
from tests.support.transports import Transport

NEW_PASSWORD = "brand new password"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    # Several codes per email in a row; the 60 s interval is covered in test_rate_limits.py.
    return {
        "rate_limit_code_interval": "100/minute",
        "rate_limit_code_email_hourly": "100/hour",
        **getattr(request, "param", {}),
    }


@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.sign_up("alice", "alice@example.com", password="old password")


async def recovery_code(t: Transport, mail: MailSink, email: str = "alice@example.com") -> str:
    before = len(mail.to(email))
    (await t.resend(email, "recovery")).expect_ok()
    return await mail.code_for(email, before + 1)


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- resend ----------------------------------------------------------------------------------


async def test_resend_to_unknown_email_is_204_and_sends_nothing(
    t: Transport, app: Any, mail: MailSink
) -> None:
    for type in ("signup", "recovery"):
        outcome = await t.resend("nobody@example.com", type)
        assert outcome.expect_ok() is None
        if t.kind == "rest":
            assert outcome.status == 204 and not outcome.raw.content
        else:
            assert outcome.raw == {"data": {"resendCode": True}}
    await app.state.services.mail.drain()
    assert mail.messages == []
    assert await VerificationCode.all().count() == 0


@pytest.mark.usefixtures("alice")
async def test_resend_sends_nothing_when_there_is_nothing_to_confirm(
    t: Transport, app: Any, mail: MailSink
) -> None:
    # signup: the email is already confirmed.
    (await t.resend("alice@example.com", "signup")).expect_ok()
    # recovery: an unconfirmed sign-up has no account to recover yet.
    (
        await t.request_signup(username="pending", email="p@example.com", password="secret")
    ).expect_ok()
    await mail.wait_for("p@example.com")
    (await t.resend("p@example.com", "recovery")).expect_ok()
    await app.state.services.mail.drain()
    assert len(mail.to("alice@example.com")) == 1  # her sign-up code only
    assert len(mail.to("p@example.com")) == 1
    assert not await VerificationCode.filter(purpose="recovery").exists()


async def test_resend_signup_mails_a_new_code_that_works(t: Transport, mail: MailSink) -> None:
    (await t.request_signup(username="bob", email="bob@example.com", password="secret")).expect_ok()
    (await t.resend("BOB@example.com")).expect_ok()
    code = await mail.code_for("bob@example.com", 2)
    (await t.verify_signup("bob@example.com", code)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_resend_recovery_starts_recovery_for_a_known_email(
    t: Transport, mail: MailSink
) -> None:
    known = await t.resend("Alice@Example.com", "recovery")
    assert known.expect_ok() is None
    [*_, message] = await mail.wait_for("alice@example.com", 2)
    code = re.search(r"\d{6}", message.text)
    assert code, message.text
    row = await VerificationCode.get(email_key="alice@example.com", purpose="recovery")
    assert code.group() not in row.code_hash
    # The same answer as for an unknown address.
    unknown = await t.resend("nobody@example.com", "recovery")
    assert unknown.expect_ok() is None
    if t.kind == "rest":
        assert known.status == unknown.status == 204
        assert known.raw.content == unknown.raw.content == b""
    else:
        assert known.raw == unknown.raw == {"data": {"resendCode": True}}


async def test_resend_validates_its_input(t: Transport, api: Api) -> None:
    (await t.resend("not-an-email")).expect("BAD_USER_INPUT")
    r = await api.rest("POST", "/auth/resend", json={"type": "magic", "email": "a@example.com"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_resend_type_defaults_to_signup(api: Api, mail: MailSink) -> None:
    await api.rest(
        "POST",
        "/auth/verifications",
        json={"username": "bob", "email": "bob@example.com", "password": "secret"},
    )
    r = await api.rest("POST", "/auth/resend", json={"email": "bob@example.com"})
    assert r.status_code == 204
    await mail.wait_for("bob@example.com", 2)
    body = await api.gql('mutation { resendCode(input: {email: "bob@example.com"}) }')
    assert body == {"data": {"resendCode": True}}
    await mail.wait_for("bob@example.com", 3)


# --- verify recovery -------------------------------------------------------------------------


async def test_recovery_sets_the_password_and_revokes_every_session(
    t: Transport, api: Api, alice: Account, mail: MailSink
) -> None:
    bob = await api.sign_up("bob", "bob@example.com")
    second = (await t.sign_in("alice@example.com", "old password")).expect_ok()
    rotated = (await t.refresh(second["refresh_token"])).expect_ok()
    code = await recovery_code(t, mail)
    outcome = await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)
    assert outcome.expect_ok() is None
    if t.kind == "rest":
        assert outcome.status == 204 and not outcome.raw.content
    # Every session, every token of it.
    for access in (alice.access_token, second["access_token"], rotated["access_token"]):
        (await t.me(access)).expect("UNAUTHENTICATED")
    for refresh in (alice.refresh_token, rotated["refresh_token"]):
        (await t.refresh(refresh)).expect("UNAUTHENTICATED")
    assert await AuthSession.filter(user_id=alice.id, revoked_at=None).count() == 0
    # The old password is gone, the new one works.
    (await t.sign_in("alice@example.com", "old password")).expect("UNAUTHENTICATED")
    session = (await t.sign_in("alice@example.com", NEW_PASSWORD)).expect_ok()
    (await t.me(session["access_token"])).expect_ok()
    user = await User.get(id=alice.id)
    assert NEW_PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2id$")
    # Other users are left alone.
    (await t.me(bob.access_token)).expect_ok()
    (await t.sign_in("bob@example.com", bob.password)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_recovery_code_is_single_use(t: Transport, mail: MailSink) -> None:
    code = await recovery_code(t, mail)
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect_ok()
    (await t.verify_recovery("alice@example.com", code, "third password")).expect("UNAUTHENTICATED")
    (await t.sign_in("alice@example.com", NEW_PASSWORD)).expect_ok()


async def test_wrong_recovery_code_changes_nothing(
    t: Transport, alice: Account, mail: MailSink
) -> None:
    code = await recovery_code(t, mail)
    (await t.verify_recovery("alice@example.com", other(code), NEW_PASSWORD)).expect(
        "UNAUTHENTICATED"
    )
    (await t.me(alice.access_token)).expect_ok()
    (await t.sign_in("alice@example.com", "old password")).expect_ok()
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_expired_recovery_code_is_401(t: Transport, mail: MailSink) -> None:
    code = await recovery_code(t, mail)
    await VerificationCode.filter(purpose="recovery").update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect("UNAUTHENTICATED")
    (await t.sign_in("alice@example.com", "old password")).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_recovery_code_void_after_five_wrong_tries(t: Transport, mail: MailSink) -> None:
    code = await recovery_code(t, mail)
    for _ in range(5):
        (await t.verify_recovery("alice@example.com", other(code), NEW_PASSWORD)).expect(
            "UNAUTHENTICATED"
        )
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect("UNAUTHENTICATED")
    (await t.sign_in("alice@example.com", "old password")).expect_ok()
    # A fresh code starts over.
    fresh = await recovery_code(t, mail)
    (await t.verify_recovery("alice@example.com", fresh, NEW_PASSWORD)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_new_recovery_code_voids_the_previous_one(t: Transport, mail: MailSink) -> None:
    first = await recovery_code(t, mail)
    second = await recovery_code(t, mail)
    if first != second:
        (await t.verify_recovery("alice@example.com", first, NEW_PASSWORD)).expect(
            "UNAUTHENTICATED"
        )
    (await t.verify_recovery("alice@example.com", second, NEW_PASSWORD)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_recovery_code_is_bound_to_purpose_and_account(t: Transport, mail: MailSink) -> None:
    (await t.verify_recovery("alice@example.com", "123456", NEW_PASSWORD)).expect("UNAUTHENTICATED")
    code = await recovery_code(t, mail)
    (await t.verify_signup("alice@example.com", code)).expect("UNAUTHENTICATED")
    (await t.verify_recovery("nobody@example.com", code, NEW_PASSWORD)).expect("UNAUTHENTICATED")
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_recovery_new_password_is_validated(t: Transport, mail: MailSink) -> None:
    code = await recovery_code(t, mail)
    for password in ("12345", "x" * 129):
        (await t.verify_recovery("alice@example.com", code, password)).expect("BAD_USER_INPUT")
    # A refused input does not spend a try of the code.
    row = await VerificationCode.get(email_key="alice@example.com", purpose="recovery")
    assert row.attempts == 0
    (await t.verify_recovery("alice@example.com", code, NEW_PASSWORD)).expect_ok()


async def test_rest_recovery_needs_new_password(api: Api, alice: Account, mail: MailSink) -> None:
    r = await api.rest("POST", "/auth/resend", json={"type": "recovery", "email": alice.email})
    assert r.status_code == 204
    code = await mail.code_for(alice.email, 2)
    body = {"type": "recovery", "email": alice.email, "token": code}
    r = await api.rest("POST", "/auth/verify", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.rest("POST", "/auth/verify", json={**body, "new_password": NEW_PASSWORD})
    assert r.status_code == 204
