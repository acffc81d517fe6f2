use super::*;
use std::collections::BTreeSet;
use std::io::Read;

use chrono::{Local, TimeZone};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SystemTime {
    Local
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .earliest()
        .expect("valid local time")
        .into()
}

/// "line 0001\n": 10 bytes each, numbered so order across files can be checked.
fn line(i: u32) -> String {
    format!("line {i:04}\n")
}

fn lines(range: std::ops::RangeInclusive<u32>) -> String {
    range.map(line).collect()
}

fn names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

fn gunzip(path: &Path) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(File::open(path).unwrap())
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn size_policy(max_size: u64, max_backups: u32) -> RollPolicy {
    RollPolicy {
        max_size: Some(max_size),
        max_backups,
        ..RollPolicy::never()
    }
}

fn time_policy(every: Period, max_backups: u32) -> RollPolicy {
    RollPolicy {
        every: Some(every),
        max_backups,
        ..RollPolicy::never()
    }
}

fn size_and_day_policy(max_size: u64, max_backups: u32) -> RollPolicy {
    RollPolicy {
        every: Some(Period::Day),
        ..size_policy(max_size, max_backups)
    }
}

fn now() -> SystemTime {
    at(2020, 2, 19, 12, 0, 0)
}

#[test]
fn size_roll_shifts_backups_and_keeps_lines_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/audit.log");
    let mut f = RollingFile::open(&path, size_policy(25, 3)).unwrap();
    for i in 1..=20 {
        f.write_lines(line(i).as_bytes(), now()).unwrap();
    }
    // Rolls after lines 3, 6, ..., 18; only the newest three backups survive.
    let logs = dir.path().join("logs");
    let expected = set(&["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]);
    assert_eq!(names(&logs), expected);
    assert_eq!(read(&logs.join("audit.log.3")), lines(10..=12));
    assert_eq!(read(&logs.join("audit.log.2")), lines(13..=15));
    assert_eq!(read(&logs.join("audit.log.1")), lines(16..=18));
    assert_eq!(read(&path), lines(19..=20));
    assert_eq!(f.len(), 20);
    assert_eq!(f.path(), path);
}

#[test]
fn first_line_after_roll_goes_to_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, size_policy(20, 1)).unwrap();
    f.write_lines(line(1).as_bytes(), now()).unwrap();
    f.write_lines(line(2).as_bytes(), now()).unwrap(); // reaches 20: rolls after writing
    assert_eq!(f.len(), 0);
    f.write_lines(line(3).as_bytes(), now()).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.1")), lines(1..=2));
    assert_eq!(read(&path), line(3));
    // A multi-line buffer crossing the limit stays whole in the old file.
    f.write_lines(lines(4..=6).as_bytes(), now()).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.1")), lines(3..=6));
    assert_eq!(read(&path), "");
}

#[test]
fn zero_backups_truncates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, size_policy(20, 0)).unwrap();
    f.write_lines(lines(1..=2).as_bytes(), now()).unwrap();
    assert_eq!(f.len(), 0);
    assert_eq!(read(&path), "");
    f.write_lines(line(3).as_bytes(), now()).unwrap();
    assert_eq!(read(&path), line(3));
    assert_eq!(names(dir.path()), set(&["audit.log"]));
}

#[test]
fn failed_roll_keeps_lines_and_reports_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let blocker = dir.path().join("audit.log.1");
    fs::create_dir(&blocker).unwrap(); // cannot be deleted as a file
    let mut f = RollingFile::open(&path, size_policy(20, 1)).unwrap();
    f.write_lines(line(1).as_bytes(), now()).unwrap();
    assert!(f.write_lines(line(2).as_bytes(), now()).is_err());
    assert_eq!(read(&path), lines(1..=2));
    // Not retried until another max_size bytes were written (log4j's nextRollover).
    f.write_lines(line(3).as_bytes(), now()).unwrap();
    fs::remove_dir(&blocker).unwrap();
    f.write_lines(line(4).as_bytes(), now()).unwrap();
    assert_eq!(read(&blocker), lines(1..=4));
    assert_eq!(read(&path), "");
}

