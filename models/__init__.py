"""Tortoise models. Tortoise discovers them by importing this package (app label `models`)."""

from models.agent import AgentMessage, AgentRun, AgentThread
from models.auth import AuthSession, PendingSignup, RefreshToken, VerificationCode
from models.calendar_feeds import CalendarFeed
from models.friends import FriendRequest, Friendship
from models.inbox import InboxMessage
from models.invites import Invitation, InviteCode
from models.schedule import ScheduleItem, ScheduleSubscription
from models.users import User

__all__ = [
    "AgentMessage",
    "AgentRun",
    "AgentThread",
    "AuthSession",
    "CalendarFeed",
    "FriendRequest",
    "Friendship",
    "InboxMessage",
    "Invitation",
    "InviteCode",
    "PendingSignup",
    "RefreshToken",
    "ScheduleItem",
    "ScheduleSubscription",
    "User",
    "VerificationCode",
]
