//! The reports against answers computed independently (issue 13): a generated trail with known
//! shapes (Event Server folders from three nodes and a local envelope file, a month boundary,
//! bursts and near-bursts of failed logins), each report run through the real CLI and compared
//! with what a Python script computes from the same files.

use std::path::Path;
use std::process::Command;

/// Writes `<root>/<topic>/_none/YYYY/MM/DD/HH/events.log` lines as the Event Server stores them,
/// and a local envelope file `local/audit.log`; returns how many events were written.
fn generate(dir: &Path) -> usize {
    let mut dice = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |n: u64| {
        dice ^= dice << 13;
        dice ^= dice >> 7;
        dice ^= dice << 17;
        dice % n
    };
    let mut files: std::collections::BTreeMap<std::path::PathBuf, String> = Default::default();
    let mut written = 0;
    // Three days around a month boundary, hour by hour.
    let days = [
        ("2026", "11", "29"),
        ("2026", "11", "30"),
        ("2026", "12", "01"),
    ];
    for (y, m, d) in days {
        for hour in [0u32, 9, 13, 23] {
            for _ in 0..40 {
                let node = format!("10.0.0.{}", 1 + next(3));
                let user = format!("u{}", next(10));
                let (minute, second, milli) = (next(60), next(60), next(1000));
                let ts = format!("{y}-{m}-{d}T{hour:02}:{minute:02}:{second:02}.{milli:03}+0000");
                let (topic, event) = if next(8) == 0 {
                    (
                        "authfail",
                        format!(
                            r#"{{"msgType":"login-failed","authUser":"{user}","sourceIp":"192.168.1.{}"}}"#,
                            next(3)
                        ),
                    )
                } else if next(10) == 0 {
                    // No user: counts as an event, not as an active user.
                    ("generic", r#"{"msgType":"heartbeat"}"#.to_owned())
                } else {
                    (
                        "generic",
                        format!(r#"{{"msgType":"login","authUser":"{user}"}}"#),
                    )
                };
                let path = dir.join(format!(
                    "events/{topic}/_none/{y}/{m}/{d}/{hour:02}/events.log"
                ));
                files.entry(path).or_default().push_str(&format!(
                    "{{\"clientEvent\":{event},\"origAddress\":\"{node}\",\"serverTimestamp\":\"{ts}\"}}\n"
                ));
                written += 1;
            }
        }
    }
    // A burst: eve fails 6 times within 4 minutes from one address, then twice much later;
    // bob fails 5 times, but spread over 50 minutes (never 5 within 10).
    let mut local = String::new();
    let mut envelope = |logger: &str, event: &str, mdc: &str, ts: &str| {
        local.push_str(&format!(
            "{{\"severity\":\"INFO\",\"logger\":\"{logger}\",\"message\":{event},\"mdc\":{mdc},\"timestamp\":\"{ts}\"}}\n"
        ));
    };
    for (i, minute) in [0, 1, 1, 2, 3, 4, 40, 55].iter().enumerate() {
        envelope(
            "dku.audit.authfail",
            r#"{"msgType":"login-failed","authUser":"eve","sourceIp":"203.0.113.7"}"#,
            "{}",
            &format!("2026-11-30T10:{minute:02}:{:02}.000+0100", i * 7 % 60),
        );
    }
    for minute in [0, 12, 24, 36, 48] {
        envelope(
            "dku.audit.authfail",
            r#"{"msgType":"login-failed","sourceIp":"198.51.100.2"}"#,
            r#"{"user":"bob"}"#,
            &format!("2026-11-30T11:{minute:02}:00.000+0100"),
        );
    }
    // Local events whose user is only in the MDC, and one at 23:30 -0500 (Dec 1st in UTC,
    // Nov 30th as written: the period is the date as written).
    envelope(
        "dku.audit.generic",
        r#"{"msgType":"login"}"#,
        r#"{"user":"carol"}"#,
        "2026-11-30T12:00:00.000+0100",
    );
    envelope(
        "dku.audit.generic",
        r#"{"msgType":"login","authUser":"dave"}"#,
        "{}",
        "2026-11-30T23:30:00.000-0500",
    );
    written += 8 + 5 + 2;
    files.insert(dir.join("local/audit.log"), local);
    for (path, text) in files {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    written
}

/// What Python computes from the same files: `usage` (by day and by month) and `authfail`,
/// in the rows and order the CLI documents.
const PYTHON: &str = r#"
import json, os, sys
from datetime import datetime
root, period, node_default, burst, window_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
events = []  # (topic, event, mdc, timestamp, node)
for dirpath, _, names in os.walk(os.path.join(root, 'events')):
    for n in names:
        if n != 'events.log':
            continue
        topic = os.path.relpath(dirpath, os.path.join(root, 'events')).split(os.sep)[0]
        for line in open(os.path.join(dirpath, n), encoding='utf-8'):
            r = json.loads(line)
            events.append((topic, r['clientEvent'], {}, r['serverTimestamp'], r['origAddress']))
for line in open(os.path.join(root, 'local', 'audit.log'), encoding='utf-8'):
    r = json.loads(line)
    events.append((r['logger'][len('dku.audit.'):], r['message'], r['mdc'], r['timestamp'], None))
def user(event, mdc):
    return event.get('authUser') or mdc.get('user')
if sys.argv[6] == 'usage':
    cells = {}
    for topic, event, mdc, ts, node in events:
        key = (ts[:10] if period == 'day' else ts[:7], node or node_default)
        users, n = cells.get(key, (set(), 0))
        u = user(event, mdc)
        if u is not None:
            users.add(u)
        cells[key] = (users, n + 1)
    for (p, node), (users, n) in sorted(cells.items()):
        print(json.dumps({'period': p, 'node': node, 'activeUsers': len(users), 'events': n}))
else:
    groups = {}
    for topic, event, mdc, ts, node in events:
        if topic != 'authfail':
            continue
        ms = int(datetime.strptime(ts, '%Y-%m-%dT%H:%M:%S.%f%z').timestamp() * 1000)
        key = (user(event, mdc) or '-', event.get('sourceIp') or node or '-')
        groups.setdefault(key, []).append((ms, ts))
    rows = []
    for (u, source), times in groups.items():
        times.sort()
        best, start = 0, 0
        for end in range(len(times)):
            while times[end][0] - times[start][0] >= window_ms:
                start += 1
            best = max(best, end - start + 1)
        rows.append({'user': u, 'source': source, 'failures': len(times), 'first': times[0][1],
                     'last': times[-1][1], 'maxInWindow': best, 'burst': best >= burst})
    rows.sort(key=lambda r: (-r['failures'], r['user'], r['source']))
    for r in rows:
        print(json.dumps(r))
"#;

/// Runs a Python `script` with `args`; its stdout's JSON lines.
fn run_python(script: &str, args: &[&std::ffi::OsStr]) -> Vec<serde_json::Value> {
    let out = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8(out.stdout).unwrap())
}

/// Runs `log4rs-audit <args> --format ndjson <paths>`; its rows.
fn run_report(args: &[&str], paths: &[&Path]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
        .args(args)
        .args(["--format", "ndjson"])
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8(out.stdout).unwrap())
}

fn python(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec![dir.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    run_python(PYTHON, &all)
}

fn cli(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    run_report(args, &[&dir.join("events"), &dir.join("local")])
}

fn parse(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn usage_and_authfail_agree_with_python_on_a_generated_trail() {
    let dir = tempfile::tempdir().unwrap();
    let written = generate(dir.path());

    for period in ["day", "month"] {
        let ours = cli(
            dir.path(),
            &["report", "usage", "--period", period, "--node", "web-local"],
        );
        let theirs = python(dir.path(), &[period, "web-local", "5", "600000", "usage"]);
        assert_eq!(ours, theirs, "usage by {period}");
        let events: u64 = ours.iter().map(|r| r["events"].as_u64().unwrap()).sum();
        assert_eq!(events as usize, written, "every event counted once");
    }
    let by_day = cli(dir.path(), &["report", "usage", "--node", "web-local"]);
    // Three nodes plus the local file, over three days (the local file on Nov 30th only).
    assert_eq!(by_day.len(), 3 * 3 + 1, "{by_day:?}");
    let local = by_day.iter().find(|r| r["node"] == "web-local").unwrap();
    assert_eq!(local["period"], "2026-11-30");
    // eve, bob (MDC), carol (MDC), dave.
    assert_eq!(local["activeUsers"], 4);

    for (burst, window) in [("5", "10m"), ("3", "90s")] {
        let ms = humantime::parse_duration(window)
            .unwrap()
            .as_millis()
            .to_string();
        let ours = cli(
            dir.path(),
            &["report", "authfail", "--burst", burst, "--window", window],
        );
        let theirs = python(dir.path(), &["day", "-", burst, &ms, "authfail"]);
        assert_eq!(ours, theirs, "authfail --burst {burst} --window {window}");
    }
    let rows = cli(dir.path(), &["report", "authfail"]);
    let eve = rows.iter().find(|r| r["user"] == "eve").unwrap();
    assert_eq!(
        (
            eve["failures"].as_u64(),
            eve["maxInWindow"].as_u64(),
            eve["burst"].as_bool()
        ),
        (Some(8), Some(6), Some(true))
    );
    let bob = rows
        .iter()
        .find(|r| r["user"] == "bob" && r["source"] == "198.51.100.2")
        .unwrap();
    assert_eq!(
        (bob["failures"].as_u64(), bob["burst"].as_bool()),
        (Some(5), Some(false)),
        "{bob}"
    );
}

#[test]
fn reports_take_the_query_filters() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let only_dec = cli(
        dir.path(),
        &["report", "usage", "--since", "2026-12-01T06:00:00Z"],
    );
    assert!(
        only_dec.iter().all(|r| r["period"] == "2026-12-01"),
        "{only_dec:?}"
    );
    let eve = cli(dir.path(), &["report", "authfail", "--user", "eve"]);
    assert_eq!(eve.len(), 1, "{eve:?}");
    let none = cli(
        dir.path(),
        &["report", "usage", "--topic", "authfail", "--user", "nobody"],
    );
    assert!(none.is_empty());
}

/// What Python computes for `cru` and `apinode` from an envelope trail.
const PYTHON_CRU_APINODE: &str = r#"
import json, math, os, sys
root, what, by, people_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
people = {}
if people_path != '-':
    for i, line in enumerate(open(people_path, encoding='utf-8')):
        line = line.strip()
        if not line or line.startswith('#') or (i == 0 and line == 'user,department'):
            continue
        u, d = line.split(',', 1)
        people[u.strip()] = d.strip()
events = []
for dirpath, _, names in os.walk(root):
    for n in sorted(names):
        if n.endswith('.log'):
            for line in open(os.path.join(dirpath, n), encoding='utf-8'):
                events.append(json.loads(line))
rows = []
if what == 'reads':
    acc = {}
    for e in events:
        m = e['message']
        if m.get('msgType') != 'dataset-read-data':
            continue
        user = m.get('authUser') or e['mdc'].get('user') or ''
        k = (user, m.get('projectKey') or '', m.get('datasetName') or '')
        first, n = acc.get(k, (None, 0))
        if first is None or e['timestamp'] < first:
            first = e['timestamp']
        acc[k] = (first, n + 1)
    for (u, p, d), (first, n) in sorted(acc.items(), key=lambda kv: (kv[1][0], kv[0])):
        rows.append({'user': u, 'project': p, 'dataset': d, 'first': first, 'reads': n})
elif what == 'cru':
    acc = {}
    for e in events:
        m = e['message']
        if m.get('msgType') != 'compute-resource-usage-complete':
            continue
        cru = m.get('computeResourceUsage', {})
        user = m.get('authUser') or e['mdc'].get('user')
        key = {'user': user, 'project': cru.get('context', {}).get('projectKey'), 'type': cru.get('type'),
               'department': people.get(user, '(unknown)') if user else '(unknown)'}[by] or '-'
        lp = cru.get('localProcess', {})
        cpu = sum(lp.get(f, 0) for f in ['userTimeMS', 'systemTimeMS', 'childrenUserTimeMS', 'childrenSystemTimeMS'])
        wall = cru['endTime'] - cru['startTime'] if 'startTime' in cru and 'endTime' in cru else 0
        r = acc.setdefault(key, {by: key, 'usages': 0, 'cpuMs': 0.0, 'rssMBSeconds': 0.0, 'wallMs': 0.0})
        r['usages'] += 1; r['cpuMs'] += cpu; r['rssMBSeconds'] += lp.get('rssMBSeconds', 0); r['wallMs'] += wall
    rows = sorted(acc.values(), key=lambda r: (-r['cpuMs'], r[by]))
else:
    acc = {}
    for e in events:
        if e['logger'] != 'dku.audit.apinode-query':
            continue
        m = e['message']
        k = (m.get('routingKey') or '-', m.get('msgType') or '-')
        a = acc.setdefault(k, [0, 0, []])
        a[0] += 1
        if m.get('error') is not None:
            a[1] += 1
        if isinstance(m.get('latencyMs'), (int, float)):
            a[2].append(float(m['latencyMs']))
    for (service, msg_type), (q, f, lat) in sorted(acc.items()):
        lat.sort()
        rank = lambda p: lat[min(max(math.ceil(p / 100 * len(lat)), 1), len(lat)) - 1] if lat else None
        rows.append({'service': service, 'msgType': msg_type, 'queries': q, 'failures': f,
                     'p50Ms': rank(50), 'p95Ms': rank(95), 'p99Ms': rank(99)})
for r in rows:
    print(json.dumps(r))
"#;

/// JSON rows equal, numbers within a relative 1e-9 (sums of floats in another order).
fn assert_rows_close(ours: &[serde_json::Value], theirs: &[serde_json::Value], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: {ours:?}\n{theirs:?}");
    for (a, b) in ours.iter().zip(theirs) {
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{what}"
        );
        for (k, x) in a {
            let y = &b[k];
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => assert!(
                    (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                    "{what}: {k}: {x} vs {y}"
                ),
                _ => assert_eq!(x, y, "{what}: {k}"),
            }
        }
    }
}

#[test]
fn cru_and_apinode_agree_with_python_on_a_demo_trail() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/default.yaml");
    crate::demo::run(&config, dir.path(), 6_000, &[]);
    let trail = dir.path().join("run/audit");
    let people = dir.path().join("people.csv");
    std::fs::write(
        &people,
        "user,department\nalice,Finance\nbob,Finance\n# contractors\ncarol,R&D\n",
    )
    .unwrap();
    let run = |args: &[&str]| run_report(args, &[&trail]);
    let python = |args: &[&str]| {
        let mut all = vec![trail.as_os_str()];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        run_python(PYTHON_CRU_APINODE, &all)
    };
    let people_arg = people.to_str().unwrap();
    for by in ["user", "project", "type", "department"] {
        let ours = run(&["report", "cru", "--by", by, "--people", people_arg]);
        assert!(!ours.is_empty(), "cru --by {by}");
        assert_rows_close(
            &ours,
            &python(&["cru", by, people_arg]),
            &format!("cru --by {by}"),
        );
    }
    let departments = run(&[
        "report",
        "cru",
        "--by",
        "department",
        "--people",
        people_arg,
    ]);
    let names: std::collections::BTreeSet<&str> = departments
        .iter()
        .map(|r| r["department"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["(unknown)", "Finance", "R&D"].into_iter().collect());

    let ours = run(&["report", "apinode"]);
    assert_rows_close(&ours, &python(&["apinode", "-", "-"]), "apinode");
    let services: std::collections::BTreeSet<&str> = ours
        .iter()
        .map(|r| r["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["churn-svc", "fraud-svc"].into_iter().collect());
    let types: std::collections::BTreeSet<&str> = ours
        .iter()
        .map(|r| r["msgType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.len(),
        4,
        "every API-node query type of the catalogue: {types:?}"
    );
    assert!(ours.iter().any(|r| r["failures"].as_u64().unwrap() > 0));

    // Reads by code: one row per user, project and dataset, with the first read and the count.
    let reads: Vec<serde_json::Value> = run(&["report", "exports"])
        .into_iter()
        .filter(|r| r["msgType"] == "dataset-read-data")
        .map(|r| {
            serde_json::json!({"user": r["user"], "project": r["project"], "dataset": r["dataset"],
                "first": r["time"], "reads": r["readsByCode"]})
        })
        .collect();
    assert!(!reads.is_empty());
    let mut theirs = python(&["reads", "-", "-"]);
    // Same first time: the CLI keeps reading order, Python sorts by key; compare as sets.
    let key = |r: &serde_json::Value| r.to_string();
    let mut ours_sorted = reads.clone();
    ours_sorted.sort_by_key(key);
    theirs.sort_by_key(key);
    assert_eq!(ours_sorted, theirs, "reads by code");

    // Refused with exit 2, naming what is wrong: --by department without --people, and a
    // malformed people file (by its line).
    let refused = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_log4rs-audit"))
            .args(["report", "cru", "--by", "department"])
            .args(extra)
            .arg(&trail)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(refused(&[]).contains("--people"));
    std::fs::write(&people, "user,department\nalice Finance\n").unwrap();
    let e = refused(&["--people", people_arg]);
    assert!(e.contains("people.csv:2:"), "{e}");
}
