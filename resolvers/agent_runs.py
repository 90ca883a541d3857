"""Accepting agent runs: validation, thread ownership, idempotency, and queueing.

Both doors (`POST /agent/runs`, `POST /agent`, `startAgentRun`, and the resume variants) come
here. The run is executed later by a worker (agent_runtime/); this module only decides whether it
may run and records it.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from ag_ui.core import RunAgentInput, ToolMessage
from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from infra.services import Services
from models import AgentRun, AgentThread
from models.agent import UNFINISHED
from resolvers.agent_parts import check_parts
from resolvers.agent_threads import (
    NOT_YOURS,
    load_messages,
    open_tool_calls,
    own_or_create_thread,
    pending_approvals,
)
from resolvers.errors import Conflict, Forbidden, InvalidInput, NotFound
from resolvers.input_base import _storable
from resolvers.viewer import Viewer

_MAX_RUN_ID = 200


@dataclass(frozen=True, slots=True)
class RunTicket:
    task_id: str
    thread_id: str
    run_id: str
    created: bool


def parse_run_input(payload: Any) -> RunAgentInput:
    """A RunAgentInput, or 422 naming the offending fields."""
    if not isinstance(payload, dict):
        raise InvalidInput(
            "The body must be an AG-UI RunAgentInput object.",
            [{"loc": ["body"], "msg": "expected an object"}],
        )
    try:
        _storable(payload)
    except ValueError as exc:
        raise InvalidInput(str(exc), [{"loc": ["body"], "msg": str(exc)}]) from None
    try:
        run_input = RunAgentInput.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *exc_item["loc"]], "msg": exc_item["msg"]}
            for exc_item in exc.errors(include_url=False, include_context=False)
        ]
        raise InvalidInput("The body is not a valid AG-UI RunAgentInput.", errors) from None
    if not run_input.run_id or len(run_input.run_id) > _MAX_RUN_ID:
        raise InvalidInput(
            f"runId must be 1 to {_MAX_RUN_ID} characters.",
            [{"loc": ["body", "runId"], "msg": "invalid length"}],
        )
    return run_input


def thread_uuid(text: str, loc: list[str]) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidInput(
            "threadId must be a UUID.", [{"loc": loc, "msg": "not a UUID"}]
        ) from None


def _approval_answer(content: Any) -> bool:
    """True when a legacy tool message's content is `{"approved": bool, ...}`."""
    if not isinstance(content, str):
        return False
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and isinstance(value.get("approved"), bool)


async def _check_answers(thread: AgentThread | None, run_input: RunAgentInput) -> None:
    """Tool messages and resume entries must answer calls that are open on the thread."""
    messages = await load_messages(thread.id) if thread is not None else []
    known = {m["id"] for m in messages}
    open_calls = open_tool_calls(messages)
    approvals = pending_approvals(thread.state) if thread is not None else []
    interrupt_ids = {a.get("interruptId") for a in approvals}
    for index, message in enumerate(run_input.messages):
        if not isinstance(message, ToolMessage) or message.id in known:
            continue
        if message.tool_call_id not in open_calls:
            raise InvalidInput(
                "A tool message answers a tool call that is not open on this thread.",
                [{"loc": ["body", "messages", index, "toolCallId"], "msg": "unknown tool call"}],
            )
        approval = next((a for a in approvals if a["toolCallId"] == message.tool_call_id), None)
        if approval is not None and not _approval_answer(message.content):
            raise InvalidInput(
                'An approval is answered with the content {"approved": true|false}.',
                [{"loc": ["body", "messages", index, "content"], "msg": "not an approval"}],
            )
    for index, entry in enumerate(run_input.resume or ()):
        if entry.interrupt_id not in interrupt_ids:
            raise InvalidInput(
                "A resume entry answers an interrupt that is not open on this thread.",
                [{"loc": ["body", "resume", index, "interruptId"], "msg": "unknown interrupt"}],
            )


async def accept_run(
    services: Services, viewer: Viewer, payload: Any, *, path_thread_id: str | None = None
) -> RunTicket:
    """Record and queue a run (202), or return the one already recorded under its runId."""
    run_input = parse_run_input(payload)
    check_parts(run_input, services.settings.agent_max_attachment_bytes)
    if path_thread_id is not None and run_input.thread_id != path_thread_id:
        raise InvalidInput(
            "threadId in the body must equal the thread in the path.",
            [{"loc": ["body", "threadId"], "msg": "does not match the path"}],
        )
    thread_key = thread_uuid(run_input.thread_id, ["body", "threadId"])
    thread = await AgentThread.get_or_none(id=thread_key)
    if thread is not None:
        if thread.owner_id != viewer.user_id:
            raise Forbidden(NOT_YOURS)
        existing = await AgentRun.get_or_none(thread_id=thread.id, run_id=run_input.run_id)
        if existing is not None:
            return _ticket(existing, created=False)
    # Validate before creating the thread, so a refused first run leaves no row behind.
    await _check_answers(thread, run_input)
    if thread is None:
        if path_thread_id is not None:
            raise NotFound("No agent thread with this id: start it with POST /agent/runs.")
        thread = await own_or_create_thread(viewer, thread_key)
    stored_input = run_input.model_dump(by_alias=True, exclude_none=True, mode="json")
    try:
        async with in_transaction():
            await _claim_answers(thread.id, run_input.run_id, stored_input)
            run = await AgentRun.create(
                thread_id=thread.id,
                run_id=run_input.run_id,
                task_id=secrets.token_hex(16),
                input=stored_input,
            )
    except IntegrityError:
        # The same (threadId, runId) was accepted concurrently: that one is the run.
        run = await AgentRun.get(thread_id=thread.id, run_id=run_input.run_id)
        return _ticket(run, created=False)
    await services.run_queue.submit(run.id)
    return _ticket(run, created=True)


def _answers(stored_input: dict[str, Any]) -> set[str]:
    """The interrupts a run input answers, as interrupt ids (a legacy tool message answers the
    interrupt `approval-<toolCallId>`, the same id a resume entry names)."""
    answered = {str(entry.get("interruptId")) for entry in stored_input.get("resume") or ()}
    for message in stored_input.get("messages") or ():
        if message.get("role") == "tool" and message.get("toolCallId"):
            answered.add(f"approval-{message['toolCallId']}")
    return answered


async def _claim_answers(thread_id: uuid.UUID, run_id: str, stored_input: dict[str, Any]) -> None:
    """409 when a run accepted earlier and not finished yet answers one of the same interrupts.

    Answers are checked against what is open when a run is accepted, but the thread only
    changes when that run executes: two resumes sent at once would both find the approval open
    and both be accepted. Locking the thread row (on PostgreSQL; SQLite runs one transaction at
    a time anyway) serializes the check with the insert of the run that wins."""
    answered = _answers(stored_input)
    if not answered:
        return
    await AgentThread.select_for_update().filter(id=thread_id).first()
    # The same runId again is the same run: its insert fails and the existing run is answered.
    pending = (
        await AgentRun.filter(thread_id=thread_id, status__in=UNFINISHED)
        .exclude(run_id=run_id)
        .values_list("input", flat=True)
    )
    for other in pending:
        if isinstance(other, dict) and answered & _answers(other):
            raise Conflict("Another run answering the same approval was accepted; it goes first.")


def _ticket(run: AgentRun, *, created: bool) -> RunTicket:
    return RunTicket(
        task_id=run.task_id, thread_id=str(run.thread_id), run_id=run.run_id, created=created
    )