#[test]
fn time_roll_day_uses_suffix_of_ended_period() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 0, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
    f.write_lines(b"c\n", at(2020, 2, 20, 0, 0, 1)).unwrap();
    assert_eq!(
        names(dir.path()),
        set(&["audit.log", "audit.log.2020-02-19"])
    );
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "a\nb\n");
    assert_eq!(read(&path), "c\n");
    assert_eq!(f.len(), 2);
}

#[test]
fn time_roll_minute_and_hour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Minute, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 10, 15, 30)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 19, 10, 15, 59)).unwrap();
    f.write_lines(b"c\n", at(2020, 2, 19, 10, 16, 0)).unwrap();
    f.write_lines(b"d\n", at(2020, 2, 19, 12, 0, 0)).unwrap();
    assert_eq!(
        read(&dir.path().join("audit.log.2020-02-19-10-15")),
        "a\nb\n"
    );
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19-10-16")), "c\n");
    assert_eq!(read(&path), "d\n");

    let path = dir.path().join("hourly.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Hour, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 23, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
    f.write_lines(b"c\n", at(2020, 2, 20, 0, 0, 0)).unwrap();
    assert_eq!(read(&dir.path().join("hourly.log.2020-02-19-23")), "a\nb\n");
    assert_eq!(read(&path), "c\n");
}

#[test]
fn empty_file_is_not_rolled_on_time_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = size_and_day_policy(20, 0);
    let mut f = RollingFile::open(&path, policy).unwrap();
    f.write_lines(lines(1..=2).as_bytes(), at(2020, 2, 19, 8, 0, 0))
        .unwrap();
    assert_eq!(f.len(), 0); // truncated, still in the 19th's period
    f.write_lines(line(3).as_bytes(), at(2020, 2, 20, 8, 0, 0))
        .unwrap();
    assert_eq!(names(dir.path()), set(&["audit.log"]));
    // The boundary advanced to the 20th, so the next roll is named after it.
    f.write_lines(line(4).as_bytes(), at(2020, 2, 21, 8, 0, 0))
        .unwrap();
    assert_eq!(read(&dir.path().join("audit.log.2020-02-20")), line(3));
    assert_eq!(read(&path), line(4));
}

#[test]
fn size_and_time_roll_rename_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = size_and_day_policy(20, 2);
    let mut f = RollingFile::open(&path, policy).unwrap();
    for i in 1..=5 {
        f.write_lines(line(i).as_bytes(), at(2020, 2, 19, 9, 0, i))
            .unwrap();
    }
    f.write_lines(line(6).as_bytes(), at(2020, 2, 20, 0, 0, 1))
        .unwrap();
    let expected = set(&[
        "audit.log",
        "audit.log.2020-02-19",
        "audit.log.2020-02-19.1",
        "audit.log.2020-02-19.2",
    ]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(
        read(&dir.path().join("audit.log.2020-02-19.2")),
        lines(1..=2)
    );
    assert_eq!(
        read(&dir.path().join("audit.log.2020-02-19.1")),
        lines(3..=4)
    );
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), line(5));
    assert_eq!(read(&path), line(6));
}

#[test]
fn size_backups_of_empty_current_file_still_get_dated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = size_and_day_policy(20, 2);
    let mut f = RollingFile::open(&path, policy).unwrap();
    f.write_lines(lines(1..=2).as_bytes(), at(2020, 2, 19, 9, 0, 0))
        .unwrap();
    f.write_lines(line(3).as_bytes(), at(2020, 2, 20, 9, 0, 0))
        .unwrap();
    let expected = set(&["audit.log", "audit.log.2020-02-19.1"]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(
        read(&dir.path().join("audit.log.2020-02-19.1")),
        lines(1..=2)
    );
    assert_eq!(read(&path), line(3));
}

