//! Selector parsing and pattern matching (glob, regex, literal, builtin secret names).
//!
//! Globs are translated to anchored regexes once at load time, so matching never allocates
//! and never backtracks exponentially, whatever a filter author writes.

use regex::Regex;

use super::model::{MatchMode, ScopeKind, Selector, ValueKind};
use super::secrets::is_secret_name;

/// A compiled pattern. Cheap to clone (regexes are reference counted).
#[derive(Debug, Clone)]
pub enum Pattern {
    /// Matches everything (`*` for values, `**` anywhere).
    Any,
    /// Exact text.
    Literal(String),
    /// Glob `text*`: starts with `text`, and the rest does not contain the separator.
    Prefix(String, Option<char>),
    /// Glob `*text`: ends with `text`, and the rest does not contain the separator.
    Suffix(String, Option<char>),
    /// Compiled regex (other globs become anchored regexes).
    Regex(Regex),
    /// The builtin secret-name rule: whole-token matching, see `secrets.rs`.
    SecretName,
    /// The secret rule on the last `.` component of a qualname (for `ret:`).
    SecretFunctionName,
}

impl Pattern {
    /// Compiles `text` in `mode`; `sep` is the character a glob `*` does not cross.
    pub fn compile(mode: MatchMode, text: &str, sep: Option<char>) -> Result<Self, String> {
        match mode {
            MatchMode::Literal => Ok(Self::Literal(text.to_owned())),
            MatchMode::Regex => Regex::new(text)
                .map(Self::Regex)
                .map_err(|e| format!("invalid regex '{text}': {}", one_line(&e.to_string()))),
            MatchMode::Glob => compile_glob(text, sep),
        }
    }

    /// True when `s` matches.
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Literal(l) => l == s,
            Self::Prefix(p, sep) => s
                .strip_prefix(p.as_str())
                .is_some_and(|rest| sep.is_none_or(|c| !rest.contains(c))),
            Self::Suffix(p, sep) => s
                .strip_suffix(p.as_str())
                .is_some_and(|rest| sep.is_none_or(|c| !rest.contains(c))),
            Self::Regex(r) => r.is_match(s),
            Self::SecretName => is_secret_name(s),
            Self::SecretFunctionName => is_secret_name(s.rsplit('.').next().unwrap_or(s)),
        }
    }
}

/// Keeps multi-line regex diagnostics on one line so the error stays one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn compile_glob(text: &str, sep: Option<char>) -> Result<Pattern, String> {
    if text == "**" || (text == "*" && sep.is_none()) {
        return Ok(Pattern::Any);
    }
    if !text.contains(['*', '?', '[']) {
        return Ok(Pattern::Literal(text.to_owned()));
    }
    // The most common shapes (`tmp_*`, `*_secret`) skip the regex engine.
    if let Some(p) = text.strip_suffix('*') {
        if !p.contains(['*', '?', '[']) {
            return Ok(Pattern::Prefix(p.to_owned(), sep));
        }
    }
    if let Some(p) = text.strip_prefix('*') {
        if !p.contains(['*', '?', '[']) {
            return Ok(Pattern::Suffix(p.to_owned(), sep));
        }
    }
    let mut re = String::with_capacity(text.len() * 2 + 8);
    re.push('^');
    let not_sep = match sep {
        Some(c) => format!("[^{}]", regex::escape(&c.to_string())),
        None => ".".to_owned(),
    };
    let sep_re = sep.map(|c| regex::escape(&c.to_string()));
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    i += 2;
                    match (sep, &sep_re) {
                        (Some(s), Some(sr)) if chars.get(i) == Some(&s) => {
                            // `**/` also matches zero directories.
                            re.push_str(&format!("(?:.*{sr})?"));
                            i += 1;
                        }
                        _ => re.push_str(".*"),
                    }
                    continue;
                }
                re.push_str(&not_sep);
                re.push('*');
            }
            '?' => re.push_str(&not_sep),
            '[' => {
                let close = find_class_end(&chars, i)
                    .ok_or_else(|| format!("unterminated '[' in glob '{text}'"))?;
                re.push('[');
                let mut j = i + 1;
                if matches!(chars.get(j), Some('!') | Some('^')) {
                    re.push('^');
                    j += 1;
                }
                while j < close {
                    if let Some(&cc) = chars.get(j) {
                        if matches!(cc, '\\' | '[' | ']' | '&' | '~' | '^') {
                            re.push('\\');
                        }
                        re.push(cc);
                    }
                    j += 1;
                }
                re.push(']');
                i = close;
            }
            other => {
                if let (Some(s), Some(sr)) = (sep, &sep_re) {
                    // A trailing `/**` also matches the directory itself.
                    if other == s
                        && chars.get(i + 1) == Some(&'*')
                        && chars.get(i + 2) == Some(&'*')
                        && chars.get(i + 3).is_none()
                    {
                        re.push_str(&format!("(?:{sr}.*)?"));
                        break;
                    }
                }
                re.push_str(&regex::escape(&other.to_string()));
            }
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re)
        .map(Pattern::Regex)
        .map_err(|e| format!("invalid glob '{text}': {}", one_line(&e.to_string())))
}

