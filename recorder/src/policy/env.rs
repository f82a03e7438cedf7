//! Policy overrides from `CODETRACER_*` environment variables and from CLI flags.
//!
//! Both take plain strings so they are testable without touching the process environment;
//! both reject bad values with the same [`PolicyError`], naming the variable or the flag.

use std::path::PathBuf;

use super::model::{
    parse_bool, LogLevel, OnRecorderError, PolicyError, PolicyOverrides, BOOL_ALLOWED,
};

/// `CODETRACER_ON_RECORDER_ERROR`.
pub const ENV_ON_RECORDER_ERROR: &str = "CODETRACER_ON_RECORDER_ERROR";
/// `CODETRACER_REQUIRE_TRACE`.
pub const ENV_REQUIRE_TRACE: &str = "CODETRACER_REQUIRE_TRACE";
/// `CODETRACER_KEEP_PARTIAL_TRACE`.
pub const ENV_KEEP_PARTIAL_TRACE: &str = "CODETRACER_KEEP_PARTIAL_TRACE";
/// `CODETRACER_LOG_LEVEL`.
pub const ENV_LOG_LEVEL: &str = "CODETRACER_LOG_LEVEL";
/// `CODETRACER_LOG_FILE`.
pub const ENV_LOG_FILE: &str = "CODETRACER_LOG_FILE";
/// `CODETRACER_JSON_ERRORS`.
pub const ENV_JSON_ERRORS: &str = "CODETRACER_JSON_ERRORS";

/// The policy CLI flags, for `--help` and for telling policy flags from others.
pub const CLI_FLAGS: &[&str] = &[
    "--on-recorder-error",
    "--require-trace",
    "--keep-partial-trace",
    "--log-level",
    "--log-file",
    "--json-errors",
];

/// Which policy field a flag or variable sets.
#[derive(Clone, Copy)]
enum Field {
    OnError,
    RequireTrace,
    KeepPartial,
    LogLevel,
    LogFile,
    JsonErrors,
}

fn env_field(key: &str) -> Option<Field> {
    Some(match key {
        ENV_ON_RECORDER_ERROR => Field::OnError,
        ENV_REQUIRE_TRACE => Field::RequireTrace,
        ENV_KEEP_PARTIAL_TRACE => Field::KeepPartial,
        ENV_LOG_LEVEL => Field::LogLevel,
        ENV_LOG_FILE => Field::LogFile,
        ENV_JSON_ERRORS => Field::JsonErrors,
        _ => return None,
    })
}

fn cli_field(flag: &str) -> Option<Field> {
    Some(match flag {
        "--on-recorder-error" => Field::OnError,
        "--require-trace" => Field::RequireTrace,
        "--keep-partial-trace" => Field::KeepPartial,
        "--log-level" => Field::LogLevel,
        "--log-file" => Field::LogFile,
        "--json-errors" => Field::JsonErrors,
        _ => return None,
    })
}

fn set(
    o: &mut PolicyOverrides,
    field: Field,
    source: &str,
    value: &str,
) -> Result<(), PolicyError> {
    let err = |allowed| PolicyError {
        source: source.to_owned(),
        value: value.to_owned(),
        allowed,
    };
    let bool_of = |v: &str| parse_bool(v).ok_or_else(|| err(BOOL_ALLOWED));
    match field {
        Field::OnError => {
            o.on_recorder_error =
                Some(OnRecorderError::parse(value).ok_or_else(|| err(OnRecorderError::ALLOWED))?);
        }
        Field::RequireTrace => o.require_trace = Some(bool_of(value)?),
        Field::KeepPartial => o.keep_partial_trace = Some(bool_of(value)?),
        Field::JsonErrors => o.json_errors = Some(bool_of(value)?),
        Field::LogLevel => {
            o.log_level = Some(LogLevel::parse(value).ok_or_else(|| err(LogLevel::ALLOWED))?);
        }
        // An empty path means "log to stderr", so a wrapper can reset an inherited value.
        Field::LogFile => {
            o.log_file = Some(if value.is_empty() {
                None
            } else {
                Some(PathBuf::from(value))
            });
        }
    }
    Ok(())
}

/// Reads the policy variables from `(key, value)` pairs, e.g. `std::env::vars()`.
/// Other keys are ignored; a later duplicate wins; empty values count as unset
/// (except `CODETRACER_LOG_FILE`, where empty means stderr).
pub fn overrides_from_env<I, K, V>(vars: I) -> Result<PolicyOverrides, PolicyError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut o = PolicyOverrides::default();
    for (k, v) in vars {
        let (key, value) = (k.as_ref(), v.as_ref());
        let Some(field) = env_field(key) else {
            continue;
        };
        if value.trim().is_empty() && !matches!(field, Field::LogFile) {
            continue;
        }
        set(&mut o, field, key, value)?;
    }
    Ok(o)
}

