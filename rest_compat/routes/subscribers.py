"""Managing an item's shares: `/schedule-items/{id}/subscribers` (docs/contract.md §6)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from resolvers import subscribers
from resolvers.access import NOT_FOUND
from resolvers.calendar_inputs import SubscriberPermissions
from rest_compat.calendar_bodies import SubscriberBody
from rest_compat.deps import ServicesDep, ViewerDep, path_id, path_user_id
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/schedule-items/{id}/subscribers", tags=["schedule items"])

ItemId = Annotated[uuid.UUID, Depends(path_id(NOT_FOUND))]
UserId = Annotated[uuid.UUID, Depends(path_user_id(subscribers.NOT_A_SUBSCRIBER))]


@router.get(
    "",
    responses=problem_responses(401, 403, 404, 422),
    summary="The item's subscribers and their bits (owner, or edit permission)",
)
async def list_subscribers(viewer: ViewerDep, item_id: ItemId) -> list[SubscriberBody]:
    return [SubscriberBody.of(s) for s in await subscribers.list_subscribers(viewer, item_id)]


@router.patch(
    "/{user_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="Set a subscriber's bits (owner only; view stays on, absent fields are kept)",
)
async def set_permissions(
    viewer: ViewerDep,
    item_id: ItemId,
    user_id: UserId,
    body: SubscriberPermissions,
    services: ServicesDep,
) -> SubscriberBody:
    changed = await subscribers.set_permissions(services, viewer, item_id, user_id, body)
    return SubscriberBody.of(changed)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 403, 404, 422),
    summary="Revoke a share (owner), or leave it (the subscriber themself)",
)
async def remove_subscriber(
    viewer: ViewerDep, item_id: ItemId, user_id: UserId, services: ServicesDep
) -> Response:
    await subscribers.remove_subscriber(services, viewer, item_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