#[test]
fn dated_name_collision_gets_dash_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    fs::write(dir.path().join("audit.log.2020-02-19"), "old\n").unwrap();
    fs::write(dir.path().join("audit.log.2020-02-19-1.gz"), "older").unwrap();
    let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 23, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 20, 1, 0, 0)).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "old\n");
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19-1.gz")), "older");
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19-2")), "a\n");
    assert_eq!(read(&path), "b\n");
}

#[test]
fn time_only_mode_keeps_max_backups_dated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    fs::write(dir.path().join("audit.log.1"), "unrelated\n").unwrap();
    fs::write(dir.path().join("other.log.2020-02-19-09-00"), "x\n").unwrap();
    let mut f = RollingFile::open(&path, time_policy(Period::Minute, 2)).unwrap();
    for m in 0..=4 {
        f.write_lines(format!("{m}\n").as_bytes(), at(2020, 2, 19, 10, m, 0))
            .unwrap();
    }
    let expected = set(&[
        "audit.log",
        "audit.log.1",
        "audit.log.2020-02-19-10-02",
        "audit.log.2020-02-19-10-03",
        "other.log.2020-02-19-09-00",
    ]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(read(&path), "4\n");

    // max_backups == 0 keeps every dated file.
    let path = dir.path().join("all.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Minute, 0)).unwrap();
    for m in 0..=4 {
        f.write_lines(b"x\n", at(2020, 2, 19, 10, m, 0)).unwrap();
    }
    let kept = names(dir.path());
    assert_eq!(kept.iter().filter(|n| n.starts_with("all.log.")).count(), 4);
}

#[test]
fn gzip_size_rolls_compress_and_shift() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = RollPolicy {
        compress: Compression::Gzip,
        ..size_policy(20, 2)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    for i in 1..=7 {
        f.write_lines(line(i).as_bytes(), now()).unwrap();
    }
    f.wait_for_compression();
    let expected = set(&["audit.log", "audit.log.1.gz", "audit.log.2.gz"]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(gunzip(&dir.path().join("audit.log.2.gz")), lines(3..=4));
    assert_eq!(gunzip(&dir.path().join("audit.log.1.gz")), lines(5..=6));
    assert_eq!(read(&path), line(7));
}

#[test]
fn gzip_time_roll_and_dated_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = RollPolicy {
        compress: Compression::Gzip,
        ..size_and_day_policy(20, 2)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    for i in 1..=3 {
        f.write_lines(line(i).as_bytes(), at(2020, 2, 19, 9, 0, i))
            .unwrap();
    }
    f.write_lines(line(4).as_bytes(), at(2020, 2, 20, 9, 0, 0))
        .unwrap();
    drop(f); // Drop joins the compression threads.
    let expected = set(&[
        "audit.log",
        "audit.log.2020-02-19.1.gz",
        "audit.log.2020-02-19.gz",
    ]);
    assert_eq!(names(dir.path()), expected);
    let dated = dir.path().join("audit.log.2020-02-19");
    assert_eq!(gunzip(&with_suffix(&dated, ".1.gz")), lines(1..=2));
    assert_eq!(gunzip(&with_suffix(&dated, ".gz")), line(3));
    assert_eq!(read(&path), line(4));
}

#[test]
fn open_existing_file_appends_and_counts_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    fs::write(&path, lines(1..=1)).unwrap();
    let mut f = RollingFile::open(&path, size_policy(30, 1)).unwrap();
    assert_eq!(f.len(), 10);
    f.write_lines(line(2).as_bytes(), now()).unwrap();
    assert_eq!(f.len(), 20);
    f.sync_data().unwrap();
    assert_eq!(read(&path), lines(1..=2));
    f.write_lines(line(3).as_bytes(), now()).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.1")), lines(1..=3));
    assert_eq!(f.len(), 0);
}

#[test]
fn open_takes_period_from_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    fs::write(&path, "old\n").unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(at(2020, 2, 19, 12, 0, 0)).unwrap();
    drop(file);
    let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
    f.write_lines(b"new\n", at(2020, 2, 20, 0, 0, 1)).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19")), "old\n");
    assert_eq!(read(&path), "new\n");

    // Same period as the mtime: no roll.
    let path = dir.path().join("same.log");
    fs::write(&path, "old\n").unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(at(2020, 2, 20, 8, 0, 0)).unwrap();
    drop(file);
    let mut f = RollingFile::open(&path, time_policy(Period::Day, 0)).unwrap();
    f.write_lines(b"new\n", at(2020, 2, 20, 9, 0, 0)).unwrap();
    assert_eq!(read(&path), "old\nnew\n");
    assert!(!dir.path().join("same.log.2020-02-20").exists());
}

