#!/usr/bin/env bash
# On-demand robustness run of the Event Server's ingest (CI runs a few thousand cases):
# arbitrary and mutated batch bodies, plain and gzip, through `parse_batch` (which also runs the
# duplicate-key check on every event), the duplicate-key detector against serde_json, and the
# batch handler (the writer's group commits on real files, on tmpfs when there is one) against
# a model of its rules (src/server/store/fuzz.rs; it prints how many sequences, group commits,
# batches and events it ran: run it with --nocapture, as below).
# Usage: scripts/fuzz-ingest.sh [CASES] [TEST FILTER] [-- --nocapture]
#   scripts/fuzz-ingest.sh 10000000 protocol::tests::never_panics
#   scripts/fuzz-ingest.sh 20000 server::store::fuzz -- --nocapture
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-1000000}"
filter="${2:-}"
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
# No filter: the property tests of the protocol and of the server (protocol::, server::).
if [ -z "$filter" ]; then
    cargo test --release --lib --features server -- protocol:: server:: "$@"
else
    cargo test --release --lib --features server -- "$filter" "$@"
fi
