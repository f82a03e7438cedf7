//! Python values -> JSON text, in the form `deps.store` documents.
//!
//! Two modes. *Plain* values are JSON-ready already (what `deps.store.encode` returns, or a
//! record's own fields): dicts, lists, tuples, str, int, float, bool, None. *Tagged* values are
//! what a library call returned: the fast path below encodes the exact builtin types the way
//! `store.encode` does (`$b64` bytes, `$tuple`, `$dict` for non-string keys, `$float` for
//! NaN and infinities) and hands anything else to `store.encode` (the Python callback
//! `encode`), whose JSON-ready answer is then written plainly. Nothing here runs user code:
//! only exact builtin types are read directly, and the callback is the recorder's own.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::encoder::base64;
use crate::json_text::{push_f64, push_i64, push_str};

/// Deeper values are refused (a self-containing list would otherwise never end).
const MAX_DEPTH: u32 = 400;

pub struct Dumper<'py> {
    /// `store.encode(value, side)`: the tag rules for every type the fast path leaves out.
    pub encode: Option<Bound<'py, PyAny>>,
    /// Called with bytes longer than `side_bytes`; returns their `$file` tag (JSON-ready).
    pub side: Option<Bound<'py, PyAny>>,
    pub side_bytes: usize,
}

impl<'py> Dumper<'py> {
    /// A JSON-ready value. Types JSON has no form for are taken as tagged values instead of
    /// failing (a record field a library computed may hold one).
    pub fn plain(&self, out: &mut Vec<u8>, v: &Bound<'py, PyAny>, depth: u32) -> PyResult<()> {
        let depth = deeper(depth)?;
        if push_scalar(out, v, false)? {
        } else if let Ok(d) = v.cast::<PyDict>() {
            self.object(out, d, depth, |_| false)?;
        } else if let Ok(l) = v.cast::<PyList>() {
            self.array(out, l.iter(), depth, Self::plain)?;
        } else if let Ok(t) = v.cast::<PyTuple>() {
            self.array(out, t.iter(), depth, Self::plain)?;
        } else {
            self.tagged(out, v, depth)?;
        }
        Ok(())
    }

    /// A value a library call returned, with `store.encode`'s tags.
    pub fn tagged(&self, out: &mut Vec<u8>, v: &Bound<'py, PyAny>, depth: u32) -> PyResult<()> {
        let depth = deeper(depth)?;
        if push_scalar(out, v, true)? {
        } else if let Ok(b) = v.cast_exact::<PyBytes>() {
            let data = b.as_bytes();
            match &self.side {
                Some(side) if data.len() > self.side_bytes => {
                    self.plain(out, &side.call1((b,))?, depth)?;
                }
                _ => {
                    out.extend_from_slice(b"{\"$b64\":\"");
                    out.extend_from_slice(base64::encode(data).as_bytes());
                    out.extend_from_slice(b"\"}");
                }
            }
        } else if let Ok(d) = v.cast_exact::<PyDict>() {
            if d.keys().iter().all(|k| {
                k.cast_exact::<PyString>()
                    .ok()
                    .and_then(|s| s.to_str().ok().map(|s| !s.starts_with('$')))
                    .unwrap_or(false)
            }) {
                self.object(out, d, depth, |_| true)?;
            } else {
                self.other(out, v, depth)?;
            }
        } else if let Ok(l) = v.cast_exact::<PyList>() {
            self.array(out, l.iter(), depth, Self::tagged)?;
        } else if let Ok(t) = v.cast_exact::<PyTuple>() {
            out.extend_from_slice(b"{\"$tuple\":");
            self.array(out, t.iter(), depth, Self::tagged)?;
            out.push(b'}');
        } else {
            self.other(out, v, depth)?;
        }
        Ok(())
    }

    /// `store.encode`'s answer for a type the fast path does not handle, written plainly.
    fn other(&self, out: &mut Vec<u8>, v: &Bound<'py, PyAny>, depth: u32) -> PyResult<()> {
        match &self.encode {
            Some(encode) => {
                let side = self.side.as_ref().map(|s| s.clone().into_any());
                let ready = encode.call1((v, side))?;
                if ready.is(v) {
                    // nothing more to do for it: refuse rather than loop
                    return Err(PyValueError::new_err(format!(
                        "a {} value cannot be written as JSON",
                        type_name(v)
                    )));
                }
                self.plain(out, &ready, depth)
            }
            None => Err(PyValueError::new_err(format!(
                "a {} value cannot be written as JSON (no encoder given)",
                type_name(v)
            ))),
        }
    }

    /// A dict as a JSON object; `tagged_value(key)` says which mode its value is written in.
    fn object(
        &self,
        out: &mut Vec<u8>,
        d: &Bound<'py, PyDict>,
        depth: u32,
        tagged_value: impl Fn(&Bound<'py, PyAny>) -> bool,
    ) -> PyResult<()> {
        out.push(b'{');
        for (i, (k, item)) in d.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.plain_key(out, &k)?;
            out.push(b':');
            if tagged_value(&k) {
                self.tagged(out, &item, depth)?;
            } else {
                self.plain(out, &item, depth)?;
            }
        }
        out.push(b'}');
        Ok(())
    }

