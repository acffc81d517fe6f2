//! What a writer keeps beside its files so that a new trail can name the one before it, and
//! where a trail says it is written (its *origin*).
//!
//! **The state file** `.<name>.trail` (hidden, beside `<name>`: `rm audit.log*` leaves it, and
//! folder walks skip it) holds one line, rewritten in place after every record:
//!
//! ```text
//! {"trail":"6f1c…","n":41,"head":"9a3e…","boot":3,"key":"c0ffee…"}
//! ```
//!
//! the trail the writer writes, its last record's number and chain head, the boot counter and
//! the key id. A writer that finds no sidecar for its file but this state starts a new trail
//! whose `start` names the previous trail (`prev_trail`, `prev_n`, `prev_head`), and its boot
//! counter goes on from the state's. `verify` checks the newest trail against it: a trail
//! replaced by another one, or rolled back to an older copy, no longer matches.
//!
//! **Origins**: `file:<node>:<absolute path of the live file>` for `audit_file`,
//! `server:<destination>:<folder below the root>/events.log` on an Event Server.

use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::chain::{from_hex, to_hex, Head};
use crate::file_mode::FileMode;

/// Where the writer's state for `log` lives: `.<name>.trail` beside it.
pub fn state_path(log: &Path) -> PathBuf {
    let name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = format!(".{name}.trail");
    match log.parent() {
        Some(d) => d.join(file),
        None => PathBuf::from(file),
    }
}

/// The live file name of a state file name (`.audit.log.trail` → `audit.log`).
pub fn live_name_of_state(name: &str) -> Option<&str> {
    name.strip_prefix('.')?.strip_suffix(".trail")
}

/// The state a writer keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailState {
    /// The trail it writes.
    pub trail: [u8; 16],
    /// Its last record's number.
    pub n: u64,
    /// That record's chain head.
    pub head: Head,
    /// The boot counter of that record.
    pub boot: u64,
    /// Its key id, if signed.
    pub key: Option<[u8; 8]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    trail: String,
    n: u64,
    head: String,
    boot: u64,
    key: String,
}

/// The width the state line is padded to, so a rewrite in place covers the previous one.
const WIDTH: usize = 200;

impl TrailState {
    fn render(&self) -> String {
        let key = self.key.map(|k| to_hex(&k)).unwrap_or_default();
        let mut line = format!(
            "{{\"trail\":\"{}\",\"n\":{},\"head\":\"{}\",\"boot\":{},\"key\":\"{key}\"}}",
            to_hex(&self.trail),
            self.n,
            to_hex(&self.head),
            self.boot
        );
        while line.len() < WIDTH - 1 {
            line.push(' ');
        }
        line.push('\n');
        line
    }

    fn parse(text: &str) -> Option<TrailState> {
        let w: Wire = serde_json::from_str(text.trim()).ok()?;
        Some(TrailState {
            trail: from_hex::<16>(&w.trail)?,
            n: w.n,
            head: from_hex::<32>(&w.head)?,
            boot: w.boot,
            key: if w.key.is_empty() {
                None
            } else {
                Some(from_hex::<8>(&w.key)?)
            },
        })
    }
}

