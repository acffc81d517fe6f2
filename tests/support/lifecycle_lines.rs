//! The logger's own events (`audit-logger-start`, `audit-config-change`, …, see
//! `log4rs_audit::lifecycle`) in trails the tests read back: told apart from the application's
//! events by their `msgType`, through the crate's public names.

#![allow(dead_code)]

use log4rs_audit::lifecycle;

/// The `msgType` of one parsed event: an envelope (`message.msgType`), the Event Server's
/// stored line (`clientEvent.msgType`) or an event object as it is sent (`msgType` at the top).
pub fn msg_type_of(event: &serde_json::Value) -> Option<&str> {
    event["message"]["msgType"]
        .as_str()
        .or_else(|| event["clientEvent"]["msgType"].as_str())
        .or_else(|| event["msgType"].as_str())
}

/// Whether the parsed `event` is one of the logger's own: an envelope of `dku.audit.generic`,
/// a stored line or an event object, whose `msgType` is a lifecycle one.
pub fn is_lifecycle_event(event: &serde_json::Value) -> bool {
    let logger_ok = match event.get("logger") {
        Some(l) => l == lifecycle::LOGGER,
        None => true,
    };
    logger_ok && msg_type_of(event).is_some_and(lifecycle::is_lifecycle)
}

/// Whether `line` (one JSON line: the standard envelope, a stored line or an event object) is one of
/// the logger's own events. Lines that are not JSON (a pattern encoder's) are not.
pub fn is_lifecycle(line: &str) -> bool {
    // The cheap test first: every lifecycle msgType starts with `audit-`.
    if !line.contains("\"msgType\":\"audit-") {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| is_lifecycle_event(&v))
}

/// Whether `line`, written by a pattern encoder that prints the event's message object (log4j's
/// `%m`), is one of the logger's own events: it holds `{"msgType":"<lifecycle msgType>"`.
pub fn is_lifecycle_text(line: &str) -> bool {
    lifecycle::ALL
        .iter()
        .any(|t| line.contains(&format!("{{\"msgType\":\"{t}\"")))
}

/// `lines` without the logger's own events, in their order.
pub fn without_lifecycle<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Vec<S> {
    lines
        .into_iter()
        .filter(|l| !is_lifecycle(l.as_ref()))
        .collect()
}

/// The `msgType`s of the logger's own events among `lines`, in their order.
pub fn lifecycle_types<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> Vec<String> {
    lines
        .into_iter()
        .filter_map(|l| lifecycle_type(l.as_ref()))
        .collect()
}

/// The `msgType`s of the logger's own events among parsed `events`, in their order.
pub fn lifecycle_types_of<'a>(
    events: impl IntoIterator<Item = &'a serde_json::Value>,
) -> Vec<String> {
    events
        .into_iter()
        .filter(|e| is_lifecycle_event(e))
        .map(|e| msg_type_of(e).unwrap().to_owned())
        .collect()
}

/// The lifecycle `msgType` of `line`, `None` for any other line.
pub fn lifecycle_type(line: &str) -> Option<String> {
    if !is_lifecycle(line) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    msg_type_of(&v).map(str::to_owned)
}

/// Asserts that `lines`, the whole trail of one logger run, starts with `audit-logger-start`
/// and (after an orderly shutdown: the handle dropped) ends with `audit-logger-stop`.
pub fn assert_started_and_stopped<S: AsRef<str>>(lines: &[S], what: &str) {
    assert_started(lines, what);
    let last = lines.last().map(AsRef::as_ref).unwrap_or_default();
    assert_eq!(
        lifecycle_type(last).as_deref(),
        Some(lifecycle::STOP),
        "{what}: the trail does not end with the stop: {last}"
    );
}

/// Asserts that `lines`, the whole trail of one logger run, starts with `audit-logger-start`.
pub fn assert_started<S: AsRef<str>>(lines: &[S], what: &str) {
    let first = lines.first().map(AsRef::as_ref).unwrap_or_default();
    assert_eq!(
        lifecycle_type(first).as_deref(),
        Some(lifecycle::START),
        "{what}: the trail does not start with the start: {first}"
    );
}
