from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from resolvers import friends
from resolvers.calendar_inputs import SendFriendRequest
from rest_compat.calendar_bodies import FriendBody, FriendRequestBody
from rest_compat.deps import ServicesDep, ViewerDep, path_id
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/friends", tags=["friends"])

RequestId = Annotated[uuid.UUID, Depends(path_id(friends.REQUEST_NOT_FOUND))]
FriendKey = Annotated[uuid.UUID, Depends(path_id(friends.FRIENDSHIP_NOT_FOUND))]


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 404, 409, 422),
    summary="Send a friend request (it also lands in the recipient's inbox)",
)
async def send_request(
    body: SendFriendRequest, viewer: ViewerDep, services: ServicesDep
) -> FriendRequestBody:
    return FriendRequestBody.of(await friends.send_request(services, viewer, body))


@router.get(
    "/requests/inbox",
    responses=problem_responses(401),
    summary="Pending friend requests sent to the caller, newest first",
)
async def incoming_requests(viewer: ViewerDep) -> list[FriendRequestBody]:
    return [FriendRequestBody.of(r) for r in await friends.list_requests(viewer, incoming=True)]


@router.get(
    "/requests/outgoing",
    responses=problem_responses(401),
    summary="Pending friend requests the caller sent, newest first",
)
async def outgoing_requests(viewer: ViewerDep) -> list[FriendRequestBody]:
    return [FriendRequestBody.of(r) for r in await friends.list_requests(viewer, incoming=False)]


@router.post(
    "/requests/{id}/accept",
    responses=problem_responses(401, 404, 409, 422),
    summary="Accept a friend request addressed to the caller",
)
async def accept_request(viewer: ViewerDep, request_id: RequestId) -> FriendRequestBody:
    return FriendRequestBody.of(await friends.accept_request(viewer, request_id))


@router.post(
    "/requests/{id}/decline",
    responses=problem_responses(401, 404, 409, 422),
    summary="Decline a friend request addressed to the caller",
)
async def decline_request(viewer: ViewerDep, request_id: RequestId) -> FriendRequestBody:
    return FriendRequestBody.of(await friends.decline_request(viewer, request_id))


@router.delete(
    "/requests/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="Cancel a pending friend request the caller sent",
)
async def cancel_request(viewer: ViewerDep, request_id: RequestId) -> Response:
    await friends.cancel_request(viewer, request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", responses=problem_responses(401), summary="The caller's friends, newest first")
async def list_friends(viewer: ViewerDep) -> list[FriendBody]:
    return [FriendBody.of(f.friendship, f.user) for f in await friends.list_friends(viewer)]


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 422),
    summary="End a friendship, named by its id or by the friend's user id",
)
async def remove_friend(viewer: ViewerDep, key: FriendKey) -> Response:
    await friends.remove_friend(viewer, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
