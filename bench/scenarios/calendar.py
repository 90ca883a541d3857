"""Calendar fan-out: the live events of the calendar with N subscribers, each its own user.

- `scheduleItemChanged`: one item of the viewer shared with N users (accepted shares written
  with SQL), each subscribed over `graphql-transport-ws`; the owner changes the title over REST
  (`PATCH /api/v1/schedule-items/{id}`) M times, each write once the previous one has reached
  every subscriber, so each event's fan-out is measured on its own.
- `inboxMessages`: the same N users each subscribed to their inbox; the owner shares a new item
  with each of them (`POST /api/v1/schedule-items/{id}/share`, one after another), which puts
  one invitation in each inbox.

Delay: from the moment the REST write's answer arrived at the bench (time.time()) to the
moment the subscriber's client read the event (time.time(), same machine clock); the client's
own queueing is included, so it is an upper bound.

SQL statements per event: this scenario runs its own server process whose DATABASE_URL points
at bench/pgcount.py, a proxy that counts the Execute and simple Query messages of the wire
protocol (exact, whatever layer of the server sent them). After the subscribers have left, the
same writes are replayed at the same moments with nobody listening: per event the row reports
(statements in the measured window - statements of the replay) / events, what the fan-out
costs. The replay keeps the timing because a writer's requests also cost statements by time
(its session is re-checked every few seconds), not only by count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench import crowd
from bench.clients.common import summary
from bench.clients.driver import ClientProcess
from bench.context import Bench, Row, ServerFault
from bench.pgcount import CountingProxy, Counts, hop_cost_ms
from bench.processes import REGISTRY, Server, start_server

DELAY_P99_TARGET_MS = 250.0
STATEMENTS_TARGET = 3.0
SETTLE_S = 2.0
TRAILING_S = 0.3  # statements a stream runs right after it delivered
VIEW = 1

Write = Callable[[int], Awaitable[float]]


@dataclass
class Deployment:
    proxy: CountingProxy
    server: Server
    http: httpx.AsyncClient
    hop_ms: float  # what the proxy adds to each statement's round trip


def _proxied(db_url: str, port: int) -> str:
    parts = urlsplit(db_url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def _deploy(bench: Bench) -> Deployment:
    assert bench.viewer is not None
    parts = urlsplit(bench.db_url)
    proxy = CountingProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    proxied = _proxied(bench.db_url, proxy.port)
    hop_ms = await hop_cost_ms(bench.db_url, proxied)
    env = bench.env(DATABASE_URL=proxied)
    # In a thread: the proxy answers the server's connections on this event loop meanwhile.
    server = await asyncio.to_thread(start_server, "calendar-server", env, bench.work_dir)
    http = httpx.AsyncClient(
        base_url=f"{server.base_url}/api/v1",
        headers={"Authorization": f"Bearer {bench.viewer.token}"},
        timeout=60,
    )
    return Deployment(proxy, server, http, hop_ms)


async def _undeploy(deployment: Deployment) -> None:
    await deployment.http.aclose()
    await asyncio.to_thread(REGISTRY.stop, deployment.server.child)
    await deployment.proxy.stop()


async def _replay(
    proxy: CountingProxy, offsets: list[float], seconds: float, write: Write
) -> Counts:
    """The statements of the same writes at the same moments as a measured window, with nobody
    listening: what the writes cost by themselves, including what a writer's requests cost
    over time (a session check every few seconds, say)."""
    await asyncio.sleep(SETTLE_S)  # the streams of the subscribers that left have ended
    before = proxy.counts.copy()
    started = time.monotonic()
    for k, offset in enumerate(offsets, 1):
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
        await write(k)
    await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
    return proxy.counts.minus(before)


def _tokens_file(bench: Bench, members: list[crowd.Member], name: str) -> Path:
    path = bench.work_dir / name
    path.write_text("".join(m.token + "\n" for m in members))
    return path


@dataclass
class Window:
    """The statements from the first write to the last receipt (plus TRAILING_S), when each
    write started (seconds from the window's start), and the same writes' replay."""

    counts: Counts
    seconds: float
    offsets: list[float]
    replay: Counts | None = None


def _statements_row(name: str, window: Window, events: int, d: Deployment, n: int) -> Row:
    assert window.replay is not None
    own = window.replay.statements
    fanout = (window.counts.statements - own) / events
    return Row(
        f"{name}: SQL/event",
        f"{fanout:.2f} statements/event ({window.counts.statements} in the window for {events} "
        f"events, {own} for the same writes with nobody subscribed; {n} subscribers)",
        f"<= {STATEMENTS_TARGET:.0f}",
        "PASS" if fanout <= STATEMENTS_TARGET else "FAIL",
        {
            "window": vars(window.counts),
            "window_s": round(window.seconds, 2),
            "replay": vars(window.replay),
            "statements_per_event": round(fanout, 3),
            "proxy_hop_ms": round(d.hop_ms, 4),
        },
    )


def _errors_note(done: dict[str, Any]) -> str:
    if not done["error_count"]:
        return ""
    return f"; {done['error_count']} streams ended: {str(done['errors'][0])[:80]}"


def _delay_row(name: str, delays: list[float], delivered: bool, note: str) -> Row:
    s = summary(delays)
    return Row(
        f"{name}: write->receipt",
        f"p50 {s['p50']:.0f} ms, p99 {s['p99']:.0f} ms, max {s['max']:.0f} ms ({note})",
        f"p99 < {DELAY_P99_TARGET_MS:.0f} ms",
        "PASS" if delivered and s["p99"] < DELAY_P99_TARGET_MS else "FAIL",
        {"delay_ms": s},
    )


async def _item_changes(bench: Bench, d: Deployment, members: list[crowd.Member]) -> None:
    assert bench.viewer is not None
    n, changes = len(members), bench.profile.calendar_changes
    item = await crowd.create_item(bench.db_url, bench.viewer.user_id, "bench item")
    await crowd.share_with(bench.db_url, item, members, VIEW)

    async def patch(title: str) -> float:
        response = await d.http.patch(f"/schedule-items/{item}", json={"title": title})
        answered = time.time()
        if response.status_code != 200:
            raise ServerFault(f"PATCH item: {response.status_code} {response.text[:300]}")
        return answered

    await patch("bench warm-up")  # prepared statements, the writer's session cache
    tokens = _tokens_file(bench, members, "calendar-item-tokens.txt")
    args = ["--port", str(d.server.port), "--tokens-file", str(tokens)]
    client = ClientProcess(
        "bench.clients.calendar", [*args, "--mode", "item", "--item", item], bench.work_dir
    )
    name = f"Calendar scheduleItemChanged x{n}"
    answers: dict[int, float] = {}
    reached: list[int] = []
    try:
        ready = await client.read(limit_s=180)
        await asyncio.sleep(SETTLE_S)
        await patch("bench probe")  # every subscriber listens once this one arrived
        client.send("wait 0 60")
        primed = (await client.read(limit_s=90))["count"]
        before = d.proxy.counts.copy()
        started = time.monotonic()
        offsets: list[float] = []
        limit = 30.0
        for k in range(1, changes + 1):
            offsets.append(time.monotonic() - started)
            answers[k] = await patch(f"bench change #{k}")
            client.send(f"wait {k} {limit}")
            count = (await client.read(limit_s=limit + 30))["count"]
            reached.append(count)
            if count < n:
                limit = 5.0  # someone misses events: do not wait long for each of them
        await asyncio.sleep(TRAILING_S)
        window = Window(d.proxy.counts.minus(before), time.monotonic() - started, offsets)
        client.send("report")
        done = await client.read(limit_s=60)
    finally:
        client.stop()
    window.replay = await _replay(
        d.proxy, window.offsets, window.seconds, lambda k: patch(f"bench replay ({k})")
    )
    expected = list(range(1, changes + 1))
    delays: list[float] = []
    exact = 0
    for received in done["received"]:
        indices = [i for i, _ in received if i != 0]
        exact += indices == expected
        delays += [t * 1000 - answers[i] * 1000 for i, t in received if i in answers]
    delivered = exact == n and ready["connected"] == n
    details: dict[str, Any] = {
        "subscribers": n,
        "changes": changes,
        "ready": ready,
        "primed": primed,
        "reached_per_change": reached,
        "errors": done["errors"],
        "error_count": done["error_count"],
    }
    bench.rows.append(
        Row(
            f"{name}: delivery",
            f"{exact}/{n} got all {changes} changes in order, once each" + _errors_note(done),
            "all, in order",
            "PASS" if delivered else "FAIL",
            details,
        )
    )
    note = f"{changes} PATCHes, one at a time; proxy +{d.hop_ms:.2f} ms/SQL"
    bench.rows.append(_delay_row(name, delays, delivered, note))
    bench.rows.append(_statements_row(name, window, changes, d, n))


async def _invitations(bench: Bench, d: Deployment, members: list[crowd.Member]) -> None:
    assert bench.viewer is not None
    n = len(members)
    warmup_item = await crowd.create_item(bench.db_url, bench.viewer.user_id, "bench warm-up")
    item = await crowd.create_item(bench.db_url, bench.viewer.user_id, "bench invitation")
    replay_item = await crowd.create_item(bench.db_url, bench.viewer.user_id, "bench replay")

    async def share(target: str, member: crowd.Member) -> float:
        response = await d.http.post(
            f"/schedule-items/{target}/share", json={"email": member.email}
        )
        answered = time.time()
        if response.status_code != 200:
            raise ServerFault(f"share: {response.status_code} {response.text[:300]}")
        return answered

    await share(warmup_item, members[0])  # prepared statements, the writer's session cache
    tokens = _tokens_file(bench, members, "calendar-inbox-tokens.txt")
    args = ["--port", str(d.server.port), "--tokens-file", str(tokens)]
    client = ClientProcess(
        "bench.clients.calendar", [*args, "--mode", "inbox", "--item", item], bench.work_dir
    )
    name = f"Calendar inboxMessages x{n}"
    answers: list[float] = []
    try:
        ready = await client.read(limit_s=180)
        await asyncio.sleep(SETTLE_S)
        before = d.proxy.counts.copy()
        started = time.monotonic()
        offsets: list[float] = []
        for member in members:
            offsets.append(time.monotonic() - started)
            answers.append(await share(item, member))
        writes_s = time.monotonic() - started
        client.send("wait 1 60")
        count = (await client.read(limit_s=90))["count"]
        await asyncio.sleep(TRAILING_S)
        window = Window(d.proxy.counts.minus(before), time.monotonic() - started, offsets)
        client.send("report")
        done = await client.read(limit_s=60)
    finally:
        client.stop()
    window.replay = await _replay(
        d.proxy, window.offsets, window.seconds, lambda k: share(replay_item, members[k - 1])
    )
    delays: list[float] = []
    exact = 0
    others = 0  # messages of other invitations (the baseline's), delivered or replayed
    for received, answered in zip(done["received"], answers, strict=True):
        exact += [i for i, _ in received if i == 1] == [1]
        others += sum(1 for i, _ in received if i != 1)
        delays += [t * 1000 - answered * 1000 for i, t in received if i == 1]
    delivered = exact == n and ready["connected"] == n
    details: dict[str, Any] = {
        "subscribers": n,
        "ready": ready,
        "reached": count,
        "other_messages": others,
        "errors": done["errors"],
        "error_count": done["error_count"],
        "writes_s": round(writes_s, 2),
    }
    bench.rows.append(
        Row(
            f"{name}: delivery",
            f"{exact}/{n} got their one invitation, once" + _errors_note(done),
            "all, once",
            "PASS" if delivered else "FAIL",
            details,
        )
    )
    rate = n / writes_s if writes_s else 0.0
    bench.rows.append(
        _delay_row(name, delays, delivered, f"{n} shares one after another, {rate:.0f}/s")
    )
    bench.rows.append(_statements_row(name, window, n, d, n))


async def calendar(bench: Bench) -> None:
    assert bench.viewer is not None
    n = bench.profile.calendar_subscribers
    members = await crowd.add_members(bench.db_url, bench.jwt_secret, "calendar", n)
    deployment = await _deploy(bench)
    try:
        await _item_changes(bench, deployment, members)
        await _invitations(bench, deployment, members)
    finally:
        await _undeploy(deployment)
