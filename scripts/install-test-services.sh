#!/usr/bin/env bash
# Installs the real components the integration tests start on 127.0.0.1 (Debian packages),
# when they are missing and this user may install them. Safe to run again.
#   prometheus-alertmanager: aiops-py/tests/test_alertmanager_conformance.py,
#                            aiops-integrations/tests/alertmanager.rs, aiops-server/tests/
#                            alertmanager_webhook.rs
#   prometheus:              aiops-server/tests/prometheus_remote_write.rs,
#                            aiops-integrations/tests/prometheus.rs
#   victoria-metrics:        aiops-integrations/tests/prometheus.rs, aiops-server/tests/
#                            prometheus_source.rs (started on a free port, temporary data dir)
#   nats-server:             aiops-integrations/tests/nats.rs (JetStream, started on a free port
#                            with a temporary store, restarted on it)
#   postgresql:              aiops-store/tests/postgres.rs, aiops-server/tests/serve_postgres.rs
#                            (the tests run initdb + postgres from /usr/lib/postgresql/*/bin as
#                            a non-root user in a temporary folder; the packaged cluster and
#                            service are never used)
#   chromium, nodejs, npm:   aiops-server/tests/console_browser.rs (headless Chromium driven by
#                            playwright-core, installed by npm into aiops-server/tests/console)
set -euo pipefail

# True when some PostgreSQL server binaries (initdb, postgres) are installed.
have_postgres() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
    done
    command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1
}

missing=()
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
have_postgres || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

# playwright-core (pinned in its package.json) drives the browser test; it uses the Debian
# chromium, never a downloaded browser.
install_playwright() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/aiops-server/tests/console"
    if command -v npm >/dev/null 2>&1 && [ ! -d "$dir/node_modules/playwright-core" ]; then
        (cd "$dir" && npm install --no-save --no-audit --no-fund --silent) ||
            echo "npm install in $dir failed; the browser test will be skipped" >&2
    fi
}
trap install_playwright EXIT

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install ${missing[*]} (needs root and apt-get); their tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
# --no-install-recommends: the binaries only. Packaged services are not started here: where
# there is no init system (containers, CI) invoke-rc.d does not start them, and the tests run
# their own instances on free loopback ports either way.
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
