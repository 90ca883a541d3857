"""Friend requests and friendships (docs/contract.md §3 Friends).

Each request also appears in the recipient's inbox as a `friend_request` message whose status
follows the request. The database enforces one open request and one friendship per pair.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from infra.services import Services
from models import FriendRequest, Friendship, InboxMessage, User
from models.friends import pair_key
from resolvers import events
from resolvers.calendar_inputs import SendFriendRequest
from resolvers.errors import BadRequest, Conflict, NotFound
from resolvers.viewer import Viewer

REQUEST_NOT_FOUND = "Friend request not found."
FRIENDSHIP_NOT_FOUND = "Friendship not found."
ALREADY_HANDLED = "This friend request has already been handled."
# What the inbox message of a request becomes when the request is answered.
MESSAGE_STATUS = {"accepted": "accepted", "declined": "rejected", "cancelled": "dismissed"}


def _ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if str(a) < str(b) else (b, a)


async def are_friends(a: uuid.UUID, b: uuid.UUID) -> bool:
    low, high = _ordered(a, b)
    return await Friendship.filter(user_low_id=low, user_high_id=high).exists()


async def send_request(
    services: Services, viewer: Viewer, request: SendFriendRequest
) -> FriendRequest:
    target_id = request.target_user_id
    if target_id == viewer.user_id:
        raise BadRequest("You cannot send a friend request to yourself.")
    if not await User.filter(id=target_id).exists():
        raise NotFound("User not found.")
    if await are_friends(viewer.user_id, target_id):
        raise Conflict("You are already friends.")
    try:
        async with in_transaction():
            friend_request = await FriendRequest.create(
                from_user_id=viewer.user_id,
                to_user_id=target_id,
                content=request.content,
                open_pair=pair_key(viewer.user_id, target_id),
            )
            message = await InboxMessage.create(
                recipient_id=target_id,
                sender_id=viewer.user_id,
                message_type="friend_request",
                friend_request_id=friend_request.id,
                content=request.content,
            )
    except IntegrityError:
        raise Conflict("A friend request between you is already pending.") from None
    await events.inbox_message_created(services, target_id, message.id)
    return friend_request


async def list_requests(viewer: Viewer, *, incoming: bool) -> list[FriendRequest]:
    side = {"to_user_id" if incoming else "from_user_id": viewer.user_id}
    return await FriendRequest.filter(status="pending", **side).order_by("-created_at", "-id")


async def _close(request_id: uuid.UUID, status: str) -> None:
    """Move a pending request to `status`, or raise Conflict when it is no longer pending."""
    closed = await FriendRequest.filter(id=request_id, status="pending").update(
        status=status, open_pair=None
    )
    if not closed:
        raise Conflict(ALREADY_HANDLED)
    await InboxMessage.filter(friend_request_id=request_id).update(
        status=MESSAGE_STATUS[status], is_read=True
    )


async def _addressed_to(viewer: Viewer, request_id: uuid.UUID) -> FriendRequest:
    found = await FriendRequest.get_or_none(id=request_id, to_user_id=viewer.user_id)
    if found is None:
        raise NotFound(REQUEST_NOT_FOUND)
    if found.status != "pending":
        raise Conflict(ALREADY_HANDLED)
    return found


async def accept_request(viewer: Viewer, request_id: uuid.UUID) -> FriendRequest:
    found = await _addressed_to(viewer, request_id)
    low, high = _ordered(found.from_user_id, found.to_user_id)
    async with in_transaction():
        await _close(found.id, "accepted")
        await Friendship.create(user_low_id=low, user_high_id=high)
    await found.refresh_from_db()
    return found


async def decline_request(viewer: Viewer, request_id: uuid.UUID) -> FriendRequest:
    found = await _addressed_to(viewer, request_id)
    async with in_transaction():
        await _close(found.id, "declined")
    await found.refresh_from_db()
    return found


async def cancel_request(viewer: Viewer, request_id: uuid.UUID) -> None:
    """The sender withdraws a pending request; anything else is 404."""
    found = await FriendRequest.get_or_none(
        id=request_id, from_user_id=viewer.user_id, status="pending"
    )
    if found is None:
        raise NotFound(REQUEST_NOT_FOUND)
    try:
        async with in_transaction():
            await _close(found.id, "cancelled")
    except Conflict:
        raise NotFound(REQUEST_NOT_FOUND) from None


async def list_friendships(viewer: Viewer) -> list[Friendship]:
    mine = Q(user_low_id=viewer.user_id) | Q(user_high_id=viewer.user_id)
    return await Friendship.filter(mine).order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class Friend:
    friendship: Friendship
    user: User  # the other one


async def list_friends(viewer: Viewer) -> list[Friend]:
    """The caller's friendships, newest first, each with the friend: two queries in all."""
    friendships = await list_friendships(viewer)
    others = [f.other(viewer.user_id) for f in friendships]
    users = {user.id: user for user in await User.filter(id__in=others)} if others else {}
    return [
        Friend(friendship, users[other])
        for friendship, other in zip(friendships, others, strict=True)
        if other in users
    ]


async def remove_friend(viewer: Viewer, key: uuid.UUID) -> None:
    """`key` is the friendship's id or the friend's user id."""
    if key == viewer.user_id:  # the caller's own id would match every friendship they have
        raise NotFound(FRIENDSHIP_NOT_FOUND)
    mine = Q(user_low_id=viewer.user_id) | Q(user_high_id=viewer.user_id)
    theirs = Q(id=key) | Q(user_low_id=key) | Q(user_high_id=key)
    deleted = await Friendship.filter(mine).filter(theirs).delete()
    if not deleted:
        raise NotFound(FRIENDSHIP_NOT_FOUND)
