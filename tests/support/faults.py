"""Fault injection with processes of the test's own: a TCP proxy that can make a service
unreachable, and a private Redis server that can be killed and restarted.

The shared PostgreSQL and Redis of the machine are never touched: the server under test reaches
PostgreSQL through `TcpProxy` (which the test pauses or closes) and uses a `PrivateRedis` on a
port of its own (which the test kills and starts again).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from tests.support.server_process import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`, on an event loop in a thread of its own (the test's
    loop is often blocked in synchronous waits). Three states:

    - `resume()`: forwarding (the initial state);
    - `pause()`: a black hole — connections stay open and new ones are accepted, but no byte
      goes through in either direction (a partitioned network: peers see silence, not errors);
    - `close()`: every connection is closed and the port refuses new ones (the service is down).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._paused = False
        self._resumed = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- control, from the test's thread ------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def pause(self) -> None:
        self._call(self._set_paused(True))

    def close(self) -> None:
        self._call(self._close())

    def resume(self) -> None:
        self._call(self._resume())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(10)

    # --- the proxy, on its own loop -----------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        if paused:
            self._resumed.clear()
        else:
            self._resumed.set()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            # An abortive close (RST), like a host that went away, not a polite FIN.
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()

    async def _resume(self) -> None:
        await self._set_paused(False)
        await self._listen()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink, writer, up_writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *ends: asyncio.StreamWriter,
    ) -> None:
        try:
            while True:
                data = await source.read(65536)
                if not data:
                    break
                while self._paused:  # hold the bytes: the peer sees silence
                    await self._resumed.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for end in ends:
                with contextlib.suppress(Exception):
                    end.close()
                self._writers.discard(end)


@contextlib.contextmanager
def tcp_proxy(target_host: str, target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


class PrivateRedis:
    """A `redis-server` of the test's own on a free port, in `directory`. `durable=True` models a
    production Redis that persists every write (`appendonly yes`, `appendfsync always`): a
    restart keeps the streams. `durable=False` keeps nothing across a restart."""

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = directory
        self.durable = durable
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.directory),
                *persistence,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.directory / 'redis.log'}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: a crash (a durable Redis still has every write that was acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def private_redis(directory: Path, *, durable: bool = True) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(directory, durable=durable)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
