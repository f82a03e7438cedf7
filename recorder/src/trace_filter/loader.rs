//! TOML filter files → validated model, and the filter chain's discovery.
//!
//! Every problem becomes a [`FilterError`] naming file, line and problem, so a malformed
//! filter stops the recorder before the user's program starts instead of mid-run.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::matcher::{parse_scope_selector, parse_value_selector};
use super::model::{
    DepsSettings, ExecAction, FilterFile, FilterMeta, ScopeRule, ValueAction, ValuePattern,
};

/// Environment variable holding extra filter paths.
pub const FILTER_ENV_VAR: &str = "CODETRACER_TRACE_FILTER";

/// Project filter location, relative to a directory on the way up from the script.
pub const PROJECT_FILTER_RELATIVE: &str = ".codetracer/trace-filter.toml";

/// A filter file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The file at fault.
    pub path: PathBuf,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// What is wrong, one line.
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trace filter {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FilterError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    meta: Option<RawMeta>,
    scope: Option<RawScope>,
    deps: Option<RawDeps>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeps {
    #[serde(default)]
    mask_headers: Vec<Spanned<String>>,
    #[serde(default)]
    mask_words: Vec<Spanned<String>>,
    side_file_bytes: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Option<String>,
    version: Option<RawVersion>,
    description: Option<String>,
}

/// `version = 1` and `version = "1.2"` are both common; keep either as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawVersion {
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    default_exec: Option<Spanned<String>>,
    default_value_action: Option<Spanned<String>>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    selector: Spanned<String>,
    exec: Option<Spanned<String>>,
    value_default: Option<Spanned<String>>,
    reason: Option<String>,
    #[serde(default)]
    value_patterns: Vec<RawValuePattern>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValuePattern {
    selector: Spanned<String>,
    action: Spanned<String>,
    reason: Option<String>,
}

/// Checks an enum-valued key; the message names the key and the accepted values.
fn parse_enum<T>(
    text: &str,
    key: &str,
    value: &Spanned<String>,
    parse: fn(&str) -> Option<T>,
    allowed: &[&str],
) -> Result<T, (usize, String)> {
    parse(value.get_ref()).ok_or_else(|| {
        (
            line_of(text, value.span().start),
            format!(
                "invalid value '{}' for {key} (expected {})",
                value.get_ref(),
                allowed.join(", ")
            ),
        )
    })
}

/// `[deps]` checked: header names are HTTP tokens, a secret word is one or two words of
/// letters or digits (as key words are split: `card_number`, `card-number`), the side-file
/// size is not negative. Errors name the line and the accepted form.
fn parse_deps(text: &str, raw: RawDeps) -> Result<DepsSettings, (usize, String)> {
    let at = |v: &Spanned<String>| line_of(text, v.span().start);
    let mut mask_headers = Vec::with_capacity(raw.mask_headers.len());
    for h in &raw.mask_headers {
        let name = h.get_ref();
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err((
                at(h),
                format!("invalid header name '{name}' in deps.mask_headers (expected an HTTP header name such as X-Api-Key)"),
            ));
        }
        mask_headers.push(name.to_ascii_lowercase());
    }
    let mut mask_words = Vec::with_capacity(raw.mask_words.len());
    for w in &raw.mask_words {
        let parts: Vec<&str> = w
            .get_ref()
            .split(['_', '-', ' '])
            .filter(|p| !p.is_empty())
            .collect();
        let word = |p: &&str| {
            p.chars().all(|c| c.is_ascii_alphabetic()) || p.chars().all(|c| c.is_ascii_digit())
        };
        if parts.is_empty() || parts.len() > 2 || !parts.iter().all(word) {
            return Err((
                at(w),
                format!("invalid word '{}' in deps.mask_words (expected one word of letters or digits, or two joined by '_': pin, card_number)", w.get_ref()),
            ));
        }
        mask_words.push(parts.join("_").to_ascii_lowercase());
    }
    let side_file_bytes = match raw.side_file_bytes {
        Some(v) => Some(u64::try_from(*v.get_ref()).map_err(|_| {
            (
                line_of(text, v.span().start),
                format!(
                    "invalid value {} for deps.side_file_bytes (expected a size in bytes, 0 or more)",
                    v.get_ref()
                ),
            )
        })?),
        None => None,
    };
    Ok(DepsSettings {
        mask_headers,
        mask_words,
        side_file_bytes,
    })
}

