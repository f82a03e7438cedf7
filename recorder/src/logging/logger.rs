//! Structured JSON-lines logger.
//!
//! The recorder shares stdout with the user's program, so logs go only to stderr or a file,
//! one JSON object per line (`ts`, `level`, `run_id`, `trace_id`, `code`, `message`,
//! `context`) so tools can parse them. Logging never fails the caller: write errors are
//! counted, not raised, and a poisoned lock is recovered.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};

/// Severity, most severe first; a logger at level L emits L and everything before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Failures.
    Error,
    /// Suspicious but survivable.
    Warn,
    /// Lifecycle.
    Info,
    /// Details.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// Canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    /// Same spellings as the policy's `--log-level` (case-insensitive, `warning` too).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(Self::Error),
            "warn" | "warning" => Ok(Self::Warn),
            "info" => Ok(Self::Info),
            "debug" => Ok(Self::Debug),
            "trace" => Ok(Self::Trace),
            _ => Err(format!("unknown log level '{s}'")),
        }
    }
}

enum Sink {
    Stderr,
    Writer(Box<dyn Write + Send>),
}

#[derive(Serialize)]
struct Record<'a> {
    ts: &'a str,
    level: Level,
    run_id: &'a str,
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    message: &'a str,
    context: Map<String, Value>,
}

/// Thread-safe JSON-lines logger.
pub struct Logger {
    max_level: Level,
    run_id: String,
    trace_id: Mutex<Option<String>>,
    sink: Mutex<Sink>,
    write_failures: AtomicU64,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("max_level", &self.max_level)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Logger {
    fn with_sink(sink: Sink, max_level: Level, run_id: impl Into<String>) -> Self {
        Self {
            max_level,
            run_id: run_id.into(),
            trace_id: Mutex::new(None),
            sink: Mutex::new(sink),
            write_failures: AtomicU64::new(0),
        }
    }

    /// Logs to stderr.
    pub fn stderr(max_level: Level, run_id: impl Into<String>) -> Self {
        Self::with_sink(Sink::Stderr, max_level, run_id)
    }

    /// Appends to `path` (created if missing, parent directories too).
    pub fn file(path: &Path, max_level: Level, run_id: impl Into<String>) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self::with_sink(
            Sink::Writer(Box::new(f)),
            max_level,
            run_id,
        ))
    }

    /// Logs to any writer (tests, or a caller-managed sink).
    pub fn with_writer(
        w: Box<dyn Write + Send>,
        max_level: Level,
        run_id: impl Into<String>,
    ) -> Self {
        Self::with_sink(Sink::Writer(w), max_level, run_id)
    }

    /// Sets the trace id once the trace folder is known.
    pub fn set_trace_id(&self, trace_id: Option<String>) {
        *lock(&self.trace_id) = trace_id;
    }

    /// The run id every record carries.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Check before building an expensive context.
    #[inline]
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.max_level
    }

    /// Lines that could not be written.
    pub fn write_failures(&self) -> u64 {
        self.write_failures.load(Ordering::Relaxed)
    }

    /// Emits one record if `level` passes the filter.
    pub fn log(&self, level: Level, code: Option<&str>, message: &str, context: &[(&str, Value)]) {
        if !self.enabled(level) {
            return;
        }
        let line = self.format_line(&now_rfc3339(), level, code, message, context);
        let ok = match &mut *lock(&self.sink) {
            Sink::Stderr => io::stderr().lock().write_all(line.as_bytes()).is_ok(),
            Sink::Writer(w) => w
                .write_all(line.as_bytes())
                .and_then(|()| w.flush())
                .is_ok(),
        };
        if !ok {
            self.write_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `log(Level::Error, ..)`.
    pub fn error(&self, code: Option<&str>, message: &str, context: &[(&str, Value)]) {
        self.log(Level::Error, code, message, context);
    }

    /// `log(Level::Warn, ..)`.
    pub fn warn(&self, code: Option<&str>, message: &str, context: &[(&str, Value)]) {
        self.log(Level::Warn, code, message, context);
    }

    /// `log(Level::Info, None, ..)`.
    pub fn info(&self, message: &str, context: &[(&str, Value)]) {
        self.log(Level::Info, None, message, context);
    }

    /// `log(Level::Debug, None, ..)`.
    pub fn debug(&self, message: &str, context: &[(&str, Value)]) {
        self.log(Level::Debug, None, message, context);
    }

    /// The newline-terminated JSON line for one record.
    pub fn format_line(
        &self,
        ts: &str,
        level: Level,
        code: Option<&str>,
        message: &str,
        context: &[(&str, Value)],
    ) -> String {
        let trace_id = lock(&self.trace_id).clone();
        let record = Record {
            ts,
            level,
            run_id: &self.run_id,
            trace_id: trace_id.as_deref(),
            code,
            message,
            context: context
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        let mut line = serde_json::to_string(&record).unwrap_or_else(|e| {
            // Unreachable with string keys; still never lose the message.
            format!(
                "{{\"level\":\"error\",\"message\":{:?}}}",
                format!("log serialization failed: {e}")
            )
        });
        line.push('\n');
        line
    }
}

/// UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, without a date-time dependency.
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs(), d.subsec_millis())
}

