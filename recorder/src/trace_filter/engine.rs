//! Filter decisions.
//!
//! `scope_decision` runs once per code object (the recorder caches it), so it may allocate;
//! it pre-sorts the value patterns that apply to that scope by kind, newest first, so the
//! per-variable `value_action` is a short scan with no allocation.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use super::loader::{load_filter_chain, FilterError};
use super::matcher::{literal_path_match, Pattern};
use super::model::{
    CodeScope, ExecAction, FilterFile, MatchMode, ScopeKind, Selector, ValueAction, ValueKind,
};
use super::summary::{AppliedFilter, FilterSummary};

/// Top-level package of the recorder; its own code is never recorded.
pub const RECORDER_PACKAGE: &str = "codetracer_python_recorder";

/// What a compiled rule matches.
#[derive(Debug)]
enum ScopeMatch {
    /// Every scope (builtin secret rule).
    Always,
    /// Files under the caller-provided stdlib dirs, and frozen modules.
    Stdlib,
    /// The recorder's own package.
    Recorder,
    /// A user selector.
    Selector(Selector<ScopeKind>),
}

/// One value pattern, compiled.
#[derive(Debug)]
struct ValueRule {
    pattern: Pattern,
    action: ValueAction,
}

/// One scope rule of the whole chain.
#[derive(Debug)]
struct Rule {
    matcher: ScopeMatch,
    exec: Option<ExecAction>,
    value_default: Option<ValueAction>,
    reason: Option<Arc<str>>,
    /// `(kind, rule)` in file order.
    values: Vec<(ValueKind, Arc<ValueRule>)>,
}

/// The value patterns that apply in one scope, per kind, newest first.
#[derive(Debug, Default)]
pub struct ValueRules {
    default: Option<ValueAction>,
    local: Vec<Arc<ValueRule>>,
    global: Vec<Arc<ValueRule>>,
    arg: Vec<Arc<ValueRule>>,
    ret: Vec<Arc<ValueRule>>,
    attr: Vec<Arc<ValueRule>>,
}

impl ValueRules {
    fn for_kind(&self, kind: ValueKind) -> &[Arc<ValueRule>] {
        match kind {
            ValueKind::Local => &self.local,
            ValueKind::Global => &self.global,
            ValueKind::Arg => &self.arg,
            ValueKind::Ret => &self.ret,
            ValueKind::Attr => &self.attr,
        }
    }

    fn for_kind_mut(&mut self, kind: ValueKind) -> &mut Vec<Arc<ValueRule>> {
        match kind {
            ValueKind::Local => &mut self.local,
            ValueKind::Global => &mut self.global,
            ValueKind::Arg => &mut self.arg,
            ValueKind::Ret => &mut self.ret,
            ValueKind::Attr => &mut self.attr,
        }
    }

    /// The action for `name`: newest matching pattern, else the scope's value default.
    #[inline]
    fn action(&self, kind: ValueKind, name: &str) -> ValueAction {
        for rule in self.for_kind(kind) {
            if rule.pattern.is_match(name) {
                return rule.action;
            }
        }
        self.default.unwrap_or(ValueAction::Allow)
    }
}

/// The engine's answer for one code object; cache it per code object.
#[derive(Debug, Clone)]
pub struct ScopeDecision {
    /// Record this scope or not.
    pub exec: ExecAction,
    /// `reason` of the rule that set `exec` last (builtin rules have one too), for logs.
    pub reason: Option<Arc<str>>,
    /// Value rules of this scope; scopes with the same applicable rules share one `Arc`.
    pub values: Arc<ValueRules>,
}

impl ScopeDecision {
    /// Same as [`Engine::value_action`].
    #[inline]
    pub fn value_action(&self, kind: ValueKind, name: &str) -> ValueAction {
        self.values.action(kind, name)
    }

