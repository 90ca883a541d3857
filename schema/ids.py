"""GraphQL IDs are opaque strings; ours are UUIDs. A malformed one names nothing."""

from __future__ import annotations

import uuid

import strawberry

from resolvers.errors import NotFound


def parse_id(value: strawberry.ID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def require_id(value: strawberry.ID | str, what: str) -> uuid.UUID:
    parsed = parse_id(value)
    if parsed is None:
        raise NotFound(f"{what} not found.")
    return parsed