/// Index of the `]` closing the class opened at `open`; a `]` right after `[` or `[!` is literal.
fn find_class_end(chars: &[char], open: usize) -> Option<usize> {
    let mut j = open + 1;
    if matches!(chars.get(j), Some('!') | Some('^')) {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while let Some(&c) = chars.get(j) {
        if c == ']' {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// Splits `kind:[mode:]pattern`; shared by scope and value selectors.
fn split_selector(raw: &str) -> Result<(&str, MatchMode, &str), String> {
    let (kind, rest) = raw
        .split_once(':')
        .ok_or_else(|| format!("selector '{raw}' has no kind prefix (expected 'kind:pattern')"))?;
    let (mode, pat) = if let Some(p) = rest.strip_prefix("regex:") {
        (MatchMode::Regex, p)
    } else if let Some(p) = rest.strip_prefix("literal:") {
        (MatchMode::Literal, p)
    } else if let Some(p) = rest.strip_prefix("glob:") {
        (MatchMode::Glob, p)
    } else {
        (MatchMode::Glob, rest)
    };
    if pat.is_empty() {
        return Err(format!("selector '{raw}' has an empty pattern"));
    }
    Ok((kind, mode, pat))
}

/// Parses a `pkg:` / `file:` / `obj:` selector.
pub fn parse_scope_selector(raw: &str) -> Result<Selector<ScopeKind>, String> {
    let (kind_s, mode, pat) = split_selector(raw)?;
    let kind = ScopeKind::from_prefix(kind_s).ok_or_else(|| {
        let hint = if ValueKind::from_prefix(kind_s).is_some() {
            " in a scope rule; value selectors belong in [[scope.rules.value_patterns]]"
        } else {
            ""
        };
        format!(
            "unknown selector kind '{kind_s}'{hint} (expected {})",
            ScopeKind::NAMES.join(", ")
        )
    })?;
    // Regexes keep their backslashes; paths in globs and literals are `/`-normalized.
    let text = if kind == ScopeKind::File && mode != MatchMode::Regex {
        normalize_path(pat)
    } else {
        pat.to_owned()
    };
    let compiled_text = match (kind, mode) {
        // Relative file globs match at any directory boundary, like .gitignore.
        (ScopeKind::File, MatchMode::Glob)
            if !is_absolute_like(&text) && !text.starts_with("**") =>
        {
            format!("**/{text}")
        }
        _ => text.clone(),
    };
    let pattern = Pattern::compile(mode, &compiled_text, kind.separator())?;
    Ok(Selector {
        kind,
        mode,
        text,
        pattern,
    })
}

/// Parses a `local:` / `global:` / `arg:` / `ret:` / `attr:` selector.
pub fn parse_value_selector(raw: &str) -> Result<Selector<ValueKind>, String> {
    let (kind_s, mode, pat) = split_selector(raw)?;
    let kind = ValueKind::from_prefix(kind_s).ok_or_else(|| {
        let hint = if ScopeKind::from_prefix(kind_s).is_some() {
            " in a value pattern; scope selectors belong in [[scope.rules]]"
        } else {
            ""
        };
        format!(
            "unknown selector kind '{kind_s}'{hint} (expected {})",
            ValueKind::NAMES.join(", ")
        )
    })?;
    let pattern = Pattern::compile(mode, pat, None)?;
    Ok(Selector {
        kind,
        mode,
        text: pat.to_owned(),
        pattern,
    })
}

/// Windows paths are matched with `/` so one filter works on every OS.
pub fn normalize_path(p: &str) -> String {
    p.replace('\\', "/")
}

/// `/x`, `C:/x` or `//server/x`.
fn is_absolute_like(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || (b.len() >= 3
            && b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.get(1) == Some(&b':')
            && b.get(2) == Some(&b'/'))
}

/// True when `lit` equals `path` or is a relative path ending it at a `/` boundary.
pub fn literal_path_match(lit: &str, path: &str) -> bool {
    if lit == path {
        return true;
    }
    if is_absolute_like(lit) {
        return false;
    }
    path.strip_suffix(lit)
        .is_some_and(|head| head.ends_with('/'))
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

    fn glob(p: &str, sep: Option<char>) -> Pattern {
        Pattern::compile(MatchMode::Glob, p, sep).unwrap()
    }

    #[test]
    fn glob_star_stops_at_separator() {
        let g = glob("app.*", Some('.'));
        assert!(g.is_match("app.x"));
        assert!(!g.is_match("app.x.y"));
        assert!(!g.is_match("apps.x"));
        let g = glob("app.**", Some('.'));
        assert!(g.is_match("app.x.y"));
        assert!(g.is_match("app"));
    }

    #[test]
    fn glob_double_star_dirs() {
        let g = glob("/a/**/b.py", Some('/'));
        assert!(g.is_match("/a/b.py"));
        assert!(g.is_match("/a/x/y/b.py"));
        assert!(!g.is_match("/ab.py"));
        let g = glob("/a/*.py", Some('/'));
        assert!(g.is_match("/a/m.py"));
        assert!(!g.is_match("/a/s/m.py"));
    }

    #[test]
    fn glob_classes_and_question() {
        let g = glob("x[0-9]?", None);
        assert!(g.is_match("x1a"));
        assert!(!g.is_match("xa1"));
        let g = glob("[!a]*", None);
        assert!(g.is_match("bcd"));
        assert!(!g.is_match("abc"));
        let g = glob("[]]x", None);
        assert!(g.is_match("]x"));
        assert!(Pattern::compile(MatchMode::Glob, "x[ab", None).is_err());
    }

    #[test]
    fn glob_escapes_regex_metachars() {
        let g = glob("a+b.*", None);
        assert!(g.is_match("a+b.c"));
        assert!(!g.is_match("aab.c"));
        assert!(matches!(glob("plain", None), Pattern::Literal(_)));
        assert!(matches!(glob("*", None), Pattern::Any));
        assert!(matches!(glob("tmp_*", None), Pattern::Prefix(..)));
        assert!(matches!(glob("*_key", None), Pattern::Suffix(..)));
        assert!(glob("*_key", None).is_match("api_key"));
        assert!(glob("*_key", None).is_match("_key"));
        assert!(!glob("*_key", None).is_match("api_keys"));
        assert!(glob("*.login", Some('.')).is_match("m.login"));
        assert!(!glob("*.login", Some('.')).is_match("a.m.login"));
        assert!(glob("app.*", Some('.')).is_match("app."));
        assert!(glob("/a/*", Some('/')).is_match("/a/b.py"));
    }

    #[test]
    fn selector_modes() {
        let s = parse_scope_selector(r"pkg:regex:^app\.").unwrap();
        assert_eq!(s.mode, MatchMode::Regex);
        assert!(s.pattern.is_match("app.db"));
        let s = parse_value_selector("local:literal:pass*").unwrap();
        assert!(s.pattern.is_match("pass*"));
        assert!(!s.pattern.is_match("password"));
        let s = parse_scope_selector("file:tests/*.py").unwrap();
        assert!(s.pattern.is_match("/home/u/proj/tests/t.py"));
        assert!(!s.pattern.is_match("/home/u/proj/mytests/t.py"));
        let s = parse_scope_selector(r"file:C:\proj\*.py").unwrap();
        assert!(s.pattern.is_match("C:/proj/a.py"));
    }

    #[test]
    fn selector_errors() {
        let e = parse_scope_selector("pk:app").unwrap_err();
        assert_eq!(e, "unknown selector kind 'pk' (expected pkg, file, obj)");
        let e = parse_scope_selector("local:x").unwrap_err();
        assert!(e.contains("value selectors belong"), "{e}");
        let e = parse_value_selector("pkg:x").unwrap_err();
        assert!(
            e.starts_with("unknown selector kind 'pkg' in a value pattern"),
            "{e}"
        );
        assert!(parse_value_selector("local:")
            .unwrap_err()
            .contains("empty pattern"));
        assert!(parse_value_selector("nokind")
            .unwrap_err()
            .contains("no kind"));
        let e = parse_value_selector("local:regex:(").unwrap_err();
        assert!(e.starts_with("invalid regex '('"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn literal_paths() {
        assert!(literal_path_match("pkg/m.py", "/x/pkg/m.py"));
        assert!(!literal_path_match("kg/m.py", "/x/pkg/m.py"));
        assert!(!literal_path_match("/pkg/m.py", "/x/pkg/m.py"));
        assert!(literal_path_match("/x/pkg/m.py", "/x/pkg/m.py"));
    }
}
