"""Approvals of data-changing tool calls: asking for them, and reading the answers in a run's input.

A run that meets such a call lists it under `state.pendingApprovals` and ends with an `interrupt`
outcome (`approval_requests`). The next run answers it with a resume entry naming the interrupt,
or, the legacy way, with a tool message for the call whose content is `{"approved": …}`; the
session then runs or rejects the call (`read_input`, `answered_approvals`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from ag_ui.core import Interrupt, ReasoningMessage, RunAgentInput, ToolMessage

from agent_runtime.turn_stream import StreamedCall
from resolvers.agent_threads import PENDING_APPROVALS, dump_message


def interrupt_id(tool_call_id: str) -> str:
    return f"approval-{tool_call_id}"


@dataclass(frozen=True, slots=True)
class Answer:
    approved: bool
    reason: str | None
    message_id: str  # the id of the tool message that will carry the call's result

    def status_change(self, index: int) -> dict[str, Any]:
        """The JSON Patch operation that records this answer on approval entry `index`."""
        status = "approved" if self.approved else "rejected"
        return {"op": "replace", "path": f"/{PENDING_APPROVALS}/{index}/status", "value": status}

    def rejection(self) -> dict[str, Any]:
        """The result a rejected call gets instead of running."""
        reason = self.reason or "The user rejected this action."
        return {"ok": False, "rejected": True, "reason": reason}


@dataclass(frozen=True, slots=True)
class RunInput:
    """What a run's input adds: new messages to store, and answers by tool call id."""

    fresh: list[dict[str, Any]]
    answers: dict[str, Answer]


def read_input(
    run_input: RunAgentInput, known: set[str], pending: Sequence[dict[str, Any]]
) -> RunInput:
    """The input's messages not yet stored (`known` ids), and its answers to the `pending`
    approvals, from legacy tool messages and from resume entries."""
    open_approvals = {a["toolCallId"]: a for a in pending}
    answers: dict[str, Answer] = {}
    fresh: list[dict[str, Any]] = []
    for message in run_input.messages:
        if message.id in known:
            continue
        if isinstance(message, ReasoningMessage):
            continue  # reasoning a client echoes back is not history (turn_extras.py)
        if isinstance(message, ToolMessage) and message.tool_call_id in open_approvals:
            # A legacy approval: its result message (same id) will carry the tool's result.
            verdict = _legacy_verdict(message.content)
            if verdict is not None:
                answers[message.tool_call_id] = Answer(*verdict, message_id=message.id)
            continue
        fresh.append(dump_message(message))
    by_interrupt = {interrupt_id(call_id): call_id for call_id in open_approvals}
    for entry in run_input.resume or ():
        call_id = by_interrupt.get(entry.interrupt_id)
        if call_id is None:
            continue
        payload = entry.payload if isinstance(entry.payload, dict) else {}
        approved = entry.status == "resolved" and payload.get("approved") is True
        reason = payload.get("reason")
        answers[call_id] = Answer(
            approved, reason if isinstance(reason, str) else None, message_id=str(uuid.uuid4())
        )
    return RunInput(fresh, answers)


def answered_approvals(
    state: dict[str, Any], answers: dict[str, Answer]
) -> list[tuple[int, dict[str, Any], Answer]]:
    """The pending entries of `state.pendingApprovals` that an answer decides, with their index."""
    decided: list[tuple[int, dict[str, Any], Answer]] = []
    for index, entry in enumerate(state.get(PENDING_APPROVALS) or []):
        if not isinstance(entry, dict):
            continue
        answer = answers.get(str(entry.get("toolCallId")))
        if answer is None or entry.get("status") != "pending":
            continue
        decided.append((index, entry, answer))
    return decided


def approval_requests(
    state: dict[str, Any], calls: Sequence[StreamedCall]
) -> tuple[list[dict[str, Any]], list[Interrupt]]:
    """The JSON Patch operations that list `calls` as pending approvals, and their interrupts."""
    operations: list[dict[str, Any]] = []
    if not isinstance(state.get(PENDING_APPROVALS), list):
        operations.append({"op": "add", "path": f"/{PENDING_APPROVALS}", "value": []})
    interrupts: list[Interrupt] = []
    for call in calls:
        try:
            args = orjson.loads(call.text or "{}")
        except orjson.JSONDecodeError:
            args = {"raw": call.text}
        entry = {
            "toolCallId": call.call_id,
            "toolName": call.name,
            "args": args,
            "status": "pending",
            "interruptId": interrupt_id(call.call_id),
        }
        operations.append({"op": "add", "path": f"/{PENDING_APPROVALS}/-", "value": entry})
        interrupts.append(
            Interrupt(
                id=interrupt_id(call.call_id),
                reason="tool_call",
                tool_call_id=call.call_id,
                message=f"Approve {call.name.replace('_', ' ')}?",
            )
        )
    return operations, interrupts


def _legacy_verdict(content: Any) -> tuple[bool, str | None] | None:
    if not isinstance(content, str):
        return None
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("approved"), bool):
        return None
    reason = value.get("reason")
    return value["approved"], reason if isinstance(reason, str) else None
