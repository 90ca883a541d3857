#!/bin/sh
# Installs wrk (the HTTP load generator of `python -m bench`) from Debian's packages.
set -eu
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-wrk.sh: wrk is missing and apt-get is not available; install wrk yourself" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-wrk.sh: not root and no sudo: run 'apt-get install -y wrk' as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq wrk
command -v wrk >/dev/null 2>&1 || { echo "install-wrk.sh: wrk still missing" >&2; exit 1; }
