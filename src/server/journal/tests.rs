use super::*;

const A: KeyId = [7; 16];
const B: KeyId = [9; 16];

fn nc(node: &str, mark: u64, key: KeyId) -> NodeCommit<'_> {
    NodeCommit { node, mark, key }
}

#[test]
fn marks_survive_reopen_and_an_open_begin_is_undone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("events.log");
    fs::write(&data, "line1\n").unwrap();
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        assert_eq!(j.mark("web-1"), 0);
        j.begin(&[(&data, 6)]).unwrap();
        fs::write(&data, "line1\nline2\n").unwrap();
        j.commit(&[nc("web-1", 7, A), nc("web-2", 3, A)]).unwrap();
        assert_eq!(j.mark("web-1"), 7);
        // A second group that crashes between its data and its commit.
        j.begin(&[(&data, 12)]).unwrap();
        fs::write(&data, "line1\nline2\nline3 torn").unwrap();
    }
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!((j.mark("web-1"), j.mark("web-2"), j.nodes()), (7, 3, 2));
    assert_eq!(fs::read_to_string(&data).unwrap(), "line1\nline2\n");
    assert_eq!(j.recovered().len(), 1, "{:?}", j.recovered());
}

/// A file the last group committed needs no `Begin` (two fsyncs per group, not three);
/// a crash between its lines and its commit still cuts them off, and so does one after a
/// later group on another file.
#[test]
fn committed_lengths_replace_the_begin_and_still_undo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("events.log");
    let other = dir.path().join("other.log");
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        assert!(j.begin(&[(&data, 0)]).unwrap(), "a file never committed");
        fs::write(&data, "one\n").unwrap();
        j.commit_files(&[nc("web-1", 1, A)], &[(&data, 4)]).unwrap();
        let before = j.len;
        assert!(!j.begin(&[(&data, 4)]).unwrap(), "its committed length");
        assert_eq!(j.len, before, "nothing written");
        fs::write(&data, "one\ntwo\n").unwrap();
        j.commit_files(&[nc("web-1", 2, A)], &[(&data, 8)]).unwrap();
        // Another file, committed; then a group on the first crashes before its commit.
        assert!(j.begin(&[(&other, 0)]).unwrap());
        fs::write(&other, "x\n").unwrap();
        j.commit_files(&[nc("web-2", 1, A)], &[(&other, 2)])
            .unwrap();
        assert!(!j.begin(&[(&data, 8)]).unwrap());
        fs::write(&data, "one\ntwo\nthree, never acknowledged").unwrap();
        // A length that is not the committed one (changed behind the journal's back)
        // needs its `Begin`.
        assert!(j.begin(&[(&other, 1)]).unwrap());
    }
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!((j.mark("web-1"), j.mark("web-2")), (2, 1));
    assert_eq!(fs::read_to_string(&data).unwrap(), "one\ntwo\n");
    // The open `Begin` (1 byte) wins over the committed length (2).
    assert_eq!(fs::read_to_string(&other).unwrap(), "x");
    assert_eq!(j.recovered().len(), 2, "{:?}", j.recovered());
}

fn group_file<'p>(path: &'p Path, before: u64, bytes: &[u8]) -> GroupFile<'p> {
    GroupFile {
        path,
        before,
        after: before + bytes.len() as u64,
        crc: crc32fast::hash(bytes),
    }
}