impl PolicyOverrides {
    /// Applies one CLI flag. Boolean flags given bare should pass `"true"`.
    /// Returns `Ok(false)` when `flag` is not a policy flag (the caller handles it).
    pub fn apply_cli(&mut self, flag: &str, value: &str) -> Result<bool, PolicyError> {
        match cli_field(flag) {
            Some(field) => set(self, field, flag, value).map(|()| true),
            None => Ok(false),
        }
    }
}

/// True for flags that take no value on the command line (`--require-trace`).
pub fn cli_flag_is_boolean(flag: &str) -> bool {
    matches!(
        cli_field(flag),
        Some(Field::RequireTrace | Field::KeepPartial | Field::JsonErrors)
    )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::model::RecorderPolicy;
    use super::*;

    #[test]
    fn reads_every_variable() {
        let o = overrides_from_env([
            ("PATH", "/bin"),
            ("CODETRACER_ON_RECORDER_ERROR", "disable"),
            ("CODETRACER_REQUIRE_TRACE", "YES"),
            ("CODETRACER_KEEP_PARTIAL_TRACE", "on"),
            ("CODETRACER_LOG_LEVEL", "DEBUG"),
            ("CODETRACER_LOG_FILE", "/tmp/r.log"),
            ("CODETRACER_JSON_ERRORS", "1"),
            ("CODETRACER_TRACE_FILTER", "not-a-policy"),
        ])
        .unwrap();
        let p = RecorderPolicy::default().merged(&o);
        assert_eq!(p.on_recorder_error, OnRecorderError::Disable);
        assert!(p.require_trace && p.keep_partial_trace && p.json_errors);
        assert_eq!(p.log_level, LogLevel::Debug);
        assert_eq!(p.log_file, Some(PathBuf::from("/tmp/r.log")));
    }

    #[test]
    fn empty_values_are_unset() {
        let o = overrides_from_env([
            ("CODETRACER_REQUIRE_TRACE", ""),
            ("CODETRACER_LOG_LEVEL", " "),
        ])
        .unwrap();
        assert_eq!(o, PolicyOverrides::default());
        let o = overrides_from_env([("CODETRACER_LOG_FILE", "")]).unwrap();
        assert_eq!(o.log_file, Some(None));
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = overrides_from_env([("CODETRACER_ON_RECORDER_ERROR", "x")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'x' for CODETRACER_ON_RECORDER_ERROR (allowed: abort, disable)"
        );
        let e = overrides_from_env([("CODETRACER_JSON_ERRORS", "maybe")]).unwrap_err();
        assert_eq!(e.source, "CODETRACER_JSON_ERRORS");
        assert_eq!(e.allowed, BOOL_ALLOWED);
        let e = overrides_from_env([("CODETRACER_LOG_LEVEL", "loud")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'loud' for CODETRACER_LOG_LEVEL (allowed: error, warn, info, debug, trace)"
        );
        for k in ["CODETRACER_REQUIRE_TRACE", "CODETRACER_KEEP_PARTIAL_TRACE"] {
            assert_eq!(overrides_from_env([(k, "2")]).unwrap_err().source, k);
        }
    }

    #[test]
    fn cli_flags_and_precedence() {
        let env = overrides_from_env([
            ("CODETRACER_ON_RECORDER_ERROR", "disable"),
            ("CODETRACER_LOG_LEVEL", "info"),
        ])
        .unwrap();
        let mut cli = PolicyOverrides::default();
        assert!(cli.apply_cli("--log-level", "trace").unwrap());
        assert!(cli.apply_cli("--require-trace", "true").unwrap());
        assert!(cli.apply_cli("--log-file", "/x.log").unwrap());
        assert!(!cli.apply_cli("--trace-dir", "/t").unwrap());
        let p = RecorderPolicy::resolve(&env, &cli);
        assert_eq!(p.on_recorder_error, OnRecorderError::Disable);
        assert_eq!(p.log_level, LogLevel::Trace);
        assert!(p.require_trace);
        assert_eq!(p.log_file, Some(PathBuf::from("/x.log")));
        let e = cli.apply_cli("--on-recorder-error", "explode").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'explode' for --on-recorder-error (allowed: abort, disable)"
        );
        let e = cli.apply_cli("--json-errors", "sure").unwrap_err();
        assert_eq!(e.source, "--json-errors");
        assert!(cli_flag_is_boolean("--json-errors"));
        assert!(!cli_flag_is_boolean("--log-level"));
        assert!(CLI_FLAGS.iter().all(|f| cli_field(f).is_some()));
    }
}
