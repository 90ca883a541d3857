"""A counting proxy in front of PostgreSQL: the SQL statements a server really executes.

The server under test connects to the proxy (its DATABASE_URL names the proxy's port); the
proxy forwards every byte both ways unchanged and reads the client's side of the wire protocol.
Every statement PostgreSQL executes for a client arrives as exactly one of two messages: an
`Execute` ('E', extended protocol: asyncpg's prepared statements, Tortoise's queries) or a
simple `Query` ('Q', asyncpg's `execute()` without arguments). So counting them is exact,
whichever layer of the server sent them (Tortoise, raw asyncpg, a loader), and needs no hook in
the server. Two kinds of simple query are not statements of the application and are counted
apart: asyncpg's pool reset, sent on every release of a pooled connection
(`SELECT pg_advisory_unlock_all(); CLOSE ALL; ...`), and transaction control (`BEGIN`,
`COMMIT`, ...).

The proxy needs the client not to switch to TLS: it forwards the SSLRequest, and PostgreSQL
here answers "no" (`ssl = off`); an encrypted stream would be counted as nothing (`opaque`).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from dataclasses import dataclass, field

import asyncpg

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_PROTOCOL_3 = 196608
_STARTUP_MAX = 10_000
_RESET_PREFIX = "SELECT pg_advisory_unlock_all()"
_TRANSACTION_WORDS = ("BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END")


@dataclass
class Counts:
    statements: int = 0  # Execute messages + simple queries of the application
    pool_resets: int = 0
    transaction_control: int = 0
    connections: int = 0
    opaque: int = 0  # connections that switched to TLS: their statements are not seen

    def copy(self) -> Counts:
        return Counts(
            self.statements,
            self.pool_resets,
            self.transaction_control,
            self.connections,
            self.opaque,
        )

    def minus(self, earlier: Counts) -> Counts:
        return Counts(
            self.statements - earlier.statements,
            self.pool_resets - earlier.pool_resets,
            self.transaction_control - earlier.transaction_control,
            self.connections - earlier.connections,
            self.opaque - earlier.opaque,
        )


@dataclass
class ClientStream:
    """The client-to-server byte stream of one connection, cut into messages."""

    counts: Counts
    started: bool = False  # past the StartupMessage: messages carry a type byte
    opaque: bool = False
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        if self.opaque:
            return
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack_from("!I", self.buffer, 0)
                if length > _STARTUP_MAX:  # not PostgreSQL's startup: TLS, say
                    self.opaque = True
                    self.buffer.clear()
                    return
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack_from("!I", self.buffer, 4)
                del self.buffer[:length]
                if code == _PROTOCOL_3:
                    self.started = True
                elif code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                    self.opaque = True  # a CancelRequest, or something unknown
                    return
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[0]
            (length,) = struct.unpack_from("!I", self.buffer, 1)
            if len(self.buffer) < 1 + length:
                return
            body = bytes(self.buffer[5 : 1 + length])
            del self.buffer[: 1 + length]
            self._message(kind, body)

    def _message(self, kind: int, body: bytes) -> None:
        if kind == ord("E"):
            self.counts.statements += 1
        elif kind == ord("Q"):
            text = body.rstrip(b"\0").decode("utf-8", "replace").lstrip()
            if text.startswith(_RESET_PREFIX):
                self.counts.pool_resets += 1
            elif text.split(None, 1)[0].rstrip(";").upper() in _TRANSACTION_WORDS:
                self.counts.transaction_control += 1
            else:
                self.counts.statements += max(1, text.rstrip().rstrip(";").count(";") + 1)


class CountingProxy:
    """`await proxy.start()`, point the server at `proxy.port`, read `proxy.counts`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.counts = Counts()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.counts.connections += 1
        stream = ClientStream(self.counts)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, stream),
                self._pump(up_reader, writer, None),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if stream.opaque and stream.started is False:
                self.counts.opaque += 1
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
            if task is not None:
                self._tasks.discard(task)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: ClientStream | None
    ) -> None:
        try:
            while data := await reader.read(65536):
                if stream is not None:
                    stream.feed(data)
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def hop_cost_ms(direct_url: str, proxied_url: str, rounds: int = 200) -> float:
    """What the proxy adds to one statement's round trip (ms): `SELECT 1` timed directly and
    through the proxy. The delays measured behind the proxy are pessimistic by about this much
    per statement on a request's path."""

    async def mean_ms(url: str) -> float:
        conn = await asyncpg.connect(url)
        try:
            await conn.fetchval("SELECT 1")
            started = time.perf_counter()
            for _ in range(rounds):
                await conn.fetchval("SELECT 1")
            return (time.perf_counter() - started) * 1000 / rounds
        finally:
            await conn.close()

    # Under load the two means are noisy: a negative difference means "too small to see".
    return max(0.0, await mean_ms(proxied_url) - await mean_ms(direct_url))
