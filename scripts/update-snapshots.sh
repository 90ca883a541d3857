#!/usr/bin/env bash
# Refresh the generated API descriptions in docs/ after changing the schema or a route.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime-api export-schema > docs/schema.graphql
runtime-api export-openapi > docs/openapi.json
echo "docs/schema.graphql and docs/openapi.json updated"
