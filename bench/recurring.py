"""Recurring items of the growth step (issue 14): series among the other users' items, and a
few in the viewer's own list so that the measured list pays for its expansion.

The rules are checked and each row's `series_end_at` computed with resolvers/recurrence.py (pure:
no database, no server), so the rows are the ones the server itself would write for these
items; they are inserted with SQL, like the rest of the bench's data.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from resolvers import recurrence, rrules

ZONE = "Europe/Berlin"
METADATA = '{"color": "#3366FF", "tags": ["bench"]}'

# The other users' series, in turn: (title, rule, first start of the first one). Weekly ones
# never end (series_end_at NULL: a range query cannot rule them out by their end), daily ones
# end by COUNT, monthly ones by UNTIL, and the last two ended years ago.
_OTHER_KINDS: tuple[tuple[str, str, datetime], ...] = (
    ("Weekly, unbounded", "FREQ=WEEKLY", datetime(2026, 1, 5, 8, tzinfo=UTC)),
    ("Daily x30", "FREQ=DAILY;COUNT=30", datetime(2026, 1, 5, 9, tzinfo=UTC)),
    (
        "Monthly until 2027",
        "FREQ=MONTHLY;UNTIL=20271231T235959Z",
        datetime(2026, 1, 5, 10, tzinfo=UTC),
    ),
    ("Weekly, ended 2019", "FREQ=WEEKLY;UNTIL=20191231", datetime(2019, 1, 7, 11, tzinfo=UTC)),
    ("Daily x10, ended 2018", "FREQ=DAILY;COUNT=10", datetime(2018, 3, 5, 12, tzinfo=UTC)),
)
# Each next series of a kind starts this much later (1,000 series: 200 of a kind over 26 days).
_STEP = timedelta(hours=3, minutes=7)


@dataclass(frozen=True)
class SeriesSpec:
    """One recurring item: its first occurrence, its rule, and which occurrences (by index) are
    left out or edited (title changed, moved two hours later)."""

    title: str
    rule: str
    start_at: datetime
    duration: timedelta = timedelta(hours=1)
    left_out: tuple[int, ...] = ()
    edited: tuple[int, ...] = ()


# The viewer's series: 4 of them, 3 list entries each (exdates and an edit included). The
# growth step soft-deletes VIEWER_SERIES_ENTRIES of the viewer's single items at the same time,
# so that the list still has 50 entries (from 42 rows) and its figures compare with the others.
VIEWER_SERIES: tuple[SeriesSpec, ...] = (
    SeriesSpec(
        "Own weekly, one left out",
        "FREQ=WEEKLY;COUNT=4",
        datetime(2026, 2, 2, 9, tzinfo=UTC),
        left_out=(1,),
    ),
    SeriesSpec(
        "Own daily, one edited",
        "FREQ=DAILY;COUNT=3",
        datetime(2026, 2, 10, 7, tzinfo=UTC),
        edited=(1,),
    ),
    SeriesSpec(
        "Own monthly until April",
        "FREQ=MONTHLY;UNTIL=20260420",
        datetime(2026, 2, 16, 15, tzinfo=UTC),
    ),
    SeriesSpec(
        "Own weekly, ended 2019", "FREQ=WEEKLY;UNTIL=20190121", datetime(2019, 1, 7, 18, tzinfo=UTC)
    ),
)
VIEWER_SERIES_ENTRIES = 12  # what the list shows of VIEWER_SERIES (checked by the growth step)


def other_series(count: int) -> list[SeriesSpec]:
    """`count` series of the kinds above in turn; every 7th leaves its second occurrence out
    and every 13th edits its third, as people do (of every kind: 7 and 13 are prime to 5)."""
    specs = []
    for n in range(count):
        title, rule, first = _OTHER_KINDS[n % len(_OTHER_KINDS)]
        specs.append(
            SeriesSpec(
                f"{title} #{n}",
                rule,
                first + (n // len(_OTHER_KINDS)) * _STEP,
                left_out=(1,) if n % 7 == 0 else (),
                edited=(2,) if n % 13 == 0 else (),
            )
        )
    return specs


def _row(owner: str, spec: SeriesSpec) -> tuple[Any, ...]:
    """The INSERT's values, with the canonical rule and the columns the server computes."""
    end_at = spec.start_at + spec.duration
    rule = rrules.normalize_rule(spec.rule, start_at=spec.start_at, timezone=ZONE, all_day=False)
    bare = recurrence.Series(spec.start_at, end_at, ZONE, False, rule)
    needed = max((*spec.left_out, *spec.edited), default=-1) + 1
    starts = list(itertools.islice(bare.rule() or (), needed))  # the first occurrences
    exdates = sorted(recurrence.occurrence_key(starts[i]) for i in spec.left_out)
    overrides = {
        recurrence.occurrence_key(starts[i]): {
            "title": f"{spec.title} (moved)",
            "start_at": (starts[i] + timedelta(hours=2)).astimezone(UTC).isoformat(),
            "end_at": (starts[i] + timedelta(hours=2) + spec.duration).astimezone(UTC).isoformat(),
        }
        for i in spec.edited
    }
    full = recurrence.Series.of_columns(
        start_at=spec.start_at,
        end_at=end_at,
        timezone=ZONE,
        all_day=False,
        recurrence=rule,
        exdates=exdates,
        overrides=overrides,
    )
    return (
        uuid.uuid4(),
        uuid.UUID(owner),
        spec.title,
        spec.start_at,
        end_at,
        rule,
        orjson.dumps(exdates).decode() if exdates else None,
        orjson.dumps(overrides).decode() if overrides else None,
        recurrence.span_end(full),
    )


_INSERT = f"""
INSERT INTO schedule_items (id, owner_id, title, description, start_at, end_at, timezone,
                            metadata, status, source_type, created_at, updated_at, all_day,
                            recurrence, exdates, overrides, series_end_at)
VALUES ($1, $2, $3, 'A recurring bench item: a description of moderate length.', $4, $5,
        '{ZONE}', '{METADATA}'::jsonb, 'active', 'manual', now(), now(), false,
        $6, $7::jsonb, $8::jsonb, $9)
"""


async def insert_series(
    conn: asyncpg.Connection, owners: list[str], specs: list[SeriesSpec]
) -> None:
    """The series, owned by `owners` in turn."""
    rows = [_row(owners[n % len(owners)], spec) for n, spec in enumerate(specs)]
    await conn.executemany(_INSERT, rows)


async def add_viewer_series(db_url: str, viewer_id: str) -> None:
    """VIEWER_SERIES into the viewer's list, and as many of the viewer's single items
    soft-deleted (the latest ones), so that the list keeps its size."""
    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction():
            await conn.execute(
                """UPDATE schedule_items SET deleted_at = now() WHERE id IN (
                       SELECT id FROM schedule_items
                       WHERE owner_id = $1::uuid AND recurrence IS NULL AND deleted_at IS NULL
                       ORDER BY start_at DESC LIMIT $2)""",
                viewer_id,
                VIEWER_SERIES_ENTRIES,
            )
            await insert_series(conn, [viewer_id], list(VIEWER_SERIES))
        await conn.execute("ANALYZE schedule_items")
    finally:
        await conn.close()
