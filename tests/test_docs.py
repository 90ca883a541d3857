"""The documentation cannot drift from the app: routes, GraphQL SDL and OpenAPI snapshots."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.app import create_app
from server.exports import _settings, openapi_json, schema_sdl

DOCS = Path(__file__).resolve().parent.parent / "docs"
PROBLEM = "application/problem+json"


def app_routes() -> set[str]:
    # FastAPI nests included routers, so the OpenAPI document is the flat list of routes;
    # no /api/v1 route is excluded from it (include_in_schema stays on).
    document = create_app(_settings(), manage_database=False).openapi()
    routes = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert routes, "the app serves no routes?"
    return routes


def documented_routes() -> set[str]:
    text = (DOCS / "api-routes.md").read_text()
    return set(re.findall(r"^### ([A-Z]+ /\S+)$", text, flags=re.MULTILINE))


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    served, documented = app_routes(), documented_routes()
    assert served - documented == set(), "routes missing from docs/api-routes.md"
    assert documented - served == set(), "docs/api-routes.md names routes the app lacks"


def test_graphql_schema_snapshot_is_current() -> None:
    assert (DOCS / "schema.graphql").read_text() == schema_sdl(), (
        "docs/schema.graphql is stale: run scripts/update-snapshots.sh"
    )


def test_openapi_snapshot_is_current() -> None:
    assert (DOCS / "openapi.json").read_text() == openapi_json(), (
        "docs/openapi.json is stale: run scripts/update-snapshots.sh"
    )


def test_openapi_lists_the_problem_responses_of_each_route() -> None:
    document = json.loads(openapi_json())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if operation.get("security"):
                assert "401" in responses, f"{where} needs 401"
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in responses, f"{where} needs 422"
            for status, response in responses.items():
                if int(status) >= 400:
                    assert PROBLEM in response["content"], f"{where} {status} is not a problem"
