"""The Strawberry schema: the primary API (docs/contract.md §4)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from config import Settings
from observability.tracing import tracing_enabled
from schema.account_mutation import AccountMutation
from schema.account_query import AccountQuery
from schema.agent import AgentMutation, AgentQuery, AgentSubscription
from schema.calendar_feeds import CalendarFeedMutation, CalendarFeedQuery
from schema.calendar_mutation import CalendarMutation
from schema.calendar_query import CalendarQuery
from schema.errors import ErrorCodes
from schema.fast_execution import FastExecutor
from schema.metrics_extension import ErrorCodesAndMetrics
from schema.parser_cache import SafeParserCache
from schema.subscription import Subscription as LiveSubscription

Query = merge_types("Query", (AccountQuery, CalendarQuery, CalendarFeedQuery, AgentQuery))
Mutation = merge_types(
    "Mutation", (AccountMutation, CalendarMutation, CalendarFeedMutation, AgentMutation)
)
Subscription = merge_types("Subscription", (LiveSubscription, AgentSubscription))


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error with a traceback, a 401 included. Expected errors are
        answers, not incidents; `ErrorCodes` logs the unexpected ones with their reference."""


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The rules every document is validated with besides the specification's (the caps)."""
    rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.graphql_max_depth, None),
        max_aliases.create_validator(settings.graphql_max_aliases),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def build_schema(settings: Settings) -> strawberry.Schema:
    # The caps' validation rules are made once: QueryDepthLimiter and MaxAliasesLimiter would
    # make new rule classes for every request, and ValidationCache keys on the rules, so no
    # document would ever be validated from the cache.
    rules = validation_rules(settings)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodesAndMetrics if settings.metrics_enabled else ErrorCodes,
        partial(AddValidationRules, rules),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(SafeParserCache, maxsize=1024),
        partial(ValidationCache, maxsize=1024),
    ]
    if tracing_enabled():  # docs/operations.md, "Traces"
        from schema.tracing_extension import GraphQLTracing

        extensions.append(GraphQLTracing)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # None: Strawberry's own execution context (docs/performance.md, "The fast executor").
        execution_context_class=FastExecutor if settings.graphql_fast_execution else None,
        config=StrawberryConfig(batching_config={"max_operations": settings.graphql_max_batch}),
    )
