//! The Event Server's config file (`log4rs-audit event-server --config server.yaml`).
//!
//! ```yaml
//! listen: 127.0.0.1:11004          # address:port
//! tls: { cert: server.pem, key: server.key }      # optional
//! event_keys: [ "k-node-1", { file: keys/node2 }, { env: AUDIT_KEY_3 } ]
//! stats_keys: [ "k-stats" ]
//! read_keys: [ { file: keys/read } ]   # GET /api/events, /api/reports/<name>, the /ui/ viewer
//! max_body_bytes: 10485760
//! destinations:
//!   - name: disk
//!     type: filesystem
//!     root: /var/lib/audit/events
//!     topics: ALL                  # or a list, e.g. [generic, authfail]
//!     routing_keys: ALL            # or a list
//!     required_auth_key: null      # or one of event_keys
//!     folder_by_topic: true
//!     folder_by_routing_key: true
//!     partitioning_period: HOUR    # MONTH | DAY | HOUR
//!     flush_every_bytes: 1048576
//!     flush_every_s: 1
//!     integrity: { signing_key: { file: audit.key }, checkpoint_lines: 1000, checkpoint_seconds: 60 }
//!   - name: bus                    # cargo feature `kafka`
//!     type: kafka
//!     brokers: 127.0.0.1:9092
//!     topic: dss-audit-{topic}
//!     key: routing_key             # routing_key | none
//!     payload: envelope            # envelope (the stored line) | message (the event object)
//!     properties: { compression.type: zstd }
//!     delivery_timeout: 10s
//!     topics: ALL                  # the same filters as above
//! ```
//!
//! The filters (`topics`, `routing_keys`, `required_auth_key`) are every destination's; the
//! other options belong to one `type` (an option of the other type is an error naming it).
//! A `kafka` destination (see `server/kafka_destination.rs`) needs a build with the cargo
//! feature `kafka`; without it, `type: kafka` is refused with a message saying so. A server
//! without any `filesystem` destination needs `state_dir`.
//!
//! Beside these names: `state_dir` (the dedup journal; default `<first root>/.event-server`),
//! `timezone` of `serverTimestamp` and the time folders (`local`, `utc` or `±HHMM`; default
//! local), `max_connections` (default 1024), `read_timeout` (a request's head and body must
//! arrive within it; default `30s`), `idle_timeout` (an idle kept-alive connection is closed
//! after it; default `60s`) and `queue_max_bytes` (accepted batches waiting to be written; past
//! it requests get `503` with `Retry-After`; default `64MB`) and `max_nodes_per_key` (node ids
//! one event key may bind; a new one past it gets `403`; default 10000) and `file_mode` (the
//! quoted octal mode of the files the server creates, default `'0640'`, folders `0750`; an
//! existing file keeps its mode: see [`crate::FileMode`]).
//!
//! `anchors: { signing_key: { file: anchors.key } }` (optional) turns on the anchor ledger
//! (`POST /anchors`, `GET /api/anchors`, `GET /api/anchors/key`; see `server/anchors`) in
//! `<state_dir>/anchors/`; its key follows the integrity keys' rules.
//!
//! A destination's `integrity` (optional; the same block as `audit_file`'s, see
//! [`crate::integrity::IntegrityConfig`]) gives each `events.log` its own digest sidecar,
//! `events.log.digest`: a hash chain over its lines with (signed) checkpoint records every
//! `checkpoint_lines` lines or `checkpoint_seconds` seconds and at a clean shutdown. Each
//! `events.log` is its own trail (no chain across time folders). Records only ever cover lines
//! of committed group commits, so the journal's undo never cuts sealed lines. The key is read
//! at start (a relative `file` is relative to the config file); `log4rs-audit verify <root>`
//! checks every file under the root.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::Deserialize;

use crate::config::ByteSize;
use crate::encode::Timezone;
use crate::integrity::IntegrityOptions;
use crate::secret::Secret;
mod destinations;

pub use destinations::{
    DestinationConfig, DestinationKind, DestinationTarget, FilesystemConfig, KafkaDestinationConfig,
};

