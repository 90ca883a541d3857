"""Test helpers over an httpx client: REST and GraphQL calls, and whole sign-up flows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from infra.services import Services
from models import User
from resolvers.sessions import open_session
from tests.support.mail import MailSink

API = "/api/v1"
_counter = itertools.count(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    id: str
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access_token)


class Api:
    def __init__(
        self, client: httpx.AsyncClient, mail: MailSink, services: Services | None = None
    ) -> None:
        self.client = client
        self.mail = mail
        self.services = services

    async def quick_user(self, username: str | None = None) -> Account:
        """A confirmed account made directly in the database, with a live session: for tests
        that need many users and are not about sign-up (which is rate limited per address)."""
        assert self.services is not None
        n = next(_counter)
        username = username or f"quick{n}"
        email = f"{username}@example.com"
        user = await User.create(
            username=username,
            username_key=username.lower(),
            email=email,
            email_key=email,
            password_hash="!unusable",
            email_confirmed_at=datetime.now(UTC),
        )
        tokens = await open_session(self.services, user)
        return Account(
            id=str(user.id),
            username=username,
            email=email,
            password="",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
        )

    async def rest(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers.update(bearer(token))
        return await self.client.request(method, API + path, headers=headers, **kwargs)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=bearer(token) if token else {},
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def sign_up(
        self,
        username: str | None = None,
        email: str | None = None,
        password: str = "correct horse",
        invite_code: str | None = None,
    ) -> Account:
        n = next(_counter)
        username = username or f"user{n}"
        email = email or f"{username}@example.com"
        body: dict[str, Any] = {"username": username, "email": email, "password": password}
        if invite_code:
            body["invite_code"] = invite_code
        r = await self.rest("POST", "/auth/verifications", json=body)
        assert r.status_code == 202, r.text
        code = await self.mail.code_for(email, len(self.mail.to(email)) or 1)
        # With the password, the code confirms this sign-up even when others wait on the email.
        verify = {"type": "signup", "email": email, "token": code, "password": password}
        r = await self.rest("POST", "/auth/verify", json=verify)
        assert r.status_code == 200, r.text
        session = r.json()
        return Account(
            id=session["user"]["id"],
            username=username,
            email=email,
            password=password,
            access_token=session["access_token"],
            refresh_token=session["refresh_token"],
        )


def gql_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None
