from __future__ import annotations

from fastapi import APIRouter

from resolvers import users
from resolvers.account_inputs import SearchUsersRequest, UpdateMeRequest
from rest_compat.account_bodies import OwnProfile, UserProfile
from rest_compat.deps import ServicesDep, ViewerDep
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", responses=problem_responses(401), summary="The caller's profile")
async def get_me(viewer: ViewerDep) -> OwnProfile:
    return OwnProfile.of(await users.get_me(viewer))


@router.patch(
    "/me", responses=problem_responses(401, 409, 422), summary="Update the caller's profile"
)
async def update_me(body: UpdateMeRequest, viewer: ViewerDep) -> OwnProfile:
    return OwnProfile.of(await users.update_me(viewer, body))


@router.post(
    "/search",
    responses=problem_responses(401, 422, 429),
    summary="Search users by username substring or exact email",
)
async def search(
    body: SearchUsersRequest, services: ServicesDep, viewer: ViewerDep
) -> list[UserProfile]:
    return [UserProfile.of(user) for user in await users.search_users(services, viewer, body)]
