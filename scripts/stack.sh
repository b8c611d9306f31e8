#!/usr/bin/env bash
# Builds the static authsuite binary and image, then runs docker compose with the given arguments
# (default: up -d). Usage: AUTHSUITE_MASTER_KEY=… AUTHSUITE_BOOTSTRAP_SECRET=… bash scripts/stack.sh [up -d|down -v|…]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/empty
CGO_ENABLED=0 go build -trimpath -ldflags=-s -o build/authsuite ./cmd/authsuite
# The gateway container gets the gateway credential (which opens only the services' browser-facing calls),
# never the master key it is derived from.
if [ -z "${AUTHSUITE_GATEWAY_CREDENTIAL:-}" ] && [ -n "${AUTHSUITE_MASTER_KEY:-}" ]; then
  AUTHSUITE_GATEWAY_CREDENTIAL="$(build/authsuite gateway-credential)"
  export AUTHSUITE_GATEWAY_CREDENTIAL
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
if [ $# -eq 0 ]; then set -- up -d; fi
exec "${compose[@]}" "$@"
