//! Scalars: None, bool, int (and big ints), float, str, bytes, placeholders.

use std::os::raw::c_char;

use pyo3::ffi;

use super::{base64, push_raw, Builtin, ValueEncoder};
use crate::errors::RecorderResult;
use crate::pyffi::str_utf8;
use crate::trace_writer::{TraceWriter, TypeKind};

impl ValueEncoder {
    /// Encodes an already-chosen placeholder such as `<redacted>` as a `Raw` value.
    pub fn encode_placeholder(
        &mut self,
        w: &mut TraceWriter,
        text: &str,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Placeholder)?;
        push_raw(self.fmt, buf, t, text);
        Ok(())
    }

    /// Encodes an integer that is not a Python object (the exit status of `<toplevel>`).
    pub fn encode_i64(
        &mut self,
        w: &mut TraceWriter,
        v: i64,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Int)?;
        let f = self.fmt;
        f.header(buf, "Int", t, 3);
        f.key(buf, "i");
        f.int(buf, v);
        f.end(buf);
        Ok(())
    }

    pub fn encode_none(&mut self, w: &mut TraceWriter, buf: &mut Vec<u8>) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::NoneType)?;
        self.fmt.header(buf, "None", t, 2);
        self.fmt.end(buf);
        Ok(())
    }

    pub(super) unsafe fn encode_bool(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Bool)?;
        let f = self.fmt;
        f.header(buf, "Bool", t, 3);
        f.key(buf, "b");
        f.bool(buf, ffi::Py_IsTrue(obj) != 0);
        f.end(buf);
        Ok(())
    }

    pub(super) unsafe fn encode_float(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Float)?;
        let v = ffi::PyFloat_AsDouble(obj);
        let f = self.fmt;
        f.header(buf, "Float", t, 3);
        f.key(buf, "f");
        f.float_text(buf, v);
        f.end(buf);
        Ok(())
    }

    pub(super) unsafe fn encode_str(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Str)?;
        let f = self.fmt;
        f.header(buf, "String", t, 3);
        f.key(buf, "text");
        let total = ffi::PyUnicode_GetLength(obj);
        let max = self.caps.max_string as ffi::Py_ssize_t;
        if total > max {
            self.truncations += 1;
            // only the head is read: a string growing by a character per step must not cost
            // its whole length per step (UTF-8 conversion, validation, counting)
            let head = ffi::PyUnicode_Substring(obj, 0, max);
            let text = if head.is_null() {
                ffi::PyErr_Clear();
                None
            } else {
                str_utf8(head)
            };
            let text = text.unwrap_or("<unencodable str>");
            f.str(buf, &format!("{text}…<truncated: {total} chars>"));
            if !head.is_null() {
                ffi::Py_DecRef(head);
            }
        } else {
            f.str(buf, str_utf8(obj).unwrap_or("<unencodable str>"));
        }
        f.end(buf);
        Ok(())
    }

    pub(super) unsafe fn encode_bytes(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.builtin(w, Builtin::Bytes)?;
        let mut data: *mut c_char = std::ptr::null_mut();
        let mut len: ffi::Py_ssize_t = 0;
        let text = if ffi::PyBytes_AsStringAndSize(obj, &mut data, &mut len) == 0 {
            let bytes = std::slice::from_raw_parts(data as *const u8, len as usize);
            if bytes.len() > self.caps.max_bytes {
                self.truncations += 1;
            }
            bytes_literal(bytes, self.caps.max_bytes)
        } else {
            ffi::PyErr_Clear();
            "b'?'".to_string()
        };
        push_raw(self.fmt, buf, t, &text);
        Ok(())
    }

    pub(super) unsafe fn encode_int(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = if ffi::PyLong_CheckExact(obj) != 0 {
            self.builtin(w, Builtin::Int)?
        } else {
            // int subclasses (IntEnum, IntFlag) keep their own type name.
            self.own_type(w, obj, TypeKind::Int)?
        };
        let mut overflow: std::os::raw::c_int = 0;
        let v = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
        if overflow == 0 && (v != -1 || ffi::PyErr_Occurred().is_null()) {
            let f = self.fmt;
            f.header(buf, "Int", t, 3);
            f.key(buf, "i");
            f.int(buf, v);
            f.end(buf);
            return Ok(());
        }
        ffi::PyErr_Clear();
        // Beyond 64 bits: BigInt carries the big-endian magnitude, base64-encoded.
        let hex = ffi::PyNumber_ToBase(obj, 16);
        if hex.is_null() {
            ffi::PyErr_Clear();
            push_raw(self.fmt, buf, t, "<int>");
            return Ok(());
        }
        let text = str_utf8(hex).unwrap_or("0x0").to_string();
        ffi::Py_DecRef(hex);
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let digits = digits.trim_start_matches("0x");
        let magnitude = base64::hex_to_bytes(digits);
        let f = self.fmt;
        f.header(buf, "BigInt", t, 4);
        f.key(buf, "b");
        f.str(buf, &base64::encode(&magnitude));
        f.key(buf, "negative");
        f.bool(buf, negative);
        f.end(buf);
        Ok(())
    }
}

/// A Python-style `b'...'` literal of at most `max` bytes.
fn bytes_literal(bytes: &[u8], max: usize) -> String {
    let mut out = String::from("b'");
    for &b in bytes.iter().take(max) {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    if bytes.len() > max {
        out.push_str(&format!("…<truncated: {} bytes>", bytes.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_literal_matches_python_repr_and_caps() {
        assert_eq!(
            bytes_literal(b"a'b\\\n\x00\xff", 100),
            "b'a\\'b\\\\\\n\\x00\\xff'"
        );
        assert_eq!(bytes_literal(b"abcdef", 3), "b'abc'…<truncated: 6 bytes>");
    }
}
