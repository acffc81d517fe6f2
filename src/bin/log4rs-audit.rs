//! `log4rs-audit`: run the demo service against a config (or the embedded default).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use log4rs_audit::demo::{self, DemoOptions};

#[derive(Parser)]
#[command(name = "log4rs-audit", version, about = "Audit trails on log + log4rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a service emitting a realistic mix of audit events, then say where they went.
    Demo {
        /// Config file (.yaml, .yml, .json); default: run/audit/audit.log, 100 MB × 20.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Worker threads.
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// Events to emit in total.
        #[arg(long, default_value_t = 2_000)]
        events: u64,
        /// Seed of the simulated activity.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo {
            config,
            threads,
            events,
            seed,
        } => run_demo(
            config,
            DemoOptions {
                threads,
                events,
                seed,
            },
        ),
    }
}

fn run_demo(config: Option<PathBuf>, options: DemoOptions) -> ExitCode {
    let installed = match &config {
        Some(path) => log4rs_audit::init_file(path),
        None => log4rs_audit::init_default(),
    };
    let handle = match installed {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("log4rs-audit: {e}");
            return ExitCode::from(2);
        }
    };
    let report = demo::run(options);
    handle.flush();
    let origin = match &config {
        Some(path) => path.display().to_string(),
        None => "embedded default".to_owned(),
    };
    println!(
        "demo: {} events from {} threads in {:.1} ms (config: {origin})",
        report.total(),
        options.threads.max(1),
        report.elapsed.as_secs_f64() * 1e3
    );
    for (topic, n) in &report.per_topic {
        println!("  {topic:<24} {n}");
    }
    println!("destinations:");
    for d in handle.destinations() {
        match &d.path {
            Some(path) => println!("  {} ({}): {}", d.appender, d.kind, path.display()),
            None => println!("  {} ({})", d.appender, d.kind),
        }
    }
    let errors = handle.error_count();
    drop(handle);
    if errors > 0 {
        eprintln!("log4rs-audit: {errors} errors while logging (see above)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