#[test]
fn open_rejects_bad_suffix_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/audit.log");
    for suffix in ["%Z", "%Q", "/%Y-%m-%d"] {
        let policy = RollPolicy {
            suffix: Some(suffix.into()),
            ..time_policy(Period::Day, 0)
        };
        let err = RollingFile::open(&path, policy).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{suffix}: {err}");
    }
    assert_eq!(names(dir.path()), set(&[]));
}

#[test]
fn time_roll_half_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, time_policy(Period::HalfDay, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 0, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 19, 11, 59, 59)).unwrap();
    f.write_lines(b"c\n", at(2020, 2, 19, 12, 0, 1)).unwrap();
    assert_eq!(
        names(dir.path()),
        set(&["audit.log", "audit.log.2020-02-19-AM"])
    );
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19-AM")), "a\nb\n");
    f.write_lines(b"d\n", at(2020, 2, 19, 23, 59, 59)).unwrap();
    f.write_lines(b"e\n", at(2020, 2, 20, 0, 0, 0)).unwrap();
    assert_eq!(read(&dir.path().join("audit.log.2020-02-19-PM")), "c\nd\n");
    assert_eq!(read(&path), "e\n");
}

#[test]
fn time_roll_week_starts_on_sunday() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Week, 0)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 16, 0, 0, 0)).unwrap(); // Sunday
    f.write_lines(b"b\n", at(2020, 2, 22, 23, 59, 59)).unwrap(); // Saturday
    assert_eq!(names(dir.path()), set(&["audit.log"]));
    f.write_lines(b"c\n", at(2020, 2, 23, 0, 0, 1)).unwrap(); // Sunday
    assert_eq!(names(dir.path()), set(&["audit.log", "audit.log.2020-07"]));
    assert_eq!(read(&dir.path().join("audit.log.2020-07")), "a\nb\n");
    // Named after the week's Sunday, even when the week ends in the next year.
    f.write_lines(b"d\n", at(2021, 1, 2, 12, 0, 0)).unwrap(); // Saturday
    f.write_lines(b"e\n", at(2021, 1, 3, 0, 0, 0)).unwrap(); // Sunday
    assert_eq!(read(&dir.path().join("audit.log.2020-08")), "c\n");
    assert_eq!(read(&dir.path().join("audit.log.2020-52")), "d\n");
    assert_eq!(read(&path), "e\n");
}

#[test]
fn time_roll_month() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = RollingFile::open(&path, time_policy(Period::Month, 2)).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 1, 0, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 29, 23, 59, 59)).unwrap();
    f.write_lines(b"c\n", at(2020, 3, 1, 0, 0, 1)).unwrap();
    assert_eq!(names(dir.path()), set(&["audit.log", "audit.log.2020-02"]));
    assert_eq!(read(&dir.path().join("audit.log.2020-02")), "a\nb\n");
    f.write_lines(b"d\n", at(2020, 12, 31, 23, 0, 0)).unwrap();
    f.write_lines(b"e\n", at(2021, 1, 1, 0, 0, 0)).unwrap();
    // max_backups = 2: the oldest month went.
    let expected = set(&["audit.log", "audit.log.2020-03", "audit.log.2020-12"]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(read(&dir.path().join("audit.log.2020-03")), "c\n");
    assert_eq!(read(&dir.path().join("audit.log.2020-12")), "d\n");
    assert_eq!(read(&path), "e\n");
}

