"""One operation, two doors: perform an account operation over REST or GraphQL and get back a
normalized `Outcome`, so a test can assert the same rule through both transports.

A REST error is checked here to be an RFC 7807 problem (docs/contract.md §2) and mapped to its
GraphQL class through `resolvers.errors.HTTP_STATUS`; a GraphQL error is checked to carry one known
`extensions.code`. Payloads come back in the REST (snake_case) shape whichever door was used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from resolvers.errors import HTTP_STATUS, ErrorCode
from tests.support.client import Api

Kind = Literal["rest", "graphql"]
TRANSPORTS: list[Kind] = ["rest", "graphql"]

CODE_OF_STATUS = {status: code.value for code, status in HTTP_STATUS.items()}
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}

SESSION_FIELDS = "accessToken refreshToken expiresIn tokenType user { id email }"
ME_FIELDS = "id username email avatarUrl bio createdAt emailConfirmedAt timezone"
USER_FIELDS = "id username avatarUrl bio"

REQUEST_SIGNUP = "mutation($input: SignupInput!) { requestSignup(input: $input) { email } }"
RESEND = "mutation($input: ResendCodeInput!) { resendCode(input: $input) }"
VERIFY_SIGNUP = (
    f"mutation($input: VerifySignupInput!) {{ verifySignup(input: $input) {{ {SESSION_FIELDS} }} }}"
)
VERIFY_RECOVERY = "mutation($input: VerifyRecoveryInput!) { verifyRecovery(input: $input) }"
SIGN_IN = f"mutation($input: SignInInput!) {{ signIn(input: $input) {{ {SESSION_FIELDS} }} }}"
REFRESH = f"mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {SESSION_FIELDS} }} }}"
SIGN_OUT = "mutation($t: String!) { signOut(refreshToken: $t) }"
ME = f"query {{ me {{ {ME_FIELDS} }} }}"
UPDATE_ME = f"mutation($input: UpdateMeInput!) {{ updateMe(input: $input) {{ {ME_FIELDS} }} }}"
SEARCH = f"query($q: String!) {{ searchUsers(query: $q) {{ {USER_FIELDS} }} }}"


def signup_fields(username: str, email: str | None = None) -> dict[str, Any]:
    """A sign-up request for `username` (at example.com unless `email`), for `request_signup`."""
    return {"username": username, "email": email or f"{username}@example.com", "password": "secret"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): to_snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_snake(v) for v in value]
    return value


@dataclass
class Outcome:
    """`ok` with a snake_case `data` (None for 204 / `true`), or an error class in `code`."""

    transport: Kind
    ok: bool
    data: Any = None
    code: str | None = None  # ErrorCode value, e.g. "UNAUTHENTICATED"
    detail: str | None = None
    retry_after: int | None = None
    status: int | None = None  # REST only
    headers: dict[str, str] = field(default_factory=dict)  # REST only
    raw: Any = None

    def expect_ok(self) -> Any:
        assert self.ok, f"{self.transport}: expected success, got {self.code}: {self.detail}"
        return self.data

    def expect(self, code: ErrorCode | str) -> Outcome:
        wanted = ErrorCode(code).value
        assert not self.ok and self.code == wanted, f"{self.transport}: expected {wanted}, got " + (
            "success" if self.ok else f"{self.code}: {self.detail}"
        )
        return self


def rest_outcome(response: Any) -> Outcome:
    status = response.status_code
    headers = dict(response.headers)
    if status < 400:
        data = response.json() if response.content else None
        return Outcome("rest", True, data=data, status=status, headers=headers, raw=response)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["title"] == HTTPStatus(status).phrase
    assert body["instance"] == response.request.url.path
    assert isinstance(body["detail"], str) and body["detail"]
    retry_after = None
    if status == 429:
        retry_after = int(response.headers["retry-after"])
    return Outcome(
        "rest",
        False,
        code=CODE_OF_STATUS[status],
        detail=body["detail"],
        retry_after=retry_after,
        status=status,
        headers=headers,
        raw=body,
    )


def gql_outcome(body: dict[str, Any], field_name: str) -> Outcome:
    errors = body.get("errors") or []
    if not errors:
        value = body["data"][field_name]
        data = None if value is True else to_snake(value)
        return Outcome("graphql", True, data=data, raw=body)
    assert len(errors) == 1, errors
    error = errors[0]
    ext = error.get("extensions") or {}
    code = ext.get("code")
    assert code in {c.value for c in ErrorCode}, error
    if body.get("data") is not None:
        assert body["data"].get(field_name) is None, body
    retry_after = ext.get("retryAfter")
    if code == ErrorCode.RATE_LIMITED.value:
        assert isinstance(retry_after, int) and retry_after >= 1, error
    return Outcome(
        "graphql", False, code=code, detail=error["message"], retry_after=retry_after, raw=body
    )


def _gql_input(body: dict[str, Any]) -> dict[str, Any]:
    return {camel(k): v for k, v in body.items()}


class Transport:
    """The account operations of docs/contract.md §3, over one transport."""

    def __init__(self, api: Api, kind: Kind) -> None:
        self.api = api
        self.kind = kind

    def __repr__(self) -> str:
        return self.kind

    async def _gql(
        self, query: str, field_name: str, variables: dict[str, Any], token: str | None = None
    ) -> Outcome:
        return gql_outcome(await self.api.gql(query, variables, token), field_name)

    async def _rest(self, method: str, path: str, token: str | None = None, **kw: Any) -> Outcome:
        return rest_outcome(await self.api.rest(method, path, token, **kw))

    async def request_signup(self, **body: Any) -> Outcome:
        if self.kind == "rest":
            return await self._rest("POST", "/auth/verifications", json=body)
        return await self._gql(REQUEST_SIGNUP, "requestSignup", {"input": _gql_input(body)})

    async def resend(self, email: str, type: str = "signup") -> Outcome:
        if self.kind == "rest":
            return await self._rest("POST", "/auth/resend", json={"type": type, "email": email})
        variables = {"input": {"email": email, "type": type.upper()}}
        return await self._gql(RESEND, "resendCode", variables)

    async def verify_signup(self, email: str, token: str) -> Outcome:
        if self.kind == "rest":
            body = {"type": "signup", "email": email, "token": token}
            return await self._rest("POST", "/auth/verify", json=body)
        variables = {"input": {"email": email, "token": token}}
        return await self._gql(VERIFY_SIGNUP, "verifySignup", variables)

    async def verify_recovery(self, email: str, token: str, new_password: str) -> Outcome:
        if self.kind == "rest":
            body = {"type": "recovery", "email": email, "token": token}
            body["new_password"] = new_password
            return await self._rest("POST", "/auth/verify", json=body)
        variables = {"input": {"email": email, "token": token, "newPassword": new_password}}
        return await self._gql(VERIFY_RECOVERY, "verifyRecovery", variables)

    async def sign_in(self, email: str, password: str) -> Outcome:
        if self.kind == "rest":
            body = {"email": email, "password": password}
            return await self._rest("POST", "/auth/sessions", json=body)
        variables = {"input": {"email": email, "password": password}}
        return await self._gql(SIGN_IN, "signIn", variables)

    async def refresh(self, refresh_token: str) -> Outcome:
        if self.kind == "rest":
            body = {"refresh_token": refresh_token}
            return await self._rest("POST", "/auth/sessions/refresh", json=body)
        return await self._gql(REFRESH, "refreshSession", {"t": refresh_token})

    async def sign_out(self, refresh_token: str) -> Outcome:
        if self.kind == "rest":
            body = {"refresh_token": refresh_token}
            return await self._rest("DELETE", "/auth/sessions", json=body)
        return await self._gql(SIGN_OUT, "signOut", {"t": refresh_token})

    async def me(self, token: str | None) -> Outcome:
        """REST `GET /users/me` or GraphQL `me`; both normalized to {id, username, avatar_url,
        bio, timezone} (GraphQL's extra `Me` fields are dropped so that the two compare equal)."""
        if self.kind == "rest":
            return await self._rest("GET", "/users/me", token)
        return _profile(await self._gql(ME, "me", {}, token))

    async def update_me(self, token: str | None, **body: Any) -> Outcome:
        if self.kind == "rest":
            return await self._rest("PATCH", "/users/me", token, json=body)
        outcome = await self._gql(UPDATE_ME, "updateMe", {"input": _gql_input(body)}, token)
        return _profile(outcome)

    async def search_users(self, token: str | None, query: str) -> Outcome:
        if self.kind == "rest":
            return await self._rest("POST", "/users/search", token, json={"query": query})
        return await self._gql(SEARCH, "searchUsers", {"q": query}, token)


PROFILE_KEYS = ("id", "username", "avatar_url", "bio", "timezone")


def _profile(outcome: Outcome) -> Outcome:
    if outcome.ok:
        outcome.data = {k: outcome.data[k] for k in PROFILE_KEYS}
    return outcome
