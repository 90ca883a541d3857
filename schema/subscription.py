from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from infra.stream_caps import StreamSlot
from resolvers.viewer import Viewer
from schema.context import GqlInfo, require_viewer
from schema.ids import require_id
from schema.loaders import Loaders
from schema.types.calendar import (
    InboxMessage,
    ScheduleItem,
    ScheduleItemChange,
    ScheduleItemChangeKind,
)
from subscriptions import live
from subscriptions.agent_events import hold_stream, stream_caps_of
from subscriptions.session_bound import until_signed_out


async def stream_slot(info: GqlInfo, viewer: Viewer) -> StreamSlot:
    """One of the viewer's slots for open streams (MAX_STREAMS_PER_USER, shared with agent SSE
    streams): RATE_LIMITED over the cap. Held for as long as the subscription runs."""
    request = info.context.request  # the WebSocket, or the Request of an HTTP subscription
    assert request is not None
    return await hold_stream(stream_caps_of(request.app.state), viewer)


@strawberry.type
class Subscription:
    @strawberry.subscription(description="New messages of the caller as they arrive.")
    async def inbox_messages(self, info: GqlInfo) -> AsyncGenerator[InboxMessage, None]:
        viewer = await require_viewer(info)
        with await stream_slot(info, viewer):
            messages = live.inbox_messages(info.context.services, viewer)
            async for message in until_signed_out(info.context.services, viewer, messages):
                yield InboxMessage.of(message, Loaders(viewer.user_id))

    @strawberry.subscription(description="Changes of one item; ends when it is deleted.")
    async def schedule_item_changed(
        self, info: GqlInfo, id: strawberry.ID
    ) -> AsyncGenerator[ScheduleItemChange, None]:
        viewer = await require_viewer(info)
        item_id = require_id(id, "Schedule item")
        with await stream_slot(info, viewer):
            changes = live.schedule_item_changes(info.context.services, viewer, item_id)
            async for kind, visible in until_signed_out(info.context.services, viewer, changes):
                yield ScheduleItemChange(
                    kind=ScheduleItemChangeKind(kind),
                    item=ScheduleItem.of(visible, Loaders(viewer.user_id)),
                )
