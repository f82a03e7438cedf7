//! Types of the trace filter format, after parsing and validation.
//!
//! The loader turns TOML into these; the engine only ever sees validated values, so a
//! malformed filter can never surface as a surprise while the user's program runs.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::matcher::Pattern;

/// Whether code in a scope is recorded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecAction {
    /// Record calls, lines and values.
    Trace,
    /// Do not record; the recorder disables monitoring so the code runs at full speed.
    Skip,
}

/// What happens to one value the recorder is about to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueAction {
    /// Record the value as usual.
    Allow,
    /// Record the variable, but with the value `<redacted>`.
    Redact,
    /// Omit the variable (Call/Return stay balanced: only the value goes).
    Drop,
}

impl ExecAction {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static [&'static str] = &["trace", "skip"];

    /// Parses an exact (lowercase) spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "trace" => Some(Self::Trace),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

impl ValueAction {
    /// Accepted spellings, for error messages.
    pub const ALLOWED: &'static [&'static str] = &["allow", "redact", "drop"];

    /// Parses an exact (lowercase) spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Self::Allow),
            "redact" => Some(Self::Redact),
            "drop" => Some(Self::Drop),
            _ => None,
        }
    }
}

/// The role of a named value; each has its own selector kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// A frame local (`local:`).
    Local,
    /// A module global (`global:`).
    Global,
    /// A function argument (`arg:`).
    Arg,
    /// A return value (`ret:`); the name matched is the returning function's qualname.
    Ret,
    /// An attribute / instance field of a recorded object (`attr:`).
    Attr,
}

impl ValueKind {
    /// Selector prefixes, in the order used in error messages.
    pub const NAMES: &'static [&'static str] = &["local", "global", "arg", "ret", "attr"];

    /// Parses a selector kind prefix.
    pub fn from_prefix(s: &str) -> Option<Self> {
        match s {
            "local" => Some(Self::Local),
            "global" => Some(Self::Global),
            "arg" => Some(Self::Arg),
            "ret" => Some(Self::Ret),
            "attr" => Some(Self::Attr),
            _ => None,
        }
    }

    /// The selector prefix of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Global => "global",
            Self::Arg => "arg",
            Self::Ret => "ret",
            Self::Attr => "attr",
        }
    }
}

/// What a scope selector is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// Module name; glob and literal patterns also match submodules (`pkg:app` covers `app.db`).
    Pkg,
    /// Source file path, `/`-separated; a relative glob matches at any directory boundary.
    File,
    /// `module.qualname` of the code object (or the bare qualname).
    Obj,
}

impl ScopeKind {
    /// Selector prefixes, in the order used in error messages.
    pub const NAMES: &'static [&'static str] = &["pkg", "file", "obj"];

    /// Parses a selector kind prefix.
    pub fn from_prefix(s: &str) -> Option<Self> {
        match s {
            "pkg" => Some(Self::Pkg),
            "file" => Some(Self::File),
            "obj" => Some(Self::Obj),
            _ => None,
        }
    }

    /// The selector prefix of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pkg => "pkg",
            Self::File => "file",
            Self::Obj => "obj",
        }
    }

    /// The character a glob `*` does not cross for this kind.
    pub fn separator(self) -> Option<char> {
        match self {
            Self::Pkg | Self::Obj => Some('.'),
            Self::File => Some('/'),
        }
    }
}

/// How a selector's pattern text is interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchMode {
    /// Shell-style glob (`*`, `**`, `?`, `[..]`); the default.
    Glob,
    /// Regular expression (unanchored search; anchor with `^`/`$`).
    Regex,
    /// Exact text.
    Literal,
}

/// A parsed and compiled selector such as `pkg:regex:^app\.`.
#[derive(Debug, Clone)]
pub struct Selector<K> {
    /// What the selector matches (`pkg`, `local`, ...).
    pub kind: K,
    /// How the pattern is matched.
    pub mode: MatchMode,
    /// The pattern text as written (after the prefixes).
    pub text: String,
    /// The compiled matcher.
    pub pattern: Pattern,
}

/// `[meta]`: descriptive only, copied into the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterMeta {
    /// `meta.name`.
    pub name: Option<String>,
    /// `meta.version` (numbers are kept as their decimal text).
    pub version: Option<String>,
    /// `meta.description`.
    pub description: Option<String>,
}

/// One `[[scope.rules.value_patterns]]` entry.
#[derive(Debug, Clone)]
pub struct ValuePattern {
    /// `local:`, `global:`, `arg:`, `ret:` or `attr:` selector.
    pub selector: Selector<ValueKind>,
    /// What to do with matching values.
    pub action: ValueAction,
    /// Free text explaining why, for people reading the filter.
    pub reason: Option<String>,
}

/// One `[[scope.rules]]` entry.
#[derive(Debug, Clone)]
pub struct ScopeRule {
    /// `pkg:`, `file:` or `obj:` selector.
    pub selector: Selector<ScopeKind>,
    /// Overrides the exec decision for matching scopes when set.
    pub exec: Option<ExecAction>,
    /// Overrides the default value action for matching scopes when set.
    pub value_default: Option<ValueAction>,
    /// Free text explaining why.
    pub reason: Option<String>,
    /// Value patterns that apply inside matching scopes.
    pub value_patterns: Vec<ValuePattern>,
    /// 1-based line of the rule's selector in its file, for diagnostics.
    pub line: Option<usize>,
}

/// One loaded filter file.
#[derive(Debug, Clone)]
pub struct FilterFile {
    /// Where it was loaded from (as given to the loader).
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the file's bytes, for the metadata summary.
    pub sha256: String,
    /// `[meta]`.
    pub meta: FilterMeta,
    /// `scope.default_exec`, if this file sets it.
    pub default_exec: Option<ExecAction>,
    /// `scope.default_value_action`, if this file sets it.
    pub default_value_action: Option<ValueAction>,
    /// `[[scope.rules]]` in file order.
    pub rules: Vec<ScopeRule>,
    /// `[deps]`, if this file has one.
    pub deps: Option<DepsSettings>,
}

/// `[deps]`: settings of dependency capture (`--deps`). Validated with the rest of the file so
/// a bad value stops the recorder before the program runs; the Python side, which does the
/// capture, gets them from `_native.deps_settings` and never parses the TOML itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepsSettings {
    /// `deps.mask_headers`: more header names whose values are masked (lowercase).
    pub mask_headers: Vec<String>,
    /// `deps.mask_words`: more secret words of keys, lowercase; two words (`card_number`)
    /// mask keys where they are adjacent.
    pub mask_words: Vec<String>,
    /// `deps.side_file_bytes`: bytes values (bodies) longer than this go to side files.
    pub side_file_bytes: Option<u64>,
}

/// The code object the recorder asks about. Borrowed so asking costs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeScope<'a> {
    /// `__name__` of the defining module (`__main__` for the script).
    pub module: &'a str,
    /// `co_filename` (may be `<frozen ...>`, `<string>`).
    pub file: &'a str,
    /// `co_qualname` (`<module>` for a module body).
    pub qualname: &'a str,
}

impl fmt::Display for ExecAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "trace",
            Self::Skip => "skip",
        })
    }
}

impl fmt::Display for ValueAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Redact => "redact",
            Self::Drop => "drop",
        })
    }
}
