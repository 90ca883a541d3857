from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import friends, inbox, schedule
from resolvers.calendar_inputs import InboxFilter, ScheduleRange
from resolvers.errors import NotFound
from schema.context import GqlInfo, require_viewer
from schema.ids import parse_id
from schema.loaders import loaders_for
from schema.requests import to_request
from schema.types.calendar import (
    FriendRequest,
    FriendRequestDirection,
    Friendship,
    InboxMessage,
    InboxStatus,
    ScheduleItem,
)


@strawberry.type
class CalendarQuery:
    @strawberry.field(description="The caller's friendships, newest first.")
    async def friends(self, info: GqlInfo) -> list[Friendship]:
        viewer = await require_viewer(info)
        loaders = loaders_for(info, viewer.user_id)
        rows = await friends.list_friendships(viewer)
        return [Friendship.of(row, viewer.user_id, loaders) for row in rows]

    @strawberry.field(description="Pending friend requests to or from the caller, newest first.")
    async def friend_requests(
        self, info: GqlInfo, direction: FriendRequestDirection
    ) -> list[FriendRequest]:
        viewer = await require_viewer(info)
        loaders = loaders_for(info, viewer.user_id)
        incoming = direction is FriendRequestDirection.INCOMING
        rows = await friends.list_requests(viewer, incoming=incoming)
        return [FriendRequest.of(row, loaders) for row in rows]

    @strawberry.field(description="Own items and accepted shares overlapping the range.")
    async def schedule_items(
        self, info: GqlInfo, start_at: datetime | None = None, end_at: datetime | None = None
    ) -> list[ScheduleItem]:
        viewer = await require_viewer(info)
        loaders = loaders_for(info, viewer.user_id)
        request = to_request(ScheduleRange, start_at=start_at, end_at=end_at)
        listing = await schedule.list_items(viewer, request)
        return [ScheduleItem.of_row(r, loaders) for r in listing.entries]

    @strawberry.field(description="One item; null when it is not visible to the caller.")
    async def schedule_item(self, info: GqlInfo, id: strawberry.ID) -> ScheduleItem | None:
        viewer = await require_viewer(info)
        item_id = parse_id(id)
        if item_id is None:
            return None
        try:
            visible = await schedule.get_item(viewer, item_id)
        except NotFound:
            return None
        return ScheduleItem.of(visible, loaders_for(info, viewer.user_id))

    @strawberry.field(description="The caller's inbox, newest first.")
    async def inbox_messages(
        self, info: GqlInfo, status: InboxStatus | None = None
    ) -> list[InboxMessage]:
        viewer = await require_viewer(info)
        loaders = loaders_for(info, viewer.user_id)
        request = to_request(InboxFilter, status=status.value if status else None)
        return [InboxMessage.of(m, loaders) for m in await inbox.list_messages(viewer, request)]
