//! Conformance: real recordings decode with the types today's CodeTracer builds against
//! (`codetracer_trace_types` 0.16), the way it decodes them:
//! - `--format json`: `trace.json` with serde_json (floats as text, else the load fails);
//! - `trace.ct` (the default): every value blob of `values.dat` and `calls.dat` with
//!   `cbor4ii` + serde, as the db-backend's split-stream route does.
//!
//! The container is read here by a reader written for this test from the format's rules,
//! independent of the writer's code.
//!
//! Needs a Python (>= 3.12) with the recorder installed: `CT_RECORDER_PYTHON`, else `python3`.
//! Without one the test prints why and passes vacuously; `nox -s tests` always sets it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use codetracer_trace_types::{TraceLowLevelEvent, TraceMetadata, ValueRecord};

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

fn record(python: &str, script: &Path, out: &Path, format: &str) {
    let status = Command::new(python)
        .args(["-m", "codetracer_python_recorder", "--format", format])
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

/// Every value anywhere inside `v`, `v` included.
fn walk<'a>(v: &'a ValueRecord, out: &mut Vec<&'a ValueRecord>) {
    out.push(v);
    match v {
        ValueRecord::Sequence { elements, .. } | ValueRecord::Tuple { elements, .. } => {
            elements.iter().for_each(|e| walk(e, out))
        }
        ValueRecord::Struct { field_values, .. } => field_values.iter().for_each(|e| walk(e, out)),
        _ => {}
    }
}

/// Deserialises one JSON trace folder and checks its internal consistency; returns its values.
fn check_json_trace(dir: &Path) -> Vec<ValueRecord> {
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
    let mut values = Vec::new();
    for e in &events {
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
                values.push(v.value.clone());
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "Call/Return unbalanced");
    assert_eq!(paths.len(), npaths);
    values
}

/// A CTFS container read by the rules every CodeTracer reader applies.
struct Ctfs(Vec<u8>);

impl Ctfs {
    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap())
    }

    fn file(&self, name: &str) -> Vec<u8> {
        const ALPHABET: &str = "0123456789abcdefghijklmnopqrstuvwxyz./-";
        let code = name.chars().rev().fold(0u64, |acc, ch| {
            acc * 40 + ALPHABET.find(ch).unwrap() as u64 + 1
        });
        let block = u32::from_le_bytes(self.0[8..12].try_into().unwrap()) as usize;
        let entries = u32::from_le_bytes(self.0[12..16].try_into().unwrap()) as usize;
        let at = (0..entries)
            .map(|i| 16 + 24 * i)
            .find(|&at| self.u64_at(at + 16) == code)
            .unwrap_or_else(|| panic!("{name} missing"));
        let (size, root) = (self.u64_at(at) as usize, self.u64_at(at + 8) as usize);
        let usable = block / 8 - 1;
        let mut out = Vec::new();
        for logical in 0..size.div_ceil(block) {
            let (mut rest, mut level, mut cap) = (logical, 1, usable);
            while rest >= cap {
                rest -= cap;
                level += 1;
                cap *= usable;
            }
            let mut b = root;
            for _ in 1..level {
                b = self.u64_at(b * block + usable * 8) as usize;
            }
            for depth in (1..level).rev() {
                let span = usable.pow(depth as u32);
                b = self.u64_at(b * block + (rest / span) * 8) as usize;
                rest %= span;
            }
            let data = self.u64_at(b * block + rest * 8) as usize;
            let take = block.min(size - out.len());
            out.extend_from_slice(&self.0[data * block..data * block + take]);
        }
        out
    }

    /// The decompressed chunks of a `.dat` + `.idx` stream.
    fn chunks(&self, base: &str) -> Vec<Vec<u8>> {
        let dat = self.file(&format!("{base}.dat"));
        let idx = self.file(&format!("{base}.idx"));
        let offsets: Vec<usize> = idx[4..]
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as usize)
            .collect();
        (0..offsets.len())
            .map(|i| {
                let end = offsets.get(i + 1).copied().unwrap_or(dat.len());
                let frame = &dat[offsets[i]..end];
                let size = zstd::zstd_safe::get_frame_content_size(frame).unwrap();
                assert!(size.is_some(), "{base}: a frame without its content size");
                zstd::bulk::decompress(frame, size.unwrap() as usize).unwrap()
            })
            .collect()
    }
}