/// A staged commit (its fsync beside the files'): kept by a restart only when every file
/// holds the group's bytes; else undone, marks and all. Confirmed ones stay whatever comes
/// after; an unstaged one is gone.
#[test]
fn a_staged_commit_holds_only_with_its_bytes() {
    // (what the crash left of the group's bytes in the second file, kept?)
    let cases: [(&[u8], bool); 4] = [
        (b"b2\n", true),
        (b"", false),       // the data never reached the disk, the record did
        (b"\0\0\0", false), // the length did, the bytes did not
        (b"b", false),      // torn
    ];
    for (left, kept) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        {
            let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
            assert!(j.begin(&[(&a, 0), (&b, 0)]).unwrap());
            fs::write(&a, "a1\n").unwrap();
            fs::write(&b, "b1\n").unwrap();
            let s = j
                .stage_commit(
                    &[nc("n", 1, A)],
                    &[group_file(&a, 0, b"a1\n"), group_file(&b, 0, b"b1\n")],
                )
                .unwrap();
            j.sync().unwrap();
            j.confirm(s);
            assert_eq!(j.mark("n"), 1);
            // The next group: known files, no `Begin`; the crash comes before its fsyncs.
            assert!(!j.begin(&[(&a, 3), (&b, 3)]).unwrap());
            fs::write(&a, "a1\na2\n").unwrap();
            fs::write(&b, [&b"b1\n"[..], left].concat()).unwrap();
            let s = j
                .stage_commit(
                    &[nc("n", 2, A)],
                    &[group_file(&a, 3, b"a2\n"), group_file(&b, 3, b"b2\n")],
                )
                .unwrap();
            drop(s);
        }
        let j = Journal::open(dir.path(), FileMode::default()).unwrap();
        let text = |p: &Path| fs::read_to_string(p).unwrap();
        if kept {
            assert_eq!(j.mark("n"), 2);
            assert_eq!((text(&a), text(&b)), ("a1\na2\n".into(), "b1\nb2\n".into()));
            assert!(j.recovered().is_empty(), "{:?}", j.recovered());
        } else {
            assert_eq!(j.mark("n"), 1, "{left:?}: its marks dropped");
            assert_eq!(
                (text(&a), text(&b)),
                ("a1\n".into(), "b1\n".into()),
                "{left:?}"
            );
            assert!(j.recovered()[0].contains("undone"), "{:?}", j.recovered());
        }
        assert_eq!(j.binding("n"), Some(A));
    }
}

#[test]
fn an_unstaged_commit_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        let len = j.len;
        assert!(j.begin(&[(&a, 0)]).unwrap());
        fs::write(&a, "a1\n").unwrap();
        let after_begin = j.len;
        let s = j
            .stage_commit(&[nc("n", 1, A)], &[group_file(&a, 0, b"a1\n")])
            .unwrap();
        assert!(j.len > after_begin && after_begin > len);
        // The data fsync failed: the record goes, then the caller's abort.
        j.unstage(s).unwrap();
        assert_eq!(j.len, after_begin);
        assert_eq!(j.mark("n"), 0);
        j.abort(&[(&a, 0)]).unwrap();
    }
    // Even with the bytes still in the file, nothing of the group counts.
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!(j.mark("n"), 0);
    assert_eq!(fs::read_to_string(&a).unwrap(), "");
}

/// Compaction and a restart forget the lengths: the next group writes a `Begin`; an abort
/// records the lengths it cut back to.
#[test]
fn compaction_forgets_lengths_and_abort_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("events.log");
    fs::write(&data, "one\n").unwrap();
    let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
    j.begin(&[(&data, 0)]).unwrap();
    j.commit_files(&[nc("n", 1, A)], &[(&data, 4)]).unwrap();
    j.compact_at = 0;
    j.commit(&[nc("n", 2, A)]).unwrap();
    assert!(
        j.begin(&[(&data, 4)]).unwrap(),
        "forgotten by the compaction"
    );
    fs::write(&data, "one\nhalf").unwrap();
    j.abort(&[(&data, 4)]).unwrap();
    assert_eq!(fs::read_to_string(&data).unwrap(), "one\n");
    assert!(!j.begin(&[(&data, 4)]).unwrap(), "the abort recorded it");
    drop(j);
    let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert!(
        j.begin(&[(&data, 4)]).unwrap(),
        "a restart starts from a snapshot"
    );
}

#[test]
fn a_torn_record_is_ignored_and_abort_undoes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("f");
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        j.commit(&[nc("n", 5, A)]).unwrap();
        fs::write(&data, "abc").unwrap();
        j.begin(&[(&data, 0)]).unwrap();
        j.abort(&[(&data, 0)]).unwrap();
        assert_eq!(fs::read(&data).unwrap(), b"");
        j.commit(&[nc("n", 9, A)]).unwrap();
    }
    let path = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
    fs::write(&path, &bytes).unwrap();
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!(j.mark("n"), 9);
    assert!(j.recovered()[0].contains("torn"), "{:?}", j.recovered());
}

