"""All `/api/v1` routes."""

from fastapi import APIRouter

from rest_compat.routes import (
    agent,
    auth,
    calendar,
    friends,
    inbox,
    infra,
    schedule,
    subscribers,
    users,
)

API_PREFIX = "/api/v1"

router = APIRouter(prefix=API_PREFIX)
for module in (auth, users, friends, schedule, subscribers, calendar, inbox, agent, infra):
    router.include_router(module.router)
