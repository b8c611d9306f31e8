#!/usr/bin/env bash
# Runs docker-compose.yml (one container per role, images FROM scratch built here) with the given compose
# arguments (default: up -d), using the `docker compose` plugin when it answers, else docker-compose.
#
#   bash scripts/stack.sh up -d --build     build the binary and image, start (or update) the stack
#   bash scripts/stack.sh ps | logs | stop | down    need no variable at all
#   bash scripts/stack.sh -f docker-compose.cluster.yml up -d --build
#                                           the cluster: three etcd members, two replicas of every role; the
#                                           etcd server and the balancer are built here too
#
# Variables (all optional):
#   AUTHSUITE_MASTER_KEY        the suite's master key (base64 of 32 bytes). When unset, the key in
#                               AUTHSUITE_MASTER_KEY_FILE is used; the first `up` creates that file (mode 0600)
#                               and every later `up` reuses it. Back the file up: losing the key destroys every
#                               client secret and sealed record. A set AUTHSUITE_MASTER_KEY wins over the file.
#   AUTHSUITE_MASTER_KEY_FILE   where that key lives on this host (default ./.authsuite/master.key, gitignored)
#   AUTHSUITE_BOOTSTRAP_SECRET  the admin client's secret on the first `up` (default: generated and printed once
#                               in the registry's log: bash scripts/stack.sh logs registry); ignored afterwards
#   AUTHSUITE_BOOTSTRAP_PASSWORD  creates user admin with this password on the first `up`
#   AUTHSUITE_PUBLISH           host address the gateway's REST port is published on (default 127.0.0.1:8080)
#   AUTHSUITE_PUBLIC_URL        the issuer URL clients use to reach it (default http://127.0.0.1:8080); set it
#                               whenever AUTHSUITE_PUBLISH or a proxy in front changes the address
# The gateway container gets the gateway credential derived from the key (which opens only the services'
# browser-facing calls), never the key itself. /metrics, /healthz and /readyz answer on each container's
# admin port (8081-8084 inside the compose network), never published.
set -euo pipefail
cd "$(dirname "$0")/.."

# The compose subcommand: the first argument that is neither an option nor an option's value.
sub=""
cluster=0 # whether the compose file is the cluster's, which needs the etcd server and the balancer too
args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(up -d); fi
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
  -f | --file)
    case "${args[i + 1]:-}" in *docker-compose.cluster.yml) cluster=1 ;; esac
    i=$((i + 1))
    ;;
  -p | --project-name | --env-file | --profile | --project-directory | --ansi | --log-level | -H | --host | --context | -c) i=$((i + 1)) ;;
  -*) ;;
  *) sub="${args[i]}"; break ;;
  esac
done

case "$sub" in
up | run | create | start | restart | build) needs_key=1 ;;
*) needs_key=0 ;;
esac

if [ "$needs_key" = 1 ]; then
  mkdir -p build/empty
  CGO_ENABLED=0 go build -trimpath -ldflags=-s -o build/authsuite ./cmd/authsuite
  if [ "$cluster" = 1 ]; then
    # The etcd release pinned in tools/go.mod, and the balancer in front of the gateways.
    (cd tools && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o ../build/etcd go.etcd.io/etcd/server/v3)
    CGO_ENABLED=0 go build -trimpath -ldflags=-s -o build/tcpbalance ./internal/cmd/tcpbalance
  fi
fi

key_file="${AUTHSUITE_MASTER_KEY_FILE:-./.authsuite/master.key}"
if [ -z "${AUTHSUITE_MASTER_KEY:-}" ]; then
  if [ ! -e "$key_file" ] && [ "$needs_key" = 1 ]; then
    # Created once, readable by this user only; noclobber never overwrites a key another run just wrote.
    if (umask 077 && mkdir -p "$(dirname "$key_file")" && set -C &&
      printf '%s\n' "$(head -c32 /dev/urandom | base64)" >"$key_file") 2>/dev/null; then
      echo "stack.sh: created the master key in $key_file (mode 0600); every later up reuses it." >&2
      echo "stack.sh: back it up: losing it destroys every client secret and sealed record." >&2
    elif [ ! -e "$key_file" ]; then
      echo "stack.sh: cannot create $key_file" >&2
      exit 1
    fi
  fi
  if [ -e "$key_file" ]; then
    AUTHSUITE_MASTER_KEY="$(tr -d '[:space:]' <"$key_file")"
    export AUTHSUITE_MASTER_KEY
    if [ "$needs_key" = 1 ]; then echo "stack.sh: master key from $key_file" >&2; fi
  fi
fi

if [ "$needs_key" = 1 ]; then
  if [ -z "${AUTHSUITE_MASTER_KEY:-}" ]; then
    echo "stack.sh: no master key: set AUTHSUITE_MASTER_KEY or let stack.sh create $key_file" >&2
    exit 1
  fi
  if [ -z "${AUTHSUITE_GATEWAY_CREDENTIAL:-}" ]; then
    if ! AUTHSUITE_GATEWAY_CREDENTIAL="$(build/authsuite gateway-credential)"; then
      echo "stack.sh: AUTHSUITE_MASTER_KEY (or $key_file) does not hold a valid master key" >&2
      exit 1
    fi
    export AUTHSUITE_GATEWAY_CREDENTIAL
  fi
fi

if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
exec "${compose[@]}" "${args[@]}"
