"""The inbox: calendar invitations and friend requests addressed to the caller."""

from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import InboxMessage, ScheduleItem, ScheduleSubscription
from models.schedule import VIEW
from resolvers.access import bits
from resolvers.calendar_inputs import AcceptInvitation, InboxFilter
from resolvers.errors import BadRequest, Conflict, InvalidInput, NotFound
from resolvers.viewer import Viewer

NOT_FOUND = "Inbox message not found."


async def list_messages(viewer: Viewer, request: InboxFilter) -> list[InboxMessage]:
    query = InboxMessage.filter(recipient_id=viewer.user_id)
    if request.status is not None:
        query = query.filter(status=request.status)
    return await query.order_by("-created_at", "-id")


async def get_message(viewer: Viewer, message_id: uuid.UUID) -> InboxMessage:
    message = await InboxMessage.get_or_none(id=message_id, recipient_id=viewer.user_id)
    if message is None:
        raise NotFound(NOT_FOUND)
    return message


_ACCEPT_ATTEMPTS = 5


async def accept(viewer: Viewer, message_id: uuid.UUID, request: AcceptInvitation) -> InboxMessage:
    """Subscribe the caller with the granted bits intersected with the asked ones."""
    wanted = bits(
        view=request.permission_view,
        invite=request.permission_invite,
        edit=request.permission_edit,
    )
    # The owner may re-share (changing the invitation's bits) while it is being accepted: the
    # acceptance only takes the invitation with the very bits it was computed from, and tries
    # again with fresh ones otherwise, so the subscription always gets what was accepted.
    for _ in range(_ACCEPT_ATTEMPTS):
        message = await get_message(viewer, message_id)
        if message.message_type != "calendar" or message.status != "pending":
            raise BadRequest("Only a pending calendar invitation can be accepted.")
        permission = message.permission & wanted
        if not permission & VIEW:
            raise InvalidInput(
                "Accepting needs at least the view permission.",
                [{"loc": ["body", "permission_view"], "msg": "must be true"}],
            )
        if await _take(message, permission, viewer):
            await message.refresh_from_db()
            return message
    raise Conflict("The invitation kept changing while it was accepted; try again.")


async def _take(message: InboxMessage, permission: int, viewer: Viewer) -> bool:
    """Accept the invitation if it is unchanged; False when its bits changed meanwhile."""
    item_id = message.schedule_item_id
    async with in_transaction():
        taken = await InboxMessage.filter(
            id=message.id, status="pending", permission=message.permission
        ).update(status="accepted", is_read=True, open_invitation=None)
        if not taken:
            current = await InboxMessage.get_or_none(id=message.id)
            if current is not None and current.status == "pending":
                return False
            raise BadRequest("Only a pending calendar invitation can be accepted.")
        if item_id is None or not await ScheduleItem.filter(id=item_id, deleted_at=None).exists():
            raise BadRequest("The schedule item of this invitation no longer exists.")
        updated = await ScheduleSubscription.filter(item_id=item_id, user_id=viewer.user_id).update(
            permission=permission
        )
        if not updated:
            try:
                async with in_transaction():
                    await ScheduleSubscription.create(
                        item_id=item_id, user_id=viewer.user_id, permission=permission
                    )
            except IntegrityError:
                await ScheduleSubscription.filter(item_id=item_id, user_id=viewer.user_id).update(
                    permission=permission
                )
    return True


async def dismiss(viewer: Viewer, message_id: uuid.UUID) -> InboxMessage:
    message = await get_message(viewer, message_id)
    taken = await InboxMessage.filter(id=message.id, status="pending").update(
        status="dismissed", is_read=True, open_invitation=None
    )
    if not taken:
        raise BadRequest("Only a pending message can be dismissed.")
    await message.refresh_from_db()
    return message