#[test]
fn custom_suffix_names_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let ours = ["audit.log_20200101.log", "audit.log_20200102.log-1.gz"];
    let unrelated = [
        "audit.log.1",
        "audit.log_2020011.log",
        "audit.log_20200101.txt",
        "audit.log.2020-01-01",
        "other.log_20200101.log",
    ];
    for name in ours.iter().chain(&unrelated) {
        fs::write(dir.path().join(name), "old\n").unwrap();
    }
    let policy = RollPolicy {
        suffix: Some("_%Y%m%d.log".into()),
        ..time_policy(Period::Day, 2)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    for day in 17..=20 {
        f.write_lines(format!("{day}\n").as_bytes(), at(2020, 2, day, 9, 0, 0))
            .unwrap();
    }
    let mut expected = set(&unrelated);
    expected.extend(set(&[
        "audit.log",
        "audit.log_20200218.log",
        "audit.log_20200219.log",
    ]));
    assert_eq!(names(dir.path()), expected);
    assert_eq!(read(&dir.path().join("audit.log_20200218.log")), "18\n");
    assert_eq!(read(&dir.path().join("audit.log_20200219.log")), "19\n");
    assert_eq!(read(&path), "20\n");
}

#[test]
fn custom_suffix_collision_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    fs::write(dir.path().join("audit.log_20200219.log"), "old\n").unwrap();
    let policy = RollPolicy {
        suffix: Some("_%Y%m%d.log".into()),
        compress: Compression::Gzip,
        ..time_policy(Period::Day, 5)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    f.write_lines(b"a\n", at(2020, 2, 19, 9, 0, 0)).unwrap();
    f.write_lines(b"b\n", at(2020, 2, 20, 9, 0, 0)).unwrap();
    f.wait_for_compression();
    // The file already there has one of our names: with gzip it is compressed at start.
    let expected = set(&[
        "audit.log",
        "audit.log_20200219.log-1.gz",
        "audit.log_20200219.log.gz",
    ]);
    assert_eq!(names(dir.path()), expected);
    let rolled = dir.path().join("audit.log_20200219.log-1.gz");
    assert_eq!(gunzip(&rolled), "a\n");
    assert_eq!(read(&path), "b\n");
}

#[test]
fn date_pattern_suffix_prunes_in_time_order() {
    // ".01-Feb-2020" sorts before ".31-Jan-2020" by name, but is newer.
    let (period, suffix) = date_pattern_to_roll("'.'dd-MMM-yyyy").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = RollPolicy {
        suffix: Some(suffix),
        ..time_policy(period, 2)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    for (month, day) in [(1, 31), (2, 1), (2, 2), (2, 3)] {
        f.write_lines(format!("{day}\n").as_bytes(), at(2020, month, day, 9, 0, 0))
            .unwrap();
    }
    let expected = set(&[
        "audit.log",
        "audit.log.01-Feb-2020",
        "audit.log.02-Feb-2020",
    ]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(read(&dir.path().join("audit.log.01-Feb-2020")), "1\n");
    assert_eq!(read(&path), "3\n");
}

#[test]
fn date_pattern_half_day_end_to_end() {
    let (period, suffix) = date_pattern_to_roll("'.'yyyy-MM-dd-a").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let policy = RollPolicy {
        suffix: Some(suffix),
        ..time_policy(period, 2)
    };
    let mut f = RollingFile::open(&path, policy).unwrap();
    for (day, hour) in [(19, 6), (19, 18), (20, 6), (20, 18)] {
        f.write_lines(
            format!("{day}-{hour}\n").as_bytes(),
            at(2020, 2, day, hour, 0, 0),
        )
        .unwrap();
    }
    let expected = set(&[
        "audit.log",
        "audit.log.2020-02-19-PM",
        "audit.log.2020-02-20-AM",
    ]);
    assert_eq!(names(dir.path()), expected);
    assert_eq!(read(&dir.path().join("audit.log.2020-02-20-AM")), "20-6\n");
    assert_eq!(read(&path), "20-18\n");
}
