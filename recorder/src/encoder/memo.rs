//! Encodings of containers and objects, reused while they show the very same values.
//!
//! What an encoding shows is fixed by a short list of facts (see `walk.rs`): the identity of
//! each small immutable value in it (held here, so an address cannot come back as another
//! value), the type of each value shown by its type alone (past the depth cap, or an opaque
//! `<T object>`), and the type and length of each nested list, tuple, dict or object. Checking
//! that list is pointer comparisons; encoding means formatting every number and string again.
//! A step that shows an unchanged event loop or list of sixteen accounts reuses the bytes.
//!
//! The key includes the depth (it decides which values are capped) and the attribute rules
//! (they decide which fields show). A value on the current encoding path would show as
//! `<cycle>`, which depends on how it was reached, so such entries are never made or used.

use pyo3::ffi;
use pyo3::prelude::*;

use super::kinds::{Kind, TypeInfo};
use super::retain;
use crate::fast_hash::FastMap;

/// Entries kept at most; the table starts over beyond this.
const MAX_ENTRIES: usize = 1 << 15;
/// Bytes of encodings kept at most (with their entries, a few tens of MB); the table starts
/// over beyond this.
const MAX_TOTAL_BYTES: usize = 16 << 20;
/// Longer encodings are not kept. An object's record carries its field names (CBOR on the
/// CTFS route), so a few nested objects pass 4 KiB: below this, a parent that is not kept is
/// not walked, and each of its children walks itself again at every step.
const MAX_BYTES: usize = 16384;
/// Values showing more facts than this are not walked (nor kept).
pub const MAX_FACTS: usize = 1024;
/// str and bytes up to this length count as small.
const MAX_PINNED_LEN: isize = 1024;
/// After this many changes with fewer than a quarter as many reuses, an object is treated
/// as one that changes all the time and is no longer checked.
const VOLATILE_AFTER: u32 = 8;

/// Small immutable values (None, bool, exact int and float, exact str and bytes up to 1024
/// long): their encoding can only change with their identity.
///
/// # Safety
/// GIL held; `value` a valid object whose kind is `info`.
pub unsafe fn is_pinnable(info: TypeInfo, value: *mut ffi::PyObject) -> bool {
    match info.kind {
        Kind::None | Kind::Bool => true,
        Kind::Int | Kind::Float => info.exact,
        Kind::Str => info.exact && (0..=MAX_PINNED_LEN).contains(&ffi::PyUnicode_GetLength(value)),
        Kind::Bytes => info.exact && (0..=MAX_PINNED_LEN).contains(&ffi::PyBytes_Size(value)),
        _ => false,
    }
}

/// One fact an encoding depends on, in encoding order: `[word, tag]`. Plain words, so that
/// comparing two lists of facts is one `memcmp`.
pub type Fact = [usize; 2];

/// A small immutable value, by identity.
pub fn pinned(ptr: usize) -> Fact {
    [ptr, 0]
}

/// A value shown by its type alone: its type.
pub fn by_type(tp: usize) -> Fact {
    [tp, 1]
}

/// A list, tuple, dict or object shown in full: its type and length (0 for an object);
/// what it shows follows, up to the matching [`END`].
pub fn open(tp: usize, len: isize) -> Fact {
    [tp, 2 | ((len as usize) << 2)]
}

pub const END: Fact = [0, 3];

pub struct Entry {
    tp: usize,
    /// `None` once the object proved not worth keeping (too big, shows a value that cannot
    /// be checked by identity, or changes all the time).
    kept: Option<Kept>,
    hits: u32,
    misses: u32,
}

struct Kept {
    facts: Vec<Fact>,
    bytes: Vec<u8>,
    serial: u64,
    /// Field redactions and drops counted while encoding, replayed on reuse.
    redactions: u64,
    drops: u64,
    /// The types and small values named in `facts`, so that their addresses stay theirs.
    _pins: Vec<Py<PyAny>>,
}

/// A reusable encoding: its bytes, and the redaction and drop counts to add.
pub struct Reuse<'a> {
    pub bytes: &'a [u8],
    /// Unique to these bytes for the whole recording: equal serials, equal bytes.
    pub serial: u64,
    pub redactions: u64,
    pub drops: u64,
}

