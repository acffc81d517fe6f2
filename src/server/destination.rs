//! A `filesystem` destination: which events it takes, and the files it appends them to.
//!
//! With `integrity`, each open file has a [`SidecarWriter`] beside it. It is opened (resuming
//! the sidecar, or starting one) when the file is, before a group's journal `begin`, so it
//! only ever sees committed lines; a group's lines are fed to it by [`FileDestination::seal`]
//! only after the group's commit. Its records therefore never cover lines that a journal undo
//! could cut back. After an undo, [`FileDestination::forget`] drops it without writing anything,
//! and the next [`FileDestination::length_of`] reopens it from the file and sidecar.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::config::DestinationConfig;
use super::route::DestinationRoute;
use crate::file_mode::FileMode;
use crate::integrity::{IntegrityOptions, OriginKind, SidecarWriter};
use crate::protocol::layout::{Layout, Partition, FILE_NAME};
use crate::protocol::wire::RoutingKey;
use crate::Topic;

/// Files kept open per destination; the least recently used beyond this are closed, but never
/// one the group in progress has opened (see [`FileDestination::start_group`]): a group touching
/// more files than this keeps them all open until it ends.
const MAX_OPEN_FILES: usize = 256;

/// One destination, ready to store.
pub struct FileDestination {
    /// Its configured name.
    pub name: String,
    root: PathBuf,
    route: DestinationRoute,
    layout: Layout,
    /// The most bytes one group writes here.
    pub flush_every_bytes: u64,
    files: HashMap<PathBuf, OpenFile>,
    /// Its `integrity`, with the key read.
    integrity: Option<IntegrityOptions>,
    /// When the group in progress started: files used since are its own and stay open.
    group_started: Instant,
    /// Mode of the files and folders it creates.
    file_mode: FileMode,
}

struct OpenFile {
    file: File,
    len: u64,
    used: Instant,
    /// The digest sidecar (integrity only): it has absorbed every committed line.
    sidecar: Option<SidecarWriter>,
}

impl FileDestination {
    /// From its config; `required_key` is the index of its `required_auth_key`, `integrity`
    /// its `integrity` block built (see [`super::config::ResolvedKeys`]).
    pub fn new(
        config: &DestinationConfig,
        required_key: Option<usize>,
        integrity: Option<IntegrityOptions>,
        file_mode: FileMode,
    ) -> FileDestination {
        let root = config.root().map(Path::to_owned).unwrap_or_default();
        // Each file's trail records where it is: this destination and its folder below the
        // root, so a file moved to another folder fails `verify`.
        let integrity = integrity.map(|mut o| {
            o.origin = OriginKind::Destination {
                name: config.name.clone(),
                root: root.clone(),
            };
            o
        });
        FileDestination {
            name: config.name.clone(),
            root,
            route: DestinationRoute::new(config, required_key),
            layout: config.layout(),
            group_started: Instant::now(),
            flush_every_bytes: config.flush_every_bytes(),
            files: HashMap::new(),
            integrity,
            file_mode,
        }
    }

    /// Whether its files get digest sidecars.
    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Whether it stores an event of `topic` and `routing_key` sent with event key `key`.
    pub fn accepts(&self, topic: Topic, routing_key: Option<&RoutingKey>, key: usize) -> bool {
        self.route.accepts(topic, routing_key, key)
    }

    /// The file an event goes to (topic and routing key are validated names, so it is always
    /// inside the root).
    pub fn file_of(
        &self,
        topic: Topic,
        routing_key: Option<&RoutingKey>,
        partition: Partition,
    ) -> PathBuf {
        let mut path = self
            .root
            .join(self.layout.dir_of(topic, routing_key, partition));
        path.push(FILE_NAME);
        path
    }

    /// The partitioning of its time folders.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Marks the start of a group commit: the files it opens from now on (through
    /// [`Self::length_of`]) are not closed to make room until the next group starts.
    pub fn start_group(&mut self) {
        self.group_started = Instant::now();
    }