/// A server config, as read from its file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// HTTPS instead of HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Keys clients send as `Authorization: Bearer <key>` to POST events.
    pub event_keys: Vec<Secret>,
    /// Keys that may read `/stats` and `/metrics`.
    #[serde(default)]
    pub stats_keys: Vec<Secret>,
    /// Keys that may read the stored events (`GET /api/events`, `GET /api/reports/<name>`, the
    /// `/ui/` viewer's calls); none by default, so nothing can be read over HTTP. Each must
    /// differ from every event and stats key: a node's key never reads other nodes' events.
    #[serde(default)]
    pub read_keys: Vec<Secret>,
    /// A `user,department` CSV for `GET /api/reports/cru?by=department` (read at each
    /// request, so HR updates apply at once).
    #[serde(default)]
    pub people: Option<PathBuf>,
    /// The largest request body, compressed or decompressed.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    /// Where the dedup journal lives.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Time zone of `serverTimestamp` and of the time folders.
    #[serde(default, deserialize_with = "timezone")]
    pub timezone: Timezone,
    /// Most connections served at once; more wait in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A request's head and body must arrive within this.
    #[serde(default = "default_read_timeout", deserialize_with = "duration")]
    pub read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    #[serde(default = "default_idle_timeout", deserialize_with = "duration")]
    pub idle_timeout: Duration,
    /// Accepted bytes waiting for the writer; past this, requests get 503.
    #[serde(default = "default_queue_max")]
    pub queue_max_bytes: ByteSize,
    /// Node ids one event key may bind (see `server/journal.rs`): bounds the server's per-node
    /// state by the number of keys, whatever a key holder sends.
    #[serde(default = "default_max_nodes_per_key")]
    pub max_nodes_per_key: usize,
    /// Mode of the files and folders the server creates (destination trees, sidecars, the
    /// journal): default `0640`, folders `0750`; see [`crate::FileMode`].
    #[serde(default)]
    pub file_mode: crate::FileMode,
    /// Where events are stored; each event goes to every destination that accepts it.
    pub destinations: Vec<DestinationConfig>,
    /// The anchor ledger (`POST /anchors`, `GET /api/anchors`): copies of the writers'
    /// checkpoint records, kept off their hosts; without it those endpoints answer 404.
    #[serde(default)]
    pub anchors: Option<AnchorsConfig>,
}

/// `anchors: { signing_key: { file: anchors.key } }`: the key the server signs its anchor
/// ledger lines and receipts with (written by `log4rs-audit keygen`; a file of mode 0600 or an
/// environment variable, as for integrity keys: inline key material and a key file group or
/// others may read are refused). The ledger lives in `<state_dir>/anchors/`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorsConfig {
    /// The server's anchor signing key.
    pub signing_key: Secret,
}

impl AnchorsConfig {
    /// Reads the key now (the rules of [`crate::integrity::load_signing_key`]).
    pub fn load_key(&self) -> Result<ed25519_dalek::SigningKey, InvalidServerConfig> {
        crate::integrity::load_signing_key(&self.signing_key)
            .map_err(|e| InvalidServerConfig(format!("anchors.{e}")))
    }
}

/// `tls: { cert, key }`: PEM files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `ALL` or a list: the one type every accept-list of the crate uses.
pub use crate::filter::Selection;

/// What is wrong with a server config's text or keys, naming the option
/// (`destinations[1] (`bus`).root: …`, `event_keys[2]: …`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidServerConfig(pub String);

impl PartialEq<&str> for InvalidServerConfig {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid config; the message names the line or the field.
    #[error("{}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
}

