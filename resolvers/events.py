"""Names and payloads of the live notifications the resolvers publish (see infra/pubsub.py)."""

from __future__ import annotations

import uuid

from infra.services import Services


def inbox_channel(user_id: uuid.UUID) -> str:
    return f"inbox:{user_id}"


def item_channel(item_id: uuid.UUID) -> str:
    return f"schedule-item:{item_id}"


async def inbox_message_created(
    services: Services, recipient_id: uuid.UUID, message_id: uuid.UUID
) -> None:
    await services.events.publish(inbox_channel(recipient_id), {"message_id": str(message_id)})


async def schedule_item_changed(services: Services, item_id: uuid.UUID, kind: str) -> None:
    await services.events.publish(item_channel(item_id), {"item_id": str(item_id), "kind": kind})


# Who holds the item changed, not the item: the streams re-check access and report only to those
# whose bits changed (subscriptions/live.py), and end the stream of a subscriber who was removed.
ACCESS_CHANGED = "ACCESS_CHANGED"


async def schedule_item_access_changed(services: Services, item_id: uuid.UUID) -> None:
    await schedule_item_changed(services, item_id, ACCESS_CHANGED)
