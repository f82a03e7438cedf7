//! The process-wide logger, configured by the session from the resolved policy.
//!
//! Unset (the default) means no structured logs: the CLI still prints its one-line messages.
//! `--log-level` / `--log-file` (or their variables) switch JSON-lines logs on.

use std::sync::Mutex;

use super::logger::{Level, Logger};

static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

pub fn install(logger: Option<Logger>) {
    match LOGGER.lock() {
        Ok(mut slot) => *slot = logger,
        Err(poisoned) => *poisoned.into_inner() = logger,
    }
}

/// Logs through the installed logger, if any. Never fails: diagnostics must not break runs.
pub fn log(level: Level, code: Option<&str>, message: &str) {
    if let Ok(slot) = LOGGER.try_lock() {
        if let Some(logger) = slot.as_ref() {
            logger.log(level, code, message, &[]);
        }
    }
}

pub fn set_trace_id(trace_id: Option<String>) {
    if let Ok(slot) = LOGGER.try_lock() {
        if let Some(logger) = slot.as_ref() {
            logger.set_trace_id(trace_id);
        }
    }
}
