"""Sign-up claims: the (username, password) pairs asked for on one unconfirmed email.

Asking to sign up never overwrites what someone else asked for: a request repeating a claim's
username and password refreshes that claim, any other request adds one. The emailed code proves
control of the mailbox, not which claim is the mailbox owner's, so confirming needs the password
once several claims are open. Nothing here tells a caller how many claims exist or for whom.

Cost, so that timing reveals nothing either: a sign-up request checks its password against at
most one claim (the latest with its username) or a dummy hash, one Argon2 verification whatever
exists; confirming with a password checks it against every open claim and pads with dummy
verifications up to the cap, so its cost does not depend on how many claims there are.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from infra.services import Services
from models import PendingSignup
from models.auth import MAX_CLAIMS_PER_EMAIL
from resolvers.account_inputs import SignupRequest
from resolvers.errors import Conflict, RateLimited, Unauthenticated
from resolvers.verification import INVALID_CODE

SEVERAL_PENDING = (
    "Several sign-ups are pending for this email: send the password chosen at sign-up "
    "with the code."
)


def _now() -> datetime:
    return datetime.now(UTC)


async def open_claims(email_key: str) -> list[PendingSignup]:
    """The email's claims whose code window has not ended, oldest first."""
    return (
        await PendingSignup.filter(email_key=email_key, expires_at__gt=_now())
        .order_by("created_at", "slot")
        .all()
    )


async def find_repeat(
    services: Services, email_key: str, request: SignupRequest
) -> PendingSignup | None:
    """The open claim this request repeats (same username and password), if any. Exactly one
    Argon2 verification, against the latest claim with this username or a dummy hash."""
    username_key = request.username.lower()
    same_name = [c for c in await open_claims(email_key) if c.username_key == username_key]
    latest = max(same_name, key=lambda c: c.updated_at, default=None)
    stored = None if latest is None else latest.password_hash
    if await services.passwords.verify(stored, request.password):
        return latest
    return None


async def record(
    services: Services,
    email_key: str,
    request: SignupRequest,
    password_hash: str,
    repeat: PendingSignup | None,
) -> None:
    """Refresh the repeated claim, or add one in a free slot (429 when all are taken)."""
    if repeat is not None:
        repeat.email = request.email
        repeat.username = request.username
        if request.invite_code is not None:
            repeat.invite_code = request.invite_code
        await repeat.save(update_fields=["email", "username", "invite_code", "updated_at"])
        return
    now = _now()
    await PendingSignup.filter(email_key=email_key, expires_at__lte=now).delete()
    expires_at = now + timedelta(seconds=services.settings.verification_code_ttl_s)
    for _ in range(MAX_CLAIMS_PER_EMAIL):  # each pass loses a slot race at most once per slot
        held = await PendingSignup.filter(email_key=email_key).values_list("slot", "expires_at")
        free = sorted(set(range(MAX_CLAIMS_PER_EMAIL)) - {slot for slot, _ in held})
        if not free:
            ends = min(expiry for _, expiry in held)
            raise RateLimited(max(1, math.ceil((ends - now).total_seconds())))
        try:
            await PendingSignup.create(
                email_key=email_key,
                slot=free[0],
                email=request.email,
                username=request.username,
                username_key=request.username.lower(),
                password_hash=password_hash,
                invite_code=request.invite_code,
                expires_at=expires_at,
            )
            return
        except IntegrityError:  # a concurrent request took that slot first
            continue
    raise RateLimited(services.settings.verification_code_ttl_s)


async def extend(email_key: str, expires_at: datetime) -> None:
    """Give the email's open claims the window of its newest code: the code confirms any."""
    await PendingSignup.filter(email_key=email_key, expires_at__gt=_now()).update(
        expires_at=expires_at
    )


async def choose(services: Services, email_key: str, password: str | None) -> PendingSignup:
    """The claim a valid code confirms: the only one, or the one `password` matches."""
    claims = await open_claims(email_key)
    if not claims:
        raise Unauthenticated(INVALID_CODE)
    if password is None:
        if len(claims) > 1:
            raise Conflict(SEVERAL_PENDING)
        return claims[0]
    matches = [c for c in claims if await services.passwords.verify(c.password_hash, password)]
    for _ in range(MAX_CLAIMS_PER_EMAIL - len(claims)):
        await services.passwords.verify(None, password)
    if not matches:
        raise Unauthenticated(INVALID_CODE)
    return matches[-1]  # identical (username, password) claims can exist after a race
