"""Per-thread agent event streams (docs/contract.md §5, `GET /agent/runs/{thread_id}/events`): ids,
reads strictly after a cursor, resuming without loss or repetition, trimming, and one live reader
per thread per process. Every test runs in memory, and on Redis when the suite has one."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest
from redis.asyncio import Redis

from config import Settings
from infra.event_streams import (
    Event,
    EventStreams,
    MemoryEventStreams,
    RedisEventStreams,
    build_event_streams,
    compare_ids,
    parse_stream_id,
)
from tests.support.backend import detect

BACKEND = detect()  # raises under RUNTIME_API_REQUIRE_SERVICES=1 when Redis does not answer
ID = re.compile(r"^\d+-\d+$")
WAIT = 5.0  # seconds: every wait in this module is bounded

KINDS = [
    "memory",
    pytest.param("redis", marks=pytest.mark.skipif(not BACKEND.real, reason="needs Redis")),
]

Make = Callable[..., EventStreams]


@pytest.fixture(params=KINDS)
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    """Builds streams of the parametrized kind under a key prefix of this test's own."""
    prefix = f"rt-test-streams-{uuid.uuid4().hex[:12]}:"
    redis = (
        Redis.from_url(BACKEND.redis_url)
        if request.param == "redis" and BACKEND.redis_url
        else None
    )
    made: list[EventStreams] = []

    def build(**options: Any) -> EventStreams:
        options = {"max_len": 10_000, "max_age_s": 3600.0, **options}
        streams: EventStreams
        if redis is None:
            streams = MemoryEventStreams(**options)
        else:
            assert BACKEND.redis_url is not None
            streams = RedisEventStreams(redis, BACKEND.redis_url, prefix=prefix, **options)
        made.append(streams)
        return streams

    yield build
    for streams in made:
        await streams.close()
    if redis is not None:
        async for key in redis.scan_iter(match=prefix + "*"):
            await redis.delete(key)
        await redis.aclose()


@pytest.fixture
def streams(make: Make) -> EventStreams:
    return make()


def new_thread() -> str:
    return str(uuid.uuid4())


async def append_many(streams: EventStreams, thread: str, start: int, n: int) -> list[str]:
    return [await streams.append(thread, {"n": start + i}) for i in range(n)]


async def take(it: AsyncIterator[tuple[str, Event]], n: int) -> list[tuple[str, Event]]:
    got: list[tuple[str, Event]] = []
    if n == 0:
        return got
    async with asyncio.timeout(WAIT):
        async for item in it:
            got.append(item)
            if len(got) == n:
                break
    return got


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(int(WAIT / 0.01)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def ids_of(items: list[tuple[str, Event]]) -> list[str]:
    return [item_id for item_id, _ in items]


# --- ids ---------------------------------------------------------------------------------


async def test_ids_match_the_format_and_strictly_increase(streams: EventStreams) -> None:
    thread = new_thread()
    assert await streams.oldest_id(thread) is None
    assert await streams.last_id(thread) is None
    assert await streams.read_after(thread, None) == []

    ids = await append_many(streams, thread, 0, 50)
    assert all(ID.match(i) for i in ids)
    parsed = [parse_stream_id(i) for i in ids]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(parsed))
    assert all(compare_ids(a, b) == -1 for a, b in itertools.pairwise(ids))
    assert await streams.oldest_id(thread) == ids[0]
    assert await streams.last_id(thread) == ids[-1]
    assert await streams.read_after(thread, None) == [(i, {"n": n}) for n, i in enumerate(ids)]
    assert await streams.read_after(new_thread(), None) == []  # threads are separate


async def test_memory_ids_count_up_within_a_millisecond_and_never_go_back() -> None:
    now = [1_700_000_000.0]
    streams = MemoryEventStreams(max_len=100, max_age_s=3600, clock=lambda: now[0])
    thread = new_thread()
    first = [await streams.append(thread, {}) for _ in range(3)]
    assert first == ["1700000000000-0", "1700000000000-1", "1700000000000-2"]
    now[0] -= 5  # the clock steps back
    assert await streams.append(thread, {}) == "1700000000000-3"
    now[0] += 10
    assert await streams.append(thread, {}) == "1700000005000-0"


async def test_read_after_is_strictly_after(streams: EventStreams) -> None:
    thread = new_thread()
    ids = await append_many(streams, thread, 0, 30)
    assert ids_of(await streams.read_after(thread, ids[10], count=5)) == ids[11:16]
    assert ids_of(await streams.read_after(thread, ids[10])) == ids[11:]
    assert await streams.read_after(thread, ids[-1]) == []
    assert ids_of(await streams.read_after(thread, "0-0")) == ids
    # A cursor between two ids (never issued) still means "after it".
    ms, seq = parse_stream_id(ids[5]) or (0, 0)
    assert ids_of(await streams.read_after(thread, f"{ms}-{seq}")) == ids[6:]
    with pytest.raises(ValueError):
        await streams.read_after(thread, "nope")


