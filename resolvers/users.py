"""Profiles: the caller's own, updates, search, and the email look-up of `GET /auth/users`."""

from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError
from tortoise.functions import Length

from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from models import User
from resolvers.account_inputs import SearchUsersRequest, UpdateMeRequest
from resolvers.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from resolvers.viewer import Viewer

SEARCH_LIMIT = 20


async def get_me(viewer: Viewer) -> User:
    user = await User.get_or_none(id=viewer.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.")
    return user


async def get_user(user_id: uuid.UUID) -> User | None:
    return await User.get_or_none(id=user_id)


async def update_me(viewer: Viewer, request: UpdateMeRequest) -> User:
    user = await get_me(viewer)
    changes = request.model_dump(include=request.model_fields_set)
    if not changes:
        return user
    if "username" in changes:
        user.username = changes["username"]
        user.username_key = user.username.lower()
        changes["username_key"] = user.username_key
        clash = User.filter(username_key=user.username_key).exclude(id=user.id)
        if await clash.exists():
            raise Conflict("This username is already taken.")
    for field, value in changes.items():
        setattr(user, field, value)
    try:
        await user.save(update_fields=list(changes))
    except IntegrityError:  # lost a race for the same username
        raise Conflict("This username is already taken.") from None
    return user


async def search_users(
    services: Services, viewer: Viewer, request: SearchUsersRequest
) -> list[User]:
    """`@` means an exact email match; otherwise username substring, prefix matches first,
    then the shortest names. Never the caller."""
    query = request.query.strip().lower()
    others = User.exclude(id=viewer.user_id)
    if "@" in query:
        await _count_email_lookup(services, viewer)
        return await others.filter(email_key=query).limit(1)
    if not query:
        return []
    ordered = ("name_length", "username_key")
    prefix = await (
        others.filter(username_key__startswith=query)
        .annotate(name_length=Length("username_key"))
        .order_by(*ordered)
        .limit(SEARCH_LIMIT)
    )
    if len(prefix) == SEARCH_LIMIT:
        return prefix
    infix = await (
        others.filter(username_key__contains=query)
        .exclude(username_key__startswith=query)
        .annotate(name_length=Length("username_key"))
        .order_by(*ordered)
        .limit(SEARCH_LIMIT - len(prefix))
    )
    return [*prefix, *infix]


async def _count_email_lookup(services: Services, viewer: Viewer) -> None:
    """An exact-email search tells whether the address has an account: each user gets
    `RATE_LIMIT_EMAIL_LOOKUP_USER` of them, found or not."""
    rule = services.settings.rate_limit_email_lookup_user
    try:
        await services.limiter.hit(rule, "email-lookup-user", str(viewer.user_id))
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None


async def lookup_by_email(viewer: Viewer, email: str) -> User:
    """Own email: always. Admin: any (404 when unknown). Anyone else: 403 either way."""
    email_key = email.strip().lower()
    if email_key != viewer.email.lower() and not viewer.is_admin:
        raise Forbidden("You may only look up your own email address.")
    user = await User.get_or_none(email_key=email_key)
    if user is None:
        raise NotFound("No user has this email address.")
    return user


async def set_role(email: str, role: str) -> User:
    user = await User.get_or_none(email_key=email.strip().lower())
    if user is None:
        raise NotFound("No user has this email address.")
    user.role = role
    await user.save(update_fields=["role"])
    return user