    /// The current length of `path`, opening (and creating, with its folders) it if needed.
    /// New folders are synced so the file's entry survives a power loss. With integrity, the
    /// sidecar is opened too (call it only when the file holds committed lines only: before a
    /// group's `begin`, or after an undo).
    pub fn length_of(&mut self, path: &Path) -> io::Result<u64> {
        if let Some(f) = self.files.get_mut(path) {
            f.used = Instant::now();
            return Ok(f.len);
        }
        self.close_idle_beyond(MAX_OPEN_FILES - 1);
        let dir = path.parent().unwrap_or(Path::new("."));
        create_dir_synced(dir, self.file_mode)?;
        let (file, created) = self
            .file_mode
            .open_or_create(path, OpenOptions::new().append(true))?;
        let sidecar = match &self.integrity {
            Some(options) => {
                let (w, repairs) = SidecarWriter::open(path, options.clone(), SystemTime::now())?;
                for r in repairs {
                    eprintln!("event-server: integrity: {r}");
                }
                Some(w)
            }
            None => None,
        };
        if created {
            // Syncs the new file's entry and, with integrity, its sidecar's.
            File::open(dir)?.sync_all()?;
        }
        let len = file.metadata()?.len();
        self.files.insert(
            path.to_owned(),
            OpenFile {
                file,
                len,
                used: Instant::now(),
                sidecar,
            },
        );
        Ok(len)
    }

    /// After the group that appended `bytes` to `path` is committed: feeds them to its
    /// sidecar, and writes a checkpoint if one is due (the lines are already fsynced). A
    /// failure is only reported (the lines are stored): the sidecar is dropped and reopened,
    /// resuming from what is on disk, the next time the file is written.
    pub fn seal(&mut self, path: &Path, bytes: &[u8], now: SystemTime) {
        let Some(f) = self.files.get_mut(path) else {
            return;
        };
        let Some(w) = &mut f.sidecar else {
            return;
        };
        w.absorb(bytes);
        if w.due(now) {
            if let Err(e) = w.checkpoint(now) {
                eprintln!("event-server: integrity: {e}");
                self.files.remove(path);
            }
        }
    }

    /// Writes the checkpoints that are due (by `checkpoint_seconds`) in its open files.
    pub fn tick(&mut self, now: SystemTime) {
        let mut failed = Vec::new();
        for (path, f) in &mut self.files {
            let Some(w) = f.sidecar.as_mut().filter(|w| w.due(now)) else {
                continue;
            };
            if let Err(e) = w.checkpoint(now) {
                eprintln!("event-server: integrity: {e}");
                failed.push(path.clone());
            }
        }
        for path in failed {
            self.files.remove(&path);
        }
    }

    /// Closes every open file, sealing the lines written since their last record (a clean
    /// shutdown).
    pub fn close_all(&mut self, now: SystemTime) {
        for (_, mut f) in self.files.drain() {
            close_sidecar(&mut f, now);
        }
    }

    /// Appends `bytes` to `path` (opened by [`Self::length_of`]) and fsyncs it.
    #[cfg(test)]
    pub fn write_synced(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.append(path, bytes)?;
        self.sync(path)
    }

    /// Appends `bytes` to `path` (opened by [`Self::length_of`]); [`Self::sync`] makes them
    /// durable.
    pub fn append(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let f = self
            .files
            .get_mut(path)
            .ok_or_else(|| io::Error::other("file not opened"))?;
        match f.file.write_all(bytes) {
            Ok(()) => {
                f.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Its length is unknown now; the journal's undo cuts it back, and a reopen
                // re-reads it.
                self.files.remove(path);
                Err(e)
            }
        }
    }

    /// fdatasync of `path` (opened by [`Self::length_of`]).
    pub fn sync(&mut self, path: &Path) -> io::Result<()> {
        let f = self
            .files
            .get_mut(path)
            .ok_or_else(|| io::Error::other("file not opened"))?;
        let synced = f.file.sync_data();
        if synced.is_err() {
            // What reached the disk is unknown: forgotten like a failed append.
            self.files.remove(path);
        }
        synced
    }

    /// Forgets a file's cached length (after an undo cut it back), and its sidecar's state
    /// without writing a record: the next [`Self::length_of`] resumes it from the file.
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    /// Closes the least recently used files until at most `keep` are open, sparing those of
    /// the group in progress (closing one under it would fail its write with "file not
    /// opened", and the retried batch again, forever).
    fn close_idle_beyond(&mut self, keep: usize) {
        while self.files.len() > keep {
            let started = self.group_started;
            let oldest = self
                .files
                .iter()
                .filter(|(_, f)| f.used < started)
                .min_by_key(|(_, f)| f.used);
            let Some(path) = oldest.map(|(p, _)| p.clone()) else {
                return;
            };
            if let Some(mut f) = self.files.remove(&path) {
                close_sidecar(&mut f, SystemTime::now());
            }
        }
    }
}