    fn array(
        &self,
        out: &mut Vec<u8>,
        items: impl Iterator<Item = Bound<'py, PyAny>>,
        depth: u32,
        each: fn(&Self, &mut Vec<u8>, &Bound<'py, PyAny>, u32) -> PyResult<()>,
    ) -> PyResult<()> {
        out.push(b'[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            each(self, out, &item, depth)?;
        }
        out.push(b']');
        Ok(())
    }

    /// An object key as Python's json module writes it: str as is; int, float, bool and
    /// None as text; anything else refused.
    fn plain_key(&self, out: &mut Vec<u8>, k: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Ok(s) = k.cast::<PyString>() {
            push_py_str(out, s);
            return Ok(());
        }
        let text = if k.is_none() {
            "null".to_string()
        } else if let Ok(b) = k.cast::<PyBool>() {
            (if b.is_true() { "true" } else { "false" }).to_string()
        } else if k.cast::<PyInt>().is_ok() {
            builtin_repr::<PyInt>(k)?
        } else if k.cast::<PyFloat>().is_ok() {
            builtin_repr::<PyFloat>(k)?
        } else {
            return Err(PyValueError::new_err(format!(
                "a dict key of type {} cannot be written as JSON",
                type_name(k)
            )));
        };
        push_str(out, &text);
        Ok(())
    }
}

/// None, str, bool, int and float (a subclass's value read without calling its methods);
/// `false` for anything else. NaN and the infinities: `{"$float": "nan"}` when `tags`, else
/// what Python's json module writes (`NaN`, `Infinity`).
fn push_scalar(out: &mut Vec<u8>, v: &Bound<'_, PyAny>, tags: bool) -> PyResult<bool> {
    if v.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(s) = v.cast::<PyString>() {
        push_py_str(out, s);
    } else if let Ok(b) = v.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if v.cast::<PyInt>().is_ok() {
        push_int(out, v)?;
    } else if let Ok(f) = v.cast::<PyFloat>() {
        let x = f.value();
        if x.is_finite() {
            push_f64(out, x);
        } else if tags {
            out.extend_from_slice(b"{\"$float\":");
            push_str(out, float_repr(x));
            out.push(b'}');
        } else {
            out.extend_from_slice(match (x.is_nan(), x > 0.0) {
                (true, _) => b"NaN".as_slice(),
                (false, true) => b"Infinity",
                (false, false) => b"-Infinity",
            });
        }
    } else {
        return Ok(false);
    }
    Ok(true)
}

fn deeper(depth: u32) -> PyResult<u32> {
    if depth >= MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "value nested deeper than {MAX_DEPTH} levels (or containing itself)"
        )));
    }
    Ok(depth + 1)
}

fn push_py_str(out: &mut Vec<u8>, s: &Bound<'_, PyString>) {
    match s.to_str() {
        Ok(text) => push_str(out, text),
        // lone surrogates have no UTF-8 form: written with U+FFFD in their place
        Err(_) => push_str(out, &s.to_string_lossy()),
    }
}

/// An int (or a subclass's value, read without calling its methods).
fn push_int(out: &mut Vec<u8>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    match v.extract::<i64>() {
        Ok(n) => push_i64(out, n),
        // beyond 64 bits: JSON numbers have no size limit, and Python's json reads them back
        Err(_) => out.extend_from_slice(builtin_repr::<PyInt>(v)?.as_bytes()),
    }
    Ok(())
}

/// `int.__repr__(v)` / `float.__repr__(v)`: the builtin's text even for a subclass that
/// overrides `__repr__` or `__str__` (which would be user code).
fn builtin_repr<T: pyo3::PyTypeInfo>(v: &Bound<'_, PyAny>) -> PyResult<String> {
    let text = T::type_object(v.py()).call_method1("__repr__", (v,))?;
    Ok(text.cast::<PyString>()?.to_str()?.to_string())
}

fn float_repr(x: f64) -> &'static str {
    if x.is_nan() {
        "nan"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `dumps(value, *, tagged=(), encode=None, side=None, side_bytes=0, newline=False)`: the
/// JSON text of `value` as UTF-8 bytes. `value` is plain; when it is a dict, the items whose
/// keys are in `tagged` are tagged values (a call record's `request` and `result`).
#[pyfunction]
#[pyo3(signature = (value, *, tagged=Vec::new(), encode=None, side=None, side_bytes=0, newline=false))]
pub fn dumps<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    tagged: Vec<String>,
    encode: Option<Bound<'py, PyAny>>,
    side: Option<Bound<'py, PyAny>>,
    side_bytes: usize,
    newline: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    crate::ffi_guard::guard(|| {
        let dumper = Dumper {
            encode,
            side,
            side_bytes,
        };
        let mut out = Vec::with_capacity(512);
        match value.cast_exact::<PyDict>() {
            Ok(d) if !tagged.is_empty() => dumper.object(&mut out, d, 1, |k| {
                k.cast_exact::<PyString>()
                    .ok()
                    .and_then(|s| s.to_str().ok().map(|s| tagged.iter().any(|t| t == s)))
                    .unwrap_or(false)
            })?,
            _ => dumper.plain(&mut out, value, 0)?,
        }
        if newline {
            out.push(b'\n');
        }
        Ok(PyBytes::new(py, &out))
    })
}
