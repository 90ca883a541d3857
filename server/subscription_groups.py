"""Grouped websocket subscriptions: execute once per group, encode once, write to many.

A websocket `agentEvents` subscription joins a group when its operation can be proven to give
every member the same frames: the document is one subscription operation whose only root field
is `agentEvents`, with no directive anywhere (a directive could depend on a variable or on the
viewer) — below it, `AgentEvent`'s fields are plain values of the event. Members of a group share
the viewer's user (only a thread's owner may watch it), the thread and the document; variables
do not matter, since nothing below the root field reads them. The group runs the operation
through Strawberry once (schema/group_feed.py), encodes each result's `payload` once, and each
member's frame is that text with its own operation id spliced in front. Joining mid-stream with
`after`, and groups converging again, are described in subscriptions/fanout.py.

Every other operation, and any subscriber whose setup fails (no viewer, a bad cursor, another
user's thread, the stream cap), takes the per-subscriber path, which answers exactly as before
(errors included). Each member keeps its own stream slot and its own sign-out watch
(`until_signed_out`): a member that signs out stops, the others continue.

A member whose client reads too slowly for `WS_MAX_QUEUED_BYTES` of queued text is closed with
1013 (Try Again Later); it resumes with `after` from the last event it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.language import Visitor
from strawberry.schema import BaseSchema
from strawberry.types.execution import ExecutionResult, PreExecutionError

from config import Settings
from infra.services import Services
from infra.stream_caps import StreamSlot
from resolvers.viewer import Viewer
from schema import validation_rules
from schema.agent import parse_thread_id
from schema.context import Context
from schema.group_feed import EventFeed
from subscriptions.agent_events import (
    check_cursor,
    hold_stream,
    open_thread_events,
    stream_caps_of,
)
from subscriptions.fanout import FanoutHub, Item, Member
from subscriptions.session_bound import until_signed_out

log = logging.getLogger(__name__)

SLOW_CONSUMER_CODE = 1013  # RFC 6455 "Try Again Later": clients reconnect, and resume
SLOW_CONSUMER_REASON = "Too slow: reconnect and resume with after"
_PLAN_CACHE = 256


class GroupUnavailable(Exception):
    """The group's execution did not start (e.g. a document the caps refuse after all): its
    members take the per-subscriber path, which reports the problem as it always has."""


@dataclass(frozen=True)
class Plan:
    """What an eligible document needs at subscribe time: where `threadId` and `after` come from
    (a literal value node, or a variable's name)."""

    thread: ValueNode
    after: ValueNode | None


class _HasDirective(Visitor):
    found = False

    def enter_directive(self, _node: DirectiveNode, *_: Any) -> None:
        self.found = True


def _plan(
    schema: BaseSchema, rules: list[Any], max_tokens: int, query: str, operation_name: str | None
) -> Plan | None:
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    if _has_directive(document):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if field.name.value != "agentEvents":
        return None
    core = getattr(schema, "_schema", None)  # graphql-core's schema behind Strawberry's
    if not isinstance(core, GraphQLSchema) or validate(core, document, [*specified_rules, *rules]):
        return None
    arguments = {a.name.value: a.value for a in field.arguments or ()}
    thread = arguments.get("threadId")
    if thread is None:
        return None
    if any(
        isinstance(v, VariableNode) and _has_default(operations[0], v.name.value)
        for v in arguments.values()
    ):
        return None  # defaults are for graphql-core to apply
    return Plan(thread, arguments.get("after"))


def _has_directive(document: DocumentNode) -> bool:
    visitor = _HasDirective()
    visit(document, visitor)
    return visitor.found


def _has_default(operation: OperationDefinitionNode, name: str) -> bool:
    return any(
        d.variable.name.value == name and d.default_value is not None
        for d in operation.variable_definitions or ()
    )


_MISSING = object()


def _value(node: ValueNode | None, variables: dict[str, Any] | None) -> object:
    """A string argument's raw value: None when absent or null, `_MISSING` when not a string
    (graphql-core's coercion, on the per-subscriber path, has the say then)."""
    if node is None or isinstance(node, NullValueNode):
        return None
    if isinstance(node, StringValueNode):
        return node.value
    if isinstance(node, VariableNode):
        value = (variables or {}).get(node.name.value)
        return value if value is None or isinstance(value, str) else _MISSING
    return _MISSING


def encode_payload(result: ExecutionResult, encode_json: Callable[[object], str | bytes]) -> str:
    """A result as the `payload` of a `next` / `data` message, exactly as Strawberry builds it."""
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    encoded = encode_json(payload)
    return encoded.decode() if isinstance(encoded, bytes) else encoded


def frame_head(protocol_message: str, operation_id: str) -> str:
    """The text before the payload of one operation's data frames; the frame ends with `}`.
    Key order as Strawberry's messages: `{id, type, payload}` for graphql-transport-ws `next`,
    `{type, id, payload}` for legacy graphql-ws `data`."""
    encoded_id = orjson.dumps(operation_id).decode()
    if protocol_message == "next":
        return '{"id":' + encoded_id + ',"type":"next","payload":'
    return '{"type":"data","id":' + encoded_id + ',"payload":'


async def _forever() -> AsyncIterator[None]:
    """A stream with no items that never ends (what `until_signed_out` watches beside)."""
    await asyncio.Event().wait()
    yield  # pragma: no cover


@dataclass(eq=False)
class GroupedSubscription:
    """One subscriber's membership: its frames, its stream slot, its sign-out watch."""

    groups: SubscriptionGroups
    viewer: Viewer
    member: Member
    slot: StreamSlot

    async def deliver(self, head: str, send_text: Callable[[str], Awaitable[None]]) -> None:
        """Writes every event to the client until the stream ends, the session is revoked or
        the operation is cancelled; raises `SlowConsumer` when the client fell too far behind
        and `GroupUnavailable` when the group could not execute the operation."""
        watch = asyncio.create_task(self._end_when_signed_out())

        async def write(payload: str) -> None:
            await send_text(head + payload + "}")

        try:
            await self.member.write_all(write)
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch
            self.close()

    async def _end_when_signed_out(self) -> None:
        """`until_signed_out` watches the session beside the events rather than around them:
        a hand-off between two tasks per event and subscriber is a large part of a fan-out's
        cost, and the watch needs no event to notice a revocation."""
        try:
            async for _ in until_signed_out(self.groups.services, self.viewer, _forever()):
                pass  # pragma: no cover - `_forever` yields nothing
        except Exception:  # the session could not be checked: end the stream rather than risk it
            log.warning("session watch of a grouped subscription failed", exc_info=True)
        self.member.revoke()

    def close(self) -> None:
        self.groups.hub.leave(self.member)
        self.slot.release()


class SubscriptionGroups:
    """The process's grouped websocket subscriptions (one per app, on the GraphQL router)."""

    def __init__(
        self,
        schema: BaseSchema,
        services: Services,
        settings: Settings,
        encode_json: Callable[[object], str | bytes],
    ) -> None:
        self.schema = schema
        self.services = services
        self.hub = FanoutHub()
        self.encode_json = encode_json
        self.max_queued_bytes = settings.ws_max_queued_bytes
        self._rules = validation_rules(settings)
        self._max_tokens = settings.graphql_max_tokens
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()

    def group_sizes(self, thread_id: uuid.UUID) -> list[int]:
        """The member counts of the thread's groups (tests and diagnostics)."""
        return self.hub.group_sizes(lambda key: isinstance(key, tuple) and key[1] == thread_id)

    def plan(self, query: object, operation_name: object) -> Plan | None:
        if not isinstance(query, str) or not (
            operation_name is None or isinstance(operation_name, str)
        ):
            return None
        key = (query, operation_name)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = _plan(self.schema, self._rules, self._max_tokens, query, operation_name)
        self._plans[key] = plan
        if len(self._plans) > _PLAN_CACHE:
            self._plans.popitem(last=False)
        return plan

    async def join(
        self,
        context: Context,
        query: object,
        variables: dict[str, Any] | None,
        operation_name: object,
        on_overflow: Callable[[], None],
    ) -> GroupedSubscription | None:
        """The subscriber's membership of its group, or None: take the per-subscriber path."""
        plan = self.plan(query, operation_name)
        if plan is None or context.request is None:
            return None
        if variables is not None and not isinstance(variables, dict):
            return None
        thread, after = _value(plan.thread, variables), _value(plan.after, variables)
        if not isinstance(thread, str) or after is _MISSING:
            return None
        assert after is None or isinstance(after, str)
        try:
            viewer = await context.viewer()
            cursor = check_cursor(after, ["after"])
            thread_id = parse_thread_id(thread, "threadId")
            slot = await hold_stream(stream_caps_of(context.request.app.state), viewer)
        except Exception:  # the per-subscriber path answers with the error, as always
            return None
        try:
            events = await open_thread_events(self.services, viewer, thread_id, cursor)
        except BaseException as exc:
            slot.release()
            if isinstance(exc, Exception):
                return None
            raise
        member = Member(self.max_queued_bytes, on_overflow)
        key = (viewer.user_id, thread_id, query, operation_name)
        started = self.hub.join(
            key, cursor, member, lambda: self._results(query, variables, operation_name, events)
        )
        grouped = GroupedSubscription(self, viewer, member, slot)
        if not started:  # its own stream was opened for the checks only
            try:
                with contextlib.suppress(Exception):
                    await events.aclose()  # type: ignore[attr-defined]
            except BaseException:
                grouped.close()
                raise
        return grouped

    async def _results(
        self,
        query: object,
        variables: dict[str, Any] | None,
        operation_name: object,
        events: AsyncIterator[tuple[str, dict[str, Any]]],
    ) -> AsyncIterator[Item]:
        """The group's one execution: (stream id, encoded payload) per event."""
        assert isinstance(query, str)
        assert operation_name is None or isinstance(operation_name, str)
        feed = EventFeed(events)
        results = await self.schema.subscribe(
            query,
            variable_values=variables,
            context_value=Context(self.services),
            root_value=feed,
            operation_name=operation_name,
        )
        try:
            async for result in results:
                if isinstance(result, PreExecutionError) or feed.position is None:
                    raise GroupUnavailable
                yield feed.position, encode_payload(result, self.encode_json)
        finally:
            with contextlib.suppress(Exception):
                await results.aclose()
            with contextlib.suppress(Exception):
                await feed.aclose()


async def close_slow(close: Callable[[int, str], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):
        await close(SLOW_CONSUMER_CODE, SLOW_CONSUMER_REASON)


def overflow_closer(
    close: Callable[[int, str], Awaitable[None]],
) -> tuple[Callable[[], None], set[asyncio.Task[None]]]:
    """A callback that closes the socket once (the pump cannot await), and the task it keeps."""
    tasks: set[asyncio.Task[None]] = set()

    def on_overflow() -> None:
        if not tasks:
            tasks.add(asyncio.create_task(close_slow(close)))

    return on_overflow, tasks
