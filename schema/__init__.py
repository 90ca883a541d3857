"""The Strawberry schema: the primary API (CONTRACT §4)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from config import Settings
from schema.agent import AgentMutation, AgentQuery, AgentSubscription
from schema.calendar_mutation import CalendarMutation
from schema.calendar_query import CalendarQuery
from schema.errors import ErrorCodes
from schema.mutation import AccountMutation
from schema.parser_cache import SafeParserCache
from schema.query import AccountQuery
from schema.subscription import Subscription as LiveSubscription

Query = merge_types("Query", (AccountQuery, CalendarQuery, AgentQuery))
Mutation = merge_types("Mutation", (AccountMutation, CalendarMutation, AgentMutation))
Subscription = merge_types("Subscription", (LiveSubscription, AgentSubscription))


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Strawberry logs every error with a traceback, a 401 included. Expected errors are
        answers, not incidents; `ErrorCodes` logs the unexpected ones with their reference."""


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodes,
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        partial(SafeParserCache, maxsize=1024),
        partial(ValidationCache, maxsize=1024),
    ]
    if not settings.introspection_enabled:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(batching_config={"max_operations": settings.graphql_max_batch}),
    )
