#!/usr/bin/env bash
# Installs the independent programs the end-to-end tests talk to or read with, when missing:
# curl (an HTTP client that is not ours), openssl (test certificates for HTTPS) and Python 3
# (its json module reads stored lines back), from Debian's packages; then Java's log4j 1.2
# (scripts/install-log4j.sh), and the viewer test's Chromium and playwright-core
# (scripts/install-browser.sh). Idempotent: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-test-peers.sh: need ${missing[*]} but not root (cannot apt-get install)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
fi

echo "test peers: curl $(curl --version | head -1 | cut -d' ' -f2), $(openssl version | cut -d' ' -f1-2), $(python3 --version)"
./scripts/install-rsyslog.sh
echo "rsyslog: $(/usr/sbin/rsyslogd -v 2>/dev/null | head -1)"
echo "log4j 1.2 jar: $(./scripts/install-log4j.sh)"
./scripts/install-browser.sh
