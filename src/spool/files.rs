//! The small files beside the segments (`ack`, `node-id`, `lock`) and directory housekeeping.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::SpoolError;
use crate::file_mode::FileMode;

pub(crate) const ACK: &str = "ack";
pub(crate) const NODE_ID: &str = "node-id";
const LOCK: &str = "lock";
const SEGMENT_EXT: &str = "seg";
const SEGMENT_DIGITS: usize = 20;

/// `<dir>/<first-seq, 20 digits>.seg`: names sort in sequence order.
pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:0SEGMENT_DIGITS$}.{SEGMENT_EXT}"))
}

/// First sequence numbers of the segments in `dir`, ascending, and notes on files ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<(Vec<u64>, Vec<String>), SpoolError> {
    let mut firsts = Vec::new();
    let mut notes = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| SpoolError::io(dir, None, e))? {
        let path = entry.map_err(|e| SpoolError::io(dir, None, e))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        match stem.parse::<u64>() {
            Ok(first) if stem.len() == SEGMENT_DIGITS && first > 0 => firsts.push(first),
            _ => notes.push(format!("{}: not a segment name, ignored", path.display())),
        }
    }
    firsts.sort_unstable();
    Ok((firsts, notes))
}

/// Replaces `<dir>/<name>` with `contents` so a crash leaves either the old or the new file
/// whole: write a temporary file, fsync it, rename it over, fsync the directory.
pub(crate) fn write_atomic(
    dir: &Path,
    name: &str,
    contents: &[u8],
    fsync: bool,
    mode: FileMode,
) -> Result<(), SpoolError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = mode
        .create(&tmp)
        .map_err(|e| SpoolError::io(&tmp, None, e))?;
    file.write_all(contents)
        .and_then(|()| if fsync { file.sync_all() } else { Ok(()) })
        .map_err(|e| SpoolError::io(&tmp, None, e))?;
    fs::rename(&tmp, dir.join(name)).map_err(|e| SpoolError::io(&tmp, None, e))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The highest sequence number segments set aside as damaged in `dir` may hold (0 if none):
/// at most one per smallest record after the segment's first. Never handed out again, across
/// restarts too.
pub(crate) fn damaged_reserve(dir: &Path) -> Result<u64, SpoolError> {
    let mut reserved = 0;
    for entry in fs::read_dir(dir).map_err(|e| SpoolError::io(dir, None, e))? {
        let entry = entry.map_err(|e| SpoolError::io(dir, None, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg.damaged")) else {
            continue;
        };
        let (Ok(first), Ok(meta)) = (stem.parse::<u64>(), entry.metadata()) else {
            continue;
        };
        let most = meta.len() / super::record::size(0) as u64;
        reserved = reserved.max(first.saturating_add(most));
    }
    Ok(reserved)
}

/// Renames a damaged segment to `<name>.damaged` (kept for inspection, ignored by the spool);
/// returns the new path.
pub(crate) fn quarantine(path: &Path, fsync: bool) -> Result<PathBuf, SpoolError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".damaged");
    let aside = PathBuf::from(aside);
    fs::rename(path, &aside).map_err(|e| SpoolError::io(path, None, e))?;
    if fsync {
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
    }
    Ok(aside)
}

/// Reads the node id, generating and persisting one on first use.
pub(crate) fn node_id(dir: &Path, mode: FileMode) -> Result<String, SpoolError> {
    let path = dir.join(NODE_ID);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            let valid = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
            if id.is_empty() || id.len() > 64 || !id.chars().all(valid) {
                return Err(SpoolError::corrupt(
                    &path,
                    0,
                    format!("not a node id: {id:?}"),
                ));
            }
            Ok(id.to_owned())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = generate_node_id();
            write_atomic(dir, NODE_ID, format!("{id}\n").as_bytes(), true, mode)?;
            Ok(id)
        }
        Err(e) => Err(SpoolError::io(&path, None, e)),
    }
}

/// 16 hex digits. std's `RandomState` is keyed from the OS's random source, so this needs no
/// random-number crate; time and pid are mixed in as well.
fn generate_node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Makes created, renamed and removed directory entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io(dir, None, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Takes an exclusive lock on `<dir>/lock`, held as long as the returned file is open: two
/// spools appending to the same segments would corrupt them.
pub(crate) fn lock_dir(dir: &Path, mode: FileMode) -> Result<File, SpoolError> {
    let path = dir.join(LOCK);
    let file = mode
        .open(&path, OpenOptions::new().write(true))
        .map_err(|e| SpoolError::io(&path, None, e))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock => SpoolError::Locked { path },
                _ => SpoolError::io(&path, None, e),
            });
        }
    }
    Ok(file)
}
