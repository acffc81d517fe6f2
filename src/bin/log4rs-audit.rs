//! `log4rs-audit`: run the demo service against a config (or the embedded default); check a
//! config (YAML or log4j properties) and show what it resolves to; query a trail and report on
//! it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use log4rs_audit::config::{check, ConfigFormat, PropertiesOptions};
use log4rs_audit::demo::{self, DemoOptions};
use log4rs_audit::query::cli as query_cli;
use log4rs_audit::AuditConfig;

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
    /// Check a config (YAML, JSON or log4j .properties) without opening any file: print the
    /// resolved loggers, appenders and destinations, every warning with its file and line, and
    /// exit non-zero on errors.
    CheckConfig {
        /// The config file.
        file: PathBuf,
        /// Treat warnings (unknown classes, undefined variables, ignored keys) as errors.
        #[arg(long)]
        strict: bool,
        /// Define a `${name}` for properties files, as `-Dname=value` does for log4j.
        #[arg(short = 'D', long = "define", value_name = "NAME=VALUE", value_parser = parse_define)]
        defines: Vec<(String, String)>,
        /// Read the file in this format whatever its extension (e.g. a `.template` or `.cfg`).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Print the events of a trail (log files or Event Server folders, plain or gzip, rolled
    /// sets oldest first) that match the filters.
    Query(query_cli::QueryArgs),
    /// Reports over a trail: `last-activity`, `exports`.
    #[command(subcommand)]
    Report(query_cli::ReportCommand),
    /// Tamper evidence: write a key pair for signing checkpoints.
    Keygen {
        /// Folder for `audit.key` (secret, mode 0600) and `audit.pub`; never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Tamper evidence: check log files against their digest sidecars (rolled and gzip files
    /// included); name the first line or file modified, deleted, inserted, reordered or
    /// truncated, a trail moved, replaced or rolled back, a key changed without a rekey
    /// record, files deleted without a prune record.
    ///
    /// Exit status: 0 verified; 1 a failure, or nothing found to verify, or a signed trail
    /// checked without --public-key (unless --allow-unsigned); 2 cannot run. Lines after the
    /// last record (not yet sealed) and lines a restart sealed after a crash (unwitnessed) are
    /// notes, failures with --strict.
    Verify {
        /// Log files (each with its rolled siblings, even if the file itself is gone) or
        /// folders (every file below).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// A public key (`audit.pub`); give it twice for a trail whose key was rotated (a
        /// rekey record). Without one, only the chain is checked, and a signed trail fails
        /// unless --allow-unsigned.
        #[arg(long)]
        public_key: Vec<PathBuf>,
        /// Unsealed lines, unwitnessed lines (sealed by a resume after a crash) and a check
        /// without a public key fail.
        #[arg(long)]
        strict: bool,
        /// Accept checking the chain alone, without --public-key.
        #[arg(long)]
        allow_unsigned: bool,
        /// The trail was moved or copied here on purpose: compare `audit_file` origins by
        /// file name only (Event Server folders below the root are always compared).
        #[arg(long)]
        moved: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
        format: VerifyFormat,
        /// Compare with the Event Server's anchor ledger: its URL (`http(s)://host:port`, read
        /// with --read-key-file) or a copy of its `anchors/` folder. A trail cut back,
        /// rewritten, re-signed with another key or deleted fails; records not yet anchored are
        /// notes (failures with --strict).
        #[arg(long, value_name = "URL|DIR")]
        anchors: Option<String>,
        /// The server's anchor public key (`GET /api/anchors/key`, kept by the operator): checks
        /// every ledger line's serverSig. Required with a folder; with a URL it is fetched when
        /// absent, which proves nothing against whoever controls the server (a note says so).
        #[arg(long, value_name = "SERVER.pub")]
        anchors_key: Option<PathBuf>,
        /// A file holding a `read_keys` key of the server, for --anchors URL.
        #[arg(long, value_name = "FILE")]
        read_key_file: Option<PathBuf>,
    },
    /// Tamper evidence: copy every checkpoint record of the sidecars under the paths off the
    /// host, to the Event Server's anchor ledger (`POST /anchors`), in order; records it has
    /// already are counted as duplicates. Run it from cron until the targets push on their own.
    ///
    /// Exit status: 0 every record anchored; 1 the server refused one (a gap, a fork, another
    /// key); 2 cannot run.
    Anchor {
        /// Log files (with their rolled siblings) or folders, as for verify.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The Event Server (`http(s)://host:port`).
        #[arg(long, value_name = "URL")]
        server: String,
        /// A file holding one of the server's `event_keys` (never on the command line).
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The trail's public key(s) (`audit.pub`), for the server to pin and check the
        /// signatures with; one per key of a rotated trail.
        #[arg(long)]
        public_key: Vec<PathBuf>,
    },
    /// Run the Event Server: receive audit events over HTTP(S) from `event_server` targets and
    /// store each once, durably, under its destinations. Stops on SIGINT or SIGTERM after
    /// storing what it accepted.
    #[cfg(feature = "server")]
    EventServer {
        /// The server config (YAML).
        #[arg(long)]
        config: PathBuf,
        /// Check the config and its keys, then exit without serving.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VerifyFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Yaml,
    Json,
    Properties,
}

fn parse_define(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}`: expected NAME=VALUE"))
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
        Command::CheckConfig {
            file,
            strict,
            defines,
            format,
        } => {
            let options = PropertiesOptions {
                overrides: defines.into_iter().collect(),
                strict,
                ignore_env: false,
            };
            check_config(&file, format, &options)
        }
        Command::Query(args) => query_cli::run_query_command(&args),
        Command::Report(report) => query_cli::run_report_command(&report),
        #[cfg(feature = "server")]
        Command::EventServer { config, check } => event_server(&config, check),
        Command::Keygen { out } => keygen(&out),
        Command::Verify {
            paths,
            public_key,
            strict,
            allow_unsigned,
            moved,
            format,
            anchors,
            anchors_key,
            read_key_file,
        } => {
            let anchors = match load_anchors(anchors, anchors_key, read_key_file) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            verify(
                &paths,
                &public_key,
                log4rs_audit::integrity::Policy {
                    strict,
                    allow_unsigned,
                    moved,
                    anchors,
                    ..Default::default()
                },
                format,
            )
        }
        Command::Anchor {
            paths,
            server,
            key_file,
            public_key,
        } => anchor(&paths, &server, &key_file, &public_key),
    }
}

fn read_secret_file(path: &std::path::Path, what: &str) -> Result<String, String> {
    let secret = log4rs_audit::secret::Secret::File {
        file: path.to_owned(),
    };
    secret.resolve().map_err(|e| format!("{what}: {e}"))
}

/// The ledger `verify --anchors` compares with: fetched from a server, or read from a copy.
fn load_anchors(
    anchors: Option<String>,
    anchors_key: Option<PathBuf>,
    read_key_file: Option<PathBuf>,
) -> Result<Option<log4rs_audit::integrity::verify::Anchors>, String> {
    use log4rs_audit::integrity::verify::Anchors;
    use log4rs_audit::server::anchors::{client, ledger::AnchorLedger};
    let Some(source) = anchors else {
        if anchors_key.is_some() || read_key_file.is_some() {
            return Err("--anchors-key and --read-key-file need --anchors".into());
        }
        return Ok(None);
    };
    let pinned = match &anchors_key {
        Some(p) => Some(
            log4rs_audit::integrity::load_public_key(p)
                .map_err(|e| format!("--anchors-key: {e}"))?,
        ),
        None => None,
    };
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    if !is_url {
        let Some(key) = pinned else {
            return Err(format!(
                "--anchors {source}: a ledger folder needs --anchors-key (the server's anchor public key) to check its lines"
            ));
        };
        let ledger = AnchorLedger::from_dir(std::path::Path::new(&source))
            .map_err(|e| format!("--anchors: {e}"))?;
        return Ok(Some(Anchors {
            ledger,
            server_key: Some(key),
            server_key_pinned: true,
        }));
    }
    let Some(read_key) = read_key_file else {
        return Err(
            "--anchors URL needs --read-key-file (a file holding one of the server's read_keys)"
                .into(),
        );
    };
    let read_key = read_secret_file(&read_key, "--read-key-file")?;
    let text =
        client::fetch_ledger(&source, &read_key, None).map_err(|e| format!("--anchors: {e}"))?;
    let (server_key, server_key_pinned) = match pinned {
        Some(k) => (k, true),
        None => (
            client::fetch_server_key(&source).map_err(|e| format!("--anchors: {e}"))?,
            false,
        ),
    };
    Ok(Some(Anchors {
        ledger: AnchorLedger::from_text(&text, &format!("{source}/api/anchors")),
        server_key: Some(server_key),
        server_key_pinned,
    }))
}

/// Exit 0: every record anchored (stored or already there); 1: the server refused one; 2: cannot run.
fn anchor(
    paths: &[PathBuf],
    server: &str,
    key_file: &std::path::Path,
    public_keys: &[PathBuf],
) -> ExitCode {
    use log4rs_audit::server::anchors::client;
    let key = match read_secret_file(key_file, "--key-file") {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut keys = Vec::new();
    for p in public_keys {
        match log4rs_audit::integrity::load_public_key(p) {
            Ok(k) => keys.push(k),
            Err(e) => {
                eprintln!("error: --public-key: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let print = |s: &client::AnchorSummary| {
        for (trail, origin, stored, duplicates) in &s.trails {
            println!(
                "trail {} ({origin}): {stored} records stored, {duplicates} already anchored",
                &trail[..8.min(trail.len())]
            );
        }
    };
    match client::anchor_paths(paths, server, &key, &keys) {
        Ok(s) => {
            print(&s);
            let stored: usize = s.trails.iter().map(|t| t.2).sum();
            let duplicates: usize = s.trails.iter().map(|t| t.3).sum();
            println!(
                "anchored: {stored} records stored, {duplicates} already anchored, {} trails",
                s.trails.len()
            );
            ExitCode::SUCCESS
        }
        Err((s, e)) => {
            print(&s);
            eprintln!("error: {e}");
            match e {
                client::ClientError::Status { status, .. } if (400..500).contains(&status) => {
                    ExitCode::FAILURE
                }
                _ => ExitCode::from(2),
            }
        }
    }
}

fn keygen(out: &std::path::Path) -> ExitCode {
    match log4rs_audit::integrity::keygen(out) {
        Ok(pair) => {
            println!("secret key: {} (keep it private)", pair.secret.display());
            println!("public key: {} (for verify)", pair.public.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Exit 0: verified; 1: tampering or damage found; 2: cannot run (bad key, unreadable path).
fn verify(
    paths: &[PathBuf],
    public_keys: &[PathBuf],
    mut policy: log4rs_audit::integrity::Policy,
    format: VerifyFormat,
) -> ExitCode {
    use log4rs_audit::integrity::{load_public_key, verify_paths_with, VerifyOptions};
    let mut keys = Vec::new();
    for path in public_keys {
        match load_public_key(path) {
            Ok(k) => keys.push(k),
            Err(e) => {
                eprintln!("error: --public-key: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut keys = keys.into_iter();
    let public_key = keys.next();
    policy.more_keys = keys.collect();
    let report = match verify_paths_with(paths, &VerifyOptions { public_key }, &policy) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match format {
        VerifyFormat::Text => print!("{}", report.to_text()),
        VerifyFormat::Json => println!("{}", report.to_json()),
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(feature = "server")]
fn event_server(path: &std::path::Path, check: bool) -> ExitCode {
    use log4rs_audit::server::config::{DestinationTarget, ServerConfig};
    let config = match ServerConfig::from_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = config.resolve_keys() {
        eprintln!("error: {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if check {
        println!("{}: OK", path.display());
        for d in &config.destinations {
            match d.root() {
                Some(root) => println!(
                    "  destination {} ({}): {}",
                    d.name,
                    d.kind(),
                    root.display()
                ),
                // A kafka destination (checked, so both are there).
                None => {
                    let (brokers, topic) = match &d.target {
                        DestinationTarget::Kafka(k) => (k.brokers.as_deref(), k.topic.as_deref()),
                        _ => (None, None),
                    };
                    println!(
                        "  destination {} ({}): kafka://{}/{}",
                        d.name,
                        d.kind(),
                        brokers.unwrap_or_default(),
                        topic.unwrap_or_default()
                    )
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let served = log4rs_audit::server::http::serve(config, |addr| {
        // Tests and scripts read this line to learn the port (with `listen: 127.0.0.1:0`).
        println!("event-server listening on {scheme}://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
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
    // The summary goes out in one write; a reader that stopped early (`demo | head`) is no
    // error (the events are written either way).
    use std::fmt::Write as _;
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "demo: {} events from {} threads in {:.1} ms (config: {origin})",
        report.total(),
        options.threads.max(1),
        report.elapsed.as_secs_f64() * 1e3
    );
    for (topic, n) in &report.per_topic {
        let _ = writeln!(summary, "  {topic:<24} {n}");
    }
    summary.push_str("destinations:\n");
    for d in handle.destinations() {
        let _ = match &d.path {
            Some(path) => writeln!(summary, "  {} ({}): {}", d.appender, d.kind, path.display()),
            None => writeln!(summary, "  {} ({})", d.appender, d.kind),
        };
    }
    use std::io::Write as _;
    {
        // Released before the handle drops: a console target writes audit-logger-stop then.
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(summary.as_bytes())
            .and_then(|()| stdout.flush())
        {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("log4rs-audit demo: writing the summary: {e}");
            }
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

fn check_config(
    file: &std::path::Path,
    format: Option<FileFormat>,
    options: &PropertiesOptions,
) -> ExitCode {
    let format = format.map(|f| match f {
        FileFormat::Yaml => ConfigFormat::Yaml,
        FileFormat::Json => ConfigFormat::Json,
        FileFormat::Properties => ConfigFormat::Properties,
    });
    // A name that says no format: read the content, and say what was guessed.
    let format = format.or_else(|| {
        if ConfigFormat::of(file).is_some() {
            return None;
        }
        let guessed = std::fs::read(file).ok().and_then(|b| ConfigFormat::guess(&b))?;
        println!(
            "note: {}: no known extension; read as Java properties (it sets log4j. keys); --format yaml|json|properties says otherwise",
            file.display()
        );
        Some(guessed)
    });
    let loaded = AuditConfig::from_file_as(file, format, options);
    let config = match loaded {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let errors = check::validate(&config, &log4rs_audit::config::deserializers());
    println!(
        "{}: {} appenders, {} loggers, {} warnings, {} errors",
        file.display(),
        config.appenders.len(),
        config.loggers.len() + 1,
        config.warnings.len(),
        errors.len()
    );
    print!("{}", check::describe(&config));
    for w in &config.warnings {
        println!("warning: {w}");
    }
    // Errors go to stderr: the listing is out first, so a terminal or a `2>&1` file shows each
    // error on a line of its own after it.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
