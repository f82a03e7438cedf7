//! Lists what a value's encoding depends on, for the memo (`memo.rs`).
//!
//! The walk visits exactly what [`ValueEncoder::encode_at`] would show, in the same order and
//! under the same caps and field rules, but reads only pointers, types and lengths. It gives
//! up (`None`) on anything whose encoding it cannot vouch for by identity: a long string, an
//! int or str subclass, a set (its order is the hash table's), a value on the current path
//! (shown as `<cycle>`), or more than [`MAX_CHILDREN`] facts.

use pyo3::ffi;

use super::memo::{is_pinnable, Child, MAX_CHILDREN};
use super::{Sequence, ValueEncoder};
use crate::trace_filter::ValueAction;

impl ValueEncoder {
    /// Appends the facts of composite `obj` (already on the path) at `depth` to `out`.
    ///
    /// # Safety
    /// GIL held; `obj` a valid list, tuple, dict or object with a `__dict__`.
    pub(super) unsafe fn walk_composite(
        &mut self,
        obj: *mut ffi::PyObject,
        depth: usize,
        is_container: bool,
        out: &mut Vec<Child>,
    ) -> Option<()> {
        let tp = ffi::Py_TYPE(obj) as usize;
        let open = out.len();
        out.push(Child::Open { tp, len: 0 });
        let len = if let Some(seq) = Sequence::of(obj) {
            let len = seq.len();
            for i in 0..len.clamp(0, self.caps.max_items as isize) {
                let item = seq.item(i);
                if item.is_null() {
                    ffi::PyErr_Clear();
                    return None;
                }
                self.walk_child(item, depth, out)?;
            }
            len
        } else if !is_container {
            self.walk_fields(obj, depth, out)?;
            0
        } else if ffi::PyDict_Check(obj) != 0 {
            let mut pos: ffi::Py_ssize_t = 0;
            let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
            let mut i = 0;
            while i < self.caps.max_items && ffi::PyDict_Next(obj, &mut pos, &mut k, &mut v) != 0 {
                self.walk_child(k, depth, out)?;
                self.walk_child(v, depth, out)?;
                i += 1;
            }
            ffi::PyDict_Size(obj)
        } else {
            return None;
        };
        if let Some(Child::Open { len: slot, .. }) = out.get_mut(open) {
            *slot = len;
        }
        out.push(Child::End);
        (out.len() <= MAX_CHILDREN).then_some(())
    }

    /// The fields an object shows: the same loop as `encode_fields`.
    unsafe fn walk_fields(
        &mut self,
        obj: *mut ffi::PyObject,
        depth: usize,
        out: &mut Vec<Child>,
    ) -> Option<()> {
        let dict = self.instance_dict(obj)?;
        let mut pos: ffi::Py_ssize_t = 0;
        let (mut name, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        let mut shown = 0;
        let mut result = Some(());
        while shown < self.caps.max_items
            && ffi::PyDict_Next(dict, &mut pos, &mut name, &mut value) != 0
        {
            if ffi::PyUnicode_Check(name) == 0 {
                continue;
            }
            if !is_pinnable(name) {
                result = None;
                break;
            }
            // the name and the rules (part of the memo key) decide the action
            out.push(Child::Pinned(name as usize));
            match self.attr_action_of(name) {
                ValueAction::Drop => continue,
                ValueAction::Redact => {}
                ValueAction::Allow => {
                    if self.walk_child(value, depth, out).is_none() {
                        result = None;
                        break;
                    }
                }
            }
            shown += 1;
        }
        ffi::Py_DecRef(dict);
        result
    }

    /// One value shown at `depth + 1` inside a composite at `depth`.
    unsafe fn walk_child(
        &mut self,
        c: *mut ffi::PyObject,
        depth: usize,
        out: &mut Vec<Child>,
    ) -> Option<()> {
        if out.len() >= MAX_CHILDREN {
            return None;
        }
        if is_pinnable(c) {
            out.push(Child::Pinned(c as usize));
            return Some(());
        }
        let by_value = ffi::PyLong_Check(c) != 0
            || ffi::PyFloat_Check(c) != 0
            || ffi::PyUnicode_Check(c) != 0
            || ffi::PyBytes_Check(c) != 0;
        if by_value {
            return None;
        }
        let tp = ffi::Py_TYPE(c) as usize;
        let Some(is_container) = self.composite_kind(c) else {
            // classes, modules and functions show their names; the rest `<T object>`
            let by_type = ffi::PyType_Check(c) == 0
                && tp != self.known.module
                && tp != self.known.function
                && tp != self.known.builtin_function;
            return by_type.then(|| out.push(Child::ByType(tp)));
        };
        let addr = c as usize;
        if self.path.contains(&addr) {
            return None;
        }
        if depth + 1 >= self.caps.max_depth {
            out.push(Child::ByType(tp));
            return Some(());
        }
        let mark = out.len();
        self.path.push(addr);
        let walked = self.walk_composite(c, depth + 1, is_container, out);
        self.path.pop();
        if walked.is_none() && !is_container && self.dictless_types.contains(&tp) {
            // just learned that its class has no `__dict__`: it shows as `<T object>`
            out.truncate(mark);
            out.push(Child::ByType(tp));
            return Some(());
        }
        walked
    }
}
