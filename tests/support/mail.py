"""A mailer that keeps messages in memory, for tests that read the emailed codes."""

from __future__ import annotations

import asyncio
import re

from infra.mail import Mail

CODE = re.compile(r"\b(\d{6})\b")


class MailSink:
    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self._arrived = asyncio.Event()

    async def send(self, mail: Mail) -> None:
        self.messages.append(mail)
        self._arrived.set()

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages if m.to.lower() == address.lower()]

    async def wait_for(self, address: str, count: int = 1, seconds: float = 5) -> list[Mail]:
        async def until() -> list[Mail]:
            while len(self.to(address)) < count:
                self._arrived.clear()
                await self._arrived.wait()
            return self.to(address)

        return await asyncio.wait_for(until(), seconds)

    async def code_for(self, address: str, nth: int = 1) -> str:
        mails = await self.wait_for(address, nth)
        match = CODE.search(mails[nth - 1].text)
        assert match, f"no code in {mails[nth - 1].text!r}"
        return match.group(1)
