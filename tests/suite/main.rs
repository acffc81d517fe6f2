//! The integration tests that share nothing process-wide, in one binary: one link instead of
//! one per file. A test that installs the global logger, sets an environment variable, changes
//! the working directory or runs its own binary again keeps a binary of its own in `tests/`;
//! the Kafka tests (feature `kafka`) too, as `scripts/test.sh` runs them in their own phase.

#[path = "../support/certs.rs"]
mod certs;
#[path = "../support/demo.rs"]
mod demo;
#[path = "../support/lifecycle_lines.rs"]
mod lifecycle_lines;
#[path = "../support/server.rs"]
mod support;

mod anchors;
mod async_appender;
mod async_context;
mod config_examples;
mod envelope_props;
mod event_server;
mod event_server_examples;
mod event_server_keys;
mod event_server_limits;
mod event_server_target;
mod file_modes;
mod log4j_properties_fixtures;
mod properties_robustness;
mod query;
mod read_api;
mod reports_parallel;
mod reports_python;
mod server_integrity;
mod syslog;
mod tracing_targets;