# --- tail ------------------------------------------------------------------------------


async def test_resume_from_the_middle_while_appends_continue(streams: EventStreams) -> None:
    thread = new_thread()
    before = await append_many(streams, thread, 0, 20)
    cursor = before[9]
    produced: list[str] = []
    midway = asyncio.Event()

    async def produce() -> None:
        for n in range(20, 220):
            produced.append(await streams.append(thread, {"n": n}))
            if len(produced) == 30:
                midway.set()
            await asyncio.sleep(0)  # let the consumer (and the Redis reader) interleave

    producer = asyncio.create_task(produce())
    await asyncio.wait_for(midway.wait(), WAIT)  # join while the producer is mid-way
    async with aclosing(streams.tail(thread, cursor)) as it:
        got = await take(it, 10 + 200)
        await asyncio.wait_for(producer, WAIT)
        assert ids_of(got) == before[10:] + produced
        assert [event["n"] for _, event in got] == list(range(10, 220))
        # Nothing repeated is pending: the next event is the next one appended.
        sentinel = await streams.append(thread, {"n": "end"})
        assert await take(it, 1) == [(sentinel, {"n": "end"})]


async def test_two_tails_on_one_thread_see_the_same_sequence(streams: EventStreams) -> None:
    thread = new_thread()
    async with aclosing(streams.tail(thread)) as one, aclosing(streams.tail(thread)) as two:
        first = asyncio.create_task(take(one, 100))
        second = asyncio.create_task(take(two, 100))
        ids = []
        for n in range(100):
            ids.append(await streams.append(thread, {"n": n}))
            await asyncio.sleep(0)
        got_one, got_two = await asyncio.wait_for(asyncio.gather(first, second), WAIT)
    assert got_one == got_two
    assert ids_of(got_one) == ids


async def test_tail_without_cursor_starts_at_the_oldest_and_waits(streams: EventStreams) -> None:
    thread = new_thread()
    ids = await append_many(streams, thread, 0, 3)
    async with aclosing(streams.tail(thread)) as it:
        assert ids_of(await take(it, 3)) == ids
        pending = asyncio.create_task(take(it, 1))
        await asyncio.sleep(0.05)
        assert not pending.done()  # blocks for new events
        later = await streams.append(thread, {"n": 3})
        assert ids_of(await asyncio.wait_for(pending, WAIT)) == [later]


