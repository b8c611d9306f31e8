#!/usr/bin/env bash
# The test command: every check a change must pass. Run from anywhere: `bash scripts/test.sh`.
# Needs Go and, for the race detector, a C compiler (.ci/run installs it on a bare machine).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
buf() { go tool -modfile=tools/go.mod buf "$@"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/') 2>&1 || true)
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "buf lint, buf format"
buf lint
buf format --diff --exit-code

step "generated code is up to date"
bash scripts/generate.sh
if [ -n "$(git status --porcelain -- gen services/gateway/openapi.json)" ]; then
  echo "scripts/generate.sh changed generated files: commit them"; git status --porcelain -- gen services/gateway/openapi.json; exit 1
fi

step "buf breaking against the previous commit"
if git rev-parse -q --verify HEAD~1 >/dev/null && git ls-tree -d HEAD~1 proto >/dev/null 2>&1 && [ -n "$(git ls-tree HEAD~1 proto)" ]; then
  buf breaking --against ".git#ref=HEAD~1,subdir=proto"
else
  echo "no previous schema to compare with"
fi

step "go test -race"
go test -race -count=1 -timeout 20m ./...
