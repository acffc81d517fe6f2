//! The properties loader and the pattern parser never panic and never hang: random bytes and
//! random mutations of the real configs either load (and their encoders, conversion patterns
//! included, build) or are rejected with an error naming the file and line.
//!
//! A few thousand cases run in CI; `scripts/fuzz-properties.sh` runs a million or more
//! (`PROPTEST_CASES` sets the count).

use std::path::{Path, PathBuf};

use log4rs_audit::config::{check, deserializers, from_properties, PropertiesOptions};
use log4rs_audit::ConfigError;
use proptest::prelude::*;

/// The corpus: the shared fixtures when present, and this repository's own example.
fn corpus() -> Vec<String> {
    let mut texts = vec![std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config-examples/dku-log4j.properties"),
    )
    .unwrap()];
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/log4j-properties");
    match std::fs::read_dir(&shared) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .map(|e| e.unwrap().path())
                .filter(|p| !p.ends_with("SOURCES.md"))
                .collect();
            paths.sort();
            texts.extend(paths.iter().map(|p| std::fs::read_to_string(p).unwrap()));
        }
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{} is missing under CI", shared.display())
        }
        Err(_) => eprintln!(
            "note: {} not found; mutating the repository's example only",
            shared.display()
        ),
    }
    texts
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// Loads and checks the outcome: any error must carry the file and a line.
fn check(text: &str) -> Result<(), TestCaseError> {
    let file = Path::new("fuzz.properties");
    let options = PropertiesOptions {
        ignore_env: true,
        ..PropertiesOptions::default()
    };
    match from_properties(text, Some(file), &options) {
        Ok(config) => {
            for w in &config.warnings {
                prop_assert!(
                    w.line.is_some() && w.file.as_deref() == Some(file),
                    "warning without location: {w}"
                );
            }
            // Build every encoder and filter (conversion patterns included) without opening files.
            for e in check::validate(&config, &deserializers()) {
                match e {
                    ConfigError::Invalid(e) => prop_assert!(
                        e.line.is_some() && e.file.as_deref() == Some(file),
                        "error without location: {e}"
                    ),
                    other => prop_assert!(false, "unexpected error kind: {other}"),
                }
            }
        }
        Err(ConfigError::Invalid(e)) => {
            prop_assert!(
                e.line.is_some() && e.file.as_deref() == Some(file),
                "error without location: {e}"
            );
        }
        Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    ReplaceChar(usize, char),
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let n = chars.len().max(1);
        match m {
            Mutation::Delete(at, len) => {
                let at = at % n;
                let end = (at + len).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Mutation::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Mutation::DuplicateLine(at) => {
                let s: String = chars.iter().collect();
                let lines: Vec<&str> = s.split_inclusive('\n').collect();
                if !lines.is_empty() {
                    let i = at % lines.len();
                    let mut out: Vec<&str> = lines.clone();
                    out.insert(i, lines[i]);
                    chars = out.concat().chars().collect();
                }
            }
            Mutation::ReplaceChar(at, c) => {
                if !chars.is_empty() {
                    let i = at % chars.len();
                    chars[i] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just("${".to_owned()),
        Just("}".to_owned()),
        Just("\\".to_owned()),
        Just("\\u".to_owned()),
        Just("=".to_owned()),
        Just(",".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("log4j.appender.".to_owned()),
        Just("log4j.logger.".to_owned()),
        Just("%".to_owned()),
        "\\PC{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, l)| Mutation::Delete(a, l)),
        (any::<usize>(), interesting).prop_map(|(a, s)| Mutation::Insert(a, s)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<char>()).prop_map(|(a, c)| Mutation::ReplaceChar(a, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        check(&text)?;
    }

    #[test]
    fn mutated_real_configs_load_or_fail_with_a_location(
        which in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        thread_local!(static CORPUS: Vec<String> = corpus());
        let text = CORPUS.with(|c| which.get(c).clone());
        check(&apply(&text, &mutations))?;
    }
}