async def test_an_event_appended_during_the_backlog_read_arrives_once(
    streams: EventStreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force the race that the id comparison exists for: an event reaches the live buffer and is
    # also in the backlog read that follows.
    thread = new_thread()
    ids = await append_many(streams, thread, 0, 5)
    read_backlog = streams._read_backlog

    async def racing(thread_id: str, after: str | None, count: int) -> list[tuple[str, Event]]:
        ids.append(await streams.append(thread, {"n": len(ids)}))
        await asyncio.sleep(0.05)  # the live reader hands it to the buffer
        return await read_backlog(thread_id, after, count)

    monkeypatch.setattr(streams, "_read_backlog", racing)
    async with aclosing(streams.tail(thread, ids[1])) as it:
        got = await take(it, 4)
        monkeypatch.setattr(streams, "_read_backlog", read_backlog)
        assert ids_of(got) == ids[2:]
        later = await streams.append(thread, {"n": "later"})
        assert ids_of(await take(it, 1)) == [later]


async def test_a_slow_tail_catches_up_from_the_stream(make: Make) -> None:
    streams = make(buffer_limit=5)
    thread = new_thread()
    first = await streams.append(thread, {"n": 0})
    async with aclosing(streams.tail(thread)) as it:
        assert ids_of(await take(it, 1)) == [first]  # now live, with a 5-event buffer
        ids = await append_many(streams, thread, 1, 50)  # not consumed: the buffer overflows
        await asyncio.sleep(0.1)  # let the reader hand them all out
        assert ids_of(await take(it, 50)) == ids
        again = await streams.append(thread, {"n": 51})
        assert ids_of(await take(it, 1)) == [again]


async def test_closing_ends_running_tails(streams: EventStreams) -> None:
    thread = new_thread()
    event_id = await streams.append(thread, {"n": 0})
    async with aclosing(streams.tail(thread)) as it:
        assert ids_of(await take(it, 1)) == [event_id]
        waiting = asyncio.create_task(take(it, 1))
        await asyncio.sleep(0.05)
        await streams.close()
        assert await asyncio.wait_for(waiting, WAIT) == []  # the iteration ended
    assert streams.subscriber_count(thread) == 0
    assert [item async for item in streams.tail(thread)] == []  # nothing starts after closing


async def test_a_malformed_tail_cursor_is_refused(streams: EventStreams) -> None:
    with pytest.raises(ValueError):
        await anext(streams.tail(new_thread(), "12"))
    assert streams.subscriber_count(new_thread()) == 0


async def test_one_shared_reader_per_thread_that_stops_with_the_last_tail(
    streams: EventStreams,
) -> None:
    thread = new_thread()
    tails = [streams.tail(thread) for _ in range(50)]
    tasks = [asyncio.create_task(take(tail, 1)) for tail in tails]

    async def all_subscribed() -> bool:
        return streams.subscriber_count(thread) == 50

    await eventually(all_subscribed)
    if isinstance(streams, RedisEventStreams):
        await eventually(lambda: _named_clients(streams, 1))
        await asyncio.sleep(0.1)
        assert await _named_clients(streams, 1)  # still exactly one, not one per tail
        assert streams.reader_count() == 1

    event_id = await streams.append(thread, {"n": 0})
    results = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    assert all(ids_of(got) == [event_id] for got in results)
    for tail in tails:
        await tail.aclose()

    assert streams.subscriber_count(thread) == 0
    if isinstance(streams, RedisEventStreams):
        assert streams.reader_count() == 0
        await eventually(lambda: _named_clients(streams, 0))


async def _named_clients(streams: RedisEventStreams, expected: int) -> bool:
    clients = await streams._redis.client_list()
    named = [c for c in clients if c.get("name") == streams.reader_name]
    return len(named) == expected


# --- trimming ----------------------------------------------------------------------------


async def test_trimming_by_length_moves_the_oldest_id_forward(make: Make) -> None:
    streams = make(max_len=10)
    thread = new_thread()
    ids = await append_many(streams, thread, 0, 300)
    held = ids_of(await streams.read_after(thread, None, count=1000))
    # Exact in memory; Redis's `MAXLEN ~` drops whole macro nodes (100 entries by default).
    assert 10 <= len(held) <= (10 if isinstance(streams, MemoryEventStreams) else 210)
    assert held == ids[-len(held) :]
    oldest = await streams.oldest_id(thread)
    assert oldest == held[0] and compare_ids(oldest, ids[0]) > 0
    assert await streams.last_id(thread) == ids[-1]
    # A cursor older than what is held resumes at the oldest held (the runtime sends
    # snapshots first, seeing `after < oldest_id`).
    async with aclosing(streams.tail(thread, ids[0])) as it:
        assert ids_of(await take(it, len(held))) == held


async def test_trimming_by_age_moves_the_oldest_id_forward(make: Make) -> None:
    now = [time.time()]
    streams = make(max_age_s=60.0, clock=lambda: now[0])
    thread = new_thread()
    old = await append_many(streams, thread, 0, 150)
    await asyncio.sleep(0.05)
    # Jump the clock so that everything up to the last old event is over the age limit.
    last_old_ms = (parse_stream_id(old[-1]) or (0, 0))[0]
    now[0] = (last_old_ms + 2) / 1000 + 60.0
    fresh = await streams.append(thread, {"n": "fresh"})
    oldest = await streams.oldest_id(thread)
    assert oldest is not None and compare_ids(oldest, old[0]) > 0
    if isinstance(streams, MemoryEventStreams):
        assert oldest == fresh
    assert await streams.last_id(thread) == fresh
    if isinstance(streams, RedisEventStreams):  # an idle thread's key expires
        ttl = await streams._redis.pttl(streams._key(thread))
        assert 60_000 <= ttl <= 61_000


# --- ids as text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1-",
        "-1",
        "a-b",
        "1-2-3",
        " 1-2",
        "1-2 ",
        "1-2\n",
        "+1-2",
        "1--2",
        "١-٢",  # Arabic-Indic digits match `\d` but are not ids
        "18446744073709551616-0",  # 2**64
        "0-18446744073709551616",
        "1" * 21 + "-0",
    ],
)
def test_malformed_ids_do_not_parse(text: str) -> None:
    assert parse_stream_id(text) is None
    with pytest.raises(ValueError):
        compare_ids(text, "1-0")


def test_ids_parse_and_compare_numerically() -> None:
    assert parse_stream_id("0-0") == (0, 0)
    assert parse_stream_id("1700000000000-12") == (1700000000000, 12)
    assert parse_stream_id("18446744073709551615-18446744073709551615") == (2**64 - 1, 2**64 - 1)
    assert compare_ids("10-0", "9-5") == 1  # numerically, not as text
    assert compare_ids("5-10", "5-9") == 1
    assert compare_ids("5-1", "5-1") == 0
    assert compare_ids("5-1", "6-0") == -1


async def test_build_event_streams_picks_the_implementation() -> None:
    embedded = Settings(_env_file=None, agent_stream_max_len=5)
    assert isinstance(build_event_streams(embedded, None), MemoryEventStreams)
    if BACKEND.redis_url is not None:
        with_redis = Settings(_env_file=None, redis_url=BACKEND.redis_url)
        redis = Redis.from_url(BACKEND.redis_url)
        streams = build_event_streams(with_redis, redis)
        assert isinstance(streams, RedisEventStreams)
        await streams.close()
        await redis.aclose()
