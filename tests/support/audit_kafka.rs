//! What the Kafka tests share whatever the broker (Tansu or librdkafka's mock cluster): building
//! a `kafka` appender from YAML, logging numbered events through it, reading messages back.

#![allow(dead_code)]

use std::collections::BTreeMap;

use log4rs::append::Append;
use log4rs_audit::append::{KafkaAppender, KafkaConfig};
use rdkafka::message::{Headers, Message, OwnedMessage};

pub fn appender(yaml: &str) -> KafkaAppender {
    let config: KafkaConfig = serde_yaml::from_str(yaml).unwrap();
    config.build().unwrap()
}

/// Logs `{"msgType":"numbered","routingKey":key,"n":n}` on logger `target` through `a`.
pub fn log_numbered(a: &dyn Append, target: &str, key: Option<&str>, n: u64) {
    let mut kvs: Vec<(&str, log::kv::Value)> = vec![("msgType", "numbered".into())];
    if let Some(k) = key {
        kvs.push(("routingKey", k.into()));
    }
    kvs.push(("n", n.into()));
    a.append(
        &log::Record::builder()
            .target(target)
            .level(log::Level::Info)
            .key_values(&kvs)
            .args(format_args!(""))
            .build(),
    )
    .unwrap();
}

/// Logs `{"msgType":"big","blob":"xxx…"}` (`bytes` x's) on `dku.audit.generic` through `a`:
/// an event larger than a small `message.max.bytes`.
pub fn log_big(a: &dyn Append, bytes: usize) {
    let big = "x".repeat(bytes);
    a.append(
        &log::Record::builder()
            .target("dku.audit.generic")
            .level(log::Level::Info)
            .key_values(&[("msgType", "big"), ("blob", big.as_str())])
            .args(format_args!(""))
            .build(),
    )
    .unwrap();
}

pub fn header(m: &OwnedMessage, name: &str) -> Option<String> {
    let h = m.headers()?;
    h.iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

pub fn json(m: &OwnedMessage) -> serde_json::Value {
    serde_json::from_slice(m.payload().unwrap()).unwrap()
}

/// The `n` of each message (envelope payload), per message key (`""` for none), in the order
/// read (per partition, Kafka's order).
pub fn numbers_per_key(messages: &[OwnedMessage]) -> BTreeMap<String, Vec<u64>> {
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for m in messages {
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        per_key
            .entry(key)
            .or_default()
            .push(json(m)["message"]["n"].as_u64().unwrap());
    }
    per_key
}

/// How a key's sequence of numbers compares with `0..expected`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sequence {
    /// Numbers of `0..expected` that never arrived (at most the first 20).
    pub missing: Vec<u64>,
    /// How many were missing.
    pub missing_count: usize,
    /// Messages that repeat a number already seen.
    pub duplicates: usize,
    /// Numbers that arrived for the first time after a higher one (order broken), at most 20.
    pub out_of_order: Vec<u64>,
    /// How many arrived out of order.
    pub out_of_order_count: usize,
    /// Numbers outside `0..expected`.
    pub unexpected: Vec<u64>,
}

/// Checks `got` against `0..expected`: every number present, first arrivals in increasing
/// order (so a duplicate can only be a re-send of something already delivered).
pub fn check_sequence(got: &[u64], expected: u64) -> Sequence {
    let mut seen = vec![false; expected as usize];
    let mut s = Sequence::default();
    let mut highest: Option<u64> = None;
    for &n in got {
        if n >= expected {
            s.unexpected.push(n);
            continue;
        }
        if seen[n as usize] {
            s.duplicates += 1;
            continue;
        }
        seen[n as usize] = true;
        if highest.is_some_and(|h| n < h) {
            s.out_of_order_count += 1;
            if s.out_of_order.len() < 20 {
                s.out_of_order.push(n);
            }
        }
        highest = highest.max(Some(n));
    }
    for (n, seen) in seen.iter().enumerate() {
        if !seen {
            s.missing_count += 1;
            if s.missing.len() < 20 {
                s.missing.push(n as u64);
            }
        }
    }
    s
}
