#!/usr/bin/env bash
# Install Debian's Chromium + chromedriver for the Selenium browser tests.
#
# Idempotent: exits immediately when both binaries are already present.
# Must run as root (or via sudo); uses apt-get non-interactively.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "install-browser.sh: must run as root (or have passwordless sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver

if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
    echo "install-browser.sh: $CHROMIUM or $CHROMEDRIVER still missing after install" >&2
    exit 1
fi
"$CHROMIUM" --version
"$CHROMEDRIVER" --version
