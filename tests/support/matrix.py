"""What the app serves, read from the app itself: for the authorization matrix, so that a new
route or GraphQL field cannot be left out of it unnoticed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from graphql import (
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLSchema,
    get_named_type,
)
from strawberry.fastapi import GraphQLRouter

Route = tuple[str, str]  # ("GET", "/api/v1/schedule-items/{id}"); ("WS", "/graphql") for sockets


def _flat_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route as served. FastAPI ≥ 0.120 keeps included routers nested (an
    `_IncludedRouter` per `include_router`) and exposes their routes, prefixes applied, as
    "effective route contexts"; older versions flatten them into `app.routes`."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield route


def served_routes(app: FastAPI) -> set[Route]:
    """(METHOD, path) of every HTTP route and ("WS", path) of every websocket route; HEAD
    (answered for every GET) is left out, and so are static mounts."""
    served: set[Route] = set()
    for route in _flat_routes(app.routes):
        path = route.path or getattr(getattr(route, "original_route", None), "path", "")
        methods = getattr(route, "methods", None)
        if methods:
            served |= {(method, path) for method in methods if method != "HEAD"}
        elif type(getattr(route, "original_route", route)).__name__ == "APIWebSocketRoute":
            served.add(("WS", path))
    return served


def graphql_schema(app: FastAPI) -> GraphQLSchema:
    """The graphql-core schema the app's /graphql router serves."""
    for route in app.routes:
        router = getattr(route, "original_router", None)
        if isinstance(router, GraphQLRouter):
            schema: GraphQLSchema = router.schema._schema  # type: ignore[attr-defined]
            return schema
    for route in _flat_routes(app.routes):  # older FastAPI: the router's routes, flattened
        endpoint = getattr(route, "endpoint", None)
        owner = getattr(endpoint, "__self__", None)
        if isinstance(owner, GraphQLRouter):
            found: GraphQLSchema = owner.schema._schema  # type: ignore[attr-defined]
            return found
    raise AssertionError("the app serves no GraphQL router")


def _carries_id(named: GraphQLNamedType, seen: set[str]) -> bool:
    if named.name in ("ID", "JSON"):  # JSON: an AG-UI RunAgentInput carries a threadId
        return True
    if isinstance(named, GraphQLInputObjectType) and named.name not in seen:
        seen.add(named.name)
        return any(
            get_named_type(field.type).name == "ID" or _carries_id(get_named_type(field.type), seen)
            for field in named.fields.values()
            if get_named_type(field.type).name != "JSON"  # free-form metadata, not an id
        )
    return False


def fields_of(schema: GraphQLSchema) -> dict[str, set[str]]:
    """Every root field: {"Query": {...}, "Mutation": {...}, "Subscription": {...}}."""
    roots = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    return {name: set(root.fields) if root else set() for name, root in roots.items()}


def id_fields(schema: GraphQLSchema) -> set[str]:
    """ "Type.field" of every root field with an argument that is (or holds) an ID, or is a
    top-level JSON argument (agent run inputs name their thread inside)."""
    found: set[str] = set()
    for type_name, names in fields_of(schema).items():
        root = schema.get_type(type_name)
        assert root is not None
        for name in names:
            field = root.fields[name]  # type: ignore[attr-defined]
            if any(_carries_id(get_named_type(arg.type), set()) for arg in field.args.values()):
                found.add(f"{type_name}.{name}")
    return found
