//! A progress bar on stderr for long reads: bytes of the trail's files read (compressed bytes
//! for `.gz` files) against their total size.
//!
//! Shown only when stderr is a terminal, and only once a read has lasted half a second, so
//! quick queries and anything piped or redirected never see it. Updates are counted per buffer
//! read (tens of KiB), not per line. Without the cargo feature `cli` there is no bar (no
//! indicatif): every [`Progress`] is hidden.

// Without `cli` the bar's timing is unused: every `Progress` is hidden.
#![cfg_attr(not(feature = "cli"), allow(dead_code, unused_variables))]

use std::io::{self, IsTerminal, Read};
use std::time::{Duration, Instant};

#[cfg(feature = "cli")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without `cli`, a bar that cannot exist.
#[cfg(not(feature = "cli"))]
#[derive(Clone, Debug)]
enum ProgressBar {}

/// How long a read runs before the bar appears.
const SHOW_AFTER: Duration = Duration::from_millis(500);

/// A progress bar that may never be drawn. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// A bar over `total_bytes`, drawn on stderr if it is a terminal and the read lasts.
    pub fn for_stderr(total_bytes: u64) -> Progress {
        if !io::stderr().is_terminal() {
            return Progress::hidden();
        }
        Self::bar(total_bytes)
    }

    #[cfg(not(feature = "cli"))]
    fn bar(_: u64) -> Progress {
        Progress::hidden()
    }

    #[cfg(feature = "cli")]
    fn bar(total_bytes: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})",
        );
        if let Ok(style) = style {
            bar.set_style(style);
        }
        Progress {
            bar: Some(bar),
            started: Instant::now(),
        }
    }

    /// No bar at all (tests, pipes, library use).
    pub fn hidden() -> Progress {
        Progress {
            bar: None,
            started: Instant::now(),
        }
    }

    /// Whether a bar may be drawn.
    pub fn is_enabled(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts `n` more bytes read.
    pub fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            #[cfg(feature = "cli")]
            {
                if bar.is_hidden() && self.started.elapsed() >= SHOW_AFTER {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
                bar.inc(n);
            }
            #[cfg(not(feature = "cli"))]
            match *bar {}
        }
    }

    /// Runs `f` (which prints to stderr) with the bar hidden, so lines and bar do not mix.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            #[cfg(feature = "cli")]
            Some(bar) => bar.suspend(f),
            #[cfg(not(feature = "cli"))]
            Some(bar) => match *bar {},
            None => f(),
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            #[cfg(feature = "cli")]
            bar.finish_and_clear();
            #[cfg(not(feature = "cli"))]
            match *bar {}
        }
    }

    /// Wraps a reader so the bytes it reads advance the bar.
    pub fn counting<R: Read>(&self, inner: R) -> Counting<R> {
        Counting {
            inner,
            progress: self.clone(),
        }
    }
}

/// A reader that advances a [`Progress`] by what it reads.
#[derive(Debug)]
pub struct Counting<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_reader_passes_bytes_through() {
        let progress = Progress::hidden();
        let mut out = String::new();
        progress
            .counting("abc".as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "abc");
        assert!(!progress.is_enabled());
        progress.finish();
    }
}
