"""Per-operation data loaders.

Strawberry builds the context once per websocket, so loaders cannot simply live on it: on HTTP
the context is per request and holds one `Loaders`; on a websocket each root field (and each
subscription event) makes its own, so no cache outlives the operation that filled it. The
output types carry the `Loaders` they were made with, so nested fields batch together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader
from starlette.requests import Request

from models import ScheduleSubscription, User
from resolvers import batch
from resolvers.access import VisibleItem
from schema.context import GqlInfo


class Loaders:
    def __init__(self, viewer_id: uuid.UUID) -> None:
        self.viewer_id = viewer_id
        self.users: DataLoader[uuid.UUID, User | None] = DataLoader(self._users)
        self.subscriptions: DataLoader[uuid.UUID, list[ScheduleSubscription]] = DataLoader(
            self._subscriptions
        )
        self.items: DataLoader[uuid.UUID, VisibleItem | None] = DataLoader(self._items)

    async def _users(self, ids: Sequence[uuid.UUID]) -> list[User | None]:
        return await batch.users_by_id(ids)

    async def _subscriptions(self, ids: Sequence[uuid.UUID]) -> list[list[ScheduleSubscription]]:
        return await batch.subscriptions_by_item(ids)

    async def _items(self, ids: Sequence[uuid.UUID]) -> list[VisibleItem | None]:
        return await batch.items_by_id(self.viewer_id, ids)

    def prime_users(self, users: Sequence[User]) -> None:
        for user in users:
            self.users.prime(user.id, user)


def loaders_for(info: GqlInfo, viewer_id: uuid.UUID) -> Loaders:
    context: Any = info.context
    if not isinstance(context.request, Request):  # a websocket: one Loaders per root field
        return Loaders(viewer_id)
    loaders = getattr(context, "loaders", None)
    if loaders is None or loaders.viewer_id != viewer_id:
        loaders = context.loaders = Loaders(viewer_id)
    return loaders
