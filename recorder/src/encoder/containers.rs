//! Containers: list, tuple, dict, set and frozenset, read through the concrete C API.

use pyo3::ffi;

use super::{push_raw, Builtin, ValueEncoder};
use crate::errors::RecorderResult;
use crate::trace_filter::ValueAction;
use crate::trace_writer::TraceWriter;

/// A list or tuple, read through the concrete C API (never a user `__len__`/`__getitem__`).
#[derive(Clone, Copy)]
pub(super) struct Sequence {
    pub(super) obj: *mut ffi::PyObject,
    pub(super) is_list: bool,
}

impl Sequence {
    /// # Safety
    /// GIL held; `obj` a valid object.
    pub(super) unsafe fn of(obj: *mut ffi::PyObject) -> Option<Self> {
        if ffi::PyList_Check(obj) != 0 {
            Some(Sequence { obj, is_list: true })
        } else if ffi::PyTuple_Check(obj) != 0 {
            Some(Sequence {
                obj,
                is_list: false,
            })
        } else {
            None
        }
    }

    pub(super) unsafe fn len(self) -> ffi::Py_ssize_t {
        if self.is_list {
            ffi::PyList_Size(self.obj)
        } else {
            ffi::PyTuple_Size(self.obj)
        }
    }

    /// Item `i` (borrowed), or NULL with an exception set when out of range.
    pub(super) unsafe fn item(self, i: ffi::Py_ssize_t) -> *mut ffi::PyObject {
        if self.is_list {
            ffi::PyList_GetItem(self.obj, i)
        } else {
            ffi::PyTuple_GetItem(self.obj, i)
        }
    }
}

impl ValueEncoder {
    pub(super) unsafe fn encode_container(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
    ) -> RecorderResult<()> {
        let max = self.caps.max_items;
        if let Some(seq) = Sequence::of(obj) {
            let is_list = seq.is_list;
            let t = self.builtin(
                w,
                if is_list {
                    Builtin::List
                } else {
                    Builtin::Tuple
                },
            )?;
            let f = self.fmt;
            let (kind, keys) = if is_list {
                ("Sequence", 4)
            } else {
                ("Tuple", 3)
            };
            f.header(buf, kind, t, keys);
            f.key(buf, "elements");
            f.array_start(buf);
            let len = seq.len().max(0) as usize;
            for i in 0..len.min(max) {
                f.sep(buf, i == 0);
                let item = seq.item(i as ffi::Py_ssize_t);
                if item.is_null() {
                    ffi::PyErr_Clear();
                    self.encode_none(w, buf)?;
                } else {
                    self.encode_at(w, item, buf, depth + 1)?;
                }
            }
            self.push_more_marker(w, buf, len, max)?;
            f.array_end(buf);
            if is_list {
                f.key(buf, "is_slice");
                f.bool(buf, false);
            }
            f.end(buf);
            return Ok(());
        }
        if ffi::PyDict_Check(obj) != 0 {
            let t = self.builtin(w, Builtin::Dict)?;
            let pair_t = self.builtin(w, Builtin::DictItem)?;
            let f = self.fmt;
            f.header(buf, "Sequence", t, 4);
            f.key(buf, "elements");
            f.array_start(buf);
            let len = ffi::PyDict_Size(obj).max(0) as usize;
            let mut pos: ffi::Py_ssize_t = 0;
            let mut key: *mut ffi::PyObject = std::ptr::null_mut();
            let mut value: *mut ffi::PyObject = std::ptr::null_mut();
            let mut i = 0;
            while i < max && ffi::PyDict_Next(obj, &mut pos, &mut key, &mut value) != 0 {
                f.sep(buf, i == 0);
                f.header(buf, "Tuple", pair_t, 3);
                f.key(buf, "elements");
                f.array_start(buf);
                self.encode_at(w, key, buf, depth + 1)?;
                f.sep(buf, false);
                // an item under a secret key is redacted as a field of that name would be
                let secret = ffi::PyUnicode_Check(key) != 0
                    && self.attr_action_of(key) == ValueAction::Redact;
                if secret {
                    self.attr_redactions += 1;
                    self.encode_placeholder(w, crate::runtime::REDACTED, buf)?;
                } else {
                    self.encode_at(w, value, buf, depth + 1)?;
                }
                f.array_end(buf);
                f.end(buf);
                i += 1;
            }
            self.push_more_marker(w, buf, len, max)?;
            self.end_sequence(buf);
            return Ok(());
        }
        // set / frozenset, subclasses too: iterated with the builtin type's own iterator, so
        // a subclass's `__iter__` never runs
        let frozen = ffi::PyFrozenSet_Check(obj) != 0;
        let t = if frozen {
            self.builtin(w, Builtin::FrozenSet)?
        } else {
            self.builtin(w, Builtin::Set)?
        };
        let f = self.fmt;
        f.header(buf, "Sequence", t, 4);
        f.key(buf, "elements");
        f.array_start(buf);
        let len = ffi::PySet_Size(obj).max(0) as usize;
        let iter = builtin_set_iter(obj, frozen);
        if iter.is_null() {
            ffi::PyErr_Clear();
        } else {
            let mut i = 0;
            while i < max {
                let item = ffi::PyIter_Next(iter);
                if item.is_null() {
                    ffi::PyErr_Clear();
                    break;
                }
                f.sep(buf, i == 0);
                let r = self.encode_at(w, item, buf, depth + 1);
                ffi::Py_DecRef(item);
                r?;
                i += 1;
            }
            ffi::Py_DecRef(iter);
        }
        self.push_more_marker(w, buf, len, max)?;
        self.end_sequence(buf);
        Ok(())
    }

    /// Closes a `Sequence`'s elements and the record.
    pub(super) fn end_sequence(&self, buf: &mut Vec<u8>) {
        let f = self.fmt;
        f.array_end(buf);
        f.key(buf, "is_slice");
        f.bool(buf, false);
        f.end(buf);
    }

    /// Appends a `Raw` element saying how many items the cap left out.
    pub(super) fn push_more_marker(
        &mut self,
        w: &mut TraceWriter,
        buf: &mut Vec<u8>,
        len: usize,
        max: usize,
    ) -> RecorderResult<()> {
        if len > max {
            self.truncations += 1;
            let t = self.builtin(w, Builtin::Placeholder)?;
            self.fmt.sep(buf, max == 0);
            push_raw(self.fmt, buf, t, &format!("…<{} more of {len}>", len - max));
        }
        Ok(())
    }
}

/// A new iterator over set `obj` made by the builtin `set`/`frozenset` type's `tp_iter` (not
/// the object's type, whose `__iter__` may be Python code); NULL on failure.
unsafe fn builtin_set_iter(obj: *mut ffi::PyObject, frozen: bool) -> *mut ffi::PyObject {
    let base = if frozen {
        std::ptr::addr_of_mut!(ffi::PyFrozenSet_Type)
    } else {
        std::ptr::addr_of_mut!(ffi::PySet_Type)
    };
    let slot = ffi::PyType_GetSlot(base, ffi::Py_tp_iter);
    if slot.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the tp_iter slot of a type holds a `getiterfunc`
    let iter: ffi::getiterfunc = std::mem::transmute(slot);
    iter(obj)
}
