//! Every report, read on one thread and on several with files cut into small chunks, gives the
//! same rows in every format, the same summary and the same problems (with their line numbers).

use std::io::Write;
use std::path::Path;

use log4rs_audit::query::files::{discover, TrailFile};
use log4rs_audit::query::filter::Filter;
use log4rs_audit::query::format::Format;
use log4rs_audit::query::parallel::ReadOptions;
use log4rs_audit::query::progress::Progress;
use log4rs_audit::query::reader::ReadSummary;
use log4rs_audit::query::reports::{run_report_with, Report, REPORT_NAMES};

/// One envelope line.
fn line(topic: &str, ms: u64, message: &str) -> String {
    let (s, milli) = (ms / 1000, ms % 1000);
    format!(
        r#"{{"severity":"INFO","logger":"dku.audit.{topic}","message":{message},"mdc":{{"apiCall":"/x","user":"mdc-user"}},"callTime":0,"timestamp":"2026-11-24T10:{:02}:{:02}.{milli:03}+0000"}}"#,
        (s / 60) % 60,
        s % 60,
    )
}

/// The events of a file: every report's topics and msgTypes, many in the same millisecond so
/// reading order decides ties, spread so a chunk boundary falls between tied events.
fn events(file: usize, count: usize) -> Vec<String> {
    let users = ["alice", "bob", "carol", "dave", "eve"];
    let mut out = Vec::new();
    for i in 0..count {
        // Ten events per millisecond, and the clock goes back now and then.
        let ms = 1_000 * file as u64 + (i as u64 / 10) % 700;
        let user = users[i % users.len()];
        let n = i % 13;
        let text = match n {
            0 => line(
                "generic",
                ms,
                &format!(r#"{{"msgType":"login","authUser":"{user}"}}"#),
            ),
            1 => line(
                "generic",
                ms,
                &format!(r#"{{"msgType":"logout","authUser":"{user}","n":{i}}}"#),
            ),
            2 => line(
                "generic",
                ms,
                &format!(
                    r#"{{"msgType":"dataset-read-data-sample","authUser":"{user}","projectKey":"P{}","datasetName":"d{}"}}"#,
                    i % 2,
                    i % 3
                ),
            ),
            3 => line(
                "generic",
                ms,
                &format!(
                    r#"{{"msgType":"dataset-export","authUser":"{user}","projectKey":"P{}","datasetName":"d{}","i":{i}}}"#,
                    i % 2,
                    i % 3
                ),
            ),
            4 => line(
                "generic",
                ms,
                &format!(
                    r#"{{"msgType":"project-export-download","authUser":"{user}","projectKey":"P{}","i":{i}}}"#,
                    i % 2
                ),
            ),
            5 => line(
                "generic",
                ms,
                &format!(
                    r#"{{"msgType":"dataset-read-data","authUser":"{user}","projectKey":"P1","datasetName":"d{}","i":{i}}}"#,
                    i % 2
                ),
            ),
            6 => line(
                "authfail",
                ms,
                &format!(
                    r#"{{"msgType":"login-failed","authUser":"{user}","sourceIp":"10.0.0.{}"}}"#,
                    i % 3
                ),
            ),
            7 => line(
                "compute-resource-usage",
                ms,
                &format!(
                    r#"{{"msgType":"compute-resource-usage-complete","authUser":"{user}","computeResourceUsage":{{"type":"LOCAL_PROCESS","startTime":{i},"endTime":{},"context":{{"projectKey":"P{}"}},"localProcess":{{"userTimeMS":{},"systemTimeMS":0.1,"rssMBSeconds":{}.3}}}}}}"#,
                    i * 2 + 7,
                    i % 2,
                    i % 17,
                    i % 5
                ),
            ),
            8 => line(
                "apinode-query",
                ms,
                &format!(
                    r#"{{"msgType":"prediction-query","routingKey":"svc{}","latencyMs":{}.{}{}}}"#,
                    i % 2,
                    i % 37,
                    i % 10,
                    if i % 4 == 0 {
                        r#","error":"timeout""#
                    } else {
                        ""
                    }
                ),
            ),
            // Without authUser: the MDC's user; with escapes in keys and values.
            9 => line(
                "generic",
                ms,
                r#"{"msgType":"job-run","proj\u0065ctKey":"P\"1"}"#,
            ),
            10 => format!(
                r#"{{"clientEvent":{{"msgType":"login","authUser":"{user}"}},"origAddress":"10.1.0.{}","serverTimestamp":"2026-11-24T10:00:0{}.000+0000"}}"#,
                i % 2,
                i % 10
            ),
            11 => line(
                "generic",
                ms,
                &format!(r#"{{"msgType":"tie","authUser":"{user}","k":"{i}"}}"#),
            ),
            _ => line(
                "generic",
                ms,
                &format!(r#"{{"msgType":"other","authUser":"{user}"}}"#),
            ),
        };
        out.push(text);
        // Problems every so often: malformed lines, blank lines, CRLF.
        if i % 97 == 0 {
            out.push(format!(
                r#"{{"severity":"INFO","message":{{"msgType":"x" broken {i}"#
            ));
        }
        if i % 89 == 0 {
            out.push(String::new());
        }
        if i % 61 == 0 {
            out.push(format!(
                "{}\r",
                line("generic", ms, r#"{"msgType":"crlf","authUser":"bob"}"#)
            ));
        }
    }
    out
}

/// A trail of several files: a gzip backup, a big plain backup (many chunks), a small one and
/// a live file with a torn last line.
fn trail(dir: &Path) -> Vec<TrailFile> {
    let gz = std::fs::File::create(dir.join("audit.log.3.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    for l in events(0, 400) {
        writeln!(enc, "{l}").unwrap();
    }
    enc.finish().unwrap();
    std::fs::write(dir.join("audit.log.2"), events(1, 3000).join("\n") + "\n").unwrap();
    std::fs::write(dir.join("audit.log.1"), events(2, 50).join("\n") + "\n").unwrap();
    let live = events(3, 600).join("\n") + "\n{\"severity\":\"INFO\",\"logg";
    std::fs::write(dir.join("audit.log"), live).unwrap();
    let files = discover(&[dir.to_path_buf()]).unwrap();
    assert_eq!(files.len(), 4);
    files
}

/// Runs `name` with `options`: the output in all three formats, the summary, the problems.
fn run(
    files: &[TrailFile],
    name: &str,
    options: &ReadOptions,
) -> (Vec<String>, ReadSummary, Vec<String>) {
    let mut outputs = Vec::new();
    let mut summary = ReadSummary::default();
    let mut problems = Vec::new();
    for format in [Format::Ndjson, Format::Table, Format::Csv] {
        let mut report = Report::by_name(name).unwrap();
        problems.clear();
        summary = run_report_with(
            files,
            &Filter::default(),
            &mut report,
            &Progress::hidden(),
            options,
            |p| problems.push(p.to_string()),
        );
        let mut out = Vec::new();
        report.write(&mut out, format).unwrap();
        outputs.push(String::from_utf8(out).unwrap());
    }
    (outputs, summary, problems)
}

#[test]
fn every_report_is_the_same_on_one_thread_and_on_several() {
    let dir = tempfile::tempdir().unwrap();
    let files = trail(dir.path());
    let big = std::fs::metadata(dir.path().join("audit.log.2"))
        .unwrap()
        .len();
    let one = ReadOptions {
        threads: 1,
        chunk_bytes: u64::MAX,
    };
    for name in REPORT_NAMES {
        let (outputs, summary, problems) = run(&files, name, &one);
        // The trail has rows for these; a report added later is still compared below.
        if [
            "last-activity",
            "exports",
            "usage",
            "authfail",
            "cru",
            "apinode",
        ]
        .contains(&name)
        {
            assert!(outputs[0].lines().count() > 1, "{name}: {}", outputs[0]);
        }
        assert_eq!(summary.files, 4);
        assert_eq!(summary.torn, 1, "{name}");
        assert!(summary.malformed > 30, "{name}: {summary:?}");
        assert_eq!(problems.len() as u64, summary.malformed + summary.torn);
        assert!(
            problems.last().unwrap().contains("audit.log:"),
            "{name}: {problems:?}"
        );
        for (threads, chunk_bytes) in [(2, 4096), (3, 1000), (4, 1), (2, big / 3), (8, 65536)] {
            let options = ReadOptions {
                threads,
                chunk_bytes,
            };
            let got = run(&files, name, &options);
            assert_eq!(got.0, outputs, "{name} with {options:?}");
            assert_eq!(got.1, summary, "{name} with {options:?}");
            assert_eq!(got.2, problems, "{name} with {options:?}");
        }
    }
}

/// A file of nothing but malformed lines, cut into many chunks: more problems than a unit may
/// keep waiting, still all reported, in order, with their line numbers.
#[test]
fn a_trail_of_problems_is_reported_in_order_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..20_000).map(|i| format!("not json {i}")).collect();
    std::fs::write(dir.path().join("audit.log.1"), lines.join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("audit.log"), lines[..10].join("\n") + "\n").unwrap();
    let files = discover(&[dir.path().to_path_buf()]).unwrap();
    let options = ReadOptions {
        threads: 4,
        chunk_bytes: 2048,
    };
    let (_, summary, problems) = run(&files, "usage", &options);
    assert_eq!(summary.malformed, 20_010);
    assert_eq!(problems.len(), 20_010);
    for (i, p) in problems[..20_000].iter().enumerate() {
        assert!(p.contains(&format!("audit.log.1:{}: ", i + 1)), "{i}: {p}");
    }
    assert!(problems[20_000].contains("audit.log:1: "));
}
