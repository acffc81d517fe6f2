//! The permissions of the files and folders the crate creates: audit files, rolled and
//! compressed copies, digest sidecars, spools, dead letters and the Event Server's trees.
//!
//! An audit trail says who did what; a world-readable `audit.log` tells every local user. So
//! files are created `0640` and folders `0750` by default, whatever the process umask allows
//! beyond that (a stricter umask still wins: the default never widens what the administrator
//! set). A target (or the Event Server) that needs another mode says so with `file_mode:
//! '0600'`: that mode is then applied exactly, umask or not. Folders get the file mode with an
//! execute bit wherever it has a read bit (`0640` → `0750`, `0600` → `0700`).
//!
//! Only files and folders this crate creates get a mode: an existing file keeps its own, so an
//! operator's `chmod` survives restarts. Files that belong to another (a sidecar, a lock file,
//! a `.gz` copy) take the mode of the file they belong to ([`FileMode::of`]), so none is more
//! readable than its log. Signing keys are created `0600` whatever this says.
//!
//! ```
//! use log4rs_audit::FileMode;
//!
//! let mode: FileMode = "0600".parse()?;
//! assert_eq!((mode.file_bits(), mode.dir_bits()), (0o600, 0o700));
//! assert_eq!(FileMode::default().file_bits(), 0o640);
//! assert!("0602".parse::<FileMode>().is_err()); // anyone could rewrite the trail
//! # Ok::<(), log4rs_audit::FileModeError>(())
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;
use std::str::FromStr;

/// The mode new files and folders are created with (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileMode {
    bits: u32,
    /// Configured (or taken from an existing file): applied exactly, past the umask.
    exact: bool,
}

impl Default for FileMode {
    /// `0640` (folders `0750`), narrowed further by a stricter umask.
    fn default() -> Self {
        FileMode {
            bits: 0o640,
            exact: false,
        }
    }
}

/// Why a `file_mode` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileModeError {
    /// Not an octal number of at most four digits.
    #[error("`{0}` is not an octal mode such as '0640'")]
    NotOctal(String),
    /// Bits beyond `0777` (setuid, setgid, sticky) or execute bits.
    #[error("`{0}`: a file mode has only read and write bits (at most 0666; folders get execute bits from read bits)")]
    ExtraBits(String),
    /// Without owner read and write the crate cannot reopen, verify or repair its own files.
    #[error("`{0}`: the owner needs read and write (0600) to reopen, verify and repair the trail")]
    OwnerCannotWrite(String),
    /// Writable by every local user: anyone could rewrite the trail.
    #[error("`{0}`: writable by every local user, who could rewrite the trail")]
    WorldWritable(String),
}

impl FromStr for FileMode {
    type Err = FileModeError;

    /// Octal, with or without a leading `0` or `0o`: `0640`, `640`, `0o640`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let digits = t.strip_prefix("0o").unwrap_or(t);
        if digits.is_empty()
            || digits.len() > 4
            || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        {
            return Err(FileModeError::NotOctal(text.to_string()));
        }
        let bits = u32::from_str_radix(digits, 8)
            .map_err(|_| FileModeError::NotOctal(text.to_string()))?;
        if bits & !0o666 != 0 {
            return Err(FileModeError::ExtraBits(text.to_string()));
        }
        if bits & 0o600 != 0o600 {
            return Err(FileModeError::OwnerCannotWrite(text.to_string()));
        }
        if bits & 0o002 != 0 {
            return Err(FileModeError::WorldWritable(text.to_string()));
        }
        Ok(FileMode { bits, exact: true })
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.bits)
    }
}

