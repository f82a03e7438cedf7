//! Conformance: traces produced by real recordings deserialise into `runtime_tracing`'s own
//! event types, and their ids and Call/Return structure are consistent.
//!
//! Needs a Python (>= 3.12) with the recorder installed: `CT_RECORDER_PYTHON`, else `python3`.
//! Without one the test prints why and passes vacuously; `nox -s tests` always sets it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use runtime_tracing::{TraceLowLevelEvent, TraceMetadata, ValueRecord};

fn recorder_python() -> Option<String> {
    let candidate = std::env::var("CT_RECORDER_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&candidate)
        .args(["-c", "import codetracer_python_recorder"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(candidate)
    } else {
        eprintln!("SKIP: no Python with codetracer_python_recorder (set CT_RECORDER_PYTHON)");
        None
    }
}

fn record(python: &str, script: &Path, out: &Path, step_values: &str) {
    let status = Command::new(python)
        .args([
            "-m",
            "codetracer_python_recorder",
            "--step-values",
            step_values,
        ])
        .arg("--trace-dir")
        .arg(out)
        .arg(script)
        .status()
        .expect("run recorder");
    assert!(
        status.success(),
        "recording {} failed: {status}",
        script.display()
    );
}

fn check_value(v: &ValueRecord, types: usize) {
    match v {
        ValueRecord::Int { type_id, .. }
        | ValueRecord::Float { type_id, .. }
        | ValueRecord::Bool { type_id, .. }
        | ValueRecord::String { type_id, .. }
        | ValueRecord::Raw { type_id, .. }
        | ValueRecord::Error { type_id, .. }
        | ValueRecord::None { type_id }
        | ValueRecord::BigInt { type_id, .. } => assert!(type_id.0 < types),
        ValueRecord::Sequence {
            elements, type_id, ..
        }
        | ValueRecord::Tuple { elements, type_id } => {
            assert!(type_id.0 < types);
            elements.iter().for_each(|e| check_value(e, types));
        }
        ValueRecord::Struct {
            field_values,
            type_id,
        } => {
            assert!(type_id.0 < types);
            field_values.iter().for_each(|e| check_value(e, types));
        }
        other => panic!("unexpected value kind {other:?}"),
    }
}

/// Deserialises one trace folder and checks its internal consistency.
fn check_trace(dir: &Path) -> Vec<TraceLowLevelEvent> {
    let text = std::fs::read_to_string(dir.join("trace.json")).unwrap();
    let events: Vec<TraceLowLevelEvent> = serde_json::from_str(&text).expect("trace.json conforms");
    let meta: TraceMetadata =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trace_metadata.json")).unwrap())
            .expect("trace_metadata.json conforms");
    assert!(meta.program.ends_with(".py"));
    let paths: Vec<PathBuf> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trace_paths.json")).unwrap())
            .unwrap();
    let (mut npaths, mut nfuncs, mut nvars, mut ntypes, mut depth) = (0, 0, 0, 0, 0i64);
    // Places bound since the last step, and places that hold a value.
    let (mut bound, mut valued) = (Vec::new(), std::collections::HashSet::new());
    for e in &events {
        if matches!(e, TraceLowLevelEvent::Step(_)) {
            assert!(
                bound.iter().all(|p| valued.contains(p)),
                "a variable is bound to a place that never got a value"
            );
            bound.clear();
        }
        match e {
            TraceLowLevelEvent::Path(_) => npaths += 1,
            TraceLowLevelEvent::Function(f) => {
                assert!(f.path_id.0 < npaths);
                nfuncs += 1;
            }
            TraceLowLevelEvent::VariableName(_) => nvars += 1,
            TraceLowLevelEvent::Type(_) => ntypes += 1,
            TraceLowLevelEvent::Step(s) => assert!(s.path_id.0 < npaths),
            TraceLowLevelEvent::Call(c) => {
                assert!(c.function_id.0 < nfuncs);
                c.args.iter().for_each(|a| {
                    assert!(a.variable_id.0 < nvars);
                    check_value(&a.value, ntypes);
                });
                depth += 1;
            }
            TraceLowLevelEvent::Return(r) => {
                check_value(&r.return_value, ntypes);
                depth -= 1;
                assert!(depth >= 0, "Return without Call");
            }
            TraceLowLevelEvent::Value(v) => {
                assert!(v.variable_id.0 < nvars);
                check_value(&v.value, ntypes);
            }
            TraceLowLevelEvent::VariableCell(c) => {
                assert!(c.variable_id.0 < nvars);
                assert!(depth > 0, "a variable bound outside every call");
                bound.push(c.place);
            }
            TraceLowLevelEvent::CellValue(c) => {
                check_value(&c.value, ntypes);
                valued.insert(c.place);
            }
            TraceLowLevelEvent::DropVariable(v) => assert!(v.0 < nvars),
            _ => {}
        }
    }
    assert_eq!(depth, 0, "Call/Return unbalanced");
    assert_eq!(paths.len(), npaths);
    events
}

#[test]
fn recorded_traces_deserialise_into_runtime_tracing_types() {
    let Some(python) = recorder_python() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("ct-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mix = root.join("tests/programs/conformance_mix.py");
    let example = root.parent().unwrap().join("examples/python_script.py");
    let runs = [(&mix, "changes"), (&mix, "full"), (&example, "changes")];
    for (i, (script, mode)) in runs.iter().filter(|(s, _)| s.exists()).enumerate() {
        let out = tmp.join(format!("t{i}"));
        record(&python, script, &out, mode);
        let events = check_trace(&out);
        assert!(events
            .iter()
            .any(|e| matches!(e, TraceLowLevelEvent::Step(_))));
        if *script == &mix {
            let has = |pred: &dyn Fn(&ValueRecord) -> bool| {
                events.iter().any(|e| match e {
                    TraceLowLevelEvent::Value(v) => pred(&v.value),
                    TraceLowLevelEvent::CellValue(c) => pred(&c.value),
                    _ => false,
                })
            };
            assert!(has(&|v| matches!(
                v,
                ValueRecord::BigInt { negative: true, .. }
            )));
            assert!(has(&|v| matches!(v, ValueRecord::Struct { .. })));
            assert!(has(&|v| matches!(v, ValueRecord::Float { .. })));
            let cells = events
                .iter()
                .any(|e| matches!(e, TraceLowLevelEvent::VariableCell(_)));
            assert_eq!(cells, *mode == "changes");
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
