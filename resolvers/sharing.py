"""Sharing a schedule item by email: the invitation lands in the recipient's inbox.

The owner may grant any bits; a subscriber needs the invite bit and may grant at most the bits
they hold. A second invitation to the same pending recipient replaces the first.
"""

from __future__ import annotations

import uuid
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from infra.services import Services
from models import InboxMessage, ScheduleItem, ScheduleSubscription, User
from models.schedule import INVITE, VIEW
from resolvers import events
from resolvers.access import NOT_FOUND, bits, visible_item
from resolvers.calendar_inputs import ShareScheduleItem
from resolvers.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from resolvers.viewer import Viewer


async def share_item(
    services: Services, viewer: Viewer, item_id: uuid.UUID, request: ShareScheduleItem
) -> str:
    visible = await visible_item(viewer.user_id, item_id)
    if not visible.can(INVITE):
        raise Forbidden("You may not share this schedule item.")
    granted = bits(
        view=request.permission_view,
        invite=request.permission_invite,
        edit=request.permission_edit,
    )
    if not granted & VIEW:
        raise InvalidInput(
            "A share always grants view: permission_view must be true.",
            [{"loc": ["body", "permission_view"], "msg": "must be true"}],
        )
    if granted & ~visible.permission:
        raise Forbidden("You cannot grant permissions you do not hold.")
    recipient = await User.get_or_none(email_key=request.email.strip().lower())
    if recipient is None:
        raise NotFound("No user has this email address.")
    if recipient.id == viewer.user_id:
        raise BadRequest("You cannot share a schedule item with yourself.")
    item = visible.item
    if recipient.id == item.owner_id:
        raise Conflict("This user owns this schedule item.")
    if await ScheduleSubscription.filter(item_id=item.id, user_id=recipient.id).exists():
        raise Conflict(
            "This user already subscribes to this schedule item; the owner changes their "
            f"permissions with PATCH /api/v1/schedule-items/{item.id}/subscribers/{recipient.id} "
            "(GraphQL updateScheduleSubscriber)."
        )
    # The username: a user's email is shown to nobody else (search never returns it either).
    sender = await User.get(id=viewer.user_id).only("id", "username")
    content = f"{sender.username} shared “{item.title}” with you."
    key = f"{item.id}:{recipient.id}"
    values: dict[str, Any] = {
        "sender_id": viewer.user_id,
        "permission": granted,
        "content": content,
        "is_read": False,
    }
    message_id = await _replace_or_create_invitation(
        key,
        values,
        recipient_id=recipient.id,
        message_type="calendar",
        schedule_item_id=item.id,
        status="pending",
    )
    # The item may have been deleted since it was read above: its deletion voids the pending
    # invitations it finds, but not one written after it looked. Re-reading after the write
    # closes that gap (either the deletion sees our invitation, or we see the deletion); the
    # row lock makes the re-read wait for a deletion in progress instead of reading past it.
    async with in_transaction():
        still_there = await ScheduleItem.select_for_update().filter(id=item.id, deleted_at=None)
    if not still_there:
        await InboxMessage.filter(id=message_id, status="pending").update(
            status="dismissed", open_invitation=None
        )
        raise NotFound(NOT_FOUND)
    # A replaced invitation is announced again: subscribers see its new bits.
    await events.inbox_message_created(services, recipient.id, message_id)
    return f"Invitation sent to {recipient.email}"


async def _replace_or_create_invitation(
    key: str, values: dict[str, Any], **creation: Any
) -> uuid.UUID:
    """Update the pending invitation `key`, or create it; its id either way. The unique
    `open_invitation` column settles a race between two first invitations."""
    for _ in range(3):
        existing = await InboxMessage.get_or_none(open_invitation=key)
        if existing is not None:
            # Only while it is still open: an invitation accepted or dismissed meanwhile keeps
            # the bits it was answered with, and a new one is made instead.
            if await InboxMessage.filter(id=existing.id, open_invitation=key).update(**values):
                return existing.id
            continue
        try:
            async with in_transaction():
                created = await InboxMessage.create(open_invitation=key, **creation, **values)
            return created.id
        except IntegrityError:  # created concurrently: replace that one
            continue
    raise Conflict("The invitation changed concurrently; try again.")
