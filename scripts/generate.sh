#!/usr/bin/env bash
# Regenerates everything derived from proto/: Go code and the OpenAPI document in gen/, and the copy of
# that document the gateway embeds and serves at /openapi.json.
set -euo pipefail
cd "$(dirname "$0")/.."
go tool -modfile=tools/go.mod buf generate
cp gen/openapiv2/authsuite.swagger.json services/gateway/openapi.json
