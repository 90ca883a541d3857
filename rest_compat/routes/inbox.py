from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from resolvers import inbox
from resolvers.calendar_inputs import AcceptInvitation, InboxFilter
from rest_compat.calendar_bodies import InboxMessageBody
from rest_compat.deps import ViewerDep, path_id
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/inbox", tags=["inbox"])

MessageId = Annotated[uuid.UUID, Depends(path_id(inbox.NOT_FOUND))]


@router.get(
    "/messages",
    responses=problem_responses(401, 422),
    summary="The caller's inbox, newest first, optionally of one status",
)
async def list_messages(
    viewer: ViewerDep, query: Annotated[InboxFilter, Query()]
) -> list[InboxMessageBody]:
    return [InboxMessageBody.of(m) for m in await inbox.list_messages(viewer, query)]


@router.post(
    "/messages/{id}/accept",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 404, 409, 422),
    summary="Accept a pending calendar invitation: subscribe with the granted bits",
)
async def accept_message(
    viewer: ViewerDep, message_id: MessageId, body: AcceptInvitation | None = None
) -> Response:
    await inbox.accept(viewer, message_id, body or AcceptInvitation())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/messages/{id}/dismiss",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 401, 404, 422),
    summary="Dismiss a pending message",
)
async def dismiss_message(viewer: ViewerDep, message_id: MessageId) -> Response:
    await inbox.dismiss(viewer, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
