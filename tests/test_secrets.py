"""Secrets stay secret (docs/contract.md §3 Auth): no password, refresh token, verification code or
JWT in the logs of a whole account flow (in both LOG_FORMATs, text and json), and refresh tokens,
codes and passwords only hashed at rest.

The flow runs over REST and GraphQL while every logger — the SQL logger `tortoise.db_client`,
which logs each query with its parameters, included — records at DEBUG. Codes are read from the
test mail sink: the console mailer logs them by design (docs/contract.md §1), so no other log may.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tortoise import Tortoise

from models import PendingSignup, RefreshToken, User, VerificationCode
from observability.logs import JsonFormatter, LogContext
from tests.support.client import Api, bearer
from tests.support.graphql_calls import gql_data
from tests.support.mail import MailSink

PASSWORD = "Correct-Horse-7731-secret"
NEW_PASSWORD = "Recovered-Battery-5519-secret"
WRONG_PASSWORD = "Wrong-Staple-2208-guess"
GQL_PASSWORD = "Graphql-Signup-4410-secret"
GQL_NEW_PASSWORD = "Graphql-Recovery-8812-secret"

SESSION = "accessToken refreshToken"
SIGN_UP = "mutation($input: SignupInput!) { requestSignup(input: $input) { email } }"
VERIFY_SIGNUP = (
    f"mutation($input: VerifySignupInput!) {{ verifySignup(input: $input) {{ {SESSION} }} }}"
)
RESEND = "mutation($input: ResendCodeInput!) { resendCode(input: $input) }"
VERIFY_RECOVERY = "mutation($input: VerifyRecoveryInput!) { verifyRecovery(input: $input) }"
SIGN_IN = f"mutation($input: SignInInput!) {{ signIn(input: $input) {{ {SESSION} }} }}"
REFRESH = f"mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {SESSION} }} }}"
SIGN_OUT = "mutation($t: String!) { signOut(refreshToken: $t) }"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_log_at_debug() -> Iterator[_Keep]:
    """Every logger, existing or created meanwhile, at DEBUG into one handler (also those that
    do not propagate to the root, like uvicorn's access log)."""
    keep = _Keep()
    root = logging.getLogger()
    loggers = [root] + [
        logger for logger in root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is root or not logger.propagate:
            logger.addHandler(keep)
    try:
        yield keep
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(keep)


def log_text(keep: _Keep) -> str:
    """The records as both LOG_FORMATs write them: text, and JSON with its request and trace
    ids (no secret here has a character JSON would escape, so a leak shows in either)."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    json_formatter, context = JsonFormatter(), LogContext()
    lines = []
    for record in keep.records:
        lines.append(formatter.format(record))
        context.filter(record)
        lines.append(json_formatter.format(record))
        lines.append(repr(record.args))  # what a structured handler would ship as well
    return "\n".join(lines)


def found(secret: str, text: str) -> bool:
    if secret.isdigit():  # a 6-digit code: not as part of a longer number
        return re.search(rf"(?<![0-9]){secret}(?![0-9])", text) is not None
    return secret in text


def token_secrets(session: dict[str, Any]) -> list[str]:
    """A session's refresh token, its access token, and the access token's signature."""
    access = session.get("access_token") or session["accessToken"]
    refresh = session.get("refresh_token") or session["refreshToken"]
    return [refresh, access, access.rsplit(".", 1)[1]]


async def _stored_text() -> str:
    """Every row of every table, as text."""
    rows = []
    for model in Tortoise.apps["models"].values():
        rows += [repr(row) for row in await model.all().values()]
    return "\n".join(rows)


async def test_no_secret_in_the_logs_of_a_whole_flow_and_only_hashes_at_rest(
    api: Api, mail: MailSink
) -> None:
    email, gql_email = "secretive@example.com", "quiet@example.com"
    secrets: list[str] = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, GQL_PASSWORD, GQL_NEW_PASSWORD]
    codes: list[str] = []
    refresh_tokens: list[str] = []

    def keep(session: dict[str, Any]) -> dict[str, Any]:
        secrets.extend(token_secrets(session))
        refresh_tokens.append(token_secrets(session)[0])
        return session

    with every_log_at_debug() as logs:
        # --- REST: sign-up, verify, sign-in, refresh, a wrong password, recovery, sign-out ---
        body = {"username": "secretive", "email": email, "password": PASSWORD}
        r = await api.rest("POST", "/auth/verifications", json=body)
        assert r.status_code == 202, r.text
        codes.append(await mail.code_for(email, 1))
        # While pending: the password and the code are stored hashed.
        pending = await PendingSignup.get(email_key=email)
        assert pending.password_hash.startswith("$argon2"), pending.password_hash
        assert PASSWORD not in pending.password_hash
        pending_code = await VerificationCode.get(email_key=email, purpose="signup")
        assert_hashed_code(pending_code.code_hash, codes[0])

        r = await api.rest(
            "POST", "/auth/verify", json={"type": "signup", "email": email, "token": codes[0]}
        )
        assert r.status_code == 200, r.text
        first = keep(r.json())
        r = await api.rest("GET", "/users/me", first["access_token"])
        assert r.status_code == 200, r.text

        r = await api.rest("POST", "/auth/sessions", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        second = keep(r.json())
        r = await api.rest(
            "POST", "/auth/sessions", json={"email": email, "password": WRONG_PASSWORD}
        )
        assert r.status_code == 401, r.text
        r = await api.rest(
            "POST", "/auth/sessions/refresh", json={"refresh_token": second["refresh_token"]}
        )
        assert r.status_code == 200, r.text
        third = keep(r.json())
        r = await api.client.get("/api/v1/users/me", headers=bearer(third["access_token"]))
        assert r.status_code == 200, r.text

        r = await api.rest("POST", "/auth/resend", json={"type": "recovery", "email": email})
        assert r.status_code == 204, r.text
        codes.append(await mail.code_for(email, 2))
        wrong = f"{(int(codes[1]) + 1) % 1_000_000:06d}"
        recovery = {"type": "recovery", "email": email, "new_password": NEW_PASSWORD}
        r = await api.rest("POST", "/auth/verify", json={**recovery, "token": wrong})
        assert r.status_code == 401, r.text
        r = await api.rest("POST", "/auth/verify", json={**recovery, "token": codes[1]})
        assert r.status_code == 204, r.text
        r = await api.rest(
            "POST", "/auth/sessions", json={"email": email, "password": NEW_PASSWORD}
        )
        assert r.status_code == 200, r.text
        fourth = keep(r.json())
        r = await api.rest(
            "DELETE", "/auth/sessions", json={"refresh_token": fourth["refresh_token"]}
        )
        assert r.status_code == 204, r.text
        r = await api.rest("GET", "/users/me", fourth["access_token"])  # a revoked token
        assert r.status_code == 401, r.text

        # --- GraphQL: the same flow through the other door ---
        signup = {"username": "quiet", "email": gql_email, "password": GQL_PASSWORD}
        gql_data(await api.gql(SIGN_UP, {"input": signup}))
        codes.append(await mail.code_for(gql_email, 1))
        verify = {"email": gql_email, "token": codes[2]}
        fifth = keep(gql_data(await api.gql(VERIFY_SIGNUP, {"input": verify})))
        sign_in = {"email": gql_email, "password": GQL_PASSWORD}
        sixth = keep(gql_data(await api.gql(SIGN_IN, {"input": sign_in})))
        # A wrong password written into the document itself, not in a variable.
        inline = (
            f'mutation {{ signIn(input: {{email: "{gql_email}", '
            f'password: "{WRONG_PASSWORD}"}}) {{ {SESSION} }} }}'
        )
        failed = await api.gql(inline)
        assert failed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", failed
        seventh = keep(gql_data(await api.gql(REFRESH, {"t": sixth["refreshToken"]})))
        assert gql_data(await api.gql("{ me { id } }", token=seventh["accessToken"]))
        assert gql_data(await api.gql(SIGN_OUT, {"t": seventh["refreshToken"]})) is True
        assert gql_data(await api.gql(RESEND, {"input": {"email": gql_email, "type": "RECOVERY"}}))
        codes.append(await mail.code_for(gql_email, 2))
        recover = {"email": gql_email, "token": codes[3], "newPassword": GQL_NEW_PASSWORD}
        assert gql_data(await api.gql(VERIFY_RECOVERY, {"input": recover})) is True
        new_sign_in = {"email": gql_email, "password": GQL_NEW_PASSWORD}
        keep(gql_data(await api.gql(SIGN_IN, {"input": new_sign_in})))
        assert fifth

    text = log_text(logs)
    # The capture works: the SQL logger's statements (with their parameters) are in it.
    assert re.search(r"INSERT INTO .?refresh_tokens", text), "the SQL log was not captured"
    assert '"logger":"tortoise.db_client"' in text, "the JSON lines are not in the text"
    assert len(set(codes)) >= 1 and len(refresh_tokens) == 8
    leaked = [s for s in secrets + codes if found(s, text)]
    where = {
        s: [r.name + ": " + r.getMessage()[:300] for r in logs.records if found(s, r.getMessage())]
        for s in leaked
    }
    assert leaked == [], f"secrets in the logs: {where}"

    # --- at rest ---
    stored = await _stored_text()
    assert [s for s in secrets + codes if found(s, stored)] == [], "a plaintext secret is stored"
    for token in refresh_tokens:
        row = await RefreshToken.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
        assert row.token_hash != token
    for address, password in [(email, NEW_PASSWORD), (gql_email, GQL_NEW_PASSWORD)]:
        user = await User.get(email_key=address)
        assert user.password_hash.startswith("$argon2id$"), user.password_hash
        assert password not in user.password_hash
    for stored_code in await VerificationCode.all():
        assert re.fullmatch(r"[0-9a-f]{64}", stored_code.code_hash), stored_code.code_hash
        for code in codes:
            assert_hashed_code(stored_code.code_hash, code)
    assert not await PendingSignup.exists()  # confirmed sign-ups leave nothing pending


def assert_hashed_code(stored: str, code: str) -> None:
    """A 6-digit code has a million values: an unkeyed hash of it is as good as plaintext.
    The README's decision: HMAC-SHA256 keyed with JWT_SECRET."""
    assert code not in stored
    for name in ("md5", "sha1", "sha256", "sha512"):
        assert stored != hashlib.new(name, code.encode()).hexdigest(), name
