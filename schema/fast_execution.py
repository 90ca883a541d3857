"""Completing plain object trees without graphql-core's per-field machinery.

graphql-core completes a result field by field: for every field of every object it builds a
resolve-info object, calls a resolver, checks for awaitables and walks the type. For a list of
50 schedule items with a dozen fields that is 600 round trips through the executor, several
times the cost of the database query that found the items.

`FastExecutor` completes an object (or a list of objects) in one pass instead, when every field
selected below it can be read without graphql-core's help:
- a Strawberry field without a resolver (an attribute), or with a synchronous resolver that takes
  nothing but `self` and answers with a value (not an awaitable), without arguments, permission
  classes or field extensions;
- of a scalar, an enum, or an object type (without `is_type_of`) whose fields qualify in turn;
- collected with graphql-core's own field collection, so aliases, fragments and `@skip` /
  `@include` mean what they always mean.

Anything else, and any surprise while completing (an awaitable, a null in a non-null field, a
value a scalar refuses), falls back to graphql-core for that object or list, which then answers
exactly as it always does, errors included. Reading attributes has no side effects, so starting
over costs nothing but time. Leaf values are serialized by the same `serialize` functions
graphql-core calls, so results are identical (tests/test_fast_execution.py compares them).

The overridden methods and the field collection are graphql-core internals, not its public API:
graphql-core is pinned exactly for them, and `GRAPHQL_FAST_EXECUTION=false` serves GraphQL
without this class (docs/performance.md, "The fast executor").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    OperationType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Completer = Callable[[Any], Any]


class _Fallback(Exception):
    """This value needs graphql-core after all."""


def _awaitable(value: Any) -> bool:
    if not inspect.isawaitable(value):
        return False
    close = getattr(value, "close", None)
    if close is not None:  # a coroutine graphql-core will create again: don't leave it pending
        close()
    return True


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    # Plans are made per execution: field detail lists are per execution too, and compiling one
    # costs about as much as completing one object the slow way.
    def _plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        if self.operation.operation is OperationType.SUBSCRIPTION:
            # Each event of a subscription gets an executor of its own, so a plan would be
            # compiled for every event, at more cost than the few fields it would save.
            return None
        plans: dict[int, Completer | None] = self.__dict__.setdefault("_fast_plans", {})
        key = id(field_details_list)
        if key not in plans:
            plans[key] = self._compile_object(object_type, field_details_list)
        return plans[key]

    def _compile_object(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Completer | None:
        if object_type.is_type_of is not None:
            return None
        grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if defer_usages:
            return None
        fields: list[tuple[str, Callable[[Any], Any], Completer]] = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                fields.append((response_key, _constant(object_type.name), _identity))
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or node.arguments:
                return None
            getter = _getter(field_def.extensions.get("strawberry-definition"))
            if getter is None:
                return None
            complete = self._compile_value(field_def.type, details)
            if complete is None:
                return None
            fields.append((response_key, getter, complete))

        def complete_object(source: Any) -> dict[str, Any]:
            return {key: complete(get(source)) for key, get, complete in fields}

        return complete_object

    def _compile_value(
        self, return_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        if isinstance(return_type, GraphQLNonNull):
            inner = self._compile_value(return_type.of_type, details)
            if inner is None:
                return None

            def complete_non_null(value: Any) -> Any:
                if value is None:
                    raise _Fallback
                return inner(value)

            return complete_non_null
        nullable = self._compile_nullable(return_type, details)
        if nullable is None:
            return None

        def complete_nullable(value: Any) -> Any:
            return None if value is None else nullable(value)

        return complete_nullable

    def _compile_nullable(
        self, return_type: GraphQLOutputType, details: FieldDetailsList
    ) -> Completer | None:
        if isinstance(return_type, GraphQLList):
            item = self._compile_value(return_type.of_type, details)
            if item is None:
                return None

            def complete_list(value: Any) -> list[Any]:
                if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
                    raise _Fallback
                return [item(v) for v in value]

            return complete_list
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            serialize = return_type.serialize

            def complete_leaf(value: Any) -> Any:
                result = serialize(value)
                if result is Undefined or result is None:
                    raise _Fallback
                return result

            return complete_leaf
        if isinstance(return_type, GraphQLObjectType):
            complete_object = self._compile_object(return_type, details)
            if complete_object is None:
                return None

            return complete_object
        return None  # interfaces and unions: graphql-core resolves the runtime type

    # --- graphql-core's entry points ------------------------------------------------------

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        item_type = return_type.of_type
        named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(named, GraphQLObjectType) and isinstance(result, list | tuple):
            plan = self._plan(named, field_details_list)
            if plan is not None:
                non_null = isinstance(item_type, GraphQLNonNull)
                try:
                    return [_complete_item(plan, value, non_null) for value in result]
                except _Fallback:
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(return_type, field_details_list)
        if plan is not None:
            try:
                completed: dict[str, Any] = plan(result)
                return completed
            except _Fallback:
                pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )


def _complete_item(plan: Completer, value: Any, non_null: bool) -> Any:
    if value is None:
        if non_null:
            raise _Fallback
        return None
    if _awaitable(value):  # the list's items came from a resolver
        raise _Fallback
    return plan(value)


def _constant(value: str) -> Callable[[Any], str]:
    return lambda _source: value


def _identity(value: Any) -> Any:
    return value


def _getter(field: Any) -> Callable[[Any], Any] | None:
    """How to read a Strawberry field from its object, or None when only graphql-core may."""
    if field is None or field.permission_classes or field.extensions or field.arguments:
        return None
    resolver = field.base_resolver
    if resolver is None:
        name = field.python_name
        return lambda source: getattr(source, name)
    if resolver.is_async or resolver.arguments or _wants_more_than_self(resolver):
        return None
    function = resolver.wrapped_func

    def resolve(source: Any) -> Any:
        # Only a resolver can hand out an awaitable (attributes are plain values): that value
        # needs graphql-core.
        value = function(source)
        if _awaitable(value):
            raise _Fallback
        return value

    return resolve


def _wants_more_than_self(resolver: Any) -> bool:
    parameters = list(inspect.signature(resolver.wrapped_func).parameters)
    return parameters != ["self"]
