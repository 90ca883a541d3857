"""SSE framing of the agent event stream (docs/contract.md §5): `id`, `event` and `data` lines,
LF line ends."""

from __future__ import annotations

import orjson
import pytest

from infra.sse import format_sse, keepalive


def parse(frame: bytes) -> dict[str, str]:
    """A minimal parser per the WHATWG rules: fields up to the blank line, data lines joined."""
    text = frame.decode()
    assert text.endswith("\n\n") and "\r" not in text
    fields: dict[str, list[str]] = {}
    for line in text[:-2].split("\n"):
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value.removeprefix(" "))
    return {name: "\n".join(values) for name, values in fields.items()}


def test_an_event_has_id_type_and_data_lines() -> None:
    data = orjson.dumps({"type": "RUN_STARTED", "threadId": "t", "runId": "r"}).decode()
    frame = format_sse("1700000000000-3", "RUN_STARTED", data)
    assert frame == (
        b"id: 1700000000000-3\nevent: RUN_STARTED\n"
        b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n'
    )
    assert orjson.loads(parse(frame)["data"]) == orjson.loads(data)


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r"])
def test_data_with_line_breaks_becomes_several_data_lines(separator: str) -> None:
    frame = format_sse("1-0", "TEXT_MESSAGE_CONTENT", separator.join(["{", '"a": 1', "}"]))
    assert frame == b'id: 1-0\nevent: TEXT_MESSAGE_CONTENT\ndata: {\ndata: "a": 1\ndata: }\n\n'
    assert parse(frame)["data"] == '{\n"a": 1\n}'


def test_empty_data_is_one_empty_data_line() -> None:
    assert format_sse("1-0", "X", "") == b"id: 1-0\nevent: X\ndata: \n\n"


@pytest.mark.parametrize(
    ("event_id", "event_type"),
    [("1-0\nevent: FAKE", "X"), ("1-0", "X\r\ndata: {}"), ("1\0-0", "X")],
)
def test_id_and_type_cannot_inject_fields(event_id: str, event_type: str) -> None:
    with pytest.raises(ValueError):
        format_sse(event_id, event_type, "{}")


def test_keepalive_is_a_comment() -> None:
    assert keepalive() == b": keep-alive\n\n"
    assert keepalive().startswith(b":")  # a line starting with a colon is ignored by clients
