from __future__ import annotations

from fastapi import APIRouter

from resolvers.health import infra_health
from rest_compat.account_bodies import Health, InfraHealth
from rest_compat.deps import ServicesDep

router = APIRouter(tags=["infra"])


@router.get("/health", summary="The process serves")
async def health() -> Health:
    return Health(status="ok")


@router.get("/infra/health", summary="Health of Redis and the database")
async def infrastructure(services: ServicesDep) -> InfraHealth:
    return InfraHealth.model_validate(await infra_health(services))
