"""Outgoing mail: SMTP through aiosmtplib, or a console mailer that logs each message.

Mail is sent in the background so that a request's timing never depends on whether a message
was sent (no account enumeration by latency) and a slow mail server never holds a request.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from config import Settings

log = logging.getLogger(__name__)
# The console mailer's mails are its output, not diagnostics: they are logged at INFO and shown
# whatever LOG_LEVEL says, so a server run at WARNING still shows the codes it mails.
console_log = logging.getLogger(f"{__name__}.console")
console_log.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class ConsoleMailer:
    """Development mailer: the message, code included, goes to the log."""

    async def send(self, mail: Mail) -> None:
        console_log.info("mail to %s | %s\n%s", mail.to, mail.subject, mail.text)


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        options = parse_qs(parts.query)
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 25
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._starttls = options.get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=10,
        )


class BackgroundMail:
    """Sends mail off the request path and keeps the tasks referenced until they finish."""

    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, mail: Mail) -> None:
        task = asyncio.create_task(self._deliver(mail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, mail: Mail) -> None:
        try:
            await self._mailer.send(mail)
        except Exception:  # a mail failure must not surface in an unrelated request
            log.exception("could not send mail to %s", mail.to)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def build_mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from)
    return ConsoleMailer()
