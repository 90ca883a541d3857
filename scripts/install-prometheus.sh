#!/bin/sh
# Installs Prometheus (the server of tests/test_prometheus_scrape.py) from Debian's packages.
# Idempotent: exits at once when `prometheus` is on PATH. Must run as root (or with sudo).
# The package's service is not wanted: the test starts its own Prometheus on a free port.
set -eu
if command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-prometheus.sh: prometheus is missing and apt-get is not available" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-prometheus.sh: not root and no sudo: run" \
            "'apt-get install -y --no-install-recommends prometheus' as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus
command -v prometheus >/dev/null 2>&1 || { echo "install-prometheus.sh: prometheus still missing" >&2; exit 1; }
prometheus --version 2>&1 | head -1
