"""Strawberry's ParserCache, minus its one flaw: errors escaping the error formatting.

`ParserCache.on_parse` parses before Strawberry's own `try` around parsing, so a syntax error —
or a document over the token cap, which graphql-core reports as a syntax error — escapes as an
exception, ends `ErrorCodes.on_operation` early and leaves without an `extensions.code`. Here a
document that does not parse is left unparsed: Strawberry then parses it itself, inside the
operation, and the error is formatted like every other (BAD_REQUEST).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache


class SafeParserCache(ParserCache):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            context.graphql_document = None  # Strawberry parses again and reports the error
        yield
