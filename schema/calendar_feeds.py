"""iCalendar export, secret feed URLs and import over GraphQL (docs/contract.md §6,
"iCalendar export, feeds and import"); the same resolvers as REST's /calendar routes."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from models import CalendarFeed as CalendarFeedModel
from resolvers import calendar_export, calendar_feeds, calendar_import
from resolvers.calendar_inputs import CreateCalendarFeed, ScheduleRange
from schema.context import GqlInfo, require_viewer
from schema.ids import require_id
from schema.requests import to_request

FEED = "Calendar feed"


def _absolute_url(info: GqlInfo, path: str) -> str:
    request = info.context.request
    base = str(request.base_url).rstrip("/") if request is not None else ""
    return base + path


@strawberry.type(description="A secret calendar feed URL (its token is shown only on creation).")
class CalendarFeed:
    id: strawberry.ID
    name: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, feed: CalendarFeedModel) -> CalendarFeed:
        return cls(
            id=strawberry.ID(str(feed.id)),
            name=feed.name,
            created_at=feed.created_at.astimezone(UTC),
            last_used_at=None if feed.last_used_at is None else feed.last_used_at.astimezone(UTC),
        )


@strawberry.type(description="A new feed: `url` and `token` are shown here only.")
class CreatedCalendarFeed:
    id: strawberry.ID
    name: str
    url: str
    token: str
    created_at: datetime


@strawberry.type(description="The items an iCalendar import created.")
class CalendarImport:
    imported: int
    items: list[strawberry.ID]


@strawberry.type
class CalendarFeedQuery:
    @strawberry.field(
        description="The caller's visible items as RFC 5545 iCalendar text; with a range, the "
        "items overlapping it."
    )
    async def calendar_export(
        self, info: GqlInfo, start_at: datetime | None = None, end_at: datetime | None = None
    ) -> str:
        viewer = await require_viewer(info)
        request = to_request(ScheduleRange, start_at=start_at, end_at=end_at)
        return (await calendar_export.export_calendar(viewer, request)).text

    @strawberry.field(description="The caller's calendar feeds, newest first.")
    async def calendar_feeds(self, info: GqlInfo) -> list[CalendarFeed]:
        viewer = await require_viewer(info)
        return [CalendarFeed.of(feed) for feed in await calendar_feeds.list_feeds(viewer)]


@strawberry.type
class CalendarFeedMutation:
    @strawberry.mutation(description="A secret feed URL calendar apps subscribe to.")
    async def create_calendar_feed(
        self, info: GqlInfo, name: str | None = None
    ) -> CreatedCalendarFeed:
        viewer = await require_viewer(info)
        request = to_request(CreateCalendarFeed, **({} if name is None else {"name": name}))
        created = await calendar_feeds.create_feed(viewer, request)
        return CreatedCalendarFeed(
            id=strawberry.ID(str(created.feed.id)),
            name=created.feed.name,
            url=_absolute_url(info, created.path),
            token=created.token,
            created_at=created.feed.created_at.astimezone(UTC),
        )

    @strawberry.mutation(description="Revoke a feed: its URL answers 404 from now on.")
    async def revoke_calendar_feed(self, info: GqlInfo, id: strawberry.ID) -> bool:
        viewer = await require_viewer(info)
        await calendar_feeds.revoke_feed(viewer, require_id(id, FEED))
        return True

    @strawberry.mutation(
        description="Create the items of an iCalendar file, all or none (a bad event: "
        "BAD_USER_INPUT naming it)."
    )
    async def import_calendar(self, info: GqlInfo, ics: str) -> CalendarImport:
        viewer = await require_viewer(info)
        ids = await calendar_import.import_calendar(viewer, ics)
        return CalendarImport(imported=len(ids), items=[strawberry.ID(str(i)) for i in ids])
