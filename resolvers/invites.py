"""Invite codes: a personal, unlimited code per user and limited codes made on demand.

A code is redeemed when the sign-up that named it is confirmed: the inviter relation is recorded
and the use count goes up once, atomically, so a code with N uses admits N accounts at most.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from models import Invitation, InviteCode, User
from resolvers.account_inputs import INVITE_ALPHABET, CreateInviteCodeRequest
from resolvers.viewer import Viewer


def _random_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))


async def create_code(
    *,
    owner_id: uuid.UUID | None,
    personal: bool = False,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
) -> InviteCode:
    for _ in range(5):  # 31^8 codes: a collision is rare, five in a row is impossible
        try:
            return await InviteCode.create(
                code=_random_code(),
                owner_id=owner_id,
                personal=personal,
                max_uses=max_uses,
                expires_at=expires_at,
            )
        except IntegrityError:
            continue
    raise RuntimeError("could not generate a unique invite code")


async def create_invite_code(viewer: Viewer, request: CreateInviteCodeRequest) -> InviteCode:
    """A limited code of the caller's; single use unless `max_uses` says otherwise."""
    return await create_code(
        owner_id=viewer.user_id,
        max_uses=request.max_uses or 1,
        expires_at=request.expires_at,
    )


async def personal_code(user_id: uuid.UUID) -> str:
    code = await InviteCode.filter(owner_id=user_id, personal=True).first()
    if code is None:  # accounts made before personal codes existed get one on first use
        code = await create_code(owner_id=user_id, personal=True)
    return code.code


async def redeem(user: User, code_text: str | None) -> None:
    """Record who invited `user` if the code is still good; an unusable code is ignored."""
    if not code_text:
        return
    now = datetime.now(UTC)
    usable = (
        InviteCode.filter(code=code_text.upper(), disabled=False)
        .filter(Q(expires_at=None) | Q(expires_at__gt=now))
        .filter(Q(max_uses=None) | Q(uses__lt=F("max_uses")))
    )
    code = await usable.first()
    if code is None or code.owner_id == user.id:
        return
    if await usable.filter(id=code.id).update(uses=F("uses") + 1):
        await Invitation.create(invitee=user, inviter_id=code.owner_id, code=code)
