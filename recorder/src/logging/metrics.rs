//! Run counters written into `trace_metadata.json`.
//!
//! Callbacks on any thread bump them, so they are relaxed atomics: counting must cost
//! next to nothing and never take a lock on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Serialize, Serializer};

/// One counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Events lost (e.g. written after a detach or refused by the writer).
    DroppedEvents,
    /// Times the recorder detached from `sys.monitoring` (policy `disable`).
    Detaches,
    /// Panics caught at the FFI boundary.
    CaughtPanics,
    /// Values recorded as `<redacted>`.
    Redactions,
    /// Values omitted by filters.
    Drops,
    /// Code objects skipped by filters.
    SkippedScopes,
    /// Values cut by size/depth caps.
    TruncatedValues,
    /// Log lines that could not be written.
    LogWriteFailures,
}

/// Live counters; share by reference or `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    dropped_events: AtomicU64,
    detaches: AtomicU64,
    caught_panics: AtomicU64,
    redactions: AtomicU64,
    drops: AtomicU64,
    skipped_scopes: AtomicU64,
    truncated_values: AtomicU64,
    log_write_failures: AtomicU64,
}

/// A plain copy of the counters, as serialized into the metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// See [`Counter::DroppedEvents`].
    pub dropped_events: u64,
    /// See [`Counter::Detaches`].
    pub detaches: u64,
    /// See [`Counter::CaughtPanics`].
    pub caught_panics: u64,
    /// See [`Counter::Redactions`].
    pub redactions: u64,
    /// See [`Counter::Drops`].
    pub drops: u64,
    /// See [`Counter::SkippedScopes`].
    pub skipped_scopes: u64,
    /// See [`Counter::TruncatedValues`].
    pub truncated_values: u64,
    /// See [`Counter::LogWriteFailures`].
    pub log_write_failures: u64,
}

impl Metrics {
    /// All zero.
    pub fn new() -> Self {
        Self::default()
    }

    fn cell(&self, c: Counter) -> &AtomicU64 {
        match c {
            Counter::DroppedEvents => &self.dropped_events,
            Counter::Detaches => &self.detaches,
            Counter::CaughtPanics => &self.caught_panics,
            Counter::Redactions => &self.redactions,
            Counter::Drops => &self.drops,
            Counter::SkippedScopes => &self.skipped_scopes,
            Counter::TruncatedValues => &self.truncated_values,
            Counter::LogWriteFailures => &self.log_write_failures,
        }
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self, c: Counter) {
        self.cell(c).fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        self.cell(c).fetch_add(n, Ordering::Relaxed);
    }

    /// Current value.
    pub fn get(&self, c: Counter) -> u64 {
        self.cell(c).load(Ordering::Relaxed)
    }

    /// Copies every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            dropped_events: self.get(Counter::DroppedEvents),
            detaches: self.get(Counter::Detaches),
            caught_panics: self.get(Counter::CaughtPanics),
            redactions: self.get(Counter::Redactions),
            drops: self.get(Counter::Drops),
            skipped_scopes: self.get(Counter::SkippedScopes),
            truncated_values: self.get(Counter::TruncatedValues),
            log_write_failures: self.get(Counter::LogWriteFailures),
        }
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.snapshot().serialize(s)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_across_threads() {
        let m = Arc::new(Metrics::new());
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.incr(Counter::DroppedEvents);
                    }
                    m.add(Counter::Redactions, 2);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        m.incr(Counter::CaughtPanics);
        let s = m.snapshot();
        assert_eq!(s.dropped_events, 8000);
        assert_eq!(s.redactions, 16);
        assert_eq!(s.caught_panics, 1);
        assert_eq!(s.detaches, 0);
    }

    #[test]
    fn serializes_all_fields() {
        let m = Metrics::new();
        m.incr(Counter::Detaches);
        m.add(Counter::Drops, 3);
        m.incr(Counter::SkippedScopes);
        m.incr(Counter::TruncatedValues);
        m.incr(Counter::LogWriteFailures);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "dropped_events": 0, "detaches": 1, "caught_panics": 0, "redactions": 0,
                "drops": 3, "skipped_scopes": 1, "truncated_values": 1, "log_write_failures": 1
            })
        );
    }
}
