"""Emailed 6-digit codes: issue (rate limited), check (5 tries, single use, 10 minutes).

A code is stored only as a keyed hash. Issuing a new code overwrites the row of its email and
purpose, which voids the previous code. Checking a code and using it up are two steps, so that a
sign-up can decide what the code confirms (and refuse) before the code is spent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from infra.mail import Mail
from infra.rate_limits import RateLimitExceeded
from infra.services import Services
from infra.tokens import constant_time_equal, hash_code, new_numeric_code
from models import VerificationCode
from resolvers.errors import RateLimited, Unauthenticated

INVALID_CODE = "The verification code is invalid or has expired."


def _now() -> datetime:
    return datetime.now(UTC)


def _code_hash(services: Services, email_key: str, purpose: str, code: str) -> str:
    return hash_code(services.settings.signing_key(), email_key, purpose, code)


async def count_code_request(services: Services, email_key: str, purpose: str, ip: str) -> None:
    """Apply the code-issuing limits. Called whether or not a code is really sent, so that a
    429 says nothing about whether the address has an account."""
    s = services.settings
    try:
        await services.limiter.hit(s.rate_limit_code_interval, "code", purpose, email_key)
        await services.limiter.hit(s.rate_limit_code_email_hourly, "code-email", email_key)
        await services.limiter.hit(s.rate_limit_code_ip_hourly, "code-ip", ip)
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime


async def issue_code(services: Services, *, email_key: str, purpose: str) -> IssuedCode:
    """Store a fresh code for (email, purpose), voiding any earlier one, and return it."""
    code = new_numeric_code()
    expires_at = _now() + timedelta(seconds=services.settings.verification_code_ttl_s)
    values: dict[str, Any] = {
        "code_hash": _code_hash(services, email_key, purpose, code),
        "attempts": 0,
        "used_at": None,
        "expires_at": expires_at,
    }
    updated = await VerificationCode.filter(email_key=email_key, purpose=purpose).update(**values)
    if not updated:
        try:
            await VerificationCode.create(**values, email_key=email_key, purpose=purpose)
        except IntegrityError:  # a concurrent request created the row first: overwrite it
            await VerificationCode.filter(email_key=email_key, purpose=purpose).update(**values)
    return IssuedCode(code, expires_at)


def recovery_mail(to: str, code: str) -> Mail:
    return Mail(
        to=to,
        subject=f"Your verification code: {code}",
        text=f"Use the code {code} to reset your password. It is valid for 10 minutes.\n"
        "If you did not ask for it, ignore this message.\n",
    )


def signup_mail(to: str, code: str, usernames: Sequence[str]) -> Mail:
    """The code first (clients and people look for the first six digits), then the usernames
    the sign-ups asked for: the reader must see whose account the code would open."""
    named = ", ".join(f'"{name}"' for name in usernames)
    if len(usernames) == 1:
        about = f"It confirms the sign-up with the username {named}."
    else:
        about = (
            f"Sign-ups are pending with the usernames {named}: send the password chosen at "
            "sign-up with the code to confirm yours."
        )
    return Mail(
        to=to,
        subject=f"Your verification code: {code}",
        text=f"Use the code {code} to confirm your email address. It is valid for 10 minutes.\n"
        f"{about}\n"
        "If you did not ask for it, ignore this message: no account is made without the code.\n",
    )


async def consume_code(
    services: Services, *, email_key: str, purpose: str, code: str, ip: str
) -> None:
    """Accept the code once, or raise 401."""
    code_id = await check_code(services, email_key=email_key, purpose=purpose, code=code, ip=ip)
    if not await use_code(code_id):
        raise Unauthenticated(INVALID_CODE)


async def check_code(
    services: Services, *, email_key: str, purpose: str, code: str, ip: str
) -> uuid.UUID:
    """Return the id of the live code matching `code`, without using it up, or raise 401.
    Each try is counted before it is compared, so no more than
    `verification_code_max_attempts` comparisons happen per code even under races."""
    s = services.settings
    try:
        await services.limiter.hit(s.rate_limit_verify_ip, "verify-ip", ip)
        await services.limiter.hit(s.rate_limit_verify_email, "verify-email", email_key)
    except RateLimitExceeded as exc:
        raise RateLimited(exc.retry_after) from None

    now = _now()
    live = VerificationCode.filter(
        email_key=email_key,
        purpose=purpose,
        used_at=None,
        expires_at__gt=now,
        attempts__lt=s.verification_code_max_attempts,
    )
    row = await live.first()
    if row is None or not await live.filter(id=row.id).update(attempts=F("attempts") + 1):
        raise Unauthenticated(INVALID_CODE)
    if not constant_time_equal(row.code_hash, _code_hash(services, email_key, purpose, code)):
        raise Unauthenticated(INVALID_CODE)
    return row.id


async def use_code(code_id: uuid.UUID) -> bool:
    """Mark the code used; False when a concurrent request used it first. Inside a
    transaction, the row stays locked until it ends, so racing requests cannot both pass."""
    return bool(await VerificationCode.filter(id=code_id, used_at=None).update(used_at=_now()))
