#!/usr/bin/env bash
# The test command: every check a change must pass. Run from anywhere: `bash scripts/test.sh`.
# On a bare machine (Go and Debian's apt) it first installs what the tests need: a C compiler for the race
# detector, chromium for the real-browser sign-in test, curl, jq and openssl for e2e/TestREADME, which runs
# the README's shell blocks, and Debian's authlib for the private_key_jwt interoperability test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v git >/dev/null || need+=(git)
command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v openssl >/dev/null || need+=(openssl)
/usr/bin/python3 -c 'import authlib, requests' 2>/dev/null || need+=(python3-authlib)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Say up front which environment-dependent tests run: go test prints skips only with -v.
if docker info >/dev/null 2>&1; then
  echo "Docker engine answers: e2e/TestComposeStack builds the images and runs the stack."
else
  echo "No Docker engine answers: e2e/TestComposeStack will SKIP (the compose stack is not tested in this run)."
fi
echo "Browser for e2e/TestBrowserSignIn: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"

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

step "buf breaking"
# A branch is compared with main; main itself with its previous commit (what CI runs on).
branch=$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo HEAD)
if [ "$branch" != "main" ] && git rev-parse -q --verify refs/heads/main >/dev/null; then
  echo "against main"; buf breaking --against ".git#branch=main,subdir=proto"
elif git rev-parse -q --verify HEAD~1 >/dev/null && [ -n "$(git ls-tree HEAD~1 proto 2>/dev/null)" ]; then
  echo "against the previous commit"; buf breaking --against ".git#ref=HEAD~1,subdir=proto"
else
  echo "no previous schema to compare with"
fi

step "go test -race"
go test -race -count=1 -timeout 20m ./...
