#!/usr/bin/env bash
# Runs every test of the project, from a fresh clone, on a machine with Rust and Python 3:
# formatting, lints, the test tools installed into a virtualenv, the Rust test suite (unit,
# integration, doc tests), then the Python package built into the virtualenv and its pytest
# suite and stub check.
#
# Usage: ./scripts/test.sh            (VENV=path to choose the virtualenv, default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

step() { printf '\n==> %s\n' "$*"; }

step "build dependencies (OpenSSL headers and pkg-config for the Kafka client's TLS)"
if ! pkg-config --exists openssl 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            pkg-config libssl-dev >/dev/null
    else
        echo "OpenSSL headers not found by pkg-config: install pkg-config and libssl-dev" >&2
        exit 1
    fi
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "test services (Alertmanager, Prometheus, VictoriaMetrics, NATS, PostgreSQL, chromium, node, from Debian)"
./scripts/install-test-services.sh
if [ "${CI:-}" = "true" ]; then
    # In CI the tests against the real components must run, not skip.
    export AIOPS_REQUIRE_ALERTMANAGER=1 AIOPS_REQUIRE_PROMETHEUS=1 AIOPS_REQUIRE_POSTGRES=1 \
        AIOPS_REQUIRE_VICTORIAMETRICS=1 AIOPS_REQUIRE_SMTP=1 AIOPS_REQUIRE_NATS=1 \
        AIOPS_REQUIRE_CHROMIUM=1
fi

step "Python virtualenv ($VENV; before the Rust tests, whose e-mail test runs its aiosmtpd)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r aiops-py/requirements-dev.txt
# The e-mail notifier's test runs its SMTP server (aiosmtpd) with this Python.
AIOPS_PYTHON="$(cd "$VENV" && pwd)/bin/python"
export AIOPS_PYTHON

step "cargo test --workspace"
cargo test --workspace --locked

step "build the Python package (maturin develop)"
"$VENV/bin/maturin" develop -q -m aiops-py/Cargo.toml

step "pytest"
"$VENV/bin/python" -m pytest -q aiops-py/tests

step "schema-based fuzzing of aiops serve (schemathesis)"
./scripts/fuzz-api.sh target/debug/aiops "$VENV/bin/schemathesis" 25

step "stub check (mypy.stubtest)"
"$VENV/bin/python" -m mypy.stubtest aiops._aiops --allowlist aiops-py/stubtest-allowlist.txt

step "all tests passed"
