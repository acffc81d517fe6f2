//! A `filesystem` destination: which events it takes, and the files it appends them to.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::config::{Accept, DestinationConfig};
use super::layout::{Layout, Partition, FILE_NAME};
use super::wire::RoutingKey;
use crate::Topic;

/// Files kept open per destination; the least recently used beyond this are closed.
const MAX_OPEN_FILES: usize = 256;

/// One destination, ready to store.
pub struct Destination {
    /// Its configured name.
    pub name: String,
    root: PathBuf,
    topics: Accept<Topic>,
    routing_keys: Accept<String>,
    /// Index in the event keys of the key it requires.
    required_key: Option<usize>,
    layout: Layout,
    /// The most bytes one group writes here.
    pub flush_every_bytes: u64,
    files: HashMap<PathBuf, OpenFile>,
}

struct OpenFile {
    file: File,
    len: u64,
    used: Instant,
}

impl Destination {
    /// From its config; `required_key` is the index of its `required_auth_key`.
    pub fn new(config: &DestinationConfig, required_key: Option<usize>) -> Destination {
        Destination {
            name: config.name.clone(),
            root: config.root.clone(),
            topics: config.topics.clone(),
            routing_keys: config.routing_keys.clone(),
            required_key,
            layout: config.layout(),
            flush_every_bytes: config.flush_every_bytes.0,
            files: HashMap::new(),
        }
    }

    /// Whether it stores an event of `topic` and `routing_key` sent with event key `key`.
    pub fn accepts(&self, topic: Topic, routing_key: Option<&RoutingKey>, key: usize) -> bool {
        if self.required_key.is_some_and(|k| k != key) || !self.topics.accepts(&topic) {
            return false;
        }
        match (&self.routing_keys, routing_key) {
            (Accept::All, _) => true,
            (Accept::Only(keys), Some(rk)) => keys.contains(rk.as_str()),
            (Accept::Only(_), None) => false,
        }
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

    /// The current length of `path`, opening (and creating, with its folders) it if needed.
    /// New folders are synced so the file's entry survives a power loss.
    pub fn length_of(&mut self, path: &Path) -> io::Result<u64> {
        if let Some(f) = self.files.get_mut(path) {
            f.used = Instant::now();
            return Ok(f.len);
        }
        if self.files.len() >= MAX_OPEN_FILES {
            self.close_oldest();
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        create_dir_synced(dir)?;
        let existed = path.exists();
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        if !existed {
            File::open(dir)?.sync_all()?;
        }
        let len = file.metadata()?.len();
        self.files.insert(
            path.to_owned(),
            OpenFile {
                file,
                len,
                used: Instant::now(),
            },
        );
        Ok(len)
    }

    /// Appends `bytes` to `path` (opened by [`Self::length_of`]) and fsyncs it.
    pub fn write_synced(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let f = self
            .files
            .get_mut(path)
            .ok_or_else(|| io::Error::other("file not opened"))?;
        let written = f.file.write_all(bytes).and_then(|()| f.file.sync_data());
        if written.is_err() {
            // Its length is unknown now; the journal's undo cuts it back, and a reopen
            // re-reads it.
            self.files.remove(path);
        } else {
            f.len += bytes.len() as u64;
        }
        written
    }

    /// Forgets a file's cached length (after an undo cut it back).
    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    fn close_oldest(&mut self) {
        let oldest = self.files.iter().min_by_key(|(_, f)| f.used);
        if let Some(path) = oldest.map(|(p, _)| p.clone()) {
            self.files.remove(&path);
        }
    }
}

/// `create_dir_all`, syncing each parent of a folder it created.
fn create_dir_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_synced(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
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
        let d = Destination::new(&c.destinations[0], Some(1));
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
}
