//! Encodings of leaf containers and objects, reused while they hold the very same children.
//!
//! A list, tuple, dict or object whose children are all small immutable values (held here, so
//! their addresses cannot be reused) or show only their type (past the depth cap, or opaque
//! `<T object>` values)
//! encodes the same as long as it holds the same child objects in the same order. Checking
//! that is a few pointer comparisons; encoding means formatting every number and string
//! again. A step that shows an unchanged list of sixteen accounts reuses sixteen encodings.
//!
//! The key includes the depth (it decides which children are capped) and the attribute rules
//! (they decide which fields show). A child on the current encoding path would show as
//! `<cycle>` rather than `<max depth>`, so such entries are never made or used.

use pyo3::ffi;
use pyo3::prelude::*;

use super::retain;
use crate::fast_hash::FastMap;

/// Entries kept at most; the table starts over beyond this.
const MAX_ENTRIES: usize = 1 << 15;
/// Longer encodings are not kept.
const MAX_BYTES: usize = 4096;
/// str and bytes up to this length count as small.
const MAX_PINNED_LEN: isize = 1024;
/// After this many changes with fewer than a quarter as many reuses, an object is treated
/// as one that changes all the time and is no longer checked.
const VOLATILE_AFTER: u32 = 8;

/// Small immutable values: their encoding can only change with their identity.
///
/// # Safety
/// GIL held; `value` a valid object.
pub unsafe fn is_pinnable(value: *mut ffi::PyObject) -> bool {
    value == ffi::Py_None()
        || ffi::PyBool_Check(value) != 0
        || ffi::PyLong_CheckExact(value) != 0
        || ffi::PyFloat_CheckExact(value) != 0
        || (ffi::PyUnicode_CheckExact(value) != 0
            && ffi::PyUnicode_GetLength(value) <= MAX_PINNED_LEN)
        || (ffi::PyBytes_CheckExact(value) != 0 && ffi::PyBytes_Size(value) <= MAX_PINNED_LEN)
}

/// One child as a leaf holds it: a pinned value (type 0), or one shown by its type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Child {
    pub ptr: usize,
    pub tp: usize,
}

pub struct Entry {
    tp: usize,
    len: isize,
    /// `None` once the object proved not to be a leaf, or to change all the time.
    leaf: Option<Leaf>,
    hits: u32,
    misses: u32,
}

struct Leaf {
    children: Vec<Child>,
    bytes: Vec<u8>,
    /// Field redactions and drops counted while encoding, replayed on reuse.
    redactions: u64,
    drops: u64,
    /// The type and the small values, so that their addresses stay theirs.
    _tp_pin: Py<PyAny>,
    _pins: Vec<Py<PyAny>>,
}

/// A reusable encoding: its bytes, and the redaction and drop counts to add.
pub struct Reuse<'a> {
    pub bytes: &'a [u8],
    pub redactions: u64,
    pub drops: u64,
}

#[derive(Default)]
pub struct Memo {
    entries: FastMap<(usize, usize, usize), Entry>,
}

impl Memo {
    /// The encoding kept for `key` if it was made from the same `children` (walked from the
    /// object now); `None` means encode, then [`Memo::store`].
    pub fn lookup(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        len: isize,
        children: &[Child],
    ) -> Option<Reuse<'_>> {
        let entry = self.entries.get_mut(&key).filter(|e| e.tp == tp)?;
        let leaf = entry.leaf.as_ref()?;
        if entry.len == len && leaf.children == children {
            entry.hits = entry.hits.saturating_add(1);
            Some(Reuse {
                bytes: &leaf.bytes,
                redactions: leaf.redactions,
                drops: leaf.drops,
            })
        } else {
            entry.misses = entry.misses.saturating_add(1);
            None
        }
    }

    /// Whether an entry for `key` says the object is not worth walking.
    pub fn skips(&self, key: &(usize, usize, usize), tp: usize) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.tp == tp && e.leaf.is_none())
    }

    /// Remembers an encoding; `children` is `None` when `obj` is not a leaf.
    ///
    /// # Safety
    /// GIL held; every child pointer is a live object.
    pub unsafe fn store(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        len: isize,
        children: Option<&[Child]>,
        bytes: &[u8],
        counts: (u64, u64),
    ) {
        let (hits, misses) = self
            .entries
            .get(&key)
            .filter(|e| e.tp == tp)
            .map_or((0, 0), |e| (e.hits, e.misses));
        let volatile = misses >= VOLATILE_AFTER && hits.saturating_mul(4) < misses;
        let leaf = match children {
            Some(children) if !volatile && bytes.len() <= MAX_BYTES => Some(Leaf {
                _tp_pin: retain(tp as *mut ffi::PyObject),
                children: children.to_vec(),
                bytes: bytes.to_vec(),
                redactions: counts.0,
                drops: counts.1,
                _pins: children
                    .iter()
                    .filter(|c| c.tp == 0)
                    .map(|c| retain(c.ptr as *mut ffi::PyObject))
                    .collect(),
            }),
            _ => None,
        };
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            self.entries.clear();
        }
        self.entries.insert(
            key,
            Entry {
                tp,
                len,
                leaf,
                hits,
                misses,
            },
        );
    }
}
