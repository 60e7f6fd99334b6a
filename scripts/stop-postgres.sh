#!/usr/bin/env bash
# Stops the PostgreSQL that scripts/start-postgres.sh DIR started (fast shutdown); DIR is kept
# (start it again with start-postgres.sh DIR, remove DIR to drop everything).
set -euo pipefail
DIR=${1:?usage: stop-postgres.sh DIR}
DIR=$(cd "$DIR" && pwd)
bin=${AIOPS_PG_BIN:-}
if [ -z "$bin" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && bin=$d
    done
fi
[ -n "$bin" ] || bin=$(dirname "$(command -v pg_ctl)")
run=()
if [ "$(id -u)" -eq 0 ]; then
    run=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --)
fi
(cd "$DIR" && "${run[@]}" "$bin/pg_ctl" -D "$DIR/data" -m fast -w -s stop)
