//! Spans: labeled intervals of the recording (an HTTP request served while recording), the
//! rows of CodeTracer's request panel.
//!
//! The program opens a span and closes it later, possibly after other spans opened and closed
//! (concurrent requests). [`OpenSpans`] gives each span its id and keeps what its opening said
//! until it closes, so a backend gets one complete [`Span`] per span: on close, or at the end
//! of the recording for a span still open then. Backends bind spans to steps themselves (only
//! CTFS can; `docs/spans.md`).

use crate::fast_hash::FastMap;

/// The span's outcome; the numbers are CTFS's `status` byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanStatus {
    Unknown = 0,
    Ok = 1,
    Error = 2,
}

impl SpanStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "unknown" => Some(SpanStatus::Unknown),
            "ok" => Some(SpanStatus::Ok),
            "error" => Some(SpanStatus::Error),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Unknown => "unknown",
            SpanStatus::Ok => "ok",
            SpanStatus::Error => "error",
        }
    }
}

/// One span as a backend writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// 1-based, in opening order.
    pub id: u64,
    /// `"web-request"` for the request panel's rows.
    pub span_type: String,
    pub label: String,
    /// Ordered key/value pairs (the panel reads `http.method`, `http.url`, ...).
    pub metadata: Vec<(String, String)>,
    pub status: SpanStatus,
    /// UNIX epoch nanoseconds.
    pub start_wall_ns: u64,
    /// 0 while open.
    pub end_wall_ns: u64,
    /// Still open when the recording ended.
    pub open: bool,
}

/// The spans opened and not yet closed.
#[derive(Debug, Default)]
pub struct OpenSpans {
    last_id: u64,
    open: FastMap<u64, Span>,
}

impl OpenSpans {
    /// Opens a span; returns its id.
    pub fn begin(
        &mut self,
        span_type: &str,
        label: &str,
        metadata: Vec<(String, String)>,
        wall_ns: u64,
    ) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        self.open.insert(
            id,
            Span {
                id,
                span_type: span_type.to_string(),
                label: label.to_string(),
                metadata,
                status: SpanStatus::Unknown,
                start_wall_ns: wall_ns,
                end_wall_ns: 0,
                open: true,
            },
        );
        id
    }

    /// Closes span `id`: what closing says about a key replaces what opening said, new keys
    /// follow in their order. `None` for an id that is not open (closed twice, or never
    /// opened in this recording).
    pub fn end(
        &mut self,
        id: u64,
        status: SpanStatus,
        metadata: Vec<(String, String)>,
        wall_ns: u64,
    ) -> Option<Span> {
        let mut span = self.open.remove(&id)?;
        for (key, value) in metadata {
            match span.metadata.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => span.metadata.push((key, value)),
            }
        }
        span.status = status;
        span.end_wall_ns = wall_ns.max(span.start_wall_ns);
        span.open = false;
        Some(span)
    }

    /// The spans still open, in opening order (at the end of the recording).
    pub fn drain(&mut self) -> Vec<Span> {
        let mut spans: Vec<Span> = self.open.drain().map(|(_, span)| span).collect();
        spans.sort_by_key(|span| span.id);
        spans
    }
}

/// Nanoseconds since the UNIX epoch (0 if the clock is before it).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn closing_merges_metadata_in_order_and_ids_count_from_one() {
        let mut spans = OpenSpans::default();
        let a = spans.begin(
            "web-request",
            "GET /a",
            pairs(&[("http.method", "GET"), ("http.status_code", "0")]),
            10,
        );
        let b = spans.begin("web-request", "GET /b", Vec::new(), 11);
        assert_eq!((a, b), (1, 2));
        let closed = spans.end(
            a,
            SpanStatus::Ok,
            pairs(&[("http.status_code", "200"), ("http.route", "/a")]),
            20,
        );
        let closed = closed.unwrap_or_else(|| unreachable!());
        assert_eq!(
            closed.metadata,
            pairs(&[
                ("http.method", "GET"),
                ("http.status_code", "200"),
                ("http.route", "/a")
            ])
        );
        assert_eq!(
            (closed.start_wall_ns, closed.end_wall_ns, closed.open),
            (10, 20, false)
        );
        assert!(
            spans.end(a, SpanStatus::Ok, Vec::new(), 30).is_none(),
            "closed twice"
        );
        let left = spans.drain();
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].id, left[0].open, left[0].status),
            (b, true, SpanStatus::Unknown)
        );
    }
}