/// Formats seconds since the epoch plus milliseconds.
pub fn format_rfc3339(secs: u64, millis: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// A fresh run id: 16 hex digits from time, pid and a counter (unique per process run).
pub fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finalizer: spreads the bits so ids look uniform.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("{x:016x}")
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
    use serde_json::json;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn lines(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
    }

    #[test]
    fn writes_filtered_json_lines() {
        let buf = Buf::default();
        let log = Logger::with_writer(Box::new(buf.clone()), Level::Info, "run1");
        log.debug("hidden", &[]);
        log.info("started", &[("pid", json!(42))]);
        log.set_trace_id(Some("trace9".into()));
        log.error(Some("ERR_IO"), "disk\nfull", &[("path", json!("/t"))]);
        let lines = buf.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["level"], "info");
        assert_eq!(lines[0]["run_id"], "run1");
        assert_eq!(lines[0]["trace_id"], Value::Null);
        assert!(lines[0].get("code").is_none());
        assert_eq!(lines[0]["context"], json!({"pid": 42}));
        assert_eq!(lines[1]["code"], "ERR_IO");
        assert_eq!(lines[1]["trace_id"], "trace9");
        assert_eq!(lines[1]["message"], "disk\nfull");
        assert_eq!(lines[1]["context"]["path"], "/t");
        let ts = lines[1]["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 24);
        assert!(ts.ends_with('Z'));
    }

    #[test]
    fn level_filter_and_parse() {
        let log = Logger::stderr(Level::Warn, "r");
        assert!(log.enabled(Level::Error) && log.enabled(Level::Warn));
        assert!(!log.enabled(Level::Info));
        assert_eq!("WARNING".parse::<Level>(), Ok(Level::Warn));
        assert_eq!("trace".parse::<Level>(), Ok(Level::Trace));
        assert!("loud".parse::<Level>().is_err());
    }

    #[test]
    fn file_sink_appends() {
        let dir = std::env::temp_dir().join(format!("ct-log-test-{}", std::process::id()));
        let path = dir.join("sub/r.log");
        let _ = std::fs::remove_dir_all(&dir);
        Logger::file(&path, Level::Info, "a")
            .unwrap()
            .info("one", &[]);
        Logger::file(&path, Level::Info, "b")
            .unwrap()
            .info("two", &[]);
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["run_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn counts_write_failures() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no space"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let log = Logger::with_writer(Box::new(Broken), Level::Info, "r");
        log.info("x", &[]);
        assert_eq!(log.write_failures(), 1);
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            format_rfc3339(1_795_462_245, 123),
            "2026-11-23T19:30:45.123Z"
        );
        assert_eq!(now_rfc3339().len(), 24);
    }

    #[test]
    fn run_ids_are_unique_hex() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