/// Where each line of a text starts, for 1-based line numbers of byte offsets in O(log n):
/// every rule records its line, and counting newlines from the start for each made loading
/// quadratic in the number of rules (16,000 rules: 4.9 s).
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        LineStarts(starts)
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset).max(1)
    }
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads and parses one filter file.
pub fn load_filter_file(path: &Path) -> Result<FilterFile, FilterError> {
    let bytes = std::fs::read(path).map_err(|e| FilterError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| FilterError {
        path: path.to_path_buf(),
        line: Some(line_of_bytes(e.as_bytes(), e.utf8_error().valid_up_to())),
        message: "file is not valid UTF-8".to_owned(),
    })?;
    parse_filter_str(path, &text)
}

fn line_of_bytes(bytes: &[u8], offset: usize) -> usize {
    bytes
        .get(..offset)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// Parses filter text; `path` is only used for messages and the summary.
pub fn parse_filter_str(path: &Path, text: &str) -> Result<FilterFile, FilterError> {
    let err = |line: Option<usize>, message: String| FilterError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        let mut msg = e.message().trim().replace('\n', " ");
        if msg.contains("RawVersion") {
            msg = "invalid meta.version (expected a string or a number)".to_owned();
        }
        err(line, msg)
    })?;
    let meta = raw.meta.map_or_else(FilterMeta::default, |m| FilterMeta {
        name: m.name,
        version: m.version.map(|v| match v {
            RawVersion::Int(i) => i.to_string(),
            RawVersion::Float(f) => f.to_string(),
            RawVersion::Text(s) => s,
        }),
        description: m.description,
    });
    let at = |(line, m): (usize, String)| err(Some(line), m);
    let deps = raw
        .deps
        .map(|d| parse_deps(text, d))
        .transpose()
        .map_err(at)?;
    let exec_of = |key: &str, v: &Spanned<String>| {
        parse_enum(text, key, v, ExecAction::parse, ExecAction::ALLOWED).map_err(at)
    };
    let action_of = |key: &str, v: &Spanned<String>| {
        parse_enum(text, key, v, ValueAction::parse, ValueAction::ALLOWED).map_err(at)
    };
    let (default_exec, default_value_action, raw_rules) = match raw.scope {
        Some(s) => (
            s.default_exec
                .map(|v| exec_of("scope.default_exec", &v))
                .transpose()?,
            s.default_value_action
                .map(|v| action_of("scope.default_value_action", &v))
                .transpose()?,
            s.rules,
        ),
        None => (None, None, Vec::new()),
    };
    let mut rules = Vec::with_capacity(raw_rules.len());
    let lines = LineStarts::new(text);
    for r in raw_rules {
        let line = lines.line(r.selector.span().start);
        let selector =
            parse_scope_selector(r.selector.get_ref()).map_err(|m| err(Some(line), m))?;
        let mut value_patterns = Vec::with_capacity(r.value_patterns.len());
        for p in r.value_patterns {
            let pline = lines.line(p.selector.span().start);
            let vsel =
                parse_value_selector(p.selector.get_ref()).map_err(|m| err(Some(pline), m))?;
            value_patterns.push(ValuePattern {
                selector: vsel,
                action: action_of("action", &p.action)?,
                reason: p.reason,
            });
        }
        rules.push(ScopeRule {
            selector,
            exec: r.exec.map(|v| exec_of("exec", &v)).transpose()?,
            value_default: r
                .value_default
                .map(|v| action_of("value_default", &v))
                .transpose()?,
            reason: r.reason,
            value_patterns,
            line: Some(line),
        });
    }
    Ok(FilterFile {
        path: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
        meta,
        default_exec,
        default_value_action,
        rules,
        deps,
    })
}

/// The nearest `.codetracer/trace-filter.toml`, walking up from `script_dir`
/// (made absolute first, so a relative dir still walks up past the current directory).
pub fn discover_project_filter(script_dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(script_dir).unwrap_or_else(|_| script_dir.to_path_buf());
    dir.ancestors()
        .map(|d| d.join(PROJECT_FILTER_RELATIVE))
        .find(|p| p.is_file())
}

