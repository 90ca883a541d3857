from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import friends, inbox, schedule, sharing, subscribers
from resolvers.calendar_inputs import (
    AcceptInvitation,
    CreateScheduleItem,
    SendFriendRequest,
    ShareScheduleItem,
    SubscriberPermissions,
    UpdateScheduleItem,
    occurrence_changes,
)
from schema.calendar_inputs import (
    AcceptInboxMessageInput,
    CreateScheduleItemInput,
    SendFriendRequestInput,
    ShareScheduleItemInput,
    UpdateScheduleItemInput,
    UpdateScheduleSubscriberInput,
    item_values,
)
from schema.context import GqlInfo, require_viewer
from schema.ids import require_id
from schema.loaders import loaders_for
from schema.requests import to_request
from schema.types.calendar import (
    FriendRequest,
    InboxMessage,
    ScheduleItem,
    ScheduleSubscriber,
    ShareResult,
)

OccurrenceArgument = Annotated[
    datetime | None,
    strawberry.argument(
        description="One occurrence of a recurring item, by its original start "
        "(`originalStartAt` of its list entry)."
    ),
]
REQUEST = "Friend request"
ITEM = "Schedule item"
MESSAGE = "Inbox message"
SUBSCRIBER = "Subscriber"


@strawberry.type
class CalendarMutation:
    @strawberry.mutation
    async def send_friend_request(
        self, info: GqlInfo, input: SendFriendRequestInput
    ) -> FriendRequest:
        viewer = await require_viewer(info)
        request = to_request(SendFriendRequest, input)
        created = await friends.send_request(info.context.services, viewer, request)
        return FriendRequest.of(created, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def accept_friend_request(self, info: GqlInfo, id: strawberry.ID) -> FriendRequest:
        viewer = await require_viewer(info)
        accepted = await friends.accept_request(viewer, require_id(id, REQUEST))
        return FriendRequest.of(accepted, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def decline_friend_request(self, info: GqlInfo, id: strawberry.ID) -> FriendRequest:
        viewer = await require_viewer(info)
        declined = await friends.decline_request(viewer, require_id(id, REQUEST))
        return FriendRequest.of(declined, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def cancel_friend_request(self, info: GqlInfo, id: strawberry.ID) -> bool:
        viewer = await require_viewer(info)
        await friends.cancel_request(viewer, require_id(id, REQUEST))
        return True

    @strawberry.mutation(description="`id` is the friendship's id or the friend's user id.")
    async def remove_friend(self, info: GqlInfo, id: strawberry.ID) -> bool:
        viewer = await require_viewer(info)
        await friends.remove_friend(viewer, require_id(id, "Friendship"))
        return True

    @strawberry.mutation
    async def create_schedule_item(
        self, info: GqlInfo, input: CreateScheduleItemInput
    ) -> ScheduleItem:
        viewer = await require_viewer(info)
        request = to_request(CreateScheduleItem, **item_values(input))
        created = await schedule.create_item(viewer, request)
        return ScheduleItem.of(created, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def update_schedule_item(
        self,
        info: GqlInfo,
        id: strawberry.ID,
        input: UpdateScheduleItemInput,
        occurrence: OccurrenceArgument = None,
    ) -> ScheduleItem:
        viewer = await require_viewer(info)
        request = to_request(UpdateScheduleItem, **item_values(input))
        services, item_id = info.context.services, require_id(id, ITEM)
        if occurrence is None:
            updated = await schedule.update_item(services, viewer, item_id, request)
        else:
            changes = occurrence_changes(request)
            updated = await schedule.update_occurrence(
                services, viewer, item_id, occurrence, changes
            )
        return ScheduleItem.of(updated, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def delete_schedule_item(
        self, info: GqlInfo, id: strawberry.ID, occurrence: OccurrenceArgument = None
    ) -> bool:
        viewer = await require_viewer(info)
        services, item_id = info.context.services, require_id(id, ITEM)
        if occurrence is None:
            await schedule.delete_item(services, viewer, item_id)
        else:
            await schedule.delete_occurrence(services, viewer, item_id, occurrence)
        return True

    @strawberry.mutation
    async def share_schedule_item(
        self, info: GqlInfo, id: strawberry.ID, input: ShareScheduleItemInput
    ) -> ShareResult:
        viewer = await require_viewer(info)
        request = to_request(ShareScheduleItem, input)
        message = await sharing.share_item(
            info.context.services, viewer, require_id(id, ITEM), request
        )
        return ShareResult(message=message)

    @strawberry.mutation(
        description="Set a subscriber's bits (the item's owner only; view stays on)."
    )
    async def update_schedule_subscriber(
        self,
        info: GqlInfo,
        item_id: strawberry.ID,
        user_id: strawberry.ID,
        input: UpdateScheduleSubscriberInput,
    ) -> ScheduleSubscriber:
        viewer = await require_viewer(info)
        request = to_request(SubscriberPermissions, input)
        changed = await subscribers.set_permissions(
            info.context.services,
            viewer,
            require_id(item_id, ITEM),
            require_id(user_id, SUBSCRIBER),
            request,
        )
        return ScheduleSubscriber.of(changed)

    @strawberry.mutation(
        description="Revoke a share (the item's owner), or leave it (the subscriber themself)."
    )
    async def remove_schedule_subscriber(
        self, info: GqlInfo, item_id: strawberry.ID, user_id: strawberry.ID
    ) -> bool:
        viewer = await require_viewer(info)
        await subscribers.remove_subscriber(
            info.context.services,
            viewer,
            require_id(item_id, ITEM),
            require_id(user_id, SUBSCRIBER),
        )
        return True

    @strawberry.mutation
    async def accept_inbox_message(
        self, info: GqlInfo, id: strawberry.ID, input: AcceptInboxMessageInput | None = None
    ) -> InboxMessage:
        viewer = await require_viewer(info)
        request = to_request(AcceptInvitation, input)
        accepted = await inbox.accept(viewer, require_id(id, MESSAGE), request)
        return InboxMessage.of(accepted, loaders_for(info, viewer.user_id))

    @strawberry.mutation
    async def dismiss_inbox_message(self, info: GqlInfo, id: strawberry.ID) -> InboxMessage:
        viewer = await require_viewer(info)
        dismissed = await inbox.dismiss(viewer, require_id(id, MESSAGE))
        return InboxMessage.of(dismissed, loaders_for(info, viewer.user_id))
