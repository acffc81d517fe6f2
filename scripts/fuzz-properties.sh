#!/usr/bin/env bash
# On-demand robustness run of the properties loader: a million or more random and mutated
# configs (CI runs a few thousand). Usage: scripts/fuzz-properties.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
PROPTEST_CASES="${1:-1000000}" cargo test --release --test properties_robustness
