#!/usr/bin/env bash
# On-demand robustness run of the Event Server's ingest parsing (CI runs a few thousand cases):
# arbitrary and mutated batch bodies, plain and gzip, through `parse_batch` (which also runs the
# duplicate-key check on every event), and the duplicate-key detector against serde_json.
# Usage: scripts/fuzz-ingest.sh [CASES] [TEST FILTER]
#   scripts/fuzz-ingest.sh 10000000 server::tests::never_panics
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-1000000}"
filter="${2:-server::}"
cargo test --release --lib --features server -- "$filter"
