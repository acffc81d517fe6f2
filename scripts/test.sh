#!/usr/bin/env bash
# The full test suite, as the README states it: formatting, lints, every test (unit, integration,
# doc tests, the Kafka tests) and a build of the benchmarks. Runs on a fresh machine with the
# Rust toolchain: test peers (curl, openssl, Python 3, rsyslog with its OpenSSL driver, Debian's
# log4j 1.2 jar and a JDK, the Tansu Kafka broker, and Tansu built with its sqlite engine) are
# installed here, idempotently, and used on loopback only; each test starts its own rsyslogd or
# broker on a free port and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tansu with its sqlite engine (the Kafka broker-restart test) is built from crates.io, which
# takes long (15-30 min on 2 cores): it builds in the background, at low priority, while the
# rest runs, and is waited for before the Kafka tests. Cached after the first time.
mkdir -p target
nice -n 10 ./scripts/install-tansu.sh --sqlite >target/tansu-sqlite.path 2>target/tansu-sqlite.log &
tansu_sqlite=$!
# Stopped with the script when something fails before it is waited for.
trap 'if kill -0 "$tansu_sqlite" 2>/dev/null; then pkill -TERM -P "$tansu_sqlite" || true; kill "$tansu_sqlite" || true; fi' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo clippy --all-targets --features kafka -- -D warnings"
cargo clippy --all-targets --locked --features kafka -- -D warnings

echo "== cargo clippy --lib --no-default-features -- -D warnings (the light library: no tokio, axum, hyper, clap, indicatif)"
cargo clippy --lib --locked --no-default-features -- -D warnings
if cargo tree -e normal --no-default-features --locked | grep -E '^[^a-z]*(tokio|axum|hyper|clap|indicatif) v'; then
    echo "test.sh: the library without default features pulls the crates above" >&2
    exit 1
fi

echo "== cargo doc (no broken or ambiguous links in the API docs)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --locked --no-default-features

echo "== test peers: curl, openssl, python3; Java's log4j 1.2 (PatternLayout conformance)"
./scripts/install-test-peers.sh

echo "== cargo test (unit, integration and doc tests)"
cargo test --locked

echo "== Kafka target and the Event Server's kafka destination against Tansu (scripts/install-tansu.sh), faults against librdkafka's mock cluster"
./scripts/install-tansu.sh
# Everything that does not need Tansu's sqlite engine runs while it builds; only the broker-
# restart test waits for it.
restart_test=broker_killed_and_restarted_mid_run_loses_nothing
cargo test --locked --features kafka --lib
cargo test --locked --features kafka --test kafka_faults --test event_server_kafka
cargo test --locked --features kafka --test kafka -- --skip "$restart_test"

echo "== cargo bench --no-run (benchmarks still build)"
cargo bench --no-run --locked

echo "== the Kafka broker-restart test (Tansu with its sqlite engine: scripts/install-tansu.sh --sqlite)"
if ! wait "$tansu_sqlite"; then
    cat target/tansu-sqlite.log >&2
    echo "test.sh: building Tansu with its sqlite engine failed" >&2
    exit 1
fi
echo "   Tansu with sqlite: $(cat target/tansu-sqlite.path)"
cargo test --locked --features kafka --test kafka "$restart_test" -- --exact
