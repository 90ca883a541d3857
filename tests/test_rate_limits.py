"""docs/contract.md §3 Auth rate limits (code interval and hourly caps, sign-up, verify and sign-in
limits) and §4 "rate limits apply per operation inside a document": aliases and batches cannot
multiply sign-in or code guesses. Limits are made small through the settings."""

from __future__ import annotations

from typing import Any

import pytest

from models import PendingSignup, User, VerificationCode
from tests.support.client import Account, Api
from tests.support.mail import MailSink
from tests.support.settings_marks import with_settings
from tests.support.transports import SESSION_FIELDS, Transport, signup_fields


@pytest.fixture
async def alice(api: Api) -> Account:
    return await api.sign_up("alice", "alice@example.com", password="alice password")


def assert_rate_limited(outcome: Any, at_most: int) -> None:
    outcome.expect("RATE_LIMITED")
    assert outcome.retry_after is not None and 1 <= outcome.retry_after <= at_most
    if outcome.transport == "rest":
        assert outcome.status == 429
        assert outcome.headers["retry-after"] == str(outcome.retry_after)
        assert outcome.headers["content-type"].startswith("application/problem+json")
        assert outcome.raw["title"] == "Too Many Requests"


# --- codes: one per email and type per 60 s ----------------------------------------------------


async def test_second_code_within_60_s_is_429(t: Transport, app: Any, mail: MailSink) -> None:
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    await mail.wait_for("bob@example.com")
    assert_rate_limited(await t.resend("bob@example.com"), at_most=60)
    # Per email, case-insensitively; a new request for it is refused too, and changes nothing.
    assert_rate_limited(await t.resend("BOB@Example.com"), 60)
    assert_rate_limited(await t.request_signup(**signup_fields("bobby", "Bob@example.com")), 60)
    assert (await PendingSignup.get(email_key="bob@example.com")).username == "bob"
    await app.state.services.mail.drain()
    assert len(mail.to("bob@example.com")) == 1  # no second code went out
    # Another email is not affected.
    (await t.request_signup(**signup_fields("carol"))).expect_ok()


@pytest.mark.usefixtures("alice")
async def test_the_interval_is_per_type(t: Transport, mail: MailSink) -> None:
    # alice's sign-up spent the signup interval; recovery has its own.
    (await t.resend("alice@example.com", "recovery")).expect_ok()
    await mail.wait_for("alice@example.com", 2)
    assert_rate_limited(await t.resend("alice@example.com", "recovery"), 60)
    assert_rate_limited(await t.resend("alice@example.com", "signup"), 60)


@pytest.mark.usefixtures("alice")
async def test_known_and_unknown_emails_are_limited_alike(
    t: Transport, app: Any, mail: MailSink
) -> None:
    """A 429 must not tell a known address from an unknown one."""
    (await t.resend("nobody@example.com", "recovery")).expect_ok()
    assert_rate_limited(await t.resend("nobody@example.com", "recovery"), 60)
    # The notice to a confirmed address counts as its sign-up code.
    assert_rate_limited(await t.request_signup(**signup_fields("other", "alice@example.com")), 60)
    await app.state.services.mail.drain()
    assert len(mail.messages) == 1  # alice's own sign-up code


@with_settings(rate_limit_code_interval="100/minute", rate_limit_code_email_hourly="2/hour")
async def test_hourly_cap_per_email(t: Transport) -> None:
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    (await t.resend("bob@example.com")).expect_ok()
    assert_rate_limited(await t.resend("bob@example.com"), 3600)
    # Across types: the hourly cap is per email.
    assert_rate_limited(await t.resend("bob@example.com", "recovery"), 3600)
    (await t.resend("carol@example.com")).expect_ok()


@with_settings(rate_limit_code_ip_hourly="2/hour")
async def test_hourly_cap_per_ip(t: Transport) -> None:
    (await t.resend("a@example.com")).expect_ok()
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    assert_rate_limited(await t.resend("c@example.com"), 3600)
    assert_rate_limited(await t.request_signup(**signup_fields("dave")), 3600)
    assert not await PendingSignup.filter(username="dave").exists()


@with_settings(rate_limit_signup_ip="2/hour")
async def test_signup_requests_per_ip(t: Transport) -> None:
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    (await t.request_signup(**signup_fields("carol"))).expect_ok()
    assert_rate_limited(await t.request_signup(**signup_fields("dave")), 3600)
    assert not await PendingSignup.filter(username="dave").exists()


# --- verify --------------------------------------------------------------------------------


