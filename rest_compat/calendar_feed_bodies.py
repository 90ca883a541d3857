"""Response bodies of the iCalendar routes (rest_compat/routes/calendar.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from starlette.requests import Request

from models import CalendarFeed
from resolvers.calendar_feeds import CreatedFeed
from rest_compat.calendar_bodies import utc, utc_or_none


def absolute_url(request: Request, path: str) -> str:
    """`path` on the host the client called (behind a proxy: as the forwarded headers say)."""
    return str(request.base_url).rstrip("/") + path


class CalendarFeedBody(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="The feed's last fetch, if any.")

    @classmethod
    def of(cls, feed: CalendarFeed) -> CalendarFeedBody:
        return cls(
            id=feed.id,
            name=feed.name,
            created_at=utc(feed.created_at),
            last_used_at=utc_or_none(feed.last_used_at),
        )


class CreatedFeedBody(BaseModel):
    id: uuid.UUID
    name: str
    url: str = Field(description="The secret feed URL to subscribe to; shown only here.")
    token: str = Field(description="The secret in `url`; shown only here, stored as a hash.")
    created_at: datetime

    @classmethod
    def of(cls, created: CreatedFeed, request: Request) -> CreatedFeedBody:
        return cls(
            id=created.feed.id,
            name=created.feed.name,
            url=absolute_url(request, created.path),
            token=created.token,
            created_at=utc(created.feed.created_at),
        )


class ImportBody(BaseModel):
    imported: int = Field(description="How many items were created.")
    items: list[uuid.UUID] = Field(description="Their ids, in the order of the file.")
