"""Sign-up claims: asking to sign up for someone else's address must never end in owning the
account once they confirm it. Each attack runs end to end through both doors (REST, GraphQL):
requests, the mails the mailbox receives, the confirmation, and who can sign in afterwards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import argon2
import pytest
from tortoise.exceptions import IntegrityError

from models import PendingSignup, User, VerificationCode
from models.auth import MAX_CLAIMS_PER_EMAIL
from tests.support.client import Api
from tests.support.mail import MailSink
from tests.support.settings_marks import with_settings
from tests.support.transports import (
    VERIFY_SIGNUP,
    Outcome,
    Transport,
    gql_outcome,
    rest_outcome,
)

EMAIL = "victim@example.com"
VICTIM_PASSWORD = "victim's own password"
ATTACKER_PASSWORD = "attacker password"
# Several requests for one email within seconds are the point here; the code limits themselves
# are in test_rate_limits.py.
FREE_CODES = {"rate_limit_code_interval": "100/minute", "rate_limit_code_email_hourly": "100/hour"}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**FREE_CODES, **getattr(request, "param", {})}


async def ask(t: Transport, username: str, password: str, email: str = EMAIL) -> None:
    """Request a sign-up and wait for the mail it causes (mail is sent in the background)."""
    before = len(t.api.mail.to(email))
    body = {"username": username, "email": email, "password": password}
    (await t.request_signup(**body)).expect_ok()
    await t.api.mail.wait_for(email, before + 1)


async def confirm(t: Transport, code: str, password: str | None = None) -> Outcome:
    """`verify` for sign-up, with or without the optional password."""
    if t.kind == "rest":
        body: dict[str, Any] = {"type": "signup", "email": EMAIL, "token": code}
        if password is not None:
            body["password"] = password
        return rest_outcome(await t.api.rest("POST", "/auth/verify", json=body))
    variables: dict[str, Any] = {"email": EMAIL, "token": code}
    if password is not None:
        variables["password"] = password
    return gql_outcome(await t.api.gql(VERIFY_SIGNUP, {"input": variables}), "verifySignup")


async def latest_code(mail: MailSink) -> str:
    return await mail.code_for(EMAIL, len(mail.to(EMAIL)))


async def assert_victim_owns_the_account(t: Transport, victim_name: str) -> None:
    user = await User.get(email_key=EMAIL)
    assert user.username == victim_name
    (await t.sign_in(EMAIL, ATTACKER_PASSWORD)).expect("UNAUTHENTICATED")
    (await t.sign_in(EMAIL, VICTIM_PASSWORD)).expect_ok()
    # Every other claim is gone with the code: nothing is left to confirm.
    assert not await PendingSignup.filter(email_key=EMAIL).exists()
    assert await VerificationCode.filter(email_key=EMAIL, used_at=None).count() == 0


# --- the attacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("attacker_name", ["mallory", "victim"])
async def test_victim_first_then_attacker(t: Transport, mail: MailSink, attacker_name: str) -> None:
    """The attacker asks right after the victim, for a username of its own or the victim's.
    The old code replaced the victim's password with the attacker's; now the victim's code
    needs the victim's password, and the attacker's password opens nothing."""
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, attacker_name, ATTACKER_PASSWORD)
    assert await PendingSignup.filter(email_key=EMAIL).count() == 2
    code = await latest_code(mail)  # the attacker's request voided the victim's first code

    refused = (await confirm(t, code)).expect("CONFLICT")
    if t.kind == "rest":
        assert refused.status == 409
    assert refused.detail is not None and "password" in refused.detail
    assert "several sign-ups are pending" in refused.detail.lower()
    assert not await User.filter(email_key=EMAIL).exists()

    (await confirm(t, code, VICTIM_PASSWORD)).expect_ok()
    await assert_victim_owns_the_account(t, "victim")


async def test_attacker_first_then_victim(t: Transport, mail: MailSink) -> None:
    await ask(t, "mallory", ATTACKER_PASSWORD)
    await ask(t, "victim", VICTIM_PASSWORD)
    victims_mail = mail.to(EMAIL)[-1]
    assert '"victim"' in victims_mail.text and "mallory" not in victims_mail.text
    code = await latest_code(mail)
    (await confirm(t, code)).expect("CONFLICT")
    (await confirm(t, code, VICTIM_PASSWORD)).expect_ok()
    await assert_victim_owns_the_account(t, "victim")


async def test_attacker_asking_after_the_victim_confirmed_gets_nothing(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    (await confirm(t, await latest_code(mail), VICTIM_PASSWORD)).expect_ok()
    await ask(t, "mallory", ATTACKER_PASSWORD)  # 202 alike; the mailbox gets a notice
    assert not await PendingSignup.filter(email_key=EMAIL).exists()
    await assert_victim_owns_the_account(t, "victim")


async def test_a_wrong_password_is_401_like_a_wrong_code_and_spends_one_try(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, "mallory", ATTACKER_PASSWORD)
    code = await latest_code(mail)
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    by_code = (await confirm(t, wrong_code, VICTIM_PASSWORD)).expect("UNAUTHENTICATED")
    by_password = (await confirm(t, code, "guessed password")).expect("UNAUTHENTICATED")
    assert by_password.detail == by_code.detail
    if t.kind == "rest":
        assert by_password.headers.get("www-authenticate") == "Bearer"
    # The code survives a refusal (two of its five tries spent) and still confirms.
    row = await VerificationCode.get(email_key=EMAIL, purpose="signup")
    assert row.attempts == 2 and row.used_at is None
    (await confirm(t, code, VICTIM_PASSWORD)).expect_ok()
    await assert_victim_owns_the_account(t, "victim")


async def test_the_conflict_says_nothing_about_the_other_claims(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, "mallory", ATTACKER_PASSWORD)
    two = (await confirm(t, await latest_code(mail))).expect("CONFLICT")
    await ask(t, "trudy", "a third password")
    three = (await confirm(t, await latest_code(mail))).expect("CONFLICT")
    assert two.raw == three.raw  # the whole answer, not only its detail
    assert two.detail is not None
    assert not any(word in two.detail for word in ("victim", "mallory", "trudy", "2", "3"))


# --- repeats and the legacy body --------------------------------------------------------------


async def test_the_same_request_twice_is_one_claim_and_the_legacy_body_confirms_it(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, "Victim", VICTIM_PASSWORD)  # usernames compare case-insensitively
    assert await PendingSignup.filter(email_key=EMAIL).count() == 1
    assert len(mail.to(EMAIL)) == 2  # re-sent: a new code, the previous one void
    (await confirm(t, await latest_code(mail))).expect_ok()
    user = await User.get(email_key=EMAIL)
    assert user.username == "Victim"  # the latest spelling of the name
    (await t.sign_in(EMAIL, VICTIM_PASSWORD)).expect_ok()


async def test_one_claim_confirms_without_a_password_as_before(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    session = (await confirm(t, await latest_code(mail))).expect_ok()
    assert session["user"]["email"] == EMAIL
    await assert_victim_owns_the_account(t, "victim")


async def test_one_claim_with_a_password_that_does_not_match_is_401(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    code = await latest_code(mail)
    (await confirm(t, code, ATTACKER_PASSWORD)).expect("UNAUTHENTICATED")
    assert not await User.filter(email_key=EMAIL).exists()
    (await confirm(t, code, VICTIM_PASSWORD)).expect_ok()


async def test_resend_keeps_every_claim_and_names_them_to_the_mailbox(
    t: Transport, mail: MailSink
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, "mallory", ATTACKER_PASSWORD)
    (await t.resend(EMAIL)).expect_ok()
    resent = (await mail.wait_for(EMAIL, 3))[-1]
    assert '"victim"' in resent.text and '"mallory"' in resent.text
    code = await latest_code(mail)
    (await confirm(t, code)).expect("CONFLICT")
    (await confirm(t, code, VICTIM_PASSWORD)).expect_ok()
    await assert_victim_owns_the_account(t, "victim")


# --- expiry, the cap, races, the database ------------------------------------------------------


async def test_claims_expire_with_the_code_window(t: Transport, mail: MailSink) -> None:
    await ask(t, "mallory", ATTACKER_PASSWORD)
    [claim] = await PendingSignup.filter(email_key=EMAIL)
    code_row = await VerificationCode.get(email_key=EMAIL, purpose="signup")
    assert abs((claim.expires_at - code_row.expires_at).total_seconds()) < 1
    await PendingSignup.filter(email_key=EMAIL).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    # An expired claim neither needs a password nor gets confirmed by the next code.
    await ask(t, "victim", VICTIM_PASSWORD)
    assert await PendingSignup.filter(email_key=EMAIL).count() == 1
    (await confirm(t, await latest_code(mail))).expect_ok()
    await assert_victim_owns_the_account(t, "victim")


@with_settings(rate_limit_code_interval="100/minute", rate_limit_code_email_hourly="7/hour")
async def test_at_most_five_open_claims_and_the_sixth_counts_as_a_code_request(
    t: Transport, mail: MailSink
) -> None:
    for i in range(MAX_CLAIMS_PER_EMAIL):
        await ask(t, f"user{i}", f"password {i}")
    capped = await t.request_signup(username="user5", email=EMAIL, password="password 5")
    capped.expect("RATE_LIMITED")
    assert capped.retry_after is not None and 1 <= capped.retry_after <= 600
    assert await PendingSignup.filter(email_key=EMAIL).count() == MAX_CLAIMS_PER_EMAIL
    assert len(mail.to(EMAIL)) == MAX_CLAIMS_PER_EMAIL  # no code for the refused one
    # Repeating an open claim still works at the cap: the 7th code request of the hour.
    await ask(t, "user0", "password 0")
    # The refused request was counted: the hourly cap of 7 is spent, and its 429 reads the same.
    hourly = await t.request_signup(username="user0", email=EMAIL, password="password 0")
    hourly.expect("RATE_LIMITED")
    assert hourly.detail == capped.detail
    code = await latest_code(mail)
    (await confirm(t, code, "password 3")).expect_ok()
    assert (await User.get(email_key=EMAIL)).username == "user3"


async def test_racing_confirmations_make_one_account(t: Transport, mail: MailSink) -> None:
    """Racing confirmations with the mailed code, naming either claim's password: exactly one
    claim becomes the account (whichever came first: the code proves the mailbox, the password
    picks the claim), every other confirmation is refused like a used code, and nothing of the
    other claim survives."""
    await ask(t, "victim", VICTIM_PASSWORD)
    await ask(t, "mallory", ATTACKER_PASSWORD)
    code = await latest_code(mail)
    passwords = [VICTIM_PASSWORD] * 3 + [ATTACKER_PASSWORD]
    outcomes = await asyncio.gather(*(confirm(t, code, p) for p in passwords))
    assert sum(o.ok for o in outcomes) == 1, [(o.code, o.detail) for o in outcomes]
    assert {o.code for o in outcomes if not o.ok} == {"UNAUTHENTICATED"}
    (winner,) = [p for p, o in zip(passwords, outcomes, strict=True) if o.ok]
    loser = ATTACKER_PASSWORD if winner == VICTIM_PASSWORD else VICTIM_PASSWORD
    user = await User.get(email_key=EMAIL)
    assert user.username == ("victim" if winner == VICTIM_PASSWORD else "mallory")
    assert await User.filter(email_key=EMAIL).count() == 1
    (await t.sign_in(EMAIL, winner)).expect_ok()
    (await t.sign_in(EMAIL, loser)).expect("UNAUTHENTICATED")
    assert not await PendingSignup.filter(email_key=EMAIL).exists()
    assert await VerificationCode.filter(email_key=EMAIL, used_at=None).count() == 0


@pytest.mark.usefixtures("db")
async def test_the_database_bounds_the_claims_of_an_email() -> None:
    values: dict[str, Any] = {
        "email": EMAIL,
        "username": "x",
        "username_key": "x",
        "password_hash": "!",
    }
    expires_at = datetime.now(UTC) + timedelta(minutes=10)
    await PendingSignup.create(email_key=EMAIL, slot=0, expires_at=expires_at, **values)
    with pytest.raises(IntegrityError):
        await PendingSignup.create(email_key=EMAIL, slot=0, expires_at=expires_at, **values)
    for slot in (-1, MAX_CLAIMS_PER_EMAIL):
        with pytest.raises(IntegrityError):
            await PendingSignup.create(email_key=EMAIL, slot=slot, expires_at=expires_at, **values)
    assert await PendingSignup.filter(email_key=EMAIL).count() == 1


# --- cost: what timing could tell ------------------------------------------------------------


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"hash": 0, "verify": 0}
    real_hash, real_verify = argon2.PasswordHasher.hash, argon2.PasswordHasher.verify

    def hash_(self: argon2.PasswordHasher, password: str | bytes, **kw: Any) -> str:
        calls["hash"] += 1
        return real_hash(self, password, **kw)

    def verify(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls["verify"] += 1
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", hash_)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return calls


async def test_every_signup_request_costs_one_hash_and_one_verification(
    t: Transport, api: Api, argon2_calls: dict[str, int]
) -> None:
    await api.sign_up("alice", "alice@example.com")
    cases = [
        ("nobody", "new@example.com"),  # nothing on the email
        ("victim", EMAIL),  # nothing yet either
        ("victim", EMAIL),  # the same claim again
        ("mallory", EMAIL),  # another claim next to it
        ("victim", EMAIL),  # same username, another password
        ("someone", "alice@example.com"),  # an account
    ]
    for i, (username, email) in enumerate(cases):
        before = dict(argon2_calls)
        password = VICTIM_PASSWORD if i in (1, 2) else f"password {i}"
        await ask(t, username, password, email)
        spent = {k: argon2_calls[k] - before[k] for k in argon2_calls}
        assert spent == {"hash": 1, "verify": 1}, (username, email, spent)


async def test_confirming_with_a_password_costs_the_same_for_any_number_of_claims(
    t: Transport, mail: MailSink, argon2_calls: dict[str, int]
) -> None:
    await ask(t, "victim", VICTIM_PASSWORD)
    spent = []
    for extra in range(3):
        if extra:
            await ask(t, f"other{extra}", f"password {extra}")
        before = argon2_calls["verify"]
        (await confirm(t, await latest_code(mail), "not a claim's password")).expect(
            "UNAUTHENTICATED"
        )
        spent.append(argon2_calls["verify"] - before)
    assert spent == [MAX_CLAIMS_PER_EMAIL] * 3
    # A wrong code never reaches Argon2: the work is only for whoever holds the code.
    code = await latest_code(mail)
    before = argon2_calls["verify"]
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    (await confirm(t, wrong_code, "not a claim's password")).expect("UNAUTHENTICATED")
    assert argon2_calls["verify"] == before