impl ServerConfig {
    /// Reads and checks `path` (keys are resolved later, by [`ServerConfig::resolve_keys`]).
    pub fn from_file(path: &Path) -> Result<ServerConfig, ServerConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| ServerConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut config = Self::from_yaml(&text).map_err(|e| invalid(e.0))?;
        // Relative paths are relative to the config file, so a config works from any cwd.
        let base = path.parent().unwrap_or(Path::new(""));
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_owned());
        config.rebase(&base);
        config.check_roots(true).map_err(invalid)?;
        Ok(config)
    }

    /// Parses and checks YAML text; the error names the line or the field.
    pub fn from_yaml(text: &str) -> Result<ServerConfig, InvalidServerConfig> {
        let config: ServerConfig =
            serde_yaml::from_str(text).map_err(|e| InvalidServerConfig(e.to_string()))?;
        config.check().map_err(InvalidServerConfig)?;
        config.check_roots(false).map_err(InvalidServerConfig)?;
        Ok(config)
    }

    /// No two destinations may share or nest their roots: each keeps its own files, and two
    /// writers of one file would corrupt each other's crash recovery. Without `resolve` the
    /// paths are compared as written; with it (once they are absolute), as the filesystem
    /// sees them: `..` and symlinks resolved, existing folders compared by device and inode.
    fn check_roots(&self, resolve: bool) -> Result<(), String> {
        let roots: Vec<(usize, &Path)> = self
            .destinations
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((i, d.root()?)))
            .collect();
        let resolved: Vec<_> = roots
            .iter()
            .map(|(_, p)| resolve.then(|| super::roots::resolve(p)))
            .collect();
        for (n, (i, a)) in roots.iter().enumerate() {
            for (m, (j, b)) in roots.iter().enumerate().skip(n + 1) {
                let (ra, rb) = (&resolved[n], &resolved[m]);
                let overlap = match (ra, rb) {
                    (Some(ra), Some(rb)) => ra.overlaps(rb),
                    // As written, `a/../b` is not inside `a`: left to the resolved check.
                    _ if [a, b]
                        .iter()
                        .any(|p| p.components().any(|c| c == std::path::Component::ParentDir)) =>
                    {
                        false
                    }
                    _ => {
                        let (a, b): (PathBuf, PathBuf) =
                            (a.components().collect(), b.components().collect());
                        a.starts_with(&b) || b.starts_with(&a)
                    }
                };
                if !overlap {
                    continue;
                }
                let (da, db) = (&self.destinations[*i], &self.destinations[*j]);
                let mut message = format!(
                    "destinations[{j}] (`{}`).root: {} overlaps the root of `{}` ({})",
                    db.name,
                    b.display(),
                    da.name,
                    a.display()
                );
                if let (Some(ra), Some(rb)) = (ra, rb) {
                    if (&ra.path, &rb.path) != (&a.to_path_buf(), &b.to_path_buf()) {
                        message.push_str(&format!(
                            " once `..` and symlinks are resolved ({} and {})",
                            rb.path.display(),
                            ra.path.display()
                        ));
                    }
                }
                message.push_str("; give each destination its own folder");
                return Err(message);
            }
        }
        Ok(())
    }

    fn rebase(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            let expanded = PathBuf::from(crate::config::expand_env(&p.to_string_lossy()));
            *p = if expanded.is_relative() {
                base.join(expanded)
            } else {
                expanded
            };
        };
        if let Some(tls) = &mut self.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
        }
        if let Some(dir) = &mut self.state_dir {
            fix(dir);
        }
        if let Some(people) = &mut self.people {
            fix(people);
        }
        if let Some(AnchorsConfig {
            signing_key: Secret::File { file },
        }) = &mut self.anchors
        {
            fix(file);
        }
        for d in &mut self.destinations {
            let DestinationTarget::Filesystem(f) = &mut d.target else {
                continue;
            };
            if let Some(root) = &mut f.root {
                fix(root);
            }
        }
        for key in self
            .event_keys
            .iter_mut()
            .chain(&mut self.stats_keys)
            .chain(&mut self.read_keys)
        {
            if let Secret::File { file } = key {
                fix(file);
            }
        }
        for d in &mut self.destinations {
            if let Some(Secret::File { file }) = &mut d.required_auth_key {
                fix(file);
            }
            let DestinationTarget::Filesystem(f) = &mut d.target else {
                continue;
            };
            let key = f.integrity.as_mut().and_then(|i| i.signing_key.as_mut());
            if let Some(Secret::File { file }) = key {
                fix(file);
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.event_keys.is_empty() {
            return Err(
                "event_keys: at least one key is needed (requests without one get 401)".into(),
            );
        }
        if self.destinations.is_empty() {
            return Err("destinations: at least one destination is needed".into());
        }
        if self.max_body_bytes.0 == 0 {
            return Err("max_body_bytes: must be greater than 0".into());
        }
        if self.max_nodes_per_key == 0 {
            return Err("max_nodes_per_key: must be greater than 0".into());
        }
        if self.max_connections == 0 {
            return Err("max_connections: must be greater than 0".into());
        }
        if self.queue_max_bytes.0 < self.max_body_bytes.0 {
            return Err(format!(
                "queue_max_bytes: {} is smaller than max_body_bytes {}: a full-size batch could never be queued",
                self.queue_max_bytes.0, self.max_body_bytes.0
            ));
        }
        let mut names = BTreeSet::new();
        for (i, d) in self.destinations.iter().enumerate() {
            let at = format!("destinations[{i}] (`{}`)", d.name);
            if d.name.is_empty() {
                return Err(format!("destinations[{i}].name: must not be empty"));
            }
            if !names.insert(d.name.as_str()) {
                return Err(format!(
                    "{at}.name: a destination of that name already exists"
                ));
            }
            d.check_kind(&at)?;
        }
        if self.state_dir.is_none() && self.destinations.iter().all(|d| d.root().is_none()) {
            return Err(
                "state_dir: required when no destination is a filesystem one (the dedup journal needs a folder)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The dedup journal's folder: `state_dir`, or `.event-server` in the first filesystem
    /// destination's root.
    pub fn state_dir(&self) -> PathBuf {
        let first_root = self.destinations.iter().find_map(DestinationConfig::root);
        match (&self.state_dir, first_root) {
            (Some(dir), _) => dir.clone(),
            (None, Some(root)) => root.join(".event-server"),
            (None, None) => PathBuf::from(".event-server"),
        }
    }

    /// Reads every key now: event keys, stats keys, each destination's required key, which
    /// must be one of the event keys (by index into `event_keys`), and each destination's
    /// `integrity` signing key.
    pub fn resolve_keys(&self) -> Result<ResolvedKeys, InvalidServerConfig> {
        self.read_keys().map_err(InvalidServerConfig)
    }

    fn read_keys(&self) -> Result<ResolvedKeys, String> {
        let read = |what: &str, keys: &[Secret]| -> Result<Vec<String>, String> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| k.resolve().map_err(|e| format!("{what}[{i}]: {e}")))
                .collect()
        };
        // A key listed twice (inline and from a file, say) would make "which key sent this"
        // ambiguous, and with it `required_auth_key`: refused, naming both places, never the key.
        let once = |what: &str, keys: Vec<String>| -> Result<Vec<String>, String> {
            for (i, k) in keys.iter().enumerate() {
                if let Some(first) = keys[..i].iter().position(|earlier| earlier == k) {
                    return Err(format!(
                        "{what}[{i}]: the same key as {what}[{first}] (list each key once)"
                    ));
                }
            }
            Ok(keys)
        };
        let event = once("event_keys", read("event_keys", &self.event_keys)?)?;
        let stats = once("stats_keys", read("stats_keys", &self.stats_keys)?)?;
        let read_keys = once("read_keys", read("read_keys", &self.read_keys)?)?;
        for (i, k) in read_keys.iter().enumerate() {
            for (what, others) in [("event_keys", &event), ("stats_keys", &stats)] {
                if let Some(j) = others.iter().position(|o| o == k) {
                    return Err(format!(
                        "read_keys[{i}]: the same key as {what}[{j}] (a read key reads every \
                         stored event: give it its own secret)"
                    ));
                }
            }
        }
        if let Some(anchors) = &self.anchors {
            anchors.load_key().map_err(|e| e.0)?;
        }
        let mut required = Vec::with_capacity(self.destinations.len());
        for (i, d) in self.destinations.iter().enumerate() {
            let Some(secret) = &d.required_auth_key else {
                required.push(None);
                continue;
            };
            let at = format!("destinations[{i}] (`{}`).required_auth_key", d.name);
            let key = secret.resolve().map_err(|e| format!("{at}: {e}"))?;
            match event.iter().position(|k| *k == key) {
                Some(index) => required.push(Some(index)),
                None => return Err(format!("{at}: not one of event_keys")),
            }
        }
        let mut integrity = Vec::with_capacity(self.destinations.len());
        for (i, d) in self.destinations.iter().enumerate() {
            // Every group commit is fsynced: so is every record, after the lines it covers.
            let options = d.integrity().map(|c| c.build(true)).transpose();
            integrity.push(options.map_err(|e| format!("destinations[{i}] (`{}`).{e}", d.name))?);
        }
        Ok(ResolvedKeys {
            event,
            stats,
            read: read_keys,
            required,
            integrity,
        })
    }
}

/// Keys read from their sources.
#[derive(Clone)]
pub struct ResolvedKeys {
    /// `event_keys`, in order.
    pub event: Vec<String>,
    /// `stats_keys`, in order.
    pub stats: Vec<String>,
    /// `read_keys`, in order.
    pub read: Vec<String>,
    /// Per destination, the index in `event` of its `required_auth_key`.
    pub required: Vec<Option<usize>>,
    /// Per destination, its `integrity` with the signing key read.
    pub integrity: Vec<Option<IntegrityOptions>>,
}

impl fmt::Debug for ResolvedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResolvedKeys {{ {} event keys, {} stats keys, {} read keys }}",
            self.event.len(),
            self.stats.len(),
            self.read.len()
        )
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 11004))
}
fn default_max_body() -> ByteSize {
    ByteSize(10 << 20)
}
fn default_max_connections() -> usize {
    1024
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_queue_max() -> ByteSize {
    ByteSize(64 << 20)
}

fn default_max_nodes_per_key() -> usize {
    10_000
}

fn timezone<'de, D: Deserializer<'de>>(d: D) -> Result<Timezone, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(de::Error::custom)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    let value = humantime::parse_duration(&text)
        .map_err(|e| de::Error::custom(format!("`{text}`: {e}")))?;
    if value.is_zero() {
        return Err(de::Error::custom("must be greater than 0"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
