"""Accounts: sign-up with an emailed code, recovery, sign-in, refresh, sign-out (CONTRACT §3 Auth).

Nothing here tells a caller whether an email has an account: sign-up and resend answer the same
way for both, a known address gets a notice instead of a code, and a failed sign-in checks a
dummy hash when the user does not exist, so it costs the same time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from infra.mail import Mail
from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from models import AuthSession, PendingSignup, User
from resolvers import invites, verification
from resolvers.errors import Conflict, RateLimited, Unauthenticated
from resolvers.inputs import ResendRequest, SignInRequest, SignupRequest, VerifyRequest
from resolvers.sessions import SessionTokens, open_session, revoke_sessions

USERNAME_TAKEN = "This username is already taken."
BAD_CREDENTIALS = "Invalid email or password."


def _notice_mail(to: str) -> Mail:
    return Mail(
        to=to,
        subject="Sign-up attempt for your account",
        text="Someone tried to sign up with this email address, which already has an account.\n"
        "If it was you, sign in or reset your password instead.\n",
    )


async def request_signup(services: Services, request: SignupRequest, ip: str) -> str:
    try:
        await services.limiter.hit(services.settings.rate_limit_signup_ip, "signup-ip", ip)
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None
    email_key = request.email.lower()
    # Hashed before the branch so that both answers take the same time.
    password_hash = await services.passwords.hash(request.password)
    if await User.filter(email_key=email_key).exists():
        await verification.count_code_request(services, email_key, "signup", ip)
        services.mail.send(_notice_mail(request.email))
        return request.email
    if await User.filter(username_key=request.username.lower()).exists():
        raise Conflict(USERNAME_TAKEN)
    await verification.count_code_request(services, email_key, "signup", ip)
    values: dict[str, Any] = {
        "email": request.email,
        "username": request.username,
        "password_hash": password_hash,
        "invite_code": request.invite_code,
    }
    if not await PendingSignup.filter(email_key=email_key).update(**values):
        try:
            await PendingSignup.create(**values, email_key=email_key)
        except IntegrityError:
            await PendingSignup.filter(email_key=email_key).update(**values)
    code = await verification.issue_code(services, email_key=email_key, purpose="signup")
    services.mail.send(verification.code_mail(request.email, code, "signup"))
    return request.email


async def resend_code(services: Services, request: ResendRequest, ip: str) -> None:
    """Send a new code if there is something to confirm; answer the same either way."""
    email_key = request.email.lower()
    await verification.count_code_request(services, email_key, request.type, ip)
    if request.type == "signup":
        pending = await PendingSignup.get_or_none(email_key=email_key)
        target = None if pending is None else pending.email
        if target is not None and await User.filter(email_key=email_key).exists():
            target = None
    else:
        user = await User.get_or_none(email_key=email_key)
        target = None if user is None else user.email
    if target is None:
        return
    code = await verification.issue_code(services, email_key=email_key, purpose=request.type)
    services.mail.send(verification.code_mail(target, code, request.type))


async def verify_signup(services: Services, request: VerifyRequest, ip: str) -> SessionTokens:
    email_key = request.email.lower()
    await verification.consume_code(
        services, email_key=email_key, purpose="signup", code=request.token, ip=ip
    )
    pending = await PendingSignup.get_or_none(email_key=email_key)
    if pending is None:
        raise Unauthenticated(verification.INVALID_CODE)
    try:
        async with in_transaction():
            user = await User.create(
                username=pending.username,
                username_key=pending.username.lower(),
                email=pending.email,
                email_key=email_key,
                password_hash=pending.password_hash,
                email_confirmed_at=datetime.now(UTC),
            )
            await invites.create_code(owner_id=user.id, personal=True)
            await invites.redeem(user, pending.invite_code)
            await pending.delete()
    except IntegrityError:
        if await User.filter(email_key=email_key).exists():
            raise Unauthenticated(verification.INVALID_CODE) from None
        raise Conflict(USERNAME_TAKEN) from None
    return await open_session(services, user)


async def verify_recovery(services: Services, request: VerifyRequest, ip: str) -> None:
    email_key = request.email.lower()
    await verification.consume_code(
        services, email_key=email_key, purpose="recovery", code=request.token, ip=ip
    )
    user = await User.get_or_none(email_key=email_key)
    if user is None or request.new_password is None:
        raise Unauthenticated(verification.INVALID_CODE)
    user.password_hash = await services.passwords.hash(request.new_password)
    async with in_transaction():
        await user.save(update_fields=["password_hash"])
        await revoke_sessions(services, AuthSession.filter(user_id=user.id))


async def sign_in(services: Services, request: SignInRequest, ip: str) -> SessionTokens:
    s = services.settings
    email_key = request.email.lower()
    # Each attempt is counted before the password is checked: counting only after a failure
    # let concurrent attempts (a batched GraphQL request, parallel connections) all pass the
    # check before the first failure was recorded. A success clears the email's run of
    # failures; the per-IP cap counts every attempt.
    try:
        await services.limiter.hit(s.rate_limit_login_email, "login-email", email_key)
        await services.limiter.hit(s.rate_limit_login_ip, "login-ip", ip)
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None
    user = await User.get_or_none(email_key=email_key)
    if not await services.passwords.verify(user.password_hash if user else None, request.password):
        raise Unauthenticated(BAD_CREDENTIALS)
    assert user is not None
    await services.limiter.reset(s.rate_limit_login_email, "login-email", email_key)
    return await open_session(services, user)
