//! Lists what a value's encoding depends on, for the memo (`memo.rs`).
//!
//! The walk visits exactly what [`ValueEncoder::encode_at`] would show, in the same order and
//! under the same caps and field rules, but reads only pointers, types and lengths. It gives
//! up (`None`) on anything whose encoding it cannot vouch for by identity: a long string, an
//! int or str subclass, a set (its order is the hash table's), a value on the current path
//! (shown as `<cycle>`), or more than [`MAX_FACTS`] facts. It also notes where each nested
//! container or object's facts are ([`Span`]), so they need no walk of their own.

use pyo3::ffi;

use super::kinds::Kind;
use super::memo::{by_type, is_pinnable, open, pinned, Fact, END, MAX_FACTS};
use super::{Sequence, ValueEncoder};
use crate::trace_filter::ValueAction;

/// A nested container or object met by a walk: where its facts are (`start..end`, from its
/// `Open` to its `End`), and the index of the first span after its own nested ones.
pub struct Span {
    pub ptr: usize,
    pub depth: usize,
    pub start: usize,
    pub end: usize,
    pub next: usize,
}

impl ValueEncoder {
    /// Appends the facts of composite `obj` (already on the path) at `depth` to `out`.
    ///
    /// # Safety
    /// GIL held; `obj` a valid value of that `kind`.
    pub(super) unsafe fn walk_composite(
        &mut self,
        obj: *mut ffi::PyObject,
        depth: usize,
        kind: Kind,
        out: &mut Vec<Fact>,
    ) -> Option<()> {
        let tp = ffi::Py_TYPE(obj) as usize;
        let at = out.len();
        out.push(open(tp, 0));
        let len = match kind {
            Kind::List | Kind::Tuple => {
                let seq = Sequence {
                    obj,
                    is_list: kind == Kind::List,
                };
                let len = seq.len();
                for i in 0..len.clamp(0, self.caps.max_items as isize) {
                    let item = seq.item(i);
                    if item.is_null() {
                        ffi::PyErr_Clear();
                        return None;
                    }
                    walk_plain_or(item, out, |out| self.walk_child(item, depth, out))?;
                }
                len
            }
            Kind::Object => {
                self.walk_fields(obj, depth, out)?;
                0
            }
            Kind::Dict => {
                let mut pos: ffi::Py_ssize_t = 0;
                let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
                let mut i = 0;
                while i < self.caps.max_items
                    && ffi::PyDict_Next(obj, &mut pos, &mut k, &mut v) != 0
                {
                    walk_plain_or(k, out, |out| self.walk_child(k, depth, out))?;
                    walk_plain_or(v, out, |out| self.walk_child(v, depth, out))?;
                    i += 1;
                }
                ffi::PyDict_Size(obj)
            }
            // sets iterate in hash table order: not listed
            _ => return None,
        };
        if let Some(fact) = out.get_mut(at) {
            *fact = open(tp, len);
        }
        out.push(END);
        (out.len() <= MAX_FACTS).then_some(())
    }

    /// The fields an object shows: the same loop as `encode_fields`.
    unsafe fn walk_fields(
        &mut self,
        obj: *mut ffi::PyObject,
        depth: usize,
        out: &mut Vec<Fact>,
    ) -> Option<()> {
        let dict = self.instance_dict(obj)?;
        let mut pos: ffi::Py_ssize_t = 0;
        let (mut name, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        let mut shown = 0;
        let mut result = Some(());
        while shown < self.caps.max_items
            && ffi::PyDict_Next(dict, &mut pos, &mut name, &mut value) != 0
        {
            if ffi::PyUnicode_CheckExact(name) == 0 && ffi::PyUnicode_Check(name) == 0 {
                continue; // not shown
            }
            // a name, of any length, is text that cannot change while the memo holds it; it
            // and the rules (part of the memo key) decide the action
            out.push(pinned(name as usize));
            match self.attr_action_of(name) {
                ValueAction::Drop => continue,
                ValueAction::Redact => {}
                ValueAction::Allow => {
                    if walk_plain_or(value, out, |out| self.walk_child(value, depth, out)).is_none()
                    {
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
        out: &mut Vec<Fact>,
    ) -> Option<()> {
        if out.len() >= MAX_FACTS {
            return None;
        }
        let tp = ffi::Py_TYPE(c) as usize;
        let info = self.kinds.of(c, &self.known);
        if is_pinnable(info, c) {
            out.push(pinned(c as usize));
            return Some(());
        }
        let kind = match info.kind {
            Kind::Opaque => {
                out.push(by_type(tp));
                return Some(());
            }
            Kind::Object | Kind::List | Kind::Tuple | Kind::Dict | Kind::Set => info.kind,
            // shown by value but not kept alive (its address could come back as another
            // value), or by name (classes, modules, functions)
            Kind::None | Kind::Bool | Kind::Int | Kind::Float | Kind::Str | Kind::Bytes => {
                return None
            }
            Kind::Named => return None,
        };
        let addr = c as usize;
        if self.path.contains(&addr) {
            return None;
        }
        if depth + 1 >= self.caps.max_depth {
            out.push(by_type(tp));
            return Some(());
        }
        let mark = out.len();
        let span = self.spans.len();
        self.spans.push(Span {
            ptr: addr,
            depth: depth + 1,
            start: mark,
            end: mark,
            next: span,
        });
        self.path.push(addr);
        let walked = self.walk_composite(c, depth + 1, kind, out);
        self.path.pop();
        if walked.is_none()
            && kind == Kind::Object
            && self.kinds.of(c, &self.known).kind == Kind::Opaque
        {
            // just learned that its class has no `__dict__`: it shows as `<T object>`
            out.truncate(mark);
            self.spans.truncate(span);
            out.push(by_type(tp));
            return Some(());
        }
        let next = self.spans.len();
        if let Some(s) = self.spans.get_mut(span) {
            s.end = out.len();
            s.next = next;
        }
        walked
    }
}

/// Lists a value of the commonest kinds, exact int and float, bool and None (shown by
/// identity, as [`ValueEncoder::walk_child`] would list them) without the call and the kind
/// lookup; anything else goes to `general`. Lists of numbers are most of what a walk reads
/// (the 16 histories of 16 floats in objects.py's bank), and the walk is most of the cost of
/// a step whose variables did not change.
///
/// # Safety
/// GIL held; `c` a valid object.
#[inline(always)]
unsafe fn walk_plain_or(
    c: *mut ffi::PyObject,
    out: &mut Vec<Fact>,
    general: impl FnOnce(&mut Vec<Fact>) -> Option<()>,
) -> Option<()> {
    let tp = ffi::Py_TYPE(c);
    let plain = tp == &raw mut ffi::PyFloat_Type
        || tp == &raw mut ffi::PyLong_Type
        || c == ffi::Py_None()
        || tp == &raw mut ffi::PyBool_Type;
    if plain && out.len() < MAX_FACTS {
        out.push(pinned(c as usize));
        return Some(());
    }
    general(out)
}
