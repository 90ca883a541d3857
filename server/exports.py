"""The published descriptions of the API: GraphQL SDL and the OpenAPI document.

`docs/schema.graphql` and `docs/openapi.json` are snapshots of these; tests/test_docs.py fails
when they drift (refresh them with `scripts/update-snapshots.sh`).
"""

from __future__ import annotations

import json

from pydantic import SecretStr

from config import Settings


def _settings() -> Settings:
    # Exports describe the API, the same in every environment; no token is ever signed, so no
    # real key is needed, and ENV=production's demand for one does not apply.
    return Settings(_env_file=None, env="development", jwt_secret=SecretStr("export-only"))


def schema_sdl() -> str:
    from schema import build_schema

    return build_schema(_settings()).as_str() + "\n"


def openapi_json() -> str:
    from server.app import create_app

    document = create_app(_settings(), manage_database=False).openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
