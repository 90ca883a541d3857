from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User


class InviteCode(Model):
    # A personal code (one per user, unlimited) or a limited one made by a user or the CLI.

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    code = fields.CharField(max_length=8, unique=True)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invite_codes", null=True, on_delete=fields.CASCADE
    )
    if TYPE_CHECKING:
        owner_id: uuid.UUID | None
    personal = fields.BooleanField(default=False)
    max_uses = fields.IntField(null=True)
    uses = fields.IntField(default=0)
    expires_at = fields.DatetimeField(null=True)
    disabled = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invite_codes"


class Invitation(Model):
    # Who invited whom, with which code: recorded once, when the invitee's sign-up is confirmed.
    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    invitee: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="invitation", on_delete=fields.CASCADE
    )
    inviter: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="invitations_sent", null=True, on_delete=fields.SET_NULL
    )
    code: fields.ForeignKeyRelation[InviteCode] = fields.ForeignKeyField(
        "models.InviteCode", related_name="invitations", on_delete=fields.CASCADE
    )
    if TYPE_CHECKING:
        invitee_id: uuid.UUID
        inviter_id: uuid.UUID | None
        code_id: uuid.UUID
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invitations"
