"""One run, from `RUN_STARTED` to its one `RUN_FINISHED` or `RUN_ERROR`.

The session answers the thread's open approvals, then alternates model turns and server tool
calls until the model has answered, a data-changing tool needs the user's approval (the run ends
with an `interrupt` outcome), or a frontend tool must run in the client (the run ends with
`pendingToolCallIds`). Every event goes to the thread's stream as it happens; messages and state
are stored as they complete, each store recording the id of the newest event it reflects.

A cancel (`self.cancel`, set by the executor) is acted on between steps: the model's stream is
closed at once, a tool that is executing finishes and its result is stored, then the run ends with
`RUN_FINISHED` and the cancelled outcome. Whatever the run had opened (a text message, a tool
call, a step) is closed first, so the run's events stay a valid AG-UI sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import orjson
from ag_ui.core import (
    BaseEvent,
    MessagesSnapshotEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TokenUsage,
    Tool,
    ToolCallResultEvent,
)

from agent_runtime import server_tools
from agent_runtime.approvals import Answer, answered_approvals, approval_requests, read_input
from agent_runtime.chat_model import (
    ChatModel,
    ModelChunk,
    ModelError,
    ModelRequest,
    UsageReport,
)
from agent_runtime.tool_specs import NEEDS_APPROVAL, SERVER_TOOL_NAMES, SERVER_TOOLS
from agent_runtime.turn_extras import RunUsage
from agent_runtime.turn_stream import StreamedCall, TurnStream
from infra.services import Services
from models import AgentRun, AgentThread, User
from models.agent import CANCELLED, FAILED, FINISHED, INTERRUPTED
from observability.tracing import annotate, span
from resolvers.agent_cancel import CANCELLED_RESULT
from resolvers.agent_threads import (
    PENDING_APPROVALS,
    append_messages,
    checkpoint,
    load_messages,
    open_tool_calls,
    parse_messages,
    pending_approvals,
)
from resolvers.timezones import DEFAULT_TIMEZONE, is_timezone
from resolvers.viewer import Viewer

PROTOCOL_VERSION = "1.0"


def _new_id() -> str:
    return str(uuid.uuid4())


class RunCancelled(Exception):
    """Raised inside the session at the next safe point after a cancel was asked for."""


class RunSession:
    def __init__(
        self,
        services: Services,
        model: ChatModel,
        run: AgentRun,
        thread: AgentThread,
        viewer: Viewer,
    ) -> None:
        self.services = services
        self.model = model
        self.run = run
        self.thread = thread
        self.viewer = viewer
        self.input = RunAgentInput.model_validate(run.input)
        self.thread_id = str(thread.id)
        self.state: dict[str, Any] = dict(thread.state or {})
        self.messages: list[dict[str, Any]] = []
        self.last_event_id: str | None = None
        self.cancel = asyncio.Event()  # set when the user cancels the run
        self.stored_calls: list[str] = []  # ids of the tool calls this run stored
        # What the executor records on the run's row when the run ends: the RUN_ERROR code,
        # and the model's token usage (AG-UI-shaped; None unless the model reported it). The
        # usage is filled by whoever reads it from the model and should also go on the run's
        # terminal event.
        self.error_code: str | None = None
        self.usage: Any = None
        self.run_usage = RunUsage(model.name)  # fills `usage` (agent_runtime/turn_extras.py)

    # --- output -------------------------------------------------------------------------------

    async def emit(self, event: BaseEvent) -> str:
        data = event.model_dump(by_alias=True, exclude_none=True, mode="json")
        self.last_event_id = await self.services.streams.append(self.thread_id, data)
        return self.last_event_id

    async def store(self, *bodies: dict[str, Any]) -> None:
        """Store messages (already streamed) and record how far the stored thread reaches."""
        await append_messages(self.thread.id, bodies)
        known = {m["id"] for m in self.messages}
        self.messages.extend(b for b in bodies if b["id"] not in known)
        await self.save_state()

    async def save_state(self) -> None:
        await checkpoint(self.thread, state=self.state, event_id=self.last_event_id)

    async def fail(self, message: str, code: str) -> str:
        self.error_code = code
        await self.emit(RunErrorEvent(message=message, code=code, usage=self._usage()))
        await self.save_state()
        return FAILED

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise RunCancelled

    async def _end_cancelled(self) -> str:
        # Tool calls of this run that were stored but will never run (a cancel between the
        # model's turn and its tools, or before an approval was asked) get a cancelled result:
        # a call without one would make the conversation invalid for the model's next turn.
        unanswered = open_tool_calls(self.messages)
        for call_id in [c for c in self.stored_calls if c in unanswered]:
            await self._tool_result(call_id, dict(CANCELLED_RESULT))
        await self.emit(self._finished(RunFinishedCancelledOutcome()))
        await self.save_state()
        return CANCELLED

    # --- the run ------------------------------------------------------------------------------

    async def execute(self) -> str:
        """Run to the end; returns the run's final status."""
        try:
            return await self._execute()
        except RunCancelled:
            return await self._end_cancelled()

    async def _execute(self) -> str:
        await self.emit(
            RunStartedEvent(
                thread_id=self.thread_id,
                run_id=self.input.run_id,
                parent_run_id=self.input.parent_run_id,
                protocol_version=PROTOCOL_VERSION,
            )
        )
        if self.thread.first_event_id is None:
            # The thread's very first event: snapshots of a trimmed stream are decided by it.
            await checkpoint(self.thread, event_id=self.last_event_id)
        self.messages = await load_messages(self.thread.id)
        answers = await self._take_input()
        await self.emit(StateSnapshotEvent(snapshot=self.state))
        await self.save_state()
        waiting = [a for a in pending_approvals(self.state) if a["toolCallId"] not in answers]
        if waiting:
            names = ", ".join(sorted({a["toolName"] for a in waiting}))
            return await self.fail(
                f"Tool calls are waiting for approval ({names}): answer them with resume "
                "entries or tool messages before continuing.",
                "APPROVAL_REQUIRED",
            )
        await self._apply_answers(answers)
        if not self.messages or self.messages[-1].get("role") not in ("user", "tool"):
            # Nothing new for the model to answer.
            await self.emit(self._finished(RunFinishedSuccessOutcome()))
            await self.save_state()
            return FINISHED
        return await self._converse()

    async def _take_input(self) -> dict[str, Answer]:
        """Store the input's new messages and merge its state; collect approval answers."""
        known = {m["id"] for m in self.messages}
        received = read_input(self.input, known, pending_approvals(self.state))
        if isinstance(self.input.state, dict) and self.input.state:
            # The client's view of the shared state, except the keys the server owns.
            client = {k: v for k, v in self.input.state.items() if k != PENDING_APPROVALS}
            self.state = {**self.state, **client}
        if received.fresh:
            await append_messages(self.thread.id, received.fresh)
            self.messages.extend(received.fresh)
        return received.answers

    async def _apply_answers(self, answers: dict[str, Answer]) -> None:
        for index, entry, answer in answered_approvals(self.state, answers):
            self.check_cancel()
            await self._patch_state([answer.status_change(index)])
            if answer.approved:
                arguments = orjson.dumps(entry.get("args") or {}).decode()
                result = await self._run_tool(entry["toolName"], arguments)
            else:
                result = answer.rejection()
            await self._tool_result(entry["toolCallId"], result, message_id=answer.message_id)

    async def _run_tool(self, name: str, arguments: str) -> dict[str, Any]:
        """A server tool's result, its execution framed as a step (`tool:<name>`)."""
        await self.emit(StepStartedEvent(step_name=f"tool:{name}"))
        result = await server_tools.execute(self.services, self.viewer, name, arguments)
        await self.emit(StepFinishedEvent(step_name=f"tool:{name}"))
        return result

    async def _patch_state(self, operations: list[dict[str, Any]]) -> None:
        # A copy: jsonpatch inserts the operations' values by reference, and later operations
        # would then change the values this delta reports.
        self.state = jsonpatch.apply_patch(self.state, copy.deepcopy(operations))
        await self.emit(StateDeltaEvent.model_validate({"delta": operations}))
        await self.save_state()

    async def _tool_result(
        self, call_id: str, result: dict[str, Any], *, message_id: str | None = None
    ) -> None:
        content = orjson.dumps(result).decode()
        message_id = message_id or _new_id()
        await self.emit(
            ToolCallResultEvent(
                message_id=message_id, tool_call_id=call_id, content=content, role="tool"
            )
        )
        await self.store(
            {"id": message_id, "role": "tool", "toolCallId": call_id, "content": content}
        )

    def _finished(self, outcome: Any) -> RunFinishedEvent:
        return RunFinishedEvent(
            thread_id=self.thread_id,
            run_id=self.input.run_id,
            outcome=outcome,
            usage=self._usage(),
        )

    def _usage(self) -> list[TokenUsage] | None:
        """The run's token usage for its terminal event; also kept for the run's row."""
        self.usage = self.run_usage.as_json()
        return self.run_usage.summary()

    # --- model turns --------------------------------------------------------------------------

    def _tools(self) -> tuple[list[Tool], set[str]]:
        frontend = [t for t in self.input.tools or () if t.name not in SERVER_TOOL_NAMES]
        return [*SERVER_TOOLS, *frontend], {t.name for t in frontend}

    async def _timezone(self) -> str:
        """The zone the model reads dates in: the run's `forwardedProps.timezone`, else the
        thread's `state.timezone`, else the user's profile setting (UTC by default)."""
        for source in (self.input.forwarded_props, self.state):
            zone = source.get("timezone") if isinstance(source, dict) else None
            if is_timezone(zone):
                return str(zone)
        saved = await User.filter(id=self.viewer.user_id).first().values_list("timezone", flat=True)
        return str(saved) if is_timezone(saved) else DEFAULT_TIMEZONE

    async def _converse(self) -> str:
        tools, frontend_names = self._tools()
        context = [f"{c.description}: {c.value}" for c in self.input.context or ()]
        turns = self.services.settings.agent_max_model_turns
        timezone = await self._timezone()
        for turn in range(1, turns + 1):
            self.check_cancel()
            request = ModelRequest(
                messages=parse_messages(self.messages),
                tools=tools,
                now=datetime.now(UTC),
                timezone=timezone,
                context=context,
            )
            try:
                calls = await self._model_turn(request, f"model-turn-{turn}")
            except ModelError as exc:
                return await self.fail(str(exc), "MODEL_ERROR")
            approvals: list[StreamedCall] = []
            frontend: list[str] = []
            executed = False
            for call in calls:
                if call.name in NEEDS_APPROVAL:
                    approvals.append(call)
                elif call.name in frontend_names:
                    frontend.append(call.call_id)
                else:  # a read-only server tool, or an unknown name (answered with an error)
                    self.check_cancel()
                    await self._tool_result(
                        call.call_id, await self._run_tool(call.name, call.text)
                    )
                    executed = True
            self.check_cancel()
            if approvals:
                return await self._interrupt(approvals)
            if frontend:
                await self.emit(
                    self._finished(RunFinishedSuccessOutcome(pending_tool_call_ids=frontend))
                )
                await self.save_state()
                return FINISHED
            if not executed:
                break
        await self.emit(self._finished(RunFinishedSuccessOutcome()))
        await self.save_state()
        return FINISHED

    async def _model_turn(self, request: ModelRequest, step: str) -> list[StreamedCall]:
        """Stream one model turn as events; store the assistant message(s) it produced."""
        # A span per model call (OpenTelemetry's GenAI conventions), whichever the model.
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": self.model.name,
            "agent.step": step,
        }
        with span(f"chat {self.model.name}", attributes, kind="client"):
            calls = await self._stream_turn(request, step)
            annotate({"agent.tool_calls": len(calls)})
            return calls

    async def _stream_turn(self, request: ModelRequest, step: str) -> list[StreamedCall]:
        await self.emit(StepStartedEvent(step_name=step))
        turn = TurnStream(self.emit)
        try:
            async for chunk in self._chunks(self.model.stream(request)):
                if isinstance(chunk, UsageReport):
                    self.run_usage.add(chunk)
                else:
                    await turn.add(chunk)
        except RunCancelled:
            # Close what the turn opened. The text the user saw is kept; tool calls are
            # dropped (they never run, and a call without a result would be half-written).
            await turn.close()
            await self.emit(StepFinishedEvent(step_name=step))
            kept = turn.text_messages()
            if kept:
                await self.store(*kept)
            raise
        await turn.close()
        await self.emit(StepFinishedEvent(step_name=step))
        bodies = turn.messages()
        self.stored_calls.extend(c.call_id for c in turn.calls)
        if bodies:
            await self.store(*bodies)
        return turn.calls

    async def _chunks(self, stream: AsyncIterator[ModelChunk]) -> AsyncIterator[ModelChunk]:
        """The model's chunks until it ends, or until a cancel: then the model's stream is
        closed without waiting for its next chunk, and RunCancelled is raised."""
        iterator = aiter(stream)
        cancelled = asyncio.ensure_future(self.cancel.wait())
        try:
            while True:
                self.check_cancel()
                step = asyncio.ensure_future(anext(iterator))
                await asyncio.wait({step, cancelled}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await step
                    raise RunCancelled
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    return
                yield chunk
        finally:
            cancelled.cancel()
            close = getattr(stream, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def _interrupt(self, calls: list[StreamedCall]) -> str:
        """Ask for approval: list the calls in the state, then end the run as interrupted."""
        operations, interrupts = approval_requests(self.state, calls)
        await self._patch_state(operations)
        await self.emit(StateSnapshotEvent(snapshot=self.state))
        await self.emit(MessagesSnapshotEvent(messages=parse_messages(self.messages)))
        await self.emit(self._finished(RunFinishedInterruptOutcome(interrupts=interrupts)))
        await self.save_state()
        return INTERRUPTED