fn varint(data: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = data[*pos];
        *pos += 1;
        v |= ((b & 0x7F) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

fn blob<'a>(data: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = varint(data, pos) as usize;
    *pos += n;
    &data[*pos - n..*pos]
}

fn records(chunk: &[u8]) -> Vec<&[u8]> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < chunk.len() {
        out.push(blob(chunk, &mut pos));
    }
    out
}

fn decode(b: &[u8]) -> ValueRecord {
    cbor4ii::serde::from_slice::<ValueRecord>(b)
        .unwrap_or_else(|e| panic!("value blob does not decode in CodeTracer's types: {e}"))
}

/// Decodes every value blob of a `trace.ct` the way the db-backend does; returns the values.
fn check_ctfs_trace(dir: &Path) -> Vec<ValueRecord> {
    let ct = Ctfs(std::fs::read(dir.join("trace.ct")).unwrap());
    assert_eq!(&ct.0[..5], &[0xC0, 0xDE, 0x72, 0xAC, 0xE2]);
    let meta = ct.file("meta.dat");
    assert_eq!(&meta[..6], b"CTMD\x03\x00");
    let ntypes = ct.file("types.off").len() / 8 - 1;
    let nvars = ct.file("varnames.off").len() / 8 - 1;
    let mut values = Vec::new();
    let mut slots = 0;
    for chunk in ct.chunks("values") {
        for rec in records(&chunk) {
            slots += 1;
            let mut pos = 0;
            while pos < rec.len() {
                assert_eq!(rec[pos], 0, "only StepValues records");
                pos += 1;
                for _ in 0..varint(rec, &mut pos) {
                    assert!((varint(rec, &mut pos) as usize) < nvars);
                    let v = decode(blob(rec, &mut pos));
                    check_value(&v, ntypes);
                    values.push(v);
                }
            }
        }
    }
    let steps: usize = ct.chunks("steps").iter().map(|c| step_records(c)).sum();
    assert_eq!(slots, steps, "values.dat is parallel to steps.dat");
    for chunk in ct.chunks("calls") {
        for rec in records(&chunk) {
            let mut pos = 0;
            for _ in 0..5 {
                varint(rec, &mut pos);
            }
            for _ in 0..varint(rec, &mut pos) {
                varint(rec, &mut pos);
                check_value(&decode(blob(rec, &mut pos)), ntypes);
            }
            let ret = blob(rec, &mut pos);
            if ret != [0xFF] {
                check_value(&decode(ret), ntypes);
            }
        }
    }
    values
}

/// Records in a steps.dat chunk (tags 0-1: a position; 4: a thread switch).
fn step_records(chunk: &[u8]) -> usize {
    let (mut pos, mut n) = (0, 0);
    while pos < chunk.len() {
        let tag = chunk[pos];
        pos += 1;
        assert!(matches!(tag, 0 | 1 | 4), "step tag {tag}");
        varint(chunk, &mut pos);
        n += 1;
    }
    n
}

#[test]
fn recorded_traces_decode_with_codetracers_types() {
    let Some(python) = recorder_python() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("ct-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mix = root.join("tests/programs/conformance_mix.py");
    let example = root.parent().unwrap().join("examples/python_script.py");
    let runs = [(&mix, "json"), (&mix, "ctfs"), (&example, "ctfs")];
    for (i, (script, format)) in runs.iter().filter(|(s, _)| s.exists()).enumerate() {
        let out = tmp.join(format!("t{i}"));
        record(&python, script, &out, format);
        let values = match *format {
            "json" => check_json_trace(&out),
            _ => check_ctfs_trace(&out),
        };
        assert!(!values.is_empty());
        if *script == &mix {
            let mut all = Vec::new();
            values.iter().for_each(|v| walk(v, &mut all));
            let has = |pred: &dyn Fn(&ValueRecord) -> bool| all.iter().any(|v| pred(v));
            assert!(has(&|v| matches!(
                v,
                ValueRecord::BigInt { negative: true, .. }
            )));
            assert!(has(&|v| matches!(v, ValueRecord::Float { .. })));
            // objects: Struct in JSON, (name, value) pairs on the CTFS route
            let objects = has(&|v| matches!(v, ValueRecord::Struct { .. }));
            assert_eq!(objects, *format == "json");
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
