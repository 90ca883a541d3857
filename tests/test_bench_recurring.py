"""The bench's recurring items (bench/recurring.py): the rows are what the server would store,
the viewer's series show the number of list entries the growth step checks, and the other
users' series are the announced mix."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench import recurring
from resolvers import recurrence, rrules

OWNER = str(uuid.uuid4())


def _series(row: tuple[Any, ...]) -> recurrence.Series:
    _id, _owner, _title, start_at, end_at, rule, exdates, overrides, _end = row
    return recurrence.Series.of_columns(
        start_at=start_at,
        end_at=end_at,
        timezone=recurring.ZONE,
        all_day=False,
        recurrence=rule,
        exdates=orjson.loads(exdates) if exdates else None,
        overrides=orjson.loads(overrides) if overrides else None,
    )


def test_the_viewers_series_make_the_announced_entries() -> None:
    rows = [recurring._row(OWNER, spec) for spec in recurring.VIEWER_SERIES]
    entries = [o for row in rows for o in recurrence.expand(_series(row), None, None, 1001)]
    assert len(entries) == recurring.VIEWER_SERIES_ENTRIES
    assert sum(bool(o.changes) for o in entries) == 1  # one occurrence edited
    assert sum(row[6] is not None for row in rows) == 1  # one left out
    # All bounded: an unranged list shows every occurrence of an unbounded one, up to the cap.
    assert all(row[8] is not None for row in rows)
    assert any(row[8] < datetime(2020, 1, 1, tzinfo=UTC) for row in rows)  # ended long ago


def test_the_rows_are_the_servers_own_columns() -> None:
    for spec in recurring.other_series(50):
        row = recurring._row(OWNER, spec)
        rule = row[5]
        assert rule == rrules.normalize_rule(
            rule, start_at=spec.start_at, timezone=recurring.ZONE, all_day=False
        )
        assert row[8] == recurrence.span_end(_series(row))
        for key in orjson.loads(row[6] or "[]"):  # exdates name occurrences
            assert recurrence.has_occurrence(_series(row), datetime.fromisoformat(key))


def test_the_other_users_series_are_a_mix() -> None:
    rows = [recurring._row(OWNER, spec) for spec in recurring.other_series(1000)]
    kinds = Counter(row[5].split(";")[0] + (";COUNT" if "COUNT" in row[5] else "") for row in rows)
    assert kinds == {"FREQ=WEEKLY": 400, "FREQ=DAILY;COUNT": 400, "FREQ=MONTHLY": 200}
    unbounded = sum(row[8] is None for row in rows)
    ended = sum(row[8] is not None and row[8] < datetime(2021, 1, 1, tzinfo=UTC) for row in rows)
    assert (unbounded, ended) == (200, 400)
    assert sum(row[6] is not None for row in rows) > 100  # exdates
    assert sum(row[7] is not None for row in rows) > 50  # edited occurrences
    assert all(row[4] - row[3] == timedelta(hours=1) for row in rows)
