//! Tamper evidence for stored trails: a SHA-256 hash chain over the lines of each file, with
//! checkpoints (optionally signed with Ed25519) in a digest sidecar beside it, and `verify`.
//!
//! Lines are never changed: the proof lives beside them, in `<file>.digest` (see [`sidecar`]
//! for the records, [`checkpoint`] for their format, [`chain`] for the chain). Chains continue
//! across rolled files, so a removed or renamed file breaks them too. Without a signing key the
//! chain still detects accidental damage (a flipped byte, a lost tail), but anyone who can
//! write the files can rebuild it: only signed checkpoints prove that lines were not forged.
//!
//! ```
//! use log4rs_audit::integrity::{self, IntegrityConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let pair = integrity::keys::keygen(dir.path())?;
//! let yaml = format!("{{ signing_key: {{ file: '{}' }}, checkpoint_lines: 2 }}", pair.secret.display());
//! let config: IntegrityConfig = serde_yaml::from_str(&yaml)?;
//! let options = config.build(true)?;
//! assert!(options.signing_key.is_some() && options.fsync);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub mod chain;
pub mod checkpoint;
pub mod keys;
pub mod sidecar;
pub mod state;
pub mod verify;

pub use keys::{keygen, load_public_key, load_signing_key, KeyError, KeyPair};
pub use sidecar::{sidecar_path, IntegrityOptions, SidecarWriter};
pub use state::OriginKind;
pub use verify::{
    verify_paths, verify_paths_with, Finding, FindingKind, Policy, Report, VerifyOptions,
};

use crate::secret::Secret;

/// The `integrity` block of `audit_file` and of Event Server destinations.
///
/// ```yaml
/// integrity:
///   signing_key: { file: /etc/audit/audit.key }   # or { env: NAME }; optional; mode 0600
///   previous_signing_key: { file: /etc/audit/old.key }   # only while rotating keys
///   checkpoint_lines: 100
///   checkpoint_seconds: 5
/// ```
///
/// Key material written inline in the config is refused, and so is a key file that group or
/// others may read (see [`keys::load_signing_key`]).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntegrityConfig {
    /// The Ed25519 secret key (as written by `log4rs-audit keygen`); without it, records are
    /// not signed.
    #[serde(default)]
    pub signing_key: Option<Secret>,
    /// The key the trail was signed with before `signing_key` (a rotation): a writer that
    /// finds the trail signed by it writes a `rekey` record, signed by it, naming the new key.
    #[serde(default)]
    pub previous_signing_key: Option<Secret>,
    /// A checkpoint every this many lines (default 100).
    #[serde(default)]
    pub checkpoint_lines: Option<u64>,
    /// A checkpoint every this many seconds when lines were written (default 5).
    #[serde(default)]
    pub checkpoint_seconds: Option<u64>,
}

/// Default of `checkpoint_lines`.
pub const DEFAULT_CHECKPOINT_LINES: u64 = 100;
/// Default of `checkpoint_seconds`.
pub const DEFAULT_CHECKPOINT_SECONDS: u64 = 5;

impl IntegrityConfig {
    /// Reads the key and checks the numbers; `fsync`: whether records are fsynced (with the
    /// data before them).
    pub fn build(&self, fsync: bool) -> Result<IntegrityOptions, IntegrityConfigError> {
        let signing_key = match &self.signing_key {
            Some(secret) => Some(Arc::new(load_signing_key(secret)?)),
            None => None,
        };
        let previous_signing_key = match &self.previous_signing_key {
            Some(secret) => Some(Arc::new(
                load_signing_key(secret).map_err(IntegrityConfigError::PreviousKey)?,
            )),
            None => None,
        };
        let checkpoint_lines = self.checkpoint_lines.unwrap_or(DEFAULT_CHECKPOINT_LINES);
        if checkpoint_lines == 0 {
            return Err(IntegrityConfigError::Zero("checkpoint_lines"));
        }
        let seconds = self
            .checkpoint_seconds
            .unwrap_or(DEFAULT_CHECKPOINT_SECONDS);
        if seconds == 0 {
            return Err(IntegrityConfigError::Zero("checkpoint_seconds"));
        }
        Ok(IntegrityOptions {
            signing_key,
            checkpoint_lines,
            checkpoint_every: Duration::from_secs(seconds),
            fsync,
            previous_signing_key,
            origin: OriginKind::File,
        })
    }
}

/// Why an `integrity` block is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityConfigError {
    /// The signing key could not be read.
    #[error("integrity.{0}")]
    Key(#[from] KeyError),
    /// The previous signing key could not be read.
    #[error("integrity.previous_{0}")]
    PreviousKey(KeyError),
    /// A count that must be positive.
    #[error("integrity.{0}: must be greater than 0")]
    Zero(&'static str),
}
