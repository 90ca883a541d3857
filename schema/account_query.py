from __future__ import annotations

import uuid

import strawberry

from resolvers import users
from resolvers.account_inputs import LookupUserRequest, SearchUsersRequest
from resolvers.health import infra_health
from schema.context import GqlInfo, require_viewer
from schema.requests import to_request
from schema.types.auth import Health
from schema.types.users import AccountLookup, Me, User


def _uuid(value: strawberry.ID) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@strawberry.type
class AccountQuery:
    @strawberry.field(description="The caller's own account.")
    async def me(self, info: GqlInfo) -> Me:
        return Me.of(await users.get_me(await require_viewer(info)))

    @strawberry.field(description="A user by id; null when unknown.")
    async def user(self, info: GqlInfo, id: strawberry.ID) -> User | None:
        await require_viewer(info)
        user_id = _uuid(id)
        found = None if user_id is None else await users.get_user(user_id)
        return None if found is None else User.of(found)

    @strawberry.field(description="Username substring search, or exact email when it has '@'.")
    async def search_users(self, info: GqlInfo, query: str) -> list[User]:
        viewer = await require_viewer(info)
        request = to_request(SearchUsersRequest, query=query)
        found = await users.search_users(info.context.services, viewer, request)
        return [User.of(u) for u in found]

    @strawberry.field(
        description="An account by email: the caller's own, or any for an admin (else "
        "FORBIDDEN; NOT_FOUND when an admin asks for an unknown email)."
    )
    async def user_by_email(self, info: GqlInfo, email: str) -> AccountLookup:
        viewer = await require_viewer(info)
        request = to_request(LookupUserRequest, email=email)
        return AccountLookup.of(await users.lookup_by_email(viewer, request.email))

    @strawberry.field(description="Health of the process, Redis and the database.")
    async def health(self, info: GqlInfo) -> Health:
        report = await infra_health(info.context.services)
        return Health(status=report["status"], services=report["services"])