impl<'de> serde::Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quoted octal mode such as '0640'")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileMode, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FileMode, E> {
                Err(E::custom(format!(
                    "{v}: write the mode as a quoted octal string such as '0640' (an unquoted \
                     number is read as decimal or converted already, so its octal is unknown)"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FileMode, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl FileMode {
    /// The mode of an existing file (its permission bits), applied exactly: what belongs to a
    /// file (its sidecar, lock, compressed copy) is made no more readable than the file.
    pub fn of(metadata: &fs::Metadata) -> FileMode {
        FileMode {
            bits: permission_bits(metadata) | 0o600,
            exact: true,
        }
    }

    /// The mode of the file at `path` ([`FileMode::of`]), or `self` when it cannot be read.
    pub fn like(self, path: &Path) -> FileMode {
        fs::metadata(path).map_or(self, |m| FileMode::of(&m))
    }

    /// The permission bits of new files.
    pub fn file_bits(self) -> u32 {
        self.bits
    }

    /// The permission bits of new folders: the file bits plus execute wherever read is set.
    pub fn dir_bits(self) -> u32 {
        self.bits | ((self.bits & 0o444) >> 2)
    }

    /// `options` with this mode for a file they create.
    pub fn options(self, options: &mut OpenOptions) -> &mut OpenOptions {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(self.bits);
        }
        options
    }

    /// Opens `path` for appending, creating it with this mode if it does not exist (an
    /// existing file keeps its mode).
    pub fn open_append(self, path: &Path) -> io::Result<File> {
        self.open(path, OpenOptions::new().append(true))
    }

    /// Opens `path` with `options` (which must not say `create`), creating it with this mode if
    /// it does not exist; an existing file is opened as it is and keeps its mode.
    pub fn open(self, path: &Path, options: &OpenOptions) -> io::Result<File> {
        self.open_or_create(path, options).map(|(file, _)| file)
    }

    /// [`FileMode::open`], saying whether it created the file (its folder entry then needs an
    /// fsync to survive a power loss).
    pub fn open_or_create(self, path: &Path, options: &OpenOptions) -> io::Result<(File, bool)> {
        match options.open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => return other.map(|file| (file, false)),
        }
        let mut create = options.clone();
        create.create_new(true);
        match self.options(&mut create).open(path) {
            Ok(file) => {
                self.fix(&file)?;
                Ok((file, true))
            }
            // Created by someone else between the two opens: theirs, as it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                options.open(path).map(|file| (file, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Creates (or empties) `path` for writing, with this mode if it is new.
    pub fn create(self, path: &Path) -> io::Result<File> {
        let file = self
            .options(OpenOptions::new().write(true).create(true).truncate(true))
            .open(path)?;
        self.fix(&file)?;
        Ok(file)
    }

    /// Creates `dir` and its missing parents with [`FileMode::dir_bits`]; existing folders
    /// keep their mode.
    pub fn create_dir_all(self, dir: &Path) -> io::Result<()> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dir_all(parent)?;
        }
        self.create_dir(dir).map(drop)
    }

    /// Creates the one folder `dir` (its parent must exist) with [`FileMode::dir_bits`];
    /// `false` when it was already there (and keeps its mode).
    pub fn create_dir(self, dir: &Path) -> io::Result<bool> {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(self.dir_bits());
        }
        match builder.create(dir) {
            Ok(()) => {
                if self.exact {
                    set_bits(dir, self.dir_bits())?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the parent folder of `path` (see [`FileMode::create_dir_all`]).
    pub fn create_parent(self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(dir) => self.create_dir_all(dir),
            None => Ok(()),
        }
    }

    /// A file just created with this mode: an exact mode is applied past the umask.
    fn fix(self, file: &File) -> io::Result<()> {
        #[cfg(unix)]
        if self.exact {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(self.bits))?;
        }
        #[cfg(not(unix))]
        let _ = file;
        Ok(())
    }
}

#[cfg(unix)]
fn permission_bits(metadata: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn permission_bits(_: &fs::Metadata) -> u32 {
    0o640
}

#[cfg(unix)]
fn set_bits(path: &Path, bits: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(bits))
}

#[cfg(not(unix))]
fn set_bits(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn parses_quoted_octal_and_refuses_what_would_break_or_expose_the_trail() {
        for (text, bits) in [
            ("0640", 0o640),
            ("640", 0o640),
            ("0o600", 0o600),
            ("0664", 0o664),
            ("0644", 0o644),
        ] {
            assert_eq!(
                text.parse::<FileMode>().unwrap().file_bits(),
                bits,
                "{text}"
            );
        }
        let err = |t: &str| t.parse::<FileMode>().unwrap_err().to_string();
        assert_eq!(err("0640x"), "`0640x` is not an octal mode such as '0640'");
        assert_eq!(err(""), "`` is not an octal mode such as '0640'");
        assert!(err("0800").contains("not an octal mode"));
        assert!(err("10640").contains("not an octal mode"));
        assert!(err("0750").contains("only read and write bits"));
        assert!(err("4640").contains("only read and write bits"));
        assert!(err("0440").contains("owner needs read and write"));
        assert!(err("0200").contains("owner needs read and write"));
        assert!(err("0642").contains("writable by every local user"));
        assert!(err("0666").contains("writable by every local user"));
    }

    #[test]
    fn yaml_needs_a_quoted_string() {
        let m: FileMode = serde_yaml::from_str("'0600'").unwrap();
        assert_eq!(m.file_bits(), 0o600);
        // An unquoted number is refused: `600` is decimal, `0o600` an integer YAML already
        // converted, and which one the operator meant cannot be told.
        for text in ["600", "0o600", "416"] {
            let e = serde_yaml::from_str::<FileMode>(text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("quoted octal string"), "{text}: {e}");
        }
        // serde_yaml reads a leading-zero `0640` as text, which is the octal the operator meant.
        let m: FileMode = serde_yaml::from_str("0640").unwrap();
        assert_eq!(m.file_bits(), 0o640);
        let e = serde_yaml::from_str::<FileMode>("'0777'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("only read and write bits"), "{e}");
    }

    #[test]
    fn folders_get_execute_where_they_have_read() {
        let m = |t: &str| t.parse::<FileMode>().unwrap().dir_bits();
        assert_eq!(
            (m("0640"), m("0600"), m("0644"), m("0660")),
            (0o750, 0o700, 0o755, 0o770)
        );
        assert_eq!(FileMode::default().dir_bits(), 0o750);
    }

    #[test]
    fn creates_with_the_mode_and_keeps_existing_files_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let exact: FileMode = "0660".parse().unwrap();
        let nested = dir.path().join("a/b");
        exact.create_dir_all(&nested).unwrap();
        // Exact: past a umask of 022 as well.
        assert_eq!((mode(&dir.path().join("a")), mode(&nested)), (0o770, 0o770));
        let file = nested.join("audit.log");
        exact.open_append(&file).unwrap();
        assert_eq!(mode(&file), 0o660);

        let old = dir.path().join("old.log");
        fs::write(&old, "x\n").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).unwrap();
        use std::io::Write;
        exact.open_append(&old).unwrap().write_all(b"y\n").unwrap();
        assert_eq!(mode(&old), 0o644);
        assert_eq!(fs::read_to_string(&old).unwrap(), "x\ny\n");

        // What belongs to a file takes its mode.
        let sidecar = dir.path().join("old.log.digest");
        FileMode::default().like(&old).create(&sidecar).unwrap();
        assert_eq!(mode(&sidecar), 0o644);
        // Opening an existing file never creates a second one or fails.
        assert!(FileMode::default()
            .open(&old, OpenOptions::new().read(true))
            .is_ok());
    }
}
