"""Managing who shares an item: listing its subscribers, setting their bits, revoking a share.

Shares are made by invitation (resolvers/sharing.py) and accepted in the inbox; here the owner
manages them afterwards. The owner, or a subscriber with the edit bit, may list them; only the
owner sets bits or removes someone; a subscriber may remove themself (leave). A change is
announced on the item's channel as an access change: the live `scheduleItemChanged` stream of a
removed subscriber ends at once, one whose bits changed hears the item with its new bits, and
the others hear nothing (the item itself did not change). Lists read the shares on every call,
so a removed subscriber's lists no longer hold the item from the next request on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from infra.services import Services
from models import ScheduleSubscription, User
from models.schedule import EDIT, INVITE
from resolvers import events
from resolvers.access import bits, owned_item, visible_item
from resolvers.calendar_inputs import SubscriberPermissions
from resolvers.errors import BadRequest, Forbidden, InvalidInput, NotFound
from resolvers.viewer import Viewer

NOT_A_SUBSCRIBER = "This user is not a subscriber of the schedule item."


@dataclass(frozen=True, slots=True)
class Subscriber:
    user: User
    permission: int
    subscribed_at: datetime


async def list_subscribers(viewer: Viewer, item_id: uuid.UUID) -> list[Subscriber]:
    """The item's subscribers, oldest share first (owner or edit bit; other viewers 403)."""
    visible = await visible_item(viewer.user_id, item_id)
    if not visible.can(EDIT):
        raise Forbidden("Only the owner or a subscriber with edit permission sees the subscribers.")
    rows = await ScheduleSubscription.filter(item_id=item_id).order_by("created_at", "id")
    users = {u.id: u for u in await User.filter(id__in=[row.user_id for row in rows])}
    return [
        Subscriber(users[row.user_id], row.permission, row.created_at)
        for row in rows
        if row.user_id in users
    ]


async def set_permissions(
    services: Services,
    viewer: Viewer,
    item_id: uuid.UUID,
    user_id: uuid.UUID,
    request: SubscriberPermissions,
) -> Subscriber:
    """Set a subscriber's bits directly (owner only); view stays on."""
    if not request.permission_view:
        raise InvalidInput(
            "A subscriber always keeps view: permission_view must be true "
            "(remove the subscriber to end the share).",
            [{"loc": ["body", "permission_view"], "msg": "must be true"}],
        )
    await owned_item(viewer.user_id, item_id)
    async with in_transaction():
        row = (
            await ScheduleSubscription.select_for_update()
            .filter(item_id=item_id, user_id=user_id)
            .first()
        )
        if row is None:
            raise NotFound(NOT_A_SUBSCRIBER)
        permission = bits(
            view=True,
            invite=_kept(request.permission_invite, row.permission, INVITE),
            edit=_kept(request.permission_edit, row.permission, EDIT),
        )
        if permission != row.permission:
            await ScheduleSubscription.filter(id=row.id).update(permission=permission)
    if permission != row.permission:
        await events.schedule_item_access_changed(services, item_id)
    user = await User.get(id=user_id)
    return Subscriber(user, permission, row.created_at)


async def remove_subscriber(
    services: Services, viewer: Viewer, item_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Revoke a share (owner), or leave it (the subscriber themself)."""
    if user_id == viewer.user_id:
        visible = await visible_item(viewer.user_id, item_id)
        if visible.is_owner:
            raise BadRequest(
                "The owner is not a subscriber and cannot leave the item; delete it instead."
            )
    else:
        await owned_item(viewer.user_id, item_id)
    removed = await ScheduleSubscription.filter(item_id=item_id, user_id=user_id).delete()
    if not removed:
        raise NotFound(NOT_A_SUBSCRIBER)
    await events.schedule_item_access_changed(services, item_id)


def _kept(wanted: bool | None, held: int, bit: int) -> bool:
    return bool(held & bit) if wanted is None else wanted
