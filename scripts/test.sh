#!/usr/bin/env bash
# The full test suite, as the README states it: formatting, lints, every test (unit, integration,
# doc tests, the Kafka tests) and a build of the benchmarks. Runs on a fresh machine with the
# Rust toolchain: test peers (curl, openssl, Python 3, rsyslog, Debian's log4j 1.2 jar and a JDK,
# the Tansu Kafka broker) are installed here, idempotently, and used on loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo clippy --all-targets --features kafka -- -D warnings"
cargo clippy --all-targets --locked --features kafka -- -D warnings

echo "== test peers: curl, openssl, python3; Java's log4j 1.2 (PatternLayout conformance)"
./scripts/install-test-peers.sh

echo "== cargo test (unit, integration and doc tests)"
cargo test --locked

echo "== Kafka target and the Event Server's kafka destination against Tansu (scripts/install-tansu.sh)"
./scripts/install-tansu.sh
cargo test --locked --features kafka --lib
cargo test --locked --features kafka --test kafka
cargo test --locked --features kafka --test event_server_kafka

echo "== cargo bench --no-run (benchmarks still build)"
cargo bench --no-run --locked
