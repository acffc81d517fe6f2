//! Whether two destination roots share files, however they are spelled: with `..`, through
//! a symlink, or as two paths of one folder (a bind mount). Two destinations writing one file
//! each keep their own length for it, and crash recovery then cuts acknowledged events.

use std::path::{Component, Path, PathBuf};

/// A root as the filesystem sees it now.
#[derive(Debug, Clone)]
pub struct ResolvedRoot {
    /// Symlinks and `..` resolved in the part that exists, `..` applied lexically in the part
    /// that does not yet (which is what creating it will do).
    pub path: PathBuf,
    /// Device and inode of each existing folder on `path`, from `/` down.
    ids: Vec<FileId>,
    /// Components of `path` below its deepest existing folder.
    missing: usize,
}

type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    m.is_dir().then(|| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &Path) -> Option<FileId> {
    None
}

/// Resolves `root` (made absolute against the working directory first) one component at a
/// time: each prefix that exists is canonicalized, so a later `..` leaves the folder a
/// symlink led to, as the kernel does.
pub fn resolve(root: &Path) -> ResolvedRoot {
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_owned());
    let mut path = PathBuf::new();
    let mut exists = true;
    for c in absolute.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => path.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                path.pop();
            }
            Component::Normal(name) => {
                path.push(name);
                if exists || std::fs::symlink_metadata(&path).is_ok() {
                    match std::fs::canonicalize(&path) {
                        Ok(real) => {
                            path = real;
                            exists = true;
                        }
                        // Missing (or a dangling symlink): the rest is created as written.
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    let mut ids = Vec::new();
    let mut missing = 0;
    let mut at = PathBuf::new();
    for c in path.components() {
        at.push(c);
        match file_id(&at) {
            Some(id) if missing == 0 => ids.push(id),
            _ => missing += 1,
        }
    }
    ResolvedRoot { path, ids, missing }
}

impl ResolvedRoot {
    /// Whether one of the two roots is the other or inside it.
    pub fn overlaps(&self, other: &ResolvedRoot) -> bool {
        if self.path.starts_with(&other.path) || other.path.starts_with(&self.path) {
            return true;
        }
        self.inside(other) || other.inside(self)
    }

    /// Whether `self` lies in `other` by device and inode: `other` exists and is one of the
    /// folders on `self`'s path, or both end at one existing folder and `other`'s missing
    /// part is a prefix of `self`'s.
    fn inside(&self, other: &ResolvedRoot) -> bool {
        let Some(last) = other.ids.last() else {
            return false;
        };
        if other.missing == 0 {
            return self.ids.contains(last);
        }
        if self.ids.last() != Some(last) || self.missing < other.missing {
            return false;
        }
        let tail = |r: &ResolvedRoot, n: usize| -> Vec<PathBuf> {
            let comps: Vec<_> = r.path.components().collect();
            comps[comps.len() - r.missing..][..n]
                .iter()
                .map(|c| PathBuf::from(c.as_os_str()))
                .collect()
        };
        tail(self, other.missing) == tail(other, other.missing)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_symlinks_and_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/sub")).unwrap();
        std::fs::create_dir_all(d.join("b")).unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("link")).unwrap();
        std::os::unix::fs::symlink(d.join("a/sub"), d.join("b/up")).unwrap();
        let overlap = |x: &str, y: &str| resolve(&d.join(x)).overlaps(&resolve(&d.join(y)));
        for (x, y) in [
            ("a", "b/../a"),
            ("a", "link"),
            ("a/sub", "link"),
            ("link/new", "a/new/deeper"),
            ("a/x/../sub", "a"),
            // `b/up/..` is `a`, not `b`: up leads to a/sub.
            ("b/up/..", "a/other"),
            ("b/up", "a"),
            ("a/missing/../sub", "a/sub"),
        ] {
            assert!(overlap(x, y), "{x} and {y}");
            assert!(overlap(y, x), "{y} and {x}");
        }
        for (x, y) in [
            ("a", "b"),
            ("a/sub", "b"),
            ("b/up/..", "b"),
            ("link/new", "a/new2"),
            ("a/sub2", "a/sub"),
        ] {
            assert!(!overlap(x, y), "{x} and {y}");
        }
        assert_eq!(
            resolve(&d.join("b/up/../x/..")).path,
            d.canonicalize().unwrap().join("a")
        );
    }

    /// Two paths of one folder that no path comparison can tell apart: compared by inode.
    #[test]
    fn one_folder_by_two_paths_is_found_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        let a = resolve(&d.join("a"));
        let mut twin = resolve(&d.join("a/b"));
        // As a bind mount of `a` elsewhere would look: another path, the same ids.
        twin.path = PathBuf::from("/elsewhere/b");
        assert!(twin.overlaps(&a) && a.overlaps(&twin));
        let mut missing = resolve(&d.join("a/new"));
        missing.path = PathBuf::from("/elsewhere/new");
        assert!(missing.overlaps(&resolve(&d.join("a/new/x"))));
        assert!(!missing.overlaps(&resolve(&d.join("a/new2"))));
    }
}
