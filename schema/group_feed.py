"""The root value of a grouped subscription's one execution (see server/subscription_groups.py).

A grouped `agentEvents` operation runs through Strawberry once for all the subscribers of its
group, with this feed as its root value: the resolver sees it and yields the group's events
instead of opening a stream of its own (the subscribers' checks were made when they joined).
The feed remembers the stream id of the event it handed out last, which is the position of the
result graphql-core is executing (it maps one event at a time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]


class EventFeed:
    def __init__(self, events: AsyncIterator[tuple[str, Event]]) -> None:
        self._events = events
        self.position: str | None = None

    def __aiter__(self) -> EventFeed:
        return self

    async def __anext__(self) -> tuple[str, Event]:
        event_id, event = await self._events.__anext__()
        self.position = event_id
        return event_id, event

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()
