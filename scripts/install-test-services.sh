#!/usr/bin/env bash
# Installs the real components the integration tests start on 127.0.0.1 (Debian packages),
# when they are missing and this user may install them. Safe to run again.
#   prometheus-alertmanager: aiops-py/tests/test_alertmanager_conformance.py
set -euo pipefail

missing=()
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install ${missing[*]} (needs root and apt-get); their tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
# --no-install-recommends: the binary only; the package's service is never started here
# (the tests run their own instance on a free loopback port).
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
