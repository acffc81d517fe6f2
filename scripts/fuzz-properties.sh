#!/usr/bin/env bash
# On-demand robustness run of the properties loader and the log4j pattern parser: a million or
# more random and mutated configs and patterns (CI runs a few thousand). Usage:
# scripts/fuzz-properties.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-1000000}"
cargo test --release --test properties_robustness
cargo test --release --lib encode::pattern