    /// Actions for a fixed list of names (e.g. `co_varnames`), computed once per code
    /// object so the per-step cost becomes an index lookup.
    pub fn actions_for<'n>(
        &self,
        kind: ValueKind,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Vec<ValueAction> {
        names
            .into_iter()
            .map(|n| self.values.action(kind, n))
            .collect()
    }
}

/// The compiled filter chain: builtin default first, then each file in order.
#[derive(Debug)]
pub struct Engine {
    default_exec: ExecAction,
    default_value: ValueAction,
    rules: Vec<Rule>,
    stdlib_prefixes: Vec<String>,
    applied: Vec<AppliedFilter>,
    /// Rule indices that match every scope and carry value settings.
    base_indices: Vec<usize>,
    /// Shared value rules for scopes where only `base_indices` apply (the common case).
    base_values: Arc<ValueRules>,
}

impl Engine {
    /// Builds the engine. `stdlib_dirs` are the interpreter's stdlib directories (e.g.
    /// `sysconfig` `stdlib` and `platstdlib`); `site-packages`/`dist-packages` below them
    /// do not count as stdlib.
    pub fn new(filters: Vec<FilterFile>, stdlib_dirs: Vec<PathBuf>) -> Self {
        let mut rules = builtin_rules();
        let mut default_exec = ExecAction::Trace;
        let mut default_value = ValueAction::Allow;
        let mut applied = Vec::with_capacity(filters.len());
        for file in filters {
            if let Some(e) = file.default_exec {
                default_exec = e;
            }
            if let Some(v) = file.default_value_action {
                default_value = v;
            }
            let path = std::fs::canonicalize(&file.path).unwrap_or_else(|_| file.path.clone());
            applied.push(AppliedFilter {
                path: path.to_string_lossy().into_owned(),
                sha256: file.sha256,
                name: file.meta.name,
                version: file.meta.version,
            });
            for r in file.rules {
                rules.push(Rule {
                    matcher: ScopeMatch::Selector(r.selector),
                    exec: r.exec,
                    value_default: r.value_default,
                    reason: r.reason.map(Arc::from),
                    values: r
                        .value_patterns
                        .into_iter()
                        .map(|p| {
                            (
                                p.selector.kind,
                                Arc::new(ValueRule {
                                    pattern: p.selector.pattern,
                                    action: p.action,
                                }),
                            )
                        })
                        .collect(),
                });
            }
        }
        let stdlib_prefixes = stdlib_dirs
            .iter()
            .map(|d| {
                let mut s = d.to_string_lossy().replace('\\', "/");
                if !s.ends_with('/') {
                    s.push('/');
                }
                s
            })
            .filter(|s| s != "/")
            .collect();
        let base_indices: Vec<usize> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.matcher, ScopeMatch::Always) && has_values(r))
            .map(|(i, _)| i)
            .collect();
        let mut engine = Self {
            default_exec,
            default_value,
            rules,
            stdlib_prefixes,
            applied,
            base_indices: Vec::new(),
            base_values: Arc::new(ValueRules::default()),
        };
        engine.base_values = Arc::new(engine.build_values(&base_indices));
        engine.base_indices = base_indices;
        engine
    }

    /// Loads `paths` (see `loader::resolve_filter_chain`) and builds the engine.
    pub fn load(paths: &[PathBuf], stdlib_dirs: Vec<PathBuf>) -> Result<Self, FilterError> {
        Ok(Self::new(load_filter_chain(paths)?, stdlib_dirs))
    }

    /// Decides whether a code object is recorded and which value rules apply inside it.
    pub fn scope_decision(&self, scope: &CodeScope<'_>) -> ScopeDecision {
        let file: Cow<'_, str> = if scope.file.contains('\\') {
            Cow::Owned(scope.file.replace('\\', "/"))
        } else {
            Cow::Borrowed(scope.file)
        };
        let mut obj_name: Option<String> = None;
        let mut exec = self.default_exec;
        let mut reason = None;
        let mut value_indices = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let hit = match &rule.matcher {
                ScopeMatch::Always => true,
                ScopeMatch::Stdlib => self.is_stdlib(&file),
                ScopeMatch::Recorder => is_recorder_module(scope.module),
                ScopeMatch::Selector(sel) => match sel.kind {
                    ScopeKind::Pkg => pkg_match(sel, scope.module),
                    ScopeKind::File => file_match(sel, &file),
                    ScopeKind::Obj => {
                        let full = obj_name
                            .get_or_insert_with(|| format!("{}.{}", scope.module, scope.qualname));
                        obj_match(sel, full, scope.qualname)
                    }
                },
            };
            if !hit {
                continue;
            }
            if let Some(e) = rule.exec {
                exec = e;
                reason = rule.reason.clone();
            }
            if has_values(rule) {
                value_indices.push(i);
            }
        }
        let values = if value_indices == self.base_indices {
            Arc::clone(&self.base_values)
        } else {
            Arc::new(self.build_values(&value_indices))
        };
        ScopeDecision {
            exec,
            reason,
            values,
        }
    }

    /// The action for one value in a scope. Allocation-free; call per variable per step.
    #[inline]
    pub fn value_action(
        &self,
        decision: &ScopeDecision,
        kind: ValueKind,
        name: &str,
    ) -> ValueAction {
        decision.values.action(kind, name)
    }

    /// Summary for `trace_metadata.json`, with zero counters for the recorder to fill.
    pub fn summary(&self) -> FilterSummary {
        FilterSummary {
            builtin_default: true,
            filters: self.applied.clone(),
            default_exec: self.default_exec,
            default_value_action: self.default_value,
            skipped_scopes: 0,
            redactions: 0,
            drops: 0,
        }
    }

    fn build_values(&self, indices: &[usize]) -> ValueRules {
        let mut out = ValueRules {
            default: Some(self.default_value),
            ..ValueRules::default()
        };
        // Newest rule first, and within a rule the last pattern first: later wins.
        for rule in indices.iter().rev().filter_map(|&i| self.rules.get(i)) {
            for (kind, v) in rule.values.iter().rev() {
                out.for_kind_mut(*kind).push(Arc::clone(v));
            }
        }
        for rule in indices.iter().filter_map(|&i| self.rules.get(i)) {
            if let Some(d) = rule.value_default {
                out.default = Some(d);
            }
        }
        out
    }

    fn is_stdlib(&self, file: &str) -> bool {
        if file.starts_with("<frozen ") {
            return true;
        }
        self.stdlib_prefixes.iter().any(|p| {
            file.strip_prefix(p.as_str()).is_some_and(|rest| {
                !rest.starts_with("site-packages/")
                    && !rest.starts_with("dist-packages/")
                    && !rest.contains("/site-packages/")
                    && !rest.contains("/dist-packages/")
            })
        })
    }
}

