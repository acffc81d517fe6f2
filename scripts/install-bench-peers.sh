#!/usr/bin/env bash
# Installs what `cargo bench --bench read` compares against: DuckDB (PyPI `duckdb`, pinned) in a
# Python venv at ~/.cache/log4rs-audit/bench-venv (or $BENCH_VENV). Idempotent: does nothing when
# the venv already has that version. Needs python3 with its venv module (Debian: python3-venv,
# installed with apt-get when missing and root). Prints the venv's python, which the bench finds
# by itself (or give it as $DUCKDB_PYTHON).
#
#   scripts/install-bench-peers.sh            # then: cargo bench --bench read
set -euo pipefail

DUCKDB_VERSION=2.0.1
VENV="${BENCH_VENV:-$HOME/.cache/log4rs-audit/bench-venv}"
PY="$VENV/bin/python"

have() {
    [ -x "$PY" ] && "$PY" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null
}

if ! have; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
            echo "install-bench-peers.sh: python3 has no venv module and we are not root" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        if ! $SUDO apt-get install -y --no-install-recommends python3-venv >&2; then
            $SUDO apt-get update >&2
            $SUDO apt-get install -y --no-install-recommends python3-venv >&2
        fi
    fi
    mkdir -p "$(dirname "$VENV")"
    [ -x "$PY" ] || python3 -m venv "$VENV" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check "duckdb==$DUCKDB_VERSION" >&2
    have || { echo "install-bench-peers.sh: duckdb $DUCKDB_VERSION did not install in $VENV" >&2; exit 1; }
fi

echo "bench peers: $("$PY" --version), duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)') ($PY)" >&2
echo "$PY"
