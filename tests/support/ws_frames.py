"""What kind of websocket frames the server sends, seen at the ASGI boundary.

Both GraphQL websocket protocols define their messages as stringified JSON, so every frame must
be a text frame: a binary one is refused by Python's `gql` and reaches a browser's `graphql-ws`
or Apollo as a `Blob` it cannot parse. Tests that drive stock clients wrap the app with
`FrameLog.wrap(app)` (before handing it to `live_server`) and assert `frames.binary == 0` and
`frames.text > 0` at the end, so a regression fails in every client test, not in one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


@dataclass
class FrameLog:
    text: int = 0
    binary: int = 0
    binary_samples: list[bytes] = field(default_factory=list)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app`, counting every `websocket.send` it makes by frame type."""

        async def recorded(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
            if scope["type"] != "websocket":
                await app(scope, receive, send)
                return

            async def counting_send(message: Message) -> None:
                if message["type"] == "websocket.send":
                    if message.get("bytes") is not None:
                        self.binary += 1
                        if len(self.binary_samples) < 3:
                            self.binary_samples.append(bytes(message["bytes"][:200]))
                    else:
                        self.text += 1
                await send(message)

            await app(scope, receive, counting_send)

        return recorded

    def assert_all_text(self) -> None:
        assert self.binary == 0, (
            f"{self.binary} binary websocket frames, e.g. {self.binary_samples}"
        )
        assert self.text > 0, "no websocket frame was sent at all"
