"""The bench's statement counter (bench/pgcount.py) reads PostgreSQL's wire protocol: each
Execute and each application's simple Query is one statement, whatever the chunking."""

from __future__ import annotations

import struct

from bench.pgcount import ClientStream, Counts


def _untyped(code: int, body: bytes = b"") -> bytes:
    return struct.pack("!II", 8 + len(body), code) + body


def _typed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", 4 + len(body)) + body


def _query(text: str) -> bytes:
    return _typed(b"Q", text.encode() + b"\0")


def _wire() -> bytes:
    parse = _typed(b"P", b"\0SELECT $1\0\0\0")
    bind = _typed(b"B", b"\0\0\0\0\0\0\0\0")
    return b"".join(
        [
            _untyped(80877103),  # SSLRequest (answered "N" by the server)
            _untyped(196608, b"user\0postgres\0\0"),  # StartupMessage
            _typed(b"p", b"secret\0"),  # a password message: not a statement
            parse,
            _typed(b"D", b"S\0"),
            _typed(b"S", b""),
            bind,
            _typed(b"E", b"\0\0\0\0\0"),
            _typed(b"S", b""),
            _query("BEGIN;"),
            _query("UPDATE t SET a = 1"),
            _query("COMMIT"),
            _query("SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;"),
            _query("SELECT 1; SELECT 2"),
        ]
    )


def _count(chunks: list[bytes]) -> Counts:
    counts = Counts()
    stream = ClientStream(counts)
    for chunk in chunks:
        stream.feed(chunk)
    return counts


def test_statements_are_counted_apart_from_resets_and_transaction_control() -> None:
    counts = _count([_wire()])
    assert (counts.statements, counts.pool_resets, counts.transaction_control) == (4, 1, 2)


def test_the_count_does_not_depend_on_how_the_bytes_arrive() -> None:
    wire = _wire()
    assert _count([wire[i : i + 1] for i in range(len(wire))]) == _count([wire])


def test_a_stream_that_is_not_postgres_startup_counts_nothing() -> None:
    tls_hello = b"\x16\x03\x01\x02\x00" + b"\x01" * 600
    counts = _count([_untyped(80877103), tls_hello, _query("SELECT 1")])
    assert counts.statements == 0