#[derive(Default)]
pub struct Memo {
    entries: FastMap<(usize, usize, usize), Entry>,
    /// Bytes of the encodings kept.
    bytes: usize,
    /// The serial of the last encoding kept (never reset).
    serial: u64,
}

impl Memo {
    /// The encoding kept for `key` if it was made from the same `facts` (walked from the
    /// object now); `None` means encode, then [`Memo::store`].
    pub fn lookup(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        facts: &[Fact],
    ) -> Option<Reuse<'_>> {
        let entry = self.entries.get_mut(&key).filter(|e| e.tp == tp)?;
        let kept = entry.kept.as_ref()?;
        if kept.facts == facts {
            entry.hits = entry.hits.saturating_add(1);
            Some(Reuse {
                bytes: &kept.bytes,
                serial: kept.serial,
                redactions: kept.redactions,
                drops: kept.drops,
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
            .is_some_and(|e| e.tp == tp && e.kept.is_none())
    }

    /// Remembers an encoding; `facts` is `None` when it could not be listed.
    ///
    /// # Safety
    /// GIL held; every pointer in `facts` is a live object.
    pub unsafe fn store(
        &mut self,
        key: (usize, usize, usize),
        tp: usize,
        facts: Option<&[Fact]>,
        bytes: &[u8],
        counts: (u64, u64),
    ) {
        let (hits, misses) = self
            .entries
            .get(&key)
            .filter(|e| e.tp == tp)
            .map_or((0, 0), |e| (e.hits, e.misses));
        let volatile = misses >= VOLATILE_AFTER && hits.saturating_mul(4) < misses;
        let full = self.entries.len() >= MAX_ENTRIES || self.bytes > MAX_TOTAL_BYTES;
        if full && !self.entries.contains_key(&key) {
            self.entries.clear();
            self.bytes = 0;
        }
        // the encoding kept before under this key, refilled in place: an object that
        // changes (an account whose balance moved, the bank holding it) is stored again at
        // most steps, and fresh vectors and a retain of every pin each time showed in
        // profiles
        let old = self.entries.get_mut(&key).and_then(|e| e.kept.take());
        if let Some(old) = &old {
            self.bytes = self.bytes.saturating_sub(old.bytes.len());
        }
        let kept = match facts {
            Some(facts) if !volatile && bytes.len() <= MAX_BYTES => {
                self.serial += 1;
                let mut kept = old.unwrap_or_else(|| Kept {
                    facts: Vec::new(),
                    bytes: Vec::new(),
                    serial: 0,
                    redactions: 0,
                    drops: 0,
                    _pins: Vec::new(),
                });
                repin(&mut kept._pins, facts);
                kept.facts.clear();
                kept.facts.extend_from_slice(facts);
                kept.bytes.clear();
                kept.bytes.extend_from_slice(bytes);
                kept.serial = self.serial;
                (kept.redactions, kept.drops) = counts;
                Some(kept)
            }
            _ => None,
        };
        self.bytes += kept.as_ref().map_or(0, |l| l.bytes.len());
        self.entries.insert(
            key,
            Entry {
                tp,
                kept,
                hits,
                misses,
            },
        );
    }
}

/// Makes `pins` hold the objects named in `facts` (every fact but [`END`]), in order. Only
/// the part that differs from what `pins` holds is released and retained: a change inside a
/// big value is a few facts replaced or inserted, the rest is the same objects.
///
/// # Safety
/// GIL held; every pointer in `facts` is a live object.
unsafe fn repin(pins: &mut Vec<Py<PyAny>>, facts: &[Fact]) {
    let named = || facts.iter().filter(|f| **f != END).map(|f| f[0]);
    let count = named().count();
    let same = |(pin, ptr): (&Py<PyAny>, usize)| pin.as_ptr() as usize == ptr;
    let prefix = pins.iter().zip(named()).take_while(|&p| same(p)).count();
    let most = count.min(pins.len()) - prefix;
    let suffix = pins
        .iter()
        .rev()
        .zip(named().rev())
        .take(most)
        .take_while(|&p| same(p))
        .count();
    let end = pins.len() - suffix;
    let fresh = named()
        .skip(prefix)
        .take(count - prefix - suffix)
        .map(|ptr| retain(ptr as *mut ffi::PyObject));
    pins.splice(prefix..end, fresh);
}