fn has_values(rule: &Rule) -> bool {
    !rule.values.is_empty() || rule.value_default.is_some()
}

fn builtin_rules() -> Vec<Rule> {
    let secret = Arc::new(ValueRule {
        pattern: Pattern::SecretName,
        action: ValueAction::Redact,
    });
    // `get_api_key()` returns a secret: for `ret` the function's own name is checked.
    let secret_fn = Arc::new(ValueRule {
        pattern: Pattern::SecretFunctionName,
        action: ValueAction::Redact,
    });
    vec![
        Rule {
            matcher: ScopeMatch::Stdlib,
            exec: Some(ExecAction::Skip),
            value_default: None,
            reason: Some(Arc::from("builtin: standard library")),
            values: Vec::new(),
        },
        Rule {
            matcher: ScopeMatch::Recorder,
            exec: Some(ExecAction::Skip),
            value_default: None,
            reason: Some(Arc::from("builtin: recorder internals")),
            values: Vec::new(),
        },
        Rule {
            matcher: ScopeMatch::Always,
            exec: None,
            value_default: None,
            reason: Some(Arc::from("builtin: secret names")),
            values: vec![
                (ValueKind::Local, Arc::clone(&secret)),
                (ValueKind::Global, Arc::clone(&secret)),
                (ValueKind::Arg, Arc::clone(&secret)),
                (ValueKind::Attr, secret),
                (ValueKind::Ret, secret_fn),
            ],
        },
    ]
}

