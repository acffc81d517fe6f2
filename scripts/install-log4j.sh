#!/usr/bin/env bash
# Installs the log4j 1.2 jar (Debian `liblog4j1.2-java`) used by the PatternLayout conformance
# test, if it is not there yet, and prints the jar's path on stdout. Idempotent; all apt output
# goes to stderr so stdout is only the path.
set -euo pipefail

find_jar() {
    local candidate
    for candidate in \
        /usr/share/java/log4j-1.2.jar \
        /usr/share/java/log4j-1.2.17.jar \
        /usr/share/java/reload4j.jar \
        /usr/share/java/log4j1.2.jar; do
        if [ -f "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    SUDO="__none__"
fi

install_packages() {
    if [ "$SUDO" = "__none__" ]; then
        echo "install-log4j.sh: need $* but not root (cannot apt-get install)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends "$@" >&2; then
        # The package lists may be missing or stale: refresh them once and retry.
        $SUDO apt-get update >&2
        $SUDO apt-get install -y --no-install-recommends "$@" >&2
    fi
}

# The conformance test compiles a small Java program: it needs javac as well as the jar.
if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    install_packages default-jdk-headless
fi

if find_jar; then
    exit 0
fi

install_packages liblog4j1.2-java

if ! find_jar; then
    echo "install-log4j.sh: liblog4j1.2-java installed but no log4j 1.2 jar found in /usr/share/java" >&2
    exit 1
fi