@with_settings(rate_limit_verify_email="3/hour")
async def test_verify_attempts_per_email(t: Transport, mail: MailSink) -> None:
    (await t.request_signup(**signup_fields("bob"))).expect_ok()
    code = await mail.code_for("bob@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        (await t.verify_signup("bob@example.com", wrong)).expect("UNAUTHENTICATED")
    assert_rate_limited(await t.verify_signup("bob@example.com", code), 3600)
    assert not await User.filter(email_key="bob@example.com").exists()


@with_settings(rate_limit_verify_ip="2/hour")
async def test_verify_attempts_per_ip(t: Transport) -> None:
    (await t.verify_signup("a@example.com", "123456")).expect("UNAUTHENTICATED")
    (await t.verify_recovery("b@example.com", "123456", "new password")).expect("UNAUTHENTICATED")
    assert_rate_limited(await t.verify_signup("c@example.com", "123456"), 3600)


# --- sign-in -------------------------------------------------------------------------------


@with_settings(rate_limit_login_email="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_repeated_sign_in_failures_per_email(t: Transport) -> None:
    for _ in range(3):
        (await t.sign_in("alice@example.com", "wrong password")).expect("UNAUTHENTICATED")
    # Over the limit even the right password is refused, with the same answer as a wrong one.
    assert_rate_limited(await t.sign_in("ALICE@example.com", "alice password"), 900)
    assert_rate_limited(await t.sign_in("alice@example.com", "wrong password"), 900)
    # Another email is not affected.
    (await t.sign_in("bob@example.com", "wrong password")).expect("UNAUTHENTICATED")


@with_settings(rate_limit_login_email="3 per 15 minutes")
async def test_unknown_email_is_limited_alike(t: Transport) -> None:
    for _ in range(3):
        (await t.sign_in("nobody@example.com", "wrong password")).expect("UNAUTHENTICATED")
    assert_rate_limited(await t.sign_in("nobody@example.com", "wrong password"), 900)


@with_settings(rate_limit_login_email="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_successes_do_not_count_and_end_a_run_of_failures(t: Transport) -> None:
    for _ in range(4):
        (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    for _ in range(2):
        (await t.sign_in("alice@example.com", "wrong password")).expect("UNAUTHENTICATED")
    (await t.sign_in("alice@example.com", "alice password")).expect_ok()
    for _ in range(3):
        (await t.sign_in("alice@example.com", "wrong password")).expect("UNAUTHENTICATED")
    assert_rate_limited(await t.sign_in("alice@example.com", "alice password"), 900)


@with_settings(rate_limit_login_ip="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_repeated_sign_in_failures_per_ip(t: Transport) -> None:
    for name in ("a", "b", "c"):
        (await t.sign_in(f"{name}@example.com", "wrong password")).expect("UNAUTHENTICATED")
    assert_rate_limited(await t.sign_in("alice@example.com", "alice password"), 900)


# --- GraphQL: per operation, not per document ----------------------------------------------


def aliased(field: str, inputs: list[str], selection: str = "") -> str:
    parts = [f"a{i}: {field}(input: {value}) {selection}" for i, value in enumerate(inputs)]
    return "mutation {\n  " + "\n  ".join(parts) + "\n}"


def codes_by_alias(body: dict[str, Any], count: int) -> list[str | None]:
    """The error code of each alias `a0`…, None for the ones that succeeded."""
    by_alias: dict[str, str] = {}
    for error in body.get("errors") or []:
        by_alias[error["path"][0]] = error["extensions"]["code"]
    return [by_alias.get(f"a{i}") for i in range(count)]


@with_settings(rate_limit_login_email="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_aliased_sign_in_guesses_do_not_multiply(api: Api) -> None:
    """`signIn` returns `Session!`: the first failing alias nulls the whole result and the
    mutations after it never run, so a document is worth one guess, not five."""
    wrong = '{email: "alice@example.com", password: "wrong password"}'
    document = aliased("signIn", [wrong] * 5, "{ accessToken }")
    for _ in range(3):
        body = await api.gql(document)
        assert body["data"] is None
        assert codes_by_alias(body, 5) == ["UNAUTHENTICATED", None, None, None, None]
    body = await api.gql(document)
    assert codes_by_alias(body, 5) == ["RATE_LIMITED", None, None, None, None]
    assert 1 <= body["errors"][0]["extensions"]["retryAfter"] <= 900
    # The limit holds for REST too, right password or not.
    r = await api.rest(
        "POST", "/auth/sessions", json={"email": "alice@example.com", "password": "alice password"}
    )
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 900


@with_settings(rate_limit_login_ip="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_aliased_sign_ins_count_one_by_one(api: Api) -> None:
    right = '{email: "alice@example.com", password: "alice password"}'
    body = await api.gql(aliased("signIn", [right] * 5, "{ accessToken }"))
    assert codes_by_alias(body, 5) == [None, None, None, "RATE_LIMITED", None]
    assert body["errors"][0]["extensions"]["retryAfter"] >= 1


@with_settings(rate_limit_verify_ip="3/hour", rate_limit_code_interval="100/minute")
async def test_aliased_verifications_count_one_by_one(api: Api, mail: MailSink) -> None:
    names = ["usr0", "usr1", "usr2", "usr3"]
    inputs = []
    for name in names:
        r = await api.rest("POST", "/auth/verifications", json=signup_fields(name))
        assert r.status_code == 202
        code = await mail.code_for(f"{name}@example.com")
        inputs.append(f'{{email: "{name}@example.com", token: "{code}"}}')
    body = await api.gql(aliased("verifySignup", inputs, "{ accessToken }"))
    assert codes_by_alias(body, 4) == [None, None, None, "RATE_LIMITED"]
    # The first three ran (and are confirmed) although the document's data is null.
    # tortoise's stub types every values_list as tuples, flat=True included
    confirmed: list[str] = await User.filter(username__in=names).values_list("username", flat=True)  # type: ignore[assignment]
    assert sorted(confirmed) == ["usr0", "usr1", "usr2"]


async def test_aliased_code_guesses_do_not_multiply(api: Api, mail: MailSink) -> None:
    await api.rest("POST", "/auth/verifications", json=signup_fields("bob"))
    code = await mail.code_for("bob@example.com")
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 6)]
    inputs = [f'{{email: "bob@example.com", token: "{g}"}}' for g in guesses]
    body = await api.gql(aliased("verifySignup", inputs, "{ accessToken }"))
    assert codes_by_alias(body, 5) == ["UNAUTHENTICATED", None, None, None, None]
    row = await VerificationCode.get(email_key="bob@example.com")
    assert row.attempts == 1  # one guess spent, not five
    r = await api.rest(
        "POST", "/auth/verify", json={"type": "signup", "email": "bob@example.com", "token": code}
    )
    assert r.status_code == 200


async def test_aliased_signup_requests_hit_the_code_interval(api: Api) -> None:
    inputs = [
        f'{{username: "bob{i}", email: "bob@example.com", password: "secret"}}' for i in range(3)
    ]
    body = await api.gql(aliased("requestSignup", inputs, "{ email }"))
    assert codes_by_alias(body, 3) == [None, "RATE_LIMITED", None]
    assert (await PendingSignup.get(email_key="bob@example.com")).username == "bob0"


BATCHED_SIGN_IN = {
    "query": 'mutation($p: String!) { signIn(input: {email: "alice@example.com", password: $p})'
    f" {{ {SESSION_FIELDS} }} }}",
    "variables": {"p": "wrong password"},
}


@with_settings(rate_limit_login_email="3 per 15 minutes")
@pytest.mark.usefixtures("alice")
async def test_batched_sign_ins_count_one_by_one(api: Api) -> None:
    """The operations of a batch run concurrently: each must be counted before its password is
    checked, or all of them pass the limit before the first failure is recorded."""
    r = await api.client.post("/graphql", json=[BATCHED_SIGN_IN] * 6)
    assert r.status_code == 200, r.text
    codes = [result["errors"][0]["extensions"]["code"] for result in r.json()]
    assert sorted(codes) == ["RATE_LIMITED"] * 3 + ["UNAUTHENTICATED"] * 3


@with_settings(rate_limit_verify_email="3/hour")
async def test_batched_code_guesses_count_one_by_one(api: Api, mail: MailSink) -> None:
    await api.rest("POST", "/auth/verifications", json=signup_fields("bob"))
    code = await mail.code_for("bob@example.com")
    operation = {
        "query": "mutation($t: String!) { verifySignup(input: "
        '{email: "bob@example.com", token: $t}) { accessToken } }',
        "variables": {"t": f"{(int(code) + 1) % 1_000_000:06d}"},
    }
    r = await api.client.post("/graphql", json=[operation] * 6)
    codes = [result["errors"][0]["extensions"]["code"] for result in r.json()]
    assert sorted(codes) == ["RATE_LIMITED"] * 3 + ["UNAUTHENTICATED"] * 3
