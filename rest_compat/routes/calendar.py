"""iCalendar export, secret feed URLs and import (docs/contract.md §6, "iCalendar export,
feeds and import")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from resolvers import calendar_export, calendar_feeds, calendar_import
from resolvers.calendar_inputs import CreateCalendarFeed, ScheduleRange
from rest_compat.calendar_feed_bodies import CalendarFeedBody, CreatedFeedBody, ImportBody
from rest_compat.deps import ServicesDep, ViewerDep, path_id
from rest_compat.problems import problem_responses

router = APIRouter(tags=["calendar"])

FeedId = Annotated[uuid.UUID, Depends(path_id(calendar_feeds.FEED_NOT_FOUND))]
TRUNCATED_HEADER = "X-Calendar-Truncated"
_CALENDAR_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "RFC 5545 iCalendar text",
        "content": {"text/calendar": {"schema": {"type": "string"}}},
        "headers": {
            TRUNCATED_HEADER: {
                "description": "`true` when the caller sees more than "
                f"{calendar_export.MAX_EXPORT_ITEMS} items: the export holds the ones starting "
                "latest.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    }
}


def _calendar_response(export: calendar_export.Export, *, cache: str) -> Response:
    response = Response(export.text, media_type=calendar_export.MEDIA_TYPE)
    response.headers["Cache-Control"] = cache
    if export.truncated:
        response.headers[TRUNCATED_HEADER] = "true"
    return response


@router.get(
    "/calendar.ics",
    response_class=Response,
    responses={**_CALENDAR_TEXT, **problem_responses(400, 401, 422)},
    summary="The caller's visible items as iCalendar (recurrence and edited occurrences "
    "included); with a range, the items overlapping it",
)
async def export_calendar(viewer: ViewerDep, query: Annotated[ScheduleRange, Query()]) -> Response:
    export = await calendar_export.export_calendar(viewer, query)
    return _calendar_response(export, cache="private, no-store")


@router.post(
    "/calendar/feeds",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 409, 422),
    summary="Create a secret feed URL calendar apps subscribe to without a bearer header",
)
async def create_feed(
    viewer: ViewerDep, request: Request, body: CreateCalendarFeed | None = None
) -> CreatedFeedBody:
    created = await calendar_feeds.create_feed(viewer, body or CreateCalendarFeed())
    return CreatedFeedBody.of(created, request)


@router.get(
    "/calendar/feeds",
    responses=problem_responses(401),
    summary="The caller's calendar feeds, newest first (never their tokens)",
)
async def list_feeds(viewer: ViewerDep) -> list[CalendarFeedBody]:
    return [CalendarFeedBody.of(feed) for feed in await calendar_feeds.list_feeds(viewer)]


@router.delete(
    "/calendar/feeds/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Revoke a calendar feed: its URL answers 404 from now on",
)
async def revoke_feed(viewer: ViewerDep, feed_id: FeedId) -> Response:
    await calendar_feeds.revoke_feed(viewer, feed_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/calendar/feeds/{token}.ics",
    response_class=Response,
    responses={**_CALENDAR_TEXT, **problem_responses(404, 422, 429)},
    summary="A feed's calendar, for calendar apps: the secret URL is the credential (no bearer)",
)
async def fetch_feed(
    services: ServicesDep,
    token: Annotated[str, Path(max_length=200, description="The feed's secret token")],
) -> Response:
    export = await calendar_feeds.feed_calendar(services, token)
    return _calendar_response(export, cache="private, max-age=300")


@router.post(
    "/calendar/import",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": f"An iCalendar file, at most {calendar_import.MAX_IMPORT_BYTES} bytes "
            f"and {calendar_import.MAX_IMPORT_EVENTS} events.",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    },
    summary="Create the items of an iCalendar file, all or none (a bad event: 422 naming it)",
)
async def import_calendar(viewer: ViewerDep, request: Request) -> ImportBody:
    ids = await calendar_import.import_calendar(viewer, await request.body())
    return ImportBody(imported=len(ids), items=ids)
