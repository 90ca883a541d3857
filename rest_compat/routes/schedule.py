from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from resolvers import schedule, sharing
from resolvers.access import NOT_FOUND
from resolvers.calendar_inputs import (
    CreateScheduleItem,
    ScheduleRange,
    ShareScheduleItem,
    UpdateScheduleItem,
    occurrence_changes,
)
from rest_compat.calendar_bodies import ScheduleItemBody, ShareResultBody, items_json
from rest_compat.deps import ServicesDep, ViewerDep, path_id
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/schedule-items", tags=["schedule items"])

ItemId = Annotated[uuid.UUID, Depends(path_id(NOT_FOUND))]
OccurrenceParam = Annotated[
    datetime | date | None,
    Query(
        description="An occurrence of a recurring item, by its original start "
        "(`original_start_at` of its list entry; a date for an all-day item)."
    ),
]
TRUNCATED_HEADER = "X-Occurrences-Truncated"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 422),
    summary="Create a schedule item (naive datetimes are read in its timezone)",
)
async def create_item(body: CreateScheduleItem, viewer: ViewerDep) -> ScheduleItemBody:
    return ScheduleItemBody.of(await schedule.create_item(viewer, body))


@router.get(
    "",
    response_model=list[ScheduleItemBody],
    responses={
        200: {
            "headers": {
                TRUNCATED_HEADER: {
                    "description": "`true` when the range held more occurrences of recurring "
                    f"items than {schedule.MAX_OCCURRENCES}: the list ends at the last one kept; "
                    "ask again from its start.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            }
        },
        **problem_responses(400, 401, 422),
    },
    summary="Own and accepted shared items overlapping a range: one entry per occurrence, "
    "by occurrence start",
)
async def list_items(viewer: ViewerDep, query: Annotated[ScheduleRange, Query()]) -> Response:
    # The busiest route: rows go straight to JSON, without a pydantic model per item (the
    # document still describes them as ScheduleItemBody, and tests compare the two).
    listing = await schedule.list_items(viewer, query)
    response = Response(items_json(listing.entries), media_type="application/json")
    if listing.truncated:
        response.headers[TRUNCATED_HEADER] = "true"
    return response


@router.get(
    "/{id}",
    responses=problem_responses(401, 404, 422),
    summary="One schedule item the caller may see",
)
async def get_item(viewer: ViewerDep, item_id: ItemId) -> ScheduleItemBody:
    return ScheduleItemBody.of(await schedule.get_item(viewer, item_id))


@router.patch(
    "/{id}",
    responses=problem_responses(400, 401, 403, 404, 422),
    summary="Change the fields present in the body (owner or edit permission); with "
    "`occurrence`, only that occurrence of a recurring item",
)
async def update_item(
    viewer: ViewerDep,
    item_id: ItemId,
    body: UpdateScheduleItem,
    services: ServicesDep,
    occurrence: OccurrenceParam = None,
) -> ScheduleItemBody:
    if occurrence is None:
        return ScheduleItemBody.of(await schedule.update_item(services, viewer, item_id, body))
    changes = occurrence_changes(body)
    return ScheduleItemBody.of(
        await schedule.update_occurrence(services, viewer, item_id, occurrence, changes)
    )


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 403, 404, 422),
    summary="Soft-delete a schedule item (owner only); with `occurrence`, leave that "
    "occurrence out of the series (edit permission)",
)
async def delete_item(
    viewer: ViewerDep, item_id: ItemId, services: ServicesDep, occurrence: OccurrenceParam = None
) -> Response:
    if occurrence is None:
        await schedule.delete_item(services, viewer, item_id)
    else:
        await schedule.delete_occurrence(services, viewer, item_id, occurrence)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{id}/share",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    summary="Invite a user, by email, to subscribe to the item",
)
async def share_item(
    viewer: ViewerDep, item_id: ItemId, body: ShareScheduleItem, services: ServicesDep
) -> ShareResultBody:
    return ShareResultBody(message=await sharing.share_item(services, viewer, item_id, body))