/// Reads a state file: `None` when there is none; an `InvalidData` error naming it when it
/// cannot be read back.
pub fn read_state(path: &Path) -> io::Result<Option<TrailState>> {
    match std::fs::read_to_string(path) {
        Ok(text) => TrailState::parse(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a trail state file", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// The open state file of a writer, rewritten in place after each record.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    file: File,
}

impl StateFile {
    /// Opens (creating, with the mode of `log`) the state file of `log`.
    pub fn open(log: &Path) -> io::Result<StateFile> {
        let path = state_path(log);
        let file = FileMode::default()
            .like(log)
            .open(&path, std::fs::OpenOptions::new().write(true))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(StateFile { path, file })
    }

    /// Rewrites it (one `pwrite` at offset 0 of a fixed-width line).
    pub fn write(&mut self, state: &TrailState) -> io::Result<()> {
        let line = state.render();
        self.write_at_start(line.as_bytes())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }

    #[cfg(unix)]
    fn write_at_start(&self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(bytes, 0)
    }

    #[cfg(not(unix))]
    fn write_at_start(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(bytes)
    }
}

/// Where a writer's trail is written, for the `origin` of its records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginKind {
    /// An `audit_file`: `file:<node>:<absolute path>`; the writer keeps a state file.
    #[default]
    File,
    /// An Event Server destination: `server:<name>:<folder below root>/events.log`; each file
    /// is its own trail, no state file.
    Destination {
        /// The destination's name.
        name: String,
        /// Its root folder.
        root: PathBuf,
    },
}

impl OriginKind {
    /// The origin string of the trail of `log`.
    pub fn origin_of(&self, log: &Path) -> String {
        match self {
            OriginKind::File => {
                let abs = absolute(log);
                format!("file:{}:{}", node_name(), abs.display())
            }
            OriginKind::Destination { name, root } => {
                let rel = log.strip_prefix(root).unwrap_or(log);
                let parts: Vec<String> = rel
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                format!("server:{name}:{}", parts.join("/"))
            }
        }
    }

    /// Whether the writer keeps a state file.
    pub fn keeps_state(&self) -> bool {
        matches!(self, OriginKind::File)
    }
}

/// `log` made absolute, its folder resolved (symbolic links, `..`) when it exists.
pub fn absolute(log: &Path) -> PathBuf {
    let name = log.file_name().map(|n| n.to_owned()).unwrap_or_default();
    let dir = match log.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    match std::fs::canonicalize(&dir) {
        Ok(d) => d.join(name),
        Err(_) => std::path::absolute(log).unwrap_or_else(|_| log.to_owned()),
    }
}

/// Compares a record's origin with where its file is (`live`: the path of the live file the
/// record was written for, in the folder where it was found). `moved`: the files were copied
/// or moved on purpose, so only names are compared for `file:` origins. `Err`: what differs.
pub fn check_origin(origin: &str, live: &Path, moved: bool) -> Result<(), String> {
    let mut parts = origin.splitn(3, ':');
    let (scheme, node, path) = (parts.next(), parts.next(), parts.next());
    match (scheme, node, path) {
        (Some("file"), Some(node), Some(path)) => {
            let want = Path::new(path);
            let here = absolute(live);
            let same = if moved {
                want.file_name() == here.file_name()
            } else {
                want == here
            };
            if same {
                Ok(())
            } else {
                Err(format!(
                    "written as {path} on node {node}, found as {}",
                    here.display()
                ))
            }
        }
        (Some("server"), Some(dest), Some(path)) => {
            let want: Vec<&str> = path.split('/').collect();
            let here: Vec<String> = live
                .components()
                .filter_map(|c| match c {
                    Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            let tail = here.len().checked_sub(want.len()).map(|s| &here[s..]);
            if tail.is_some_and(|t| t.iter().zip(&want).all(|(a, b)| a == b)) {
                Ok(())
            } else {
                Err(format!(
                    "stored by destination {dest} as {path}, found as {}",
                    live.display()
                ))
            }
        }
        _ => Err(format!("unknown origin `{origin}`")),
    }
}

/// The host's name, for origins (`-` when unknown).
pub fn node_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or
        // truncates, and the length is bounded below.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name: String = String::from_utf8_lossy(&buf[..end])
                .chars()
                .filter(|c| c.is_ascii_graphic() && *c != ':')
                .collect();
            if !name.is_empty() {
                return name;
            }
        }
    }
    "-".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        std::fs::write(&log, "").unwrap();
        let mut f = StateFile::open(&log).unwrap();
        let mut s = TrailState {
            trail: [1; 16],
            n: 123456,
            head: [2; 32],
            boot: 9,
            key: Some([3; 8]),
        };
        f.write(&s).unwrap();
        s.n = 7;
        s.key = None;
        f.write(&s).unwrap();
        let p = state_path(&log);
        assert_eq!(p, dir.path().join(".audit.log.trail"));
        assert_eq!(read_state(&p).unwrap(), Some(s));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), WIDTH as u64);
        assert_eq!(live_name_of_state(".audit.log.trail"), Some("audit.log"));
    }

    #[test]
    fn origins() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let o = OriginKind::File.origin_of(&log);
        assert!(o.starts_with("file:") && o.ends_with("/audit.log"), "{o}");
        assert!(check_origin(&o, &log, false).is_ok());
        let other = dir.path().join("x/audit.log");
        assert!(check_origin(&o, &other, false).is_err());
        assert!(check_origin(&o, &other, true).is_ok());
        let d = OriginKind::Destination {
            name: "disk".into(),
            root: "/r".into(),
        };
        let o = d.origin_of(Path::new("/r/generic/rk-1/2020/events.log"));
        assert_eq!(o, "server:disk:generic/rk-1/2020/events.log");
        assert!(check_origin(&o, Path::new("/copy/generic/rk-1/2020/events.log"), false).is_ok());
        let e = check_origin(&o, Path::new("/copy/generic/rk-2/2020/events.log"), false);
        assert!(e.unwrap_err().contains("rk-2"));
    }
}