#[test]
fn compaction_keeps_marks_and_a_failed_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("f");
    fs::write(&data, "old\n").unwrap();
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        j.compact_at = 0;
        j.commit(&[nc("a", 1, A), nc("b", 2, A)]).unwrap();
        assert!(j.len < 100, "compacted to one record");
        // A compaction that cannot write its temp file: the commit stands, nothing is cut.
        fs::create_dir(dir.path().join("journal.tmp")).unwrap();
        j.compact_at = 0;
        j.begin(&[(&data, 4)]).unwrap();
        fs::write(&data, "old\nnew\n").unwrap();
        j.commit(&[nc("a", 7, A)]).unwrap();
        assert!(j.broken().is_none());
        assert_eq!(j.mark("a"), 7);
        j.commit(&[nc("c", 1, A)]).unwrap();
    }
    fs::remove_dir(dir.path().join("journal.tmp")).unwrap();
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!((j.mark("a"), j.mark("b"), j.mark("c")), (7, 2, 1));
    assert_eq!(fs::read_to_string(&data).unwrap(), "old\nnew\n");
}

/// Bindings survive a reopen; a node of an older journal (`C` record) is unbound; a
/// rebinding moves the node's count from one key to the other.
#[test]
fn bindings_survive_reopen_and_older_journals_read_unbound() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
        j.commit(&[nc("web-1", 3, A), nc("web-2", 1, A)]).unwrap();
        j.commit(&[nc("web-3", 1, B)]).unwrap();
        assert_eq!((j.nodes_of(&A), j.nodes_of(&B)), (2, 1));
        j.commit(&[nc("web-2", 1, B)]).unwrap();
        assert_eq!((j.nodes_of(&A), j.nodes_of(&B)), (1, 2));
        // An older server's commit record: no key.
        let mut body = vec![COMMIT_UNBOUND];
        body.extend_from_slice(&1u32.to_le_bytes());
        put_str(&mut body, "old-1");
        body.extend_from_slice(&5u64.to_le_bytes());
        j.append(&body, true).unwrap();
    }
    let j = Journal::open(dir.path(), FileMode::default()).unwrap();
    assert_eq!(j.binding("web-1"), Some(A));
    assert_eq!(j.binding("web-2"), Some(B));
    assert_eq!((j.binding("old-1"), j.mark("old-1")), (None, 5));
    assert_eq!(j.binding("never"), None);
    assert_eq!((j.nodes_of(&A), j.nodes_of(&B), j.nodes()), (1, 2, 4));
}

/// The next compaction waits for COMPACT_FACTOR × the live size (at least COMPACT_MIN):
/// a large node table is not rewritten after every few appends.
#[test]
fn compaction_is_proportional_to_live_state() {
    assert_eq!(next_compaction(0), COMPACT_MIN);
    assert_eq!(next_compaction(100 << 20), 400 << 20);
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), FileMode::default()).unwrap();
    let names: Vec<String> = (0..2000).map(|i| format!("node-{i:05}")).collect();
    let all: Vec<_> = names.iter().map(|n| nc(n, 1, A)).collect();
    j.compact_at = 0;
    j.commit(&all).unwrap();
    let live = j.len;
    assert!(live > 2000 * 30, "one record of every node: {live}");
    assert_eq!(j.compact_at, next_compaction(live));
    // With a small floor, appends up to the factor do not compact, the next one does.
    j.compact_at = live * COMPACT_FACTOR;
    while j.len + 100 < j.compact_at {
        j.commit(&[nc("node-00001", j.mark("node-00001") + 1, A)])
            .unwrap();
    }
    assert!(j.len > live * (COMPACT_FACTOR - 1));
    while j.len > live * 2 {
        j.commit(&[nc("node-00001", j.mark("node-00001") + 1, A)])
            .unwrap();
    }
    assert!(j.len < live + 100, "compacted back to the live state");
    assert_eq!(j.nodes(), 2000);
}
