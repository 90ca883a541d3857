"""Stream ids: `<ms>-<seq>`, like Redis stream ids, strictly increasing per thread.

Both implementations hand out ids of this form, so a cursor (an SSE `Last-Event-ID`, the
`after` of `agentEvents`) means the same thing everywhere.
"""

from __future__ import annotations

import re

StreamId = tuple[int, int]

_ID_RE = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")  # ASCII digits only: `\d` accepts "١"
U64_MAX = 2**64 - 1  # Redis rejects larger parts; so do we, before they reach it


def parse_stream_id(text: str) -> StreamId | None:
    """`"<ms>-<seq>"` as a tuple, or None when malformed (the API answers 422 then)."""
    match = _ID_RE.fullmatch(text)
    if match is None:
        return None
    ms, seq = int(match[1]), int(match[2])
    if ms > U64_MAX or seq > U64_MAX:
        return None
    return ms, seq


def require_id(text: str) -> StreamId:
    parsed = parse_stream_id(text)
    if parsed is None:
        raise ValueError(f"malformed stream id: {text!r}")
    return parsed


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def compare_ids(a: str, b: str) -> int:
    """-1, 0 or 1 as stream id `a` is before, equal to or after `b` (ValueError if malformed)."""
    pa, pb = require_id(a), require_id(b)
    return (pa > pb) - (pa < pb)
