"""Tortoise models. Tortoise discovers them by importing this package (app label `models`)."""

from models.auth import AuthSession, PendingSignup, RefreshToken, VerificationCode
from models.invites import Invitation, InviteCode
from models.users import User

__all__ = [
    "AuthSession",
    "Invitation",
    "InviteCode",
    "PendingSignup",
    "RefreshToken",
    "User",
    "VerificationCode",
]
