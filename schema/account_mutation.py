from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import auth, invites, sessions, users
from resolvers.account_inputs import (
    CreateInviteCodeRequest,
    RefreshRequest,
    ResendRequest,
    SignInRequest,
    SignupRequest,
    UpdateMeRequest,
    VerifyRequest,
)
from schema.account_inputs import (
    ResendCodeInput,
    SignInInput,
    SignupInput,
    UpdateMeInput,
    VerifyRecoveryInput,
    VerifySignupInput,
)
from schema.context import GqlInfo, require_viewer
from schema.requests import to_request
from schema.types.auth import InviteCode, Session, SignupRequested
from schema.types.users import Me


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Start a sign-up: a 6-digit code is emailed.")
    async def request_signup(self, info: GqlInfo, input: SignupInput) -> SignupRequested:
        ctx = info.context
        email = await auth.request_signup(
            ctx.services, to_request(SignupRequest, input), ctx.client_ip
        )
        return SignupRequested(email=email)

    @strawberry.mutation(description="Send a new code; true whether or not the email is known.")
    async def resend_code(self, info: GqlInfo, input: ResendCodeInput) -> bool:
        ctx = info.context
        await auth.resend_code(ctx.services, to_request(ResendRequest, input), ctx.client_ip)
        return True

    @strawberry.mutation(description="Confirm a sign-up with its code; answers a session.")
    async def verify_signup(self, info: GqlInfo, input: VerifySignupInput) -> Session:
        ctx = info.context
        request = to_request(VerifyRequest, input, type="signup")
        return Session.from_pydantic(await auth.verify_signup(ctx.services, request, ctx.client_ip))

    @strawberry.mutation(description="Set a new password with a recovery code.")
    async def verify_recovery(self, info: GqlInfo, input: VerifyRecoveryInput) -> bool:
        ctx = info.context
        request = to_request(VerifyRequest, input, type="recovery")
        await auth.verify_recovery(ctx.services, request, ctx.client_ip)
        return True

    @strawberry.mutation(description="Sign in with email and password.")
    async def sign_in(self, info: GqlInfo, input: SignInInput) -> Session:
        ctx = info.context
        request = to_request(SignInRequest, input)
        return Session.from_pydantic(await auth.sign_in(ctx.services, request, ctx.client_ip))

    @strawberry.mutation(description="Rotate a refresh token.")
    async def refresh_session(self, info: GqlInfo, refresh_token: str) -> Session:
        request = to_request(RefreshRequest, refresh_token=refresh_token)
        return Session.from_pydantic(
            await sessions.refresh_session(info.context.services, request.refresh_token)
        )

    @strawberry.mutation(description="Revoke the session of a refresh token.")
    async def sign_out(self, info: GqlInfo, refresh_token: str) -> bool:
        request = to_request(RefreshRequest, refresh_token=refresh_token)
        await sessions.sign_out(info.context.services, request.refresh_token)
        return True

    @strawberry.mutation(description="Make a limited invite code (single use by default).")
    async def create_invite_code(
        self, info: GqlInfo, max_uses: int | None = None, expires_at: datetime | None = None
    ) -> InviteCode:
        viewer = await require_viewer(info)
        request = to_request(CreateInviteCodeRequest, max_uses=max_uses, expires_at=expires_at)
        return InviteCode.of(await invites.create_invite_code(viewer, request))

    @strawberry.mutation(description="Update the caller's profile.")
    async def update_me(self, info: GqlInfo, input: UpdateMeInput) -> Me:
        viewer = await require_viewer(info)
        return Me.of(await users.update_me(viewer, to_request(UpdateMeRequest, input)))
