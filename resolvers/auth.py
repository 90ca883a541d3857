"""Accounts: sign-up with an emailed code, recovery, sign-in, refresh and sign-out.

The rules are those of docs/contract.md §3, "Auth".

Nothing here tells a caller whether an email has an account: sign-up and resend answer the same
way for both, a known address gets a notice instead of a code, and a failed sign-in checks a
dummy hash when the user does not exist, so it costs the same time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from infra.mail import Mail
from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from models import AuthSession, PendingSignup, User
from resolvers import invites, signup_claims, verification
from resolvers.account_inputs import ResendRequest, SignInRequest, SignupRequest, VerifyRequest
from resolvers.calendar_feeds import revoke_user_feeds
from resolvers.errors import Conflict, RateLimited, Unauthenticated
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
    # One Argon2 hash and one verification before the branch, so that every answer takes the
    # same time whether the email has an account, claims, or nothing.
    password_hash = await services.passwords.hash(request.password)
    repeat = await signup_claims.find_repeat(services, email_key, request)
    if await User.filter(email_key=email_key).exists():
        await verification.count_code_request(services, email_key, "signup", ip)
        services.mail.send(_notice_mail(request.email))
        return request.email
    if await User.filter(username_key=request.username.lower()).exists():
        raise Conflict(USERNAME_TAKEN)
    await verification.count_code_request(services, email_key, "signup", ip)
    await signup_claims.record(services, email_key, request, password_hash, repeat)
    issued = await verification.issue_code(services, email_key=email_key, purpose="signup")
    await signup_claims.extend(email_key, issued.expires_at)
    services.mail.send(verification.signup_mail(request.email, issued.code, [request.username]))
    return request.email


async def resend_code(services: Services, request: ResendRequest, ip: str) -> None:
    """Send a new code if there is something to confirm; answer the same either way."""
    email_key = request.email.lower()
    await verification.count_code_request(services, email_key, request.type, ip)
    if request.type == "signup":
        claims = await signup_claims.open_claims(email_key)
        if not claims or await User.filter(email_key=email_key).exists():
            return
        issued = await verification.issue_code(services, email_key=email_key, purpose="signup")
        await signup_claims.extend(email_key, issued.expires_at)
        usernames = [claim.username for claim in claims]
        services.mail.send(verification.signup_mail(claims[-1].email, issued.code, usernames))
        return
    user = await User.get_or_none(email_key=email_key)
    if user is None:
        return
    issued = await verification.issue_code(services, email_key=email_key, purpose="recovery")
    services.mail.send(verification.recovery_mail(user.email, issued.code))


async def verify_signup(services: Services, request: VerifyRequest, ip: str) -> SessionTokens:
    """Confirm one claim of the email with its code (and password, when several are open).
    A refusal before the transaction leaves the code usable for its remaining tries."""
    email_key = request.email.lower()
    code_id = await verification.check_code(
        services, email_key=email_key, purpose="signup", code=request.token, ip=ip
    )
    claim = await signup_claims.choose(services, email_key, request.password)
    try:
        async with in_transaction():
            # Using the code up first serialises racing confirmations: the loser waits on the
            # code's row, then finds it used and creates nothing.
            if not await verification.use_code(code_id):
                raise Unauthenticated(verification.INVALID_CODE)
            user = await User.create(
                username=claim.username,
                username_key=claim.username_key,
                email=claim.email,
                email_key=email_key,
                password_hash=claim.password_hash,
                email_confirmed_at=datetime.now(UTC),
            )
            await invites.create_code(owner_id=user.id, personal=True)
            await invites.redeem(user, claim.invite_code)
            await PendingSignup.filter(email_key=email_key).delete()
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
        # A feed URL is a credential too: one stolen before the reset must stop working.
        await revoke_user_feeds(user.id)


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
