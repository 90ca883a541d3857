from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import EmailStr

from resolvers import auth, sessions, users
from resolvers.account_inputs import (
    RefreshRequest,
    ResendRequest,
    SignInRequest,
    SignupRequest,
    VerifyRequest,
)
from rest_compat.account_bodies import AuthUser, SessionBody, SignupAccepted
from rest_compat.deps import ClientIp, ServicesDep, ViewerDep
from rest_compat.problems import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/verifications",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409, 422, 429),
    summary="Start a sign-up: email a 6-digit code",
)
async def request_verification(
    body: SignupRequest, services: ServicesDep, ip: ClientIp
) -> SignupAccepted:
    return SignupAccepted(email=await auth.request_signup(services, body, ip))


@router.post(
    "/resend",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422, 429),
    summary="Send a new code (signup or recovery); 204 whether or not the email is known",
)
async def resend(body: ResendRequest, services: ServicesDep, ip: ClientIp) -> Response:
    await auth.resend_code(services, body, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/verify",
    response_model=SessionBody,
    responses={
        204: {"description": "Recovery: the new password is set"},
        **problem_responses(401, 409, 422, 429),
    },
    summary="Check a code: signup answers a session, recovery sets the new password",
    description="For a sign-up, `password` picks which pending sign-up of the email the code "
    "confirms; it is required (409 without it) when several are pending.",
)
async def verify(body: VerifyRequest, services: ServicesDep, ip: ClientIp) -> Response:
    if body.type == "recovery":
        await auth.verify_recovery(services, body, ip)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    tokens = await auth.verify_signup(services, body, ip)
    return Response(SessionBody.of(tokens).model_dump_json(), media_type="application/json")


@router.post(
    "/sessions",
    responses=problem_responses(401, 422, 429),
    summary="Sign in",
)
async def sign_in(body: SignInRequest, services: ServicesDep, ip: ClientIp) -> SessionBody:
    return SessionBody.of(await auth.sign_in(services, body, ip))


@router.post(
    "/sessions/refresh",
    responses=problem_responses(401, 422, 429),
    summary="Rotate the refresh token",
)
async def refresh(body: RefreshRequest, services: ServicesDep) -> SessionBody:
    return SessionBody.of(await sessions.refresh_session(services, body.refresh_token))


@router.delete(
    "/sessions",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(422, 429),
    summary="Sign out: revoke the session of a refresh token",
)
async def sign_out(services: ServicesDep, body: RefreshRequest) -> Response:
    await sessions.sign_out(services, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users",
    responses=problem_responses(401, 403, 404, 422),
    summary="Look up a user by email (own email, or any for an admin)",
)
async def lookup_user(viewer: ViewerDep, email: Annotated[EmailStr, Query()]) -> AuthUser:
    return AuthUser.of(await users.lookup_by_email(viewer, email))
