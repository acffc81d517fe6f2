#!/usr/bin/env bash
# The full test suite, as the README states it: formatting, lints, every test (unit, integration,
# doc tests) and a build of the benchmarks. Runs on a fresh machine with only the Rust toolchain;
# later services (rsyslog, a Kafka broker, log4j) are installed here, idempotently, when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test (unit, integration and doc tests)"
cargo test --locked

echo "== cargo bench --no-run (benchmarks still build)"
cargo bench --no-run --locked
