from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.users import User

# AgentRun.status: queued -> running -> one of the end states. A run moves only forward, by
# conditional UPDATEs, so two workers can never both execute it. `interrupted` (waiting for an
# approval) ends the run's execution but can still be cancelled; `cancelled` is reached from
# queued (by the canceller), running (by the worker, once it sees the request) or interrupted.
QUEUED, RUNNING = "queued", "running"
FINISHED, INTERRUPTED, FAILED, CANCELLED = "finished", "interrupted", "error", "cancelled"
UNFINISHED = (QUEUED, RUNNING)
CANCELLABLE = (QUEUED, RUNNING, INTERRUPTED)
RUN_STATUSES = (QUEUED, RUNNING, INTERRUPTED, FINISHED, FAILED, CANCELLED)


class AgentThread(Model):
    # A conversation. It belongs to the user whose run created it; `state` is the AG-UI shared
    # state (with the server-owned `pendingApprovals`); the event ids record how much of the
    # thread's stream the stored state and messages reflect (snapshots resume from there).
    id = fields.UUIDField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="agent_threads", on_delete=fields.CASCADE
    )
    state: dict[str, Any] = fields.JSONField(default=dict)
    first_event_id = fields.CharField(max_length=48, null=True)
    last_event_id = fields.CharField(max_length=48, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_active_at = fields.DatetimeField()
    if TYPE_CHECKING:
        owner_id: uuid.UUID

    class Meta:
        table = "agent_threads"
        indexes = (("owner_id", "last_active_at"),)


class AgentRun(Model):
    # One accepted RunAgentInput. The integer key orders the runs of a thread: they execute one
    # at a time in that order. A running run holds a lease its worker renews; a run whose lease
    # lapses (the worker died) is ended with RUN_ERROR by any worker's reaper.
    id = fields.BigIntField(primary_key=True)
    thread: fields.ForeignKeyRelation[AgentThread] = fields.ForeignKeyField(
        "models.AgentThread", related_name="runs", on_delete=fields.CASCADE
    )
    run_id = fields.CharField(max_length=200)
    task_id = fields.CharField(max_length=64, unique=True)
    status = fields.CharField(max_length=16, default=QUEUED)
    input: dict[str, Any] = fields.JSONField()
    worker = fields.CharField(max_length=80, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    # The RUN_ERROR code of a run that ended in `error`.
    error = fields.CharField(max_length=64, null=True)
    # The model's token usage (AG-UI-shaped JSON), null unless the model reported it.
    usage: dict[str, Any] | None = fields.JSONField(null=True)
    # Set when a cancel is asked for a running run: the worker executing it ends it as
    # `cancelled`. The column outlives the wake-up signal (a worker that missed the signal
    # sees it when it renews its lease).
    cancel_requested_at = fields.DatetimeField(null=True)
    if TYPE_CHECKING:
        thread_id: uuid.UUID

    class Meta:
        table = "agent_runs"
        unique_together = (("thread_id", "run_id"),)
        indexes = (("thread_id", "status"), ("status", "lease_expires_at"))


class AgentMessage(Model):
    # Every message of a thread as an AG-UI message object (camelCase, no nulls), in the order the
    # thread saw them; `created_at` decides its history day (UTC).
    id = fields.BigIntField(primary_key=True)
    thread: fields.ForeignKeyRelation[AgentThread] = fields.ForeignKeyField(
        "models.AgentThread", related_name="messages", on_delete=fields.CASCADE
    )
    message_id = fields.CharField(max_length=200)
    role = fields.CharField(max_length=16)
    body: dict[str, Any] = fields.JSONField()
    created_at = fields.DatetimeField()
    if TYPE_CHECKING:
        thread_id: uuid.UUID

    class Meta:
        table = "agent_messages"
        unique_together = (("thread_id", "message_id"),)
        indexes = (("thread_id", "created_at"),)
