"""SMTP_URL sends the codes through a real SMTP server (here aiosmtpd on a loopback port)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from config import Settings
from server.app import create_app
from tests.support.server_process import free_port

SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """What the SMTP server was handed; aiosmtpd calls `handle_DATA` from its own thread."""

    messages: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        self.arrived.set()
        return "250 Message accepted for delivery"

    async def wait(self, count: int = 1, seconds: float = 10) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + seconds
        while len(self.messages) < count:
            assert asyncio.get_running_loop().time() < deadline, "no mail arrived"
            await asyncio.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # No mailer argument: the app builds its own from the settings, as in production.
    app = create_app(settings, manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_signup_code_is_sent_over_smtp(
    settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    settings = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{port}", "mail_from": "Runtime <robot@example.org>"}
    )
    address = "Smtp.User@Example.com"
    async with app_client(settings) as client:
        body = {"username": "smtp_user", "email": address, "password": "correct horse"}
        r = await client.post("/api/v1/auth/verifications", json=body)
        assert r.status_code == 202, r.text
        (received,) = await inbox.wait()

        assert [rcpt.lower() for rcpt in received.rcpt_tos] == [address.lower()]
        assert received.mail_from == "robot@example.org"
        message = received.message
        assert message["From"] == settings.mail_from
        assert message["To"].lower() == address.lower()
        assert message["Subject"]
        text_part = message.get_body(preferencelist=("plain",))
        assert text_part is not None
        code = SIX_DIGITS.search(text_part.get_content())
        assert code, text_part.get_content()

        # The code that went over SMTP is the one that confirms the sign-up.
        verify = {"type": "signup", "email": address, "token": code.group(0)}
        r = await client.post("/api/v1/auth/verify", json=verify)
        assert r.status_code == 200, r.text
        assert r.json()["access_token"]


async def test_unreachable_smtp_server_does_not_fail_the_request(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    caplog.set_level("ERROR", logger="infra.mail")
    async with app_client(settings) as client:
        body = {"username": "smtp_down", "email": "down@example.com", "password": "correct horse"}
        r = await client.post("/api/v1/auth/verifications", json=body)
        assert r.status_code == 202, r.text
    # Leaving the lifespan waits for the background send, which failed and was logged.
    failures = [rec for rec in caplog.records if "could not send mail" in rec.getMessage()]
    assert failures and "down@example.com" in failures[0].getMessage()
