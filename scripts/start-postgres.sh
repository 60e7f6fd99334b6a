#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for trying `aiops serve` on PostgreSQL by hand (the Rust
# tests start their own: aiops-store/tests/common/postgres.rs). Creates the cluster in DIR
# (trust authentication, user aiops, database aiops), listens on 127.0.0.1 only, on a free
# port, and prints the store URL:
#   AIOPS_STORE=$(scripts/start-postgres.sh /tmp/aiops-pg) aiops serve
# Stop it (and keep DIR) with scripts/stop-postgres.sh DIR. Under root the server runs as
# `nobody` (PostgreSQL refuses root), so DIR's parent must be readable by everyone.
set -euo pipefail
DIR=${1:?usage: start-postgres.sh DIR}

bin=${AIOPS_PG_BIN:-}
if [ -z "$bin" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && bin=$d
    done
fi
if [ -z "$bin" ] && command -v initdb >/dev/null 2>&1; then
    bin=$(dirname "$(command -v initdb)")
fi
[ -n "$bin" ] || { echo "PostgreSQL is not installed (scripts/install-test-services.sh)" >&2; exit 1; }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
run=()
if [ "$(id -u)" -eq 0 ]; then
    chown nobody: "$DIR"
    run=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --)
fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    (cd "$DIR" && "${run[@]}" "$bin/initdb" -D "$DIR/data" -U aiops -A trust --no-locale -E UTF8 >"$DIR/initdb.log")
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$DIR" && "${run[@]}" "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -s \
    -o "-h 127.0.0.1 -p $port -c unix_socket_directories=" start)
echo "$port" >"$DIR/port"
"$bin/createdb" -h 127.0.0.1 -p "$port" -U aiops aiops 2>/dev/null || true
echo "postgres://aiops@127.0.0.1:$port/aiops"