fn is_recorder_module(module: &str) -> bool {
    module
        .strip_prefix(RECORDER_PACKAGE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Glob and literal `pkg:` patterns also match submodules; regexes see the full name only.
fn pkg_match(sel: &Selector<ScopeKind>, module: &str) -> bool {
    if sel.mode == MatchMode::Regex {
        return sel.pattern.is_match(module);
    }
    if sel.pattern.is_match(module) {
        return true;
    }
    let mut rest = module;
    while let Some((head, _)) = rest.rsplit_once('.') {
        if sel.pattern.is_match(head) {
            return true;
        }
        rest = head;
    }
    false
}

fn file_match(sel: &Selector<ScopeKind>, file: &str) -> bool {
    match sel.mode {
        MatchMode::Literal => literal_path_match(&sel.text, file),
        MatchMode::Glob | MatchMode::Regex => sel.pattern.is_match(file),
    }
}

fn obj_match(sel: &Selector<ScopeKind>, full: &str, qualname: &str) -> bool {
    sel.pattern.is_match(full) || sel.pattern.is_match(qualname)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::loader::parse_filter_str;
    use super::*;
    use std::path::Path;

    const STDLIB: &str = "/usr/lib/python3.12";

    fn engine(files: &[&str]) -> Engine {
        let parsed = files
            .iter()
            .enumerate()
            .map(|(i, t)| parse_filter_str(Path::new(&format!("/f{i}.toml")), t).unwrap())
            .collect();
        Engine::new(parsed, vec![PathBuf::from(STDLIB)])
    }

    fn scope<'a>(module: &'a str, file: &'a str, qualname: &'a str) -> CodeScope<'a> {
        CodeScope {
            module,
            file,
            qualname,
        }
    }

    fn user() -> CodeScope<'static> {
        scope("__main__", "/home/u/app/main.py", "main")
    }

    #[test]
    fn builtin_skips_stdlib_and_recorder() {
        let e = engine(&[]);
        assert_eq!(e.scope_decision(&user()).exec, ExecAction::Trace);
        let loaded = Engine::load(&[], vec![PathBuf::from(STDLIB)]).unwrap();
        assert_eq!(loaded.summary(), e.summary());
        assert!(Engine::load(&[PathBuf::from("/nonexistent.toml")], vec![]).is_err());
        let d = e.scope_decision(&scope(
            "json",
            "/usr/lib/python3.12/json/__init__.py",
            "dumps",
        ));
        assert_eq!(d.exec, ExecAction::Skip);
        assert_eq!(d.reason.as_deref(), Some("builtin: standard library"));
        let frozen = scope(
            "importlib._bootstrap",
            "<frozen importlib._bootstrap>",
            "_load",
        );
        assert_eq!(e.scope_decision(&frozen).exec, ExecAction::Skip);
        let site = scope(
            "requests",
            "/usr/lib/python3.12/site-packages/requests/api.py",
            "get",
        );
        assert_eq!(e.scope_decision(&site).exec, ExecAction::Trace);
        let rec = scope("codetracer_python_recorder.cli", "/v/x/cli.py", "main");
        assert_eq!(e.scope_decision(&rec).exec, ExecAction::Skip);
        let not_rec = scope("codetracer_python_recorderx", "/v/x/cli.py", "main");
        assert_eq!(e.scope_decision(&not_rec).exec, ExecAction::Trace);
        // A sibling directory that merely shares the prefix is not stdlib.
        let sib = scope("m", "/usr/lib/python3.12x/m.py", "f");
        assert_eq!(e.scope_decision(&sib).exec, ExecAction::Trace);
    }

    #[test]
    fn builtin_redacts_secrets() {
        let e = engine(&[]);
        let d = e.scope_decision(&user());
        for k in [
            ValueKind::Local,
            ValueKind::Global,
            ValueKind::Arg,
            ValueKind::Attr,
        ] {
            assert_eq!(e.value_action(&d, k, "api_key"), ValueAction::Redact);
            assert_eq!(e.value_action(&d, k, "company"), ValueAction::Allow);
        }
        // `ret` checks the last qualname component only.
        let r = |n| e.value_action(&d, ValueKind::Ret, n);
        assert_eq!(r("get_password"), ValueAction::Redact);
        assert_eq!(r("Vault.api_key"), ValueAction::Redact);
        assert_eq!(r("TokenStore.size"), ValueAction::Allow);
        assert_eq!(r("make.<locals>.token"), ValueAction::Redact);
        assert_eq!(r("company"), ValueAction::Allow);
        // Common scopes share one value-rule set.
        let d2 = e.scope_decision(&scope("m", "/x/m.py", "g"));
        assert!(Arc::ptr_eq(&d.values, &d2.values));
    }

    #[test]
    fn user_rules_later_win() {
        let e = engine(&[
            r#"
[[scope.rules]]
selector = "pkg:app"
exec = "skip"
[[scope.rules]]
selector = "obj:app.core.*"
exec = "trace"
reason = "core matters"
"#,
            r#"
[[scope.rules]]
selector = "obj:app.core.hot_loop"
exec = "skip"
"#,
        ]);
        let d = e.scope_decision(&scope("app.db", "/a/app/db.py", "query"));
        assert_eq!(d.exec, ExecAction::Skip);
        let d = e.scope_decision(&scope("app.core", "/a/app/core.py", "run"));
        assert_eq!(d.exec, ExecAction::Trace);
        assert_eq!(d.reason.as_deref(), Some("core matters"));
        let d = e.scope_decision(&scope("app.core", "/a/app/core.py", "hot_loop"));
        assert_eq!(d.exec, ExecAction::Skip);
        let d = e.scope_decision(&scope("apps", "/a/apps.py", "x"));
        assert_eq!(d.exec, ExecAction::Trace);
        // User rules can re-enable stdlib recording.
        let e = engine(&["[[scope.rules]]\nselector = \"pkg:json\"\nexec = \"trace\"\n"]);
        let d = e.scope_decision(&scope(
            "json.encoder",
            "/usr/lib/python3.12/json/encoder.py",
            "f",
        ));
        assert_eq!(d.exec, ExecAction::Trace);
    }

    #[test]
    fn default_exec_and_file_selectors() {
        let e = engine(&[
            "[scope]\ndefault_exec = \"skip\"\n[[scope.rules]]\nselector = \"file:src/**\"\nexec = \"trace\"\n",
            "[[scope.rules]]\nselector = \"file:literal:src/gen/big.py\"\nexec = \"skip\"\n[[scope.rules]]\nselector = 'file:regex:_test\\.py$'\nexec = \"trace\"\n",
        ]);
        assert_eq!(
            e.scope_decision(&scope("m", "/p/src/a/m.py", "f")).exec,
            ExecAction::Trace
        );
        assert_eq!(
            e.scope_decision(&scope("m", "/p/lib/m.py", "f")).exec,
            ExecAction::Skip
        );
        assert_eq!(
            e.scope_decision(&scope("m", "/p/src/gen/big.py", "f")).exec,
            ExecAction::Skip
        );
        assert_eq!(
            e.scope_decision(&scope("m", "/p/lib/m_test.py", "f")).exec,
            ExecAction::Trace
        );
        assert_eq!(
            e.scope_decision(&scope("m", r"C:\p\src\m.py", "f")).exec,
            ExecAction::Trace
        );
        let s = e.summary();
        assert_eq!(s.default_exec, ExecAction::Skip);
        assert_eq!(s.filters.len(), 2);
        assert_eq!(s.filters[0].path, "/f0.toml");
    }

    #[test]
    fn value_patterns_all_kinds() {
        let e = engine(&[r#"
[scope]
default_value_action = "allow"

[[scope.rules]]
selector = "pkg:*"
[[scope.rules.value_patterns]]
selector = "local:tmp_*"
action = "drop"
[[scope.rules.value_patterns]]
selector = "global:regex:^CONFIG"
action = "redact"
[[scope.rules.value_patterns]]
selector = "arg:literal:user"
action = "redact"
[[scope.rules.value_patterns]]
selector = "ret:get_*"
action = "drop"
[[scope.rules.value_patterns]]
selector = "attr:_cache"
action = "drop"
"#]);
        let d = e.scope_decision(&user());
        let a = |k, n| e.value_action(&d, k, n);
        assert_eq!(a(ValueKind::Local, "tmp_x"), ValueAction::Drop);
        assert_eq!(a(ValueKind::Global, "tmp_x"), ValueAction::Allow);
        assert_eq!(a(ValueKind::Global, "CONFIG_DB"), ValueAction::Redact);
        assert_eq!(a(ValueKind::Arg, "user"), ValueAction::Redact);
        assert_eq!(a(ValueKind::Arg, "username"), ValueAction::Allow);
        assert_eq!(a(ValueKind::Ret, "get_user"), ValueAction::Drop);
        assert_eq!(a(ValueKind::Attr, "_cache"), ValueAction::Drop);
        assert_eq!(a(ValueKind::Attr, "name"), ValueAction::Allow);
        // The builtin secret rule still applies.
        assert_eq!(a(ValueKind::Local, "password"), ValueAction::Redact);
    }

    #[test]
    fn value_defaults_and_overrides() {
        let e = engine(&[
            r#"
[scope]
default_value_action = "redact"
[[scope.rules]]
selector = "pkg:public"
value_default = "allow"
[[scope.rules.value_patterns]]
selector = "local:*"
action = "drop"
[[scope.rules.value_patterns]]
selector = "local:keep"
action = "allow"
"#,
            r#"
[[scope.rules]]
selector = "obj:*.login"
[[scope.rules.value_patterns]]
selector = "arg:literal:password"
action = "allow"
"#,
        ]);
        let other = e.scope_decision(&user());
        assert_eq!(
            e.value_action(&other, ValueKind::Local, "x"),
            ValueAction::Redact
        );
        let public = e.scope_decision(&scope("public.api", "/p/public/api.py", "f"));
        assert_eq!(
            e.value_action(&public, ValueKind::Local, "x"),
            ValueAction::Drop
        );
        assert_eq!(
            e.value_action(&public, ValueKind::Local, "keep"),
            ValueAction::Allow
        );
        assert_eq!(
            e.value_action(&public, ValueKind::Arg, "x"),
            ValueAction::Allow
        );
        assert!(!Arc::ptr_eq(&other.values, &public.values));
        // A later explicit allow beats the builtin secret rule.
        let login = e.scope_decision(&scope("auth", "/p/auth.py", "login"));
        assert_eq!(
            e.value_action(&login, ValueKind::Arg, "password"),
            ValueAction::Allow
        );
        assert_eq!(
            e.value_action(&login, ValueKind::Local, "password"),
            ValueAction::Redact
        );
        assert_eq!(
            login.value_action(ValueKind::Arg, "password"),
            ValueAction::Allow
        );
        let nested = e.scope_decision(&scope("auth", "/p/auth.py", "Session.inner.login"));
        assert_eq!(
            e.value_action(&nested, ValueKind::Arg, "password"),
            ValueAction::Redact
        );
    }

    #[test]
    fn engine_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
        assert_send_sync::<ScopeDecision>();
    }
}
