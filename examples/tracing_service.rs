//! A service on `tracing` that writes its audit trail through `AuditLayer`:
//! `cargo run --example tracing_service` (reads `config-examples/tracing.yaml`, writes
//! `run/audit/` under the working folder).
//!
//! Each request is a span (`apiCall`, `user`) instrumenting a task on a multi-threaded tokio
//! runtime: the audit events inside carry it as their `mdc` and `callTime` whichever worker
//! thread polls them, through `tracing::info!` and `audit!` alike. The service's own logs go
//! to stdout through `fmt::layer()`, untouched by the audit config.

use std::path::Path;
use std::time::Duration;

use log4rs_audit::audit;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Requests the example serves.
pub const REQUESTS: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(Path::new("config-examples/tracing.yaml"))
}

/// Installs the layers and serves [`REQUESTS`] requests concurrently.
pub fn run(config: impl AsRef<Path>) -> Result<(), Box<dyn std::error::Error>> {
    let (audit_layer, handle) = log4rs_audit::AuditLayer::from_file(config)?;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(audit_layer)
        .try_init()?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..REQUESTS {
            let user = format!("user{i}");
            let span =
                tracing::info_span!("request", apiCall = "/api/datasets/export", user = %user);
            tasks.push(tokio::spawn(export(user, i).instrument(span)));
        }
        for task in tasks {
            task.await?;
        }
        Ok::<_, tokio::task::JoinError>(())
    })?;
    // Everything written reaches the file before the process goes on (or exits).
    handle.flush();
    Ok(())
}

/// One request: reads a dataset with custom code, scores it on an API node, exports it.
async fn export(user: String, i: usize) {
    tracing::info!(target: "dku.audit.generic", msgType = "dataset-read-data", authUser = %user, datasetName = "customers", rows = 100 * i as u64);
    tokio::time::sleep(Duration::from_millis(5)).await;
    tracing::info!(
        target: "dku.audit.apinode-query",
        msgType = "prediction-query",
        routingKey = "fraud-svc",
        authUser = %user,
        latencyMs = 2.5 + i as f64
    );
    tokio::task::yield_now().await;
    audit!(
        generic,
        "dataset-export",
        authUser = user.as_str(),
        datasetName = "customers",
        format = "csv"
    );
    tracing::info!(request = i, "export done"); // the service's own log line, to stdout
}
