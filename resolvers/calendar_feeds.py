"""Secret iCalendar feed URLs (docs/contract.md §6, "iCalendar export, feeds and import").

A calendar app subscribes to a URL and polls it without any header, so the URL itself is the
credential: a random token shown once, stored only as its SHA-256 (a copy of the database
hands out no working URL). A feed serves its user's export (resolvers/calendar_export.py) to
whoever holds the URL, until it is revoked; a password recovery revokes them all, so a stolen
URL does not outlive the reset.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

from tortoise.transactions import in_transaction

from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from infra.tokens import hash_secret, new_secret_token
from models import CalendarFeed, User
from models.calendar_feeds import MAX_FEEDS_PER_USER
from resolvers.calendar_export import Export, export_for_user
from resolvers.calendar_inputs import CreateCalendarFeed
from resolvers.errors import Conflict, NotFound, RateLimited
from resolvers.viewer import Viewer

FEED_NOT_FOUND = "Calendar feed not found."
# Where a feed is served (both transports build its absolute URL from this path).
FEED_PATH = "/api/v1/calendar/feeds/{token}.ics"


class CreatedFeed(NamedTuple):
    feed: CalendarFeed
    token: str  # shown once, in the create answer; never stored

    @property
    def path(self) -> str:
        return FEED_PATH.format(token=self.token)


async def create_feed(viewer: Viewer, request: CreateCalendarFeed) -> CreatedFeed:
    """A new feed; 409 when the caller already holds MAX_FEEDS_PER_USER."""
    token = new_secret_token()
    async with in_transaction():
        # The user's row lock makes the count and the insert one step for concurrent creates.
        await User.select_for_update().get(id=viewer.user_id)
        if await CalendarFeed.filter(user_id=viewer.user_id).count() >= MAX_FEEDS_PER_USER:
            raise Conflict(
                f"At most {MAX_FEEDS_PER_USER} calendar feeds per user: revoke one first."
            )
        feed = await CalendarFeed.create(
            user_id=viewer.user_id, name=request.name, token_hash=hash_secret(token)
        )
    return CreatedFeed(feed, token)


async def list_feeds(viewer: Viewer) -> list[CalendarFeed]:
    """The caller's feeds, newest first (without their tokens, which are not kept)."""
    return await CalendarFeed.filter(user_id=viewer.user_id).order_by("-created_at", "id")


async def revoke_feed(viewer: Viewer, feed_id: uuid.UUID) -> None:
    """Delete one of the caller's feeds; another user's is 404 like an unknown one."""
    deleted = await CalendarFeed.filter(id=feed_id, user_id=viewer.user_id).delete()
    if not deleted:
        raise NotFound(FEED_NOT_FOUND)


async def revoke_user_feeds(user_id: uuid.UUID) -> None:
    await CalendarFeed.filter(user_id=user_id).delete()


async def feed_calendar(services: Services, token: str) -> Export:
    """The export a feed URL serves; 404 for an unknown or revoked token, 429 past the
    per-feed rate limit (counted per token hash: only feeds that exist are counted)."""
    digest = hash_secret(token)
    feed = await CalendarFeed.get_or_none(token_hash=digest)
    if feed is None:
        raise NotFound(FEED_NOT_FOUND)
    try:
        await services.limiter.hit(
            services.settings.rate_limit_calendar_feed, "calendar-feed", digest
        )
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None
    await CalendarFeed.filter(id=feed.id).update(last_used_at=datetime.now(UTC))
    return await export_for_user(feed.user_id, feed.name)