/// Splits `CODETRACER_TRACE_FILTER` like `PATH`: `:` on POSIX, `;` on Windows
/// (so Windows drive letters survive). Empty entries are ignored.
pub fn parse_filter_env(value: &OsStr) -> Vec<PathBuf> {
    std::env::split_paths(value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

/// The user filter chain in precedence order (later wins): project filter, env paths, CLI paths.
/// The builtin default is not a file; the engine always puts it first.
pub fn resolve_filter_chain(
    script_dir: Option<&Path>,
    env_value: Option<&OsStr>,
    cli_paths: &[PathBuf],
) -> Vec<PathBuf> {
    let mut chain = Vec::new();
    if let Some(p) = script_dir.and_then(discover_project_filter) {
        chain.push(p);
    }
    if let Some(v) = env_value {
        chain.extend(parse_filter_env(v));
    }
    chain.extend(cli_paths.iter().cloned());
    chain
}

/// The chain's `[deps]` settings merged (names and words of every file; the last file that
/// sets `side_file_bytes` wins), and the files that have a `[deps]` table.
pub fn merge_deps_settings(files: &[FilterFile]) -> (DepsSettings, Vec<PathBuf>) {
    let mut merged = DepsSettings::default();
    let mut sources = Vec::new();
    for (file, deps) in files.iter().filter_map(|f| f.deps.as_ref().map(|d| (f, d))) {
        sources.push(file.path.clone());
        for h in &deps.mask_headers {
            if !merged.mask_headers.contains(h) {
                merged.mask_headers.push(h.clone());
            }
        }
        for w in &deps.mask_words {
            if !merged.mask_words.contains(w) {
                merged.mask_words.push(w.clone());
            }
        }
        if deps.side_file_bytes.is_some() {
            merged.side_file_bytes = deps.side_file_bytes;
        }
    }
    (merged, sources)
}

/// Loads every file of a chain, stopping at the first error.
pub fn load_filter_chain(paths: &[PathBuf]) -> Result<Vec<FilterFile>, FilterError> {
    paths.iter().map(|p| load_filter_file(p)).collect()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::model::{DepsSettings, MatchMode, ScopeKind, ValueKind};
    use super::*;

    #[test]
    fn line_starts_agree_with_counting_newlines() {
        let text = "a\nbb\n\nccc\n";
        let lines = LineStarts::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(lines.line(offset), line_of(text, offset), "offset {offset}");
        }
    }

    fn parse(text: &str) -> Result<FilterFile, FilterError> {
        parse_filter_str(Path::new("/x/f.toml"), text)
    }

    fn err(text: &str) -> FilterError {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e,
        }
    }

    const FULL: &str = r#"
[meta]
name = "app"
version = 1

[scope]
default_exec = "trace"
default_value_action = "allow"

[[scope.rules]]
selector = "pkg:regex:^app\\."
exec = "skip"
reason = "noisy"

[[scope.rules]]
selector = "file:**/tests/*.py"
value_default = "redact"

[[scope.rules.value_patterns]]
selector = "local:literal:password"
action = "drop"

[[scope.rules.value_patterns]]
selector = "attr:tok*"
action = "allow"
"#;

    #[test]
    fn parses_full_file() {
        let f = parse(FULL).unwrap();
        assert_eq!(f.meta.name.as_deref(), Some("app"));
        assert_eq!(f.meta.version.as_deref(), Some("1"));
        assert_eq!(f.default_exec, Some(ExecAction::Trace));
        assert_eq!(f.default_value_action, Some(ValueAction::Allow));
        assert_eq!(f.rules.len(), 2);
        let r0 = &f.rules[0];
        assert_eq!(r0.selector.kind, ScopeKind::Pkg);
        assert_eq!(r0.selector.mode, MatchMode::Regex);
        assert_eq!(r0.exec, Some(ExecAction::Skip));
        assert_eq!(r0.line, Some(11));
        let r1 = &f.rules[1];
        assert_eq!(r1.value_default, Some(ValueAction::Redact));
        assert_eq!(r1.value_patterns.len(), 2);
        assert_eq!(r1.value_patterns[0].selector.kind, ValueKind::Local);
        assert_eq!(r1.value_patterns[0].selector.mode, MatchMode::Literal);
        assert_eq!(r1.value_patterns[0].action, ValueAction::Drop);
        assert_eq!(f.sha256, sha256_hex(FULL.as_bytes()));
        assert_eq!(f.sha256.len(), 64);
    }

    #[test]
    fn empty_file_is_valid() {
        let f = parse("").unwrap();
        assert!(f.rules.is_empty());
        assert_eq!(f.default_exec, None);
        let f = parse("[meta]\nversion = \"2.1\"\n").unwrap();
        assert_eq!(f.meta.version.as_deref(), Some("2.1"));
    }

    #[test]
    fn sha256_known_value() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn error_bad_selector_kind_names_line() {
        let e = err("[scope]\n\n[[scope.rules]]\nexec = \"skip\"\n\n\nselector = \"pk:app\"\n");
        assert_eq!(e.line, Some(7));
        assert_eq!(
            e.to_string(),
            "trace filter /x/f.toml:7: unknown selector kind 'pk' (expected pkg, file, obj)"
        );
    }

    #[test]
    fn error_bad_value_selector_kind() {
        let e = err(
            "[[scope.rules]]\nselector = \"pkg:a\"\n[[scope.rules.value_patterns]]\nselector = \"loc:x\"\naction = \"drop\"\n",
        );
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("unknown selector kind 'loc'"), "{e}");
        assert!(e.message.contains("local, global, arg, ret, attr"), "{e}");
    }

    #[test]
    fn error_unknown_key() {
        let e = err("[scope]\ndefault_exec = \"trace\"\nbogus = 1\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("bogus"), "{e}");
        let e = err("[metadata]\nname = \"x\"\n");
        assert!(e.message.contains("metadata"), "{e}");
        assert_eq!(e.line, Some(1), "{e}");
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\nexecc = \"skip\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("execc"), "{e}");
    }

    #[test]
    fn error_bad_enum_value() {
        let e = err("[scope]\n\ndefault_exec = \"maybe\"\n");
        assert_eq!(
            e.to_string(),
            "trace filter /x/f.toml:3: invalid value 'maybe' for scope.default_exec (expected trace, skip)"
        );
        let e = err("[scope]\ndefault_value_action = \"Allow\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("allow, redact, drop"), "{e}");
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\nexec = \"run\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.starts_with("invalid value 'run' for exec"), "{e}");
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\nvalue_default = \"hide\"\n");
        assert!(
            e.message
                .starts_with("invalid value 'hide' for value_default"),
            "{e}"
        );
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\nexec = true\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("expected a string"), "{e}");
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\n[[scope.rules.value_patterns]]\nselector = \"local:x\"\naction = \"hide\"\n");
        assert_eq!(e.line, Some(5), "{e}");
        assert!(
            e.message.starts_with("invalid value 'hide' for action"),
            "{e}"
        );
    }

    #[test]
    fn error_wrong_type() {
        let e = err("[[scope.rules]]\nselector = 5\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("string"), "{e}");
        let e = err("[meta]\nversion = [1]\n");
        assert_eq!(
            e.message,
            "invalid meta.version (expected a string or a number)"
        );
        let e = err("[scope]\nrules = \"x\"\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn error_missing_required() {
        let e = err("[[scope.rules]]\nexec = \"skip\"\n");
        assert!(e.message.contains("selector"), "{e}");
        assert!(e.line.is_some(), "{e}");
        let e = err("[[scope.rules]]\nselector = \"pkg:a\"\n[[scope.rules.value_patterns]]\nselector = \"local:x\"\n");
        assert!(e.message.contains("action"), "{e}");
    }

    #[test]
    fn error_bad_regex_and_glob() {
        let e = err("[[scope.rules]]\nselector = \"obj:regex:([a-\"\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.starts_with("invalid regex"), "{e}");
        let e = err("[[scope.rules]]\nselector = \"file:x[ab\"\n");
        assert!(e.message.contains("unterminated"), "{e}");
    }

    #[test]
    fn parses_deps_table() {
        let f = parse("[deps]\nmask_headers = [\"X-Internal\"]\nmask_words = [\"PIN\", \"card_number\", \"Card-Id\"]\nside_file_bytes = 1024\n").unwrap();
        let d = f.deps.unwrap();
        assert_eq!(d.mask_headers, vec!["x-internal"]);
        assert_eq!(d.mask_words, vec!["pin", "card_number", "card_id"]);
        assert_eq!(d.side_file_bytes, Some(1024));
        assert_eq!(parse("[scope]\n").unwrap().deps, None);
        assert_eq!(
            parse("[deps]\n").unwrap().deps,
            Some(DepsSettings::default())
        );
    }

    #[test]
    fn error_bad_deps_values() {
        let e = err("[deps]\nmask_headers = [\"ok\",\n  \"X Bad\"]\n");
        assert_eq!(
            e.to_string(),
            "trace filter /x/f.toml:3: invalid header name 'X Bad' in deps.mask_headers (expected an HTTP header name such as X-Api-Key)"
        );
        let e = err("[deps]\n\nmask_words = [\"a_b_c\"]\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(
            e.message
                .starts_with("invalid word 'a_b_c' in deps.mask_words"),
            "{e}"
        );
        assert!(err("[deps]\nmask_words = [\"\"]\n")
            .message
            .contains("invalid word ''"));
        assert!(err("[deps]\nmask_words = [\"pin2\"]\n")
            .message
            .contains("'pin2'"));
        let e = err("[deps]\nside_file_bytes = -1\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert_eq!(
            e.message,
            "invalid value -1 for deps.side_file_bytes (expected a size in bytes, 0 or more)"
        );
        let e = err("[deps]\nside_file_bytes = \"1k\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        let e = err("[deps]\nmask_word = [\"pin\"]\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("mask_word"), "{e}");
        let e = err("[deps]\nmask_words = \"pin\"\n");
        assert_eq!(e.line, Some(2), "{e}");
        assert!(!e.message.contains('\n'), "{e}");
    }

    #[test]
    fn deps_settings_merge_along_the_chain() {
        let a = parse("[deps]\nmask_words = [\"pin\"]\nside_file_bytes = 10\n").unwrap();
        let b = parse("[scope]\n").unwrap();
        let c =
            parse("[deps]\nmask_words = [\"pin\", \"ssn\"]\nmask_headers = [\"X-A\"]\n").unwrap();
        let (d, sources) = merge_deps_settings(&[a, b, c]);
        assert_eq!(d.mask_words, vec!["pin", "ssn"]);
        assert_eq!(d.mask_headers, vec!["x-a"]);
        assert_eq!(d.side_file_bytes, Some(10));
        assert_eq!(sources.len(), 2);
    }

    #[test]
    fn error_toml_syntax() {
        let e = err("[scope\n");
        assert_eq!(e.line, Some(1), "{e}");
        assert!(!e.message.contains('\n'));
    }

    #[test]
    fn error_missing_file() {
        let e = load_filter_file(Path::new("/nonexistent/dir/f.toml")).unwrap_err();
        assert_eq!(e.line, None);
        assert!(
            e.to_string()
                .starts_with("trace filter /nonexistent/dir/f.toml: cannot read file:"),
            "{e}"
        );
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ct-filter-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn discovers_nearest_project_filter() {
        let root = tmpdir("discover");
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(discover_project_filter(&deep), None);
        std::fs::create_dir_all(root.join(".codetracer")).unwrap();
        std::fs::write(root.join(PROJECT_FILTER_RELATIVE), "").unwrap();
        assert_eq!(
            discover_project_filter(&deep),
            Some(root.join(PROJECT_FILTER_RELATIVE))
        );
        std::fs::create_dir_all(root.join("a/.codetracer")).unwrap();
        std::fs::write(root.join("a").join(PROJECT_FILTER_RELATIVE), "").unwrap();
        assert_eq!(
            discover_project_filter(&deep),
            Some(root.join("a").join(PROJECT_FILTER_RELATIVE))
        );
        // The chain puts project, then env entries, then CLI paths.
        let chain = resolve_filter_chain(
            Some(&deep),
            Some(OsStr::new("/e1.toml::/e2.toml")),
            &[PathBuf::from("/c.toml")],
        );
        assert_eq!(
            chain,
            vec![
                root.join("a").join(PROJECT_FILTER_RELATIVE),
                PathBuf::from("/e1.toml"),
                PathBuf::from("/e2.toml"),
                PathBuf::from("/c.toml")
            ]
        );
        std::fs::write(root.join("good.toml"), FULL).unwrap();
        let files = load_filter_chain(&[root.join("good.toml")]).unwrap();
        assert_eq!(files.len(), 1);
        let e =
            load_filter_chain(&[root.join("good.toml"), root.join("missing.toml")]).unwrap_err();
        assert_eq!(e.path, root.join("missing.toml"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
