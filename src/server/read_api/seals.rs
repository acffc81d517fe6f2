//! The integrity state of a stored line, for `annotate=1` and the viewer's badges.
//!
//! A destination with `integrity` gives each partition a digest sidecar; [`verify_paths`]
//! checks the file against it with the server's own public key. A line is then:
//!
//! - `sealed`: covered by a checkpoint of a file that verifies;
//! - `pending`: written after the last checkpoint (sealed within `checkpoint_lines` /
//!   `checkpoint_seconds`);
//! - `failed`: its file does not verify (any finding: a changed, missing or inserted line, a
//!   bad signature, no sidecar);
//! - `none`: the destination does not seal.
//!
//! Verifying reads the whole file, so results are kept per file and redone only when its size
//! or modification time changed (the live partition while it grows).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ed25519_dalek::VerifyingKey;
use parking_lot::Mutex;

use crate::integrity::verify::{verify_paths, VerifyOptions};

/// A line's integrity state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealState {
    /// Covered by a verified checkpoint.
    Sealed,
    /// After the last checkpoint.
    Pending,
    /// Its file does not verify.
    Failed,
    /// Not sealed by the destination.
    None,
}

impl SealState {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SealState::Sealed => "sealed",
            SealState::Pending => "pending",
            SealState::Failed => "failed",
            SealState::None => "none",
        }
    }
}

#[derive(Clone)]
struct Verified {
    len: u64,
    modified: Option<SystemTime>,
    ok: bool,
    /// Bytes covered by the last checkpoint (the end of its last line).
    sealed_bytes: u64,
}

/// Verification results per file.
#[derive(Default)]
pub struct SealCache {
    files: Mutex<HashMap<PathBuf, Verified>>,
}

impl SealCache {
    /// The state of the line at `offset` (of `len` bytes) in `path`, verified with `key`
    /// (`None`: the chain only, for a destination sealing without a signing key).
    pub fn state(
        &self,
        path: &Path,
        offset: u64,
        len: usize,
        key: Option<&VerifyingKey>,
    ) -> SealState {
        let Some(v) = self.verified(path, key) else {
            return SealState::Failed;
        };
        if !v.ok {
            SealState::Failed
        } else if offset + (len as u64) < v.sealed_bytes {
            SealState::Sealed
        } else {
            SealState::Pending
        }
    }

    fn verified(&self, path: &Path, key: Option<&VerifyingKey>) -> Option<Verified> {
        let meta = std::fs::metadata(path).ok()?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        if let Some(v) = self.files.lock().get(path) {
            if v.len == len && v.modified == modified {
                return Some(v.clone());
            }
        }
        let options = VerifyOptions {
            public_key: key.copied(),
        };
        let report = verify_paths(&[path.to_path_buf()], &options).ok()?;
        let summary = report.files.iter().find(|f| f.file == path);
        let (ok, sealed) = match summary {
            Some(f) => (report.ok() && f.ok, f.sealed),
            None => (false, 0),
        };
        let v = Verified {
            len,
            modified,
            ok,
            sealed_bytes: end_of_line(path, sealed).unwrap_or(0),
        };
        let mut files = self.files.lock();
        if files.len() > 100_000 {
            files.clear(); // bounded: a destination with more partitions re-verifies
        }
        files.insert(path.to_path_buf(), v.clone());
        Some(v)
    }
}

/// The byte offset just after line `n` (1-based) of the file; 0 for `n == 0`.
fn end_of_line(path: &Path, n: u64) -> std::io::Result<u64> {
    use std::io::Read;
    if n == 0 {
        return Ok(0);
    }
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut seen, mut at) = (0u64, 0u64);
    loop {
        let got = file.read(&mut buf)?;
        if got == 0 {
            return Ok(at);
        }
        for i in memchr::memchr_iter(b'\n', &buf[..got]) {
            seen += 1;
            if seen == n {
                return Ok(at + i as u64 + 1);
            }
        }
        at += got as u64;
    }
}