/// Writes a `close` record if committed lines are unsealed (they are all fsynced already).
fn close_sidecar(f: &mut OpenFile, now: SystemTime) {
    if let Some(w) = &mut f.sidecar {
        if let Err(e) = w.close(now) {
            eprintln!("event-server: integrity: {e}");
        }
    }
}

/// `create_dir_all` with `mode`, syncing each parent of a folder it created.
fn create_dir_synced(dir: &Path, mode: FileMode) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_synced(parent, mode)?;
    }
    if !mode.create_dir(dir)? {
        return Ok(());
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(parent)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::ServerConfig;
    use std::fs::{self, OpenOptions};

    #[test]
    fn acceptance_and_paths() {
        let c = ServerConfig::from_yaml(
            r#"
event_keys: [a, b]
destinations:
  - { name: d, type: filesystem, root: /r, topics: [apinode-query], routing_keys: [svc-1], required_auth_key: b, partitioning_period: DAY }
"#,
        )
        .unwrap();
        let d = FileDestination::new(&c.destinations[0], Some(1), None, FileMode::default());
        let rk = RoutingKey::new("svc-1").unwrap();
        let other = RoutingKey::new("svc-2").unwrap();
        assert!(d.accepts(Topic::ApinodeQuery, Some(&rk), 1));
        assert!(!d.accepts(Topic::ApinodeQuery, Some(&rk), 0), "wrong key");
        assert!(!d.accepts(Topic::ApinodeQuery, Some(&other), 1));
        assert!(!d.accepts(Topic::ApinodeQuery, None, 1));
        assert!(!d.accepts(Topic::Generic, Some(&rk), 1));
        let p = Partition {
            year: 2020,
            month: 2,
            day: Some(19),
            hour: None,
        };
        assert_eq!(
            d.file_of(Topic::ApinodeQuery, Some(&rk), p),
            Path::new("/r/apinode-query/svc-1/2020/02/19/events.log")
        );
    }

    /// Records never cover lines of an uncommitted group, even when a checkpoint falls due
    /// while they are in the file; after the undo the sidecar resumes and everything verifies.
    #[test]
    fn sidecars_only_cover_committed_lines() {
        use crate::integrity::{verify_paths, VerifyOptions};
        use std::sync::Arc;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            "event_keys: [a]\ndestinations:\n  - {{ name: d, type: filesystem, root: '{}', integrity: {{ checkpoint_lines: 2 }} }}\n",
            dir.path().display()
        );
        let c = ServerConfig::from_yaml(&yaml).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let mut options = c.resolve_keys().unwrap().integrity[0].clone().unwrap();
        options.signing_key = Some(Arc::new(key.clone()));
        let mut d =
            FileDestination::new(&c.destinations[0], None, Some(options), FileMode::default());
        assert!(d.has_integrity());
        let p = Partition {
            year: 2020,
            month: 2,
            day: Some(19),
            hour: Some(15),
        };
        let path = d.file_of(Topic::Generic, None, p);
        let now = SystemTime::now();
        assert_eq!(d.length_of(&path).unwrap(), 0);
        let sidecar = crate::integrity::sidecar_path(&path);
        assert!(sidecar.exists(), "the sidecar is created with the file");
        // A committed group.
        d.write_synced(&path, b"a\nb\nc\n").unwrap();
        d.seal(&path, b"a\nb\nc\n", now);
        let committed = d.length_of(&path).unwrap();
        // A group written but not committed; a checkpoint falls due meanwhile.
        d.write_synced(&path, b"x\ny\n").unwrap();
        d.tick(now + Duration::from_secs(3600));
        let records = crate::integrity::sidecar::read_sidecar(&sidecar)
            .unwrap()
            .records;
        let last = &records.last().unwrap().0;
        assert_eq!((last.lines, last.bytes), (3, committed), "{records:?}");
        // The undo: cut back, forgotten, reopened (the sidecar resumes from the file).
        d.forget(&path);
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(committed)
            .unwrap();
        assert_eq!(d.length_of(&path).unwrap(), committed);
        d.write_synced(&path, b"d\n").unwrap();
        d.seal(&path, b"d\n", now);
        d.close_all(now);
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\nc\nd\n");
        let verify = VerifyOptions {
            public_key: Some(key.verifying_key()),
        };
        let report = verify_paths(&[dir.path().to_owned()], &verify).unwrap();
        assert!(report.ok(), "{}", report.to_text());
        assert_eq!(report.files.len(), 1);
        assert_eq!((report.files[0].lines, report.files[0].sealed), (4, 4));
    }
}
