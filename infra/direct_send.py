"""The ASGI server's own `send`, handed to long-lived streams past the middlewares' wrappers.

Every HTTP middleware wraps `send` to look at the response's start (to add a header, to note
that the response began); after that their wrappers only pass messages on. A stream writes for
hours, to many clients, and each wrapper costs an await per write: so the outermost middleware
offers the `send` it was given in the scope, and a stream sends its headers through the wrapped
`send` (every middleware sees them) and its body through the direct one. A middleware that
changes response bodies must therefore never sit inside the one that offers it.
"""

from __future__ import annotations

from starlette.types import Scope, Send

_KEY = "runtime_api.direct_send"


def offer_direct_send(scope: Scope, send: Send) -> None:
    scope[_KEY] = send


def direct_send(scope: Scope, wrapped: Send) -> Send:
    """The direct `send` for a response body once its start went through `wrapped`."""
    send: Send = scope.get(_KEY, wrapped)
    return send
