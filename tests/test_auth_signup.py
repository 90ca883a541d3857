"""docs/contract.md §3 Auth: sign-up (`POST /auth/verifications` / `requestSignup`), the emailed
codes and `verify` for sign-up, through REST and GraphQL alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest

from models import AuthSession, PendingSignup, User, VerificationCode
from tests.support.client import Api
from tests.support.mail import MailSink
from tests.support.transports import Transport

# Resending right after a sign-up request is the point of several tests here; the 60 s interval
# itself is covered in test_rate_limits.py.
FREE_CODES = {"rate_limit_code_interval": "100/minute", "rate_limit_code_email_hourly": "100/hour"}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**FREE_CODES, **getattr(request, "param", {})}


def signup_body(username: str = "alice", **extra: Any) -> dict[str, Any]:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": "correct horse",
        **extra,
    }


async def drained(app: Any) -> None:
    """Wait until every mail queued so far has been handed to the sink."""
    await app.state.services.mail.drain()


# --- request ---------------------------------------------------------------------------------


async def test_request_answers_202_with_email_and_mails_a_six_digit_code(
    t: Transport, mail: MailSink
) -> None:
    outcome = await t.request_signup(**signup_body("alice"))
    assert outcome.expect_ok() == {"email": "alice@example.com"}
    if t.kind == "rest":
        assert outcome.status == 202
    [message] = await mail.wait_for("alice@example.com")
    assert re.search(r"(?<!\d)\d{6}(?!\d)", message.text), message.text
    pending = await PendingSignup.get(email_key="alice@example.com")
    assert pending.username == "alice"
    assert await User.filter(email_key="alice@example.com").count() == 0  # not before the code


async def test_code_and_password_are_stored_only_hashed(t: Transport, mail: MailSink) -> None:
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    code = await mail.code_for("alice@example.com")
    [row] = await VerificationCode.filter(email_key="alice@example.com").values()
    assert row["purpose"] == "signup"
    text_columns = [v for v in row.values() if isinstance(v, str)]  # not the timestamps
    assert all(code not in value for value in text_columns), row
    assert re.fullmatch(r"[0-9a-f]{64}", row["code_hash"])
    pending = await PendingSignup.get(email_key="alice@example.com").values()
    assert all("correct horse" not in str(value) for value in pending.values())
    assert pending["password_hash"].startswith("$argon2id$")


async def test_verify_confirms_the_email_and_answers_a_session(
    t: Transport, mail: MailSink
) -> None:
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    code = await mail.code_for("alice@example.com")
    outcome = await t.verify_signup("alice@example.com", code)
    session = outcome.expect_ok()
    if t.kind == "rest":
        assert outcome.status == 200
    assert set(session) == {"access_token", "refresh_token", "expires_in", "token_type", "user"}
    assert session["token_type"] == "bearer" and session["expires_in"] == 3600
    user = await User.get(email_key="alice@example.com")
    assert session["user"] == {"id": str(user.id), "email": "alice@example.com"}
    assert user.username == "alice" and user.email_confirmed_at is not None
    assert not await PendingSignup.filter(email_key="alice@example.com").exists()
    me = await t.me(session["access_token"])
    assert me.expect_ok()["username"] == "alice"


async def test_confirmed_email_gets_202_and_a_notice_instead_of_a_code(
    t: Transport, api: Api, app: Any, mail: MailSink
) -> None:
    await api.sign_up("alice", "alice@example.com")
    before = len(mail.to("alice@example.com"))
    known = await t.request_signup(**signup_body("someone", email="ALICE@example.com"))
    assert known.expect_ok()["email"].lower() == "alice@example.com"
    await drained(app)
    messages = mail.to("alice@example.com")
    assert len(messages) == before + 1
    notice = messages[-1]
    assert not re.search(r"\d{6}", notice.text + notice.subject), notice
    assert not await PendingSignup.filter(username="someone").exists()
    assert await User.filter(username_key="someone").count() == 0
    # No account enumeration: an unknown email answers alike.
    unknown = await t.request_signup(**signup_body("other", email="nobody@example.com"))
    assert set(known.data) == set(unknown.expect_ok()) == {"email"}
    assert known.status == unknown.status


async def test_username_taken_by_confirmed_account_is_409_case_insensitively(
    t: Transport, api: Api
) -> None:
    await api.sign_up("Bob", "bob@example.com")
    for taken_as in ("bob", "BOB", "Bob"):
        outcome = await t.request_signup(**signup_body(taken_as, email="new@example.com"))
        outcome.expect("CONFLICT")
    assert not await PendingSignup.filter(email_key="new@example.com").exists()


async def test_username_of_a_pending_signup_is_not_taken_until_confirmed(
    t: Transport, mail: MailSink
) -> None:
    (await t.request_signup(**signup_body("carol", email="c1@example.com"))).expect_ok()
    (await t.request_signup(**signup_body("Carol", email="c2@example.com"))).expect_ok()
    first = await mail.code_for("c1@example.com")
    second = await mail.code_for("c2@example.com")
    (await t.verify_signup("c2@example.com", second)).expect_ok()
    # The other pending sign-up lost the race for the name.
    (await t.verify_signup("c1@example.com", first)).expect("CONFLICT")
    assert await User.filter(username_key="carol").count() == 1


VALID_USERNAMES = ["李雷_x", "abc", "a" * 30, "jo.doe-42", "Ünïcødé", "дима", "١٢٣"]
INVALID_USERNAMES = ["ab", "a" * 31, "a b c", "abc!", "a/bc", "abc\n", "<script>", ""]


async def test_valid_usernames(t: Transport, mail: MailSink) -> None:
    for i, username in enumerate(VALID_USERNAMES):
        email = f"valid{i}@example.com"
        (await t.request_signup(username=username, email=email, password="secret")).expect_ok()
        code = await mail.code_for(email)
        (await t.verify_signup(email, code)).expect_ok()
        assert (await User.get(email_key=email)).username == username


async def test_invalid_usernames_are_422(t: Transport) -> None:
    for username in INVALID_USERNAMES:
        outcome = await t.request_signup(
            username=username, email="x@example.com", password="secret"
        )
        outcome.expect("BAD_USER_INPUT")
    assert not await PendingSignup.exists()


async def test_username_key_never_overflows(t: Transport, mail: MailSink) -> None:
    """'İ' lower-cases to two code points and the case-insensitive key is 30 characters too:
    15 of them fit (and work), 30 are refused with 422 instead of failing with a 500."""
    (await t.request_signup(username="İ" * 30, email="i@example.com", password="secret")).expect(
        "BAD_USER_INPUT"
    )
    (
        await t.request_signup(username="İ" * 15, email="i@example.com", password="secret")
    ).expect_ok()
    code = await mail.code_for("i@example.com")
    (await t.verify_signup("i@example.com", code)).expect_ok()
    assert (await User.get(email_key="i@example.com")).username == "İ" * 15


async def test_password_length_bounds(t: Transport) -> None:
    for password in ("12345", "x" * 129):
        (await t.request_signup(**signup_body("alice", password=password))).expect("BAD_USER_INPUT")
    for i, password in enumerate(("secret", "x" * 128)):
        (await t.request_signup(**signup_body(f"user{i}", password=password))).expect_ok()


async def test_invalid_email_is_422(t: Transport) -> None:
    for email in ("not-an-email", "a@b", "@example.com", "a@@example.com", "", "a" * 250 + "@x.io"):
        outcome = await t.request_signup(username="alice", email=email, password="secret")
        outcome.expect("BAD_USER_INPUT")


async def test_email_is_case_insensitive(t: Transport, mail: MailSink) -> None:
    (await t.request_signup(**signup_body("alice", email="Alice@Example.COM"))).expect_ok()
    code = await mail.code_for("alice@example.com")
    # Verified with another spelling of the same address.
    session = (await t.verify_signup("ALICE@example.com", code)).expect_ok()
    assert session["user"]["email"].lower() == "alice@example.com"
    (await t.sign_in("aLiCe@eXaMpLe.cOm", "correct horse")).expect_ok()
    # A second account for the same address in another case is impossible.
    assert await User.filter(email_key="alice@example.com").count() == 1


async def test_repeated_request_keeps_one_claim_and_only_the_newest_code(
    t: Transport, mail: MailSink
) -> None:
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    assert await PendingSignup.filter(email_key="alice@example.com").count() == 1
    assert await VerificationCode.filter(email_key="alice@example.com").count() == 1
    first = await mail.code_for("alice@example.com", 1)
    second = await mail.code_for("alice@example.com", 2)
    if first != second:
        (await t.verify_signup("alice@example.com", first)).expect("UNAUTHENTICATED")
    (await t.verify_signup("alice@example.com", second)).expect_ok()
    assert await User.filter(email_key="alice@example.com").count() == 1


async def test_a_different_request_adds_a_claim_instead_of_replacing_it(
    t: Transport, mail: MailSink
) -> None:
    """The claims themselves are in test_signup_claims.py; here, what the old single pending
    sign-up did differently: the second request no longer overwrites the first."""
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    (await t.request_signup(**signup_body("alice2", email="alice@example.com"))).expect_ok()
    claims = await PendingSignup.filter(email_key="alice@example.com").order_by("created_at")
    assert [c.username for c in claims] == ["alice", "alice2"]
    code = await mail.code_for("alice@example.com", 2)
    (await t.verify_signup("alice@example.com", code)).expect("CONFLICT")


async def test_each_signup_mail_names_the_requested_username(t: Transport, mail: MailSink) -> None:
    (await t.request_signup(**signup_body("alice"))).expect_ok()
    (await t.request_signup(**signup_body("mallory", email="alice@example.com"))).expect_ok()
    first, second = await mail.wait_for("alice@example.com", 2)
    assert '"alice"' in first.text and "mallory" not in first.text
    assert '"mallory"' in second.text and '"alice"' not in second.text
    for message in (first, second):
        assert "did not ask" in message.text and "ignore" in message.text


# --- codes -----------------------------------------------------------------------------------


async def _pending(t: Transport, mail: MailSink, username: str = "alice") -> tuple[str, str]:
    body = signup_body(username)
    (await t.request_signup(**body)).expect_ok()
    return body["email"], await mail.code_for(body["email"])


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_wrong_code_is_401_and_the_right_one_still_works(
    t: Transport, mail: MailSink
) -> None:
    email, code = await _pending(t, mail)
    outcome = (await t.verify_signup(email, _other(code))).expect("UNAUTHENTICATED")
    if t.kind == "rest":
        assert outcome.headers.get("www-authenticate") == "Bearer"
    assert not await User.filter(email_key=email).exists()
    (await t.verify_signup(email, code)).expect_ok()


async def test_five_wrong_tries_void_the_code(t: Transport, mail: MailSink) -> None:
    email, code = await _pending(t, mail, "alice")
    for _ in range(5):
        (await t.verify_signup(email, _other(code))).expect("UNAUTHENTICATED")
    (await t.verify_signup(email, code)).expect("UNAUTHENTICATED")
    assert not await User.filter(email_key=email).exists()
    # Four wrong tries leave the fifth one to the right code.
    email, code = await _pending(t, mail, "bob")
    for _ in range(4):
        (await t.verify_signup(email, _other(code))).expect("UNAUTHENTICATED")
    (await t.verify_signup(email, code)).expect_ok()


async def test_code_expires_after_ten_minutes(t: Transport, mail: MailSink) -> None:
    email, code = await _pending(t, mail, "alice")
    row = await VerificationCode.get(email_key=email, purpose="signup")
    lifetime = (row.expires_at - row.created_at).total_seconds()
    assert 595 <= lifetime <= 605, lifetime
    await VerificationCode.filter(id=row.id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    (await t.verify_signup(email, code)).expect("UNAUTHENTICATED")
    assert not await User.filter(email_key=email).exists()
    # Still good a few seconds before the end.
    email, code = await _pending(t, mail, "bob")
    await VerificationCode.filter(email_key=email).update(
        expires_at=datetime.now(UTC) + timedelta(seconds=5)
    )
    (await t.verify_signup(email, code)).expect_ok()


async def test_code_is_single_use(t: Transport, mail: MailSink) -> None:
    email, code = await _pending(t, mail)
    (await t.verify_signup(email, code)).expect_ok()
    (await t.verify_signup(email, code)).expect("UNAUTHENTICATED")
    assert await AuthSession.filter(user__email_key=email).count() == 1


async def test_new_code_voids_the_previous_one(t: Transport, mail: MailSink) -> None:
    email, first = await _pending(t, mail)
    (await t.resend(email)).expect_ok()
    second = await mail.code_for(email, 2)
    if first != second:
        (await t.verify_signup(email, first)).expect("UNAUTHENTICATED")
    (await t.verify_signup(email, second)).expect_ok()


async def test_code_is_bound_to_its_email_and_purpose(t: Transport, mail: MailSink) -> None:
    email_a, code_a = await _pending(t, mail, "alice")
    email_b, _ = await _pending(t, mail, "bob")
    (await t.verify_signup(email_b, code_a)).expect("UNAUTHENTICATED")
    # A sign-up code is not a recovery code.
    (await t.verify_recovery(email_a, code_a, "new password")).expect("UNAUTHENTICATED")
    (await t.verify_signup(email_a, code_a)).expect_ok()


async def test_verify_without_a_pending_signup_or_with_a_malformed_code(t: Transport) -> None:
    (await t.verify_signup("nobody@example.com", "123456")).expect("UNAUTHENTICATED")
    for token in ("12345", "1234567", "abcdef", "12 456", "١٢٣٤٥٦"):
        (await t.verify_signup("alice@example.com", token)).expect("BAD_USER_INPUT")


# --- REST specifics --------------------------------------------------------------------------


async def test_rest_validation_error_is_a_problem_with_errors(api: Api) -> None:
    r = await api.rest("POST", "/auth/verifications", json={"username": "ab", "email": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "about:blank" and body["title"] == HTTPStatus(422).phrase
    assert body["status"] == 422 and body["instance"] == "/api/v1/auth/verifications"
    assert isinstance(body["detail"], str) and body["detail"]
    locs = [tuple(e["loc"]) for e in body["errors"]]
    assert ("body", "username") in locs and ("body", "email") in locs
    assert ("body", "password") in locs
    assert all(set(e) == {"loc", "msg"} for e in body["errors"])


async def test_graphql_validation_error_names_the_field(api: Api) -> None:
    from tests.support.transports import REQUEST_SIGNUP

    body = await api.gql(
        REQUEST_SIGNUP,
        {"input": {"username": "ab", "email": "a@example.com", "password": "secret"}},
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert ["username"] in [e["loc"] for e in error["extensions"]["errors"]]
