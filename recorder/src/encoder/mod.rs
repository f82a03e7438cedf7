//! Python value → runtime_tracing `ValueRecord` JSON, without running user code.
//!
//! Only C-level accessors are used (no `repr`, `str`, `__getattr__` or `__iter__` of user
//! types), so encoding can never change what the program does. Every value is bounded by the
//! [`Caps`]: strings and bytes are cut with a marker, collections keep their first items, and
//! nesting stops at a depth, which also makes encoding cycle-safe.

mod base64;
pub mod caps;
mod kinds;
mod memo;
pub mod out;
mod reuse;
mod walk;

use std::collections::HashMap;
use std::os::raw::c_char;

use pyo3::ffi;
use pyo3::prelude::*;

pub use caps::Caps;
pub use out::ValueFormat;
use kinds::{Kind, TypeKinds};
use memo::{Fact, Memo};
use reuse::Pending;
use walk::Span;

use crate::errors::RecorderResult;
use crate::fast_hash::{FastMap, RecentByAddress};
use crate::trace_filter::{ScopeDecision, ValueAction, ValueKind};
use crate::trace_writer::{TraceWriter, TypeKind};

/// The builtin types every recording uses; their ids are cached in an array so the hot path
/// does no hashing per value.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    Placeholder,
    NoneType,
    Bool,
    Bytes,
    DictItem,
    Dict,
    Float,
    FrozenSet,
    Int,
    List,
    Set,
    Str,
    Tuple,
    /// A struct field's (name, value) pair, in the CBOR form (see `encode_fields`).
    Field,
}

const BUILTIN_COUNT: usize = 14;

impl Builtin {
    fn name_and_kind(self) -> (&'static str, TypeKind) {
        match self {
            Builtin::Placeholder => ("<placeholder>", TypeKind::Raw),
            Builtin::NoneType => ("NoneType", TypeKind::None),
            Builtin::Bool => ("bool", TypeKind::Bool),
            Builtin::Bytes => ("bytes", TypeKind::Raw),
            Builtin::DictItem => ("dict item", TypeKind::Tuple),
            Builtin::Dict => ("dict", TypeKind::Seq),
            Builtin::Float => ("float", TypeKind::Float),
            Builtin::FrozenSet => ("frozenset", TypeKind::Set),
            Builtin::Int => ("int", TypeKind::Int),
            Builtin::List => ("list", TypeKind::Seq),
            Builtin::Set => ("set", TypeKind::Set),
            Builtin::Str => ("str", TypeKind::String),
            Builtin::Tuple => ("tuple", TypeKind::Tuple),
            Builtin::Field => ("field", TypeKind::Tuple),
        }
    }
}

/// Well-known type objects compared by pointer (abi3 has no `PyFunction_Check`).
pub struct KnownTypes {
    pub function: usize,
    pub builtin_function: usize,
    pub method: usize,
    pub module: usize,
    _keep: Vec<Py<PyAny>>,
}

impl KnownTypes {
    pub fn load(py: Python<'_>) -> PyResult<Self> {
        let types = py.import("types")?;
        let mut keep = Vec::new();
        let mut ptr = |name: &str| -> PyResult<usize> {
            let t = types.getattr(name)?;
            let p = t.as_ptr() as usize;
            keep.push(t.unbind());
            Ok(p)
        };
        Ok(KnownTypes {
            function: ptr("FunctionType")?,
            builtin_function: ptr("BuiltinFunctionType")?,
            method: ptr("MethodType")?,
            module: ptr("ModuleType")?,
            _keep: keep,
        })
    }

    /// Module-level names bound to these are program structure, not program state.
    ///
    /// # Safety
    /// `obj` must be a valid object pointer and the GIL held.
    pub unsafe fn is_definition(&self, obj: *mut ffi::PyObject) -> bool {
        let t = ffi::Py_TYPE(obj) as usize;
        t == self.function
            || t == self.builtin_function
            || t == self.module
            || t == self.method
            || ffi::PyType_Check(obj) != 0
    }
}

/// Entries in the struct-shape and field-action caches, beyond which new ones are encoded the
/// slow way (a program that invents attribute names per object cannot grow them forever).
const SHAPE_CACHE_MAX: usize = 100_000;
/// Slots of the direct-mapped cache of field actions in front of the map.
const RECENT_ACTIONS: usize = 512;

pub struct ValueEncoder {
    pub caps: Caps,
    builtins: [Option<usize>; BUILTIN_COUNT],
    /// Type object pointer → (type id) for non-builtin, non-struct values. The type objects
    /// are kept alive in `keep` so a pointer can never be reused for another type.
    other_types: FastMap<usize, usize>,
    /// (type pointer, field names) → struct type id.
    struct_types: HashMap<(usize, Vec<String>), usize>,
    /// [type pointer, field name pointers...] → struct type id: the per-value lookup, with no
    /// allocation or string hashing. Names and types in it are pinned in `keep`.
    struct_shapes: FastMap<Vec<usize>, usize>,
    /// The kind of value each type's instances are.
    kinds: TypeKinds,
    /// Type pointer → `<Name object>` text of opaque values (types pinned by `other_types`).
    opaque_texts: FastMap<usize, String>,
    /// Reused key buffer for `struct_shapes` lookups.
    shape_scratch: Vec<usize>,
    /// (value rules address, field name pointer) → filter action; names pinned in `keep`.
    attr_actions: FastMap<(usize, usize), ValueAction>,
    /// The same for the names met last, by address (a field per step of every object shown
    /// made the map lookup show in profiles).
    recent_actions: Box<RecentByAddress<(usize, usize), ValueAction, RECENT_ACTIONS>>,
    keep: Vec<Py<PyAny>>,
    known: KnownTypes,
    /// Objects on the current encoding path, to cut cycles before the depth cap does.
    path: Vec<usize>,
    /// Filter rules of the code being recorded, applied to object fields (`attr:`).
    pub attr_rules: Option<ScopeDecision>,
    attr_redactions: u64,
    attr_drops: u64,
    /// Encodings of containers and objects (see `memo.rs`); `None` when turned off.
    memo: Option<Memo>,
    /// Reused buffer of what one value's encoding depends on, for the memo.
    facts_scratch: Vec<Fact>,
    /// Where the last walk met nested containers and objects (reused buffer).
    spans: Vec<Span>,
    /// Set while a walked value is encoded afresh (see `reuse.rs`).
    pending: Option<Pending>,
    /// The memo serial of the last value [`Self::encode`] wrote, when it was one kept
    /// encoding reused whole.
    whole_reuse: Option<u64>,
    /// The byte form values are written in: the trace writer's.
    fmt: ValueFormat,
}

/// A new strong reference to `ptr`, used to pin objects whose address is a cache key.
///
/// # Safety
/// `ptr` must be a valid object pointer and the GIL held.
pub unsafe fn retain(ptr: *mut ffi::PyObject) -> Py<PyAny> {
    Bound::from_borrowed_ptr(Python::assume_attached(), ptr).unbind()
}

/// Reads a `str` object's UTF-8 text (borrowed from the object).
///
/// # Safety
/// `obj` must be a valid `str` object and the GIL held; the slice lives as long as `obj`.
pub unsafe fn str_utf8<'a>(obj: *mut ffi::PyObject) -> Option<&'a str> {
    let mut size: ffi::Py_ssize_t = 0;
    let data: *const c_char = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
    if data.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
    std::str::from_utf8(bytes).ok()
}

/// The qualified name of `obj`'s type, without calling user code.
///
/// # Safety
/// `obj` must be a valid object pointer and the GIL held.
pub unsafe fn type_qualname(obj: *mut ffi::PyObject) -> String {
    take_str(ffi::PyType_GetQualName(ffi::Py_TYPE(obj))).unwrap_or_else(|| "object".to_string())
}

/// Text of a new `str` reference (consumed); `None` for NULL (error cleared) or a non-str.
///
/// # Safety
/// `owned` must be NULL or a new reference, with the GIL held.
unsafe fn take_str(owned: *mut ffi::PyObject) -> Option<String> {
    if owned.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    let text = if ffi::PyUnicode_Check(owned) != 0 {
        str_utf8(owned).map(str::to_string)
    } else {
        None
    };
    ffi::Py_DecRef(owned);
    text
}

/// A list or tuple, read through the concrete C API (never a user `__len__`/`__getitem__`).
#[derive(Clone, Copy)]
struct Sequence {
    obj: *mut ffi::PyObject,
    is_list: bool,
}

impl Sequence {
    /// # Safety
    /// GIL held; `obj` a valid object.
    unsafe fn of(obj: *mut ffi::PyObject) -> Option<Self> {
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

    unsafe fn len(self) -> ffi::Py_ssize_t {
        if self.is_list {
            ffi::PyList_Size(self.obj)
        } else {
            ffi::PyTuple_Size(self.obj)
        }
    }

    /// Item `i` (borrowed), or NULL with an exception set when out of range.
    unsafe fn item(self, i: ffi::Py_ssize_t) -> *mut ffi::PyObject {
        if self.is_list {
            ffi::PyList_GetItem(self.obj, i)
        } else {
            ffi::PyTuple_GetItem(self.obj, i)
        }
    }
}

/// `CODETRACER_ENCODING_MEMO=off` encodes every value afresh: traces must come out the same,
/// which is how the memo is tested and how a suspected memo fault can be ruled out.
fn memo_turned_off() -> bool {
    std::env::var_os("CODETRACER_ENCODING_MEMO").is_some_and(|v| v == "off")
}

impl ValueEncoder {
    pub fn new(py: Python<'_>, caps: Caps, fmt: ValueFormat) -> PyResult<Self> {
        Ok(ValueEncoder {
            caps,
            fmt,
            builtins: [None; BUILTIN_COUNT],
            other_types: FastMap::default(),
            struct_types: HashMap::new(),
            struct_shapes: FastMap::default(),
            opaque_texts: FastMap::default(),
            kinds: TypeKinds::default(),
            shape_scratch: Vec::new(),
            attr_actions: FastMap::default(),
            recent_actions: Box::default(),
            keep: Vec::new(),
            known: KnownTypes::load(py)?,
            path: Vec::new(),
            attr_rules: None,
            attr_redactions: 0,
            attr_drops: 0,
            memo: (!memo_turned_off()).then(Memo::default),
            facts_scratch: Vec::new(),
            spans: Vec::new(),
            pending: None,
            whole_reuse: None,
        })
    }

    /// Fields redacted and dropped by `attr:` rules since the last call.
    pub fn take_attr_counts(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.attr_redactions),
            std::mem::take(&mut self.attr_drops),
        )
    }

    fn attr_action(&self, name: &str) -> ValueAction {
        match &self.attr_rules {
            Some(rules) => rules.value_action(ValueKind::Attr, name),
            None => ValueAction::Allow,
        }
    }

    /// Identifies the attribute rules in force: objects encode alike under equal keys.
    #[inline]
    pub fn rules_key(&self) -> usize {
        match &self.attr_rules {
            Some(rules) => std::sync::Arc::as_ptr(&rules.values) as usize,
            None => 0,
        }
    }

    /// [`Self::attr_action`] for a field name object, computed once per (rules, name).
    #[inline]
    unsafe fn attr_action_of(&mut self, name: *mut ffi::PyObject) -> ValueAction {
        let key = (self.rules_key(), name as usize);
        match self.recent_actions.get(key.1, key) {
            Some(action) => action,
            None => self.attr_action_slow(name, key),
        }
    }

    #[cold]
    #[inline(never)]
    unsafe fn attr_action_slow(
        &mut self,
        name: *mut ffi::PyObject,
        key: (usize, usize),
    ) -> ValueAction {
        let action = match self.attr_actions.get(&key) {
            Some(action) => *action,
            None => {
                // a name that is not UTF-8 is left out, as encode_struct_first_time leaves it
                let action = str_utf8(name).map_or(ValueAction::Drop, |n| self.attr_action(n));
                if self.attr_actions.len() >= SHAPE_CACHE_MAX {
                    return action;
                }
                self.keep.push(retain(name));
                self.attr_actions.insert(key, action);
                action
            }
        };
        // only pinned names go here: an address in this table is always the same name
        self.recent_actions.put(key.1, key, action);
        action
    }

    pub fn known(&self) -> &KnownTypes {
        &self.known
    }

    fn builtin(&mut self, w: &mut TraceWriter, which: Builtin) -> RecorderResult<usize> {
        let slot = which as usize;
        if let Some(Some(id)) = self.builtins.get(slot) {
            return Ok(*id);
        }
        let (name, kind) = which.name_and_kind();
        let id = w.type_id(name, kind, name, None)?;
        if let Some(cached) = self.builtins.get_mut(slot) {
            *cached = Some(id);
        }
        Ok(id)
    }

    /// Type id for values shown as `Raw` text under their own type name.
    unsafe fn other_type(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
    ) -> RecorderResult<usize> {
        self.own_type(w, obj, TypeKind::Raw)
    }

    /// Type id named after `obj`'s own type (cached per type object, which is kept alive so
    /// its address cannot be reused by another type).
    unsafe fn own_type(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        kind: TypeKind,
    ) -> RecorderResult<usize> {
        let tp = ffi::Py_TYPE(obj) as usize;
        if let Some(&id) = self.other_types.get(&tp) {
            return Ok(id);
        }
        let name = type_qualname(obj);
        let id = w.type_id(&format!("{kind:?}:{name}:{tp:x}"), kind, &name, None)?;
        self.other_types.insert(tp, id);
        self.keep.push(retain(tp as *mut ffi::PyObject));
        Ok(id)
    }


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

    /// Appends the JSON `ValueRecord` of `obj` to `buf`.
    ///
    /// # Safety
    /// `obj` must be a valid object pointer and the GIL held.
    pub unsafe fn encode(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        self.path.clear();
        self.whole_reuse = None;
        self.encode_at(w, obj, buf, 0)
    }

    /// Whether `value` is a small immutable one, whose encoding can only change with its
    /// identity (see `memo::is_pinnable`).
    ///
    /// # Safety
    /// GIL held; `value` a valid object.
    pub unsafe fn is_pinnable(&mut self, value: *mut ffi::PyObject) -> bool {
        let info = self.kinds.of(value, &self.known);
        memo::is_pinnable(info, value)
    }

    /// The serial of the kept encoding the last [`Self::encode`] reused whole, if it did:
    /// bytes with an equal serial are equal, with no need to compare them.
    pub fn whole_reuse(&self) -> Option<u64> {
        self.whole_reuse
    }

    unsafe fn encode_at(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
    ) -> RecorderResult<()> {
        let kind = self.kinds.of(obj, &self.known).kind;
        match kind {
            Kind::None => return self.encode_none(w, buf),
            Kind::Bool => return self.encode_bool(w, obj, buf),
            Kind::Int => return self.encode_int(w, obj, buf),
            Kind::Float => return self.encode_float(w, obj, buf),
            Kind::Str => return self.encode_str(w, obj, buf),
            Kind::Bytes => return self.encode_bytes(w, obj, buf),
            Kind::Named | Kind::Opaque => return self.encode_opaque(w, obj, buf),
            Kind::Object | Kind::List | Kind::Tuple | Kind::Dict | Kind::Set => {}
        }
        let addr = obj as usize;
        if depth >= self.caps.max_depth || self.path.contains(&addr) {
            let t = self.other_type(w, obj)?;
            let marker = if self.path.contains(&addr) {
                "<cycle>"
            } else {
                "<max depth>"
            };
            push_raw(self.fmt, buf, t, marker);
            return Ok(());
        }
        self.path.push(addr);
        let result = self.encode_composite(w, obj, buf, depth, kind);
        self.path.pop();
        result
    }

    unsafe fn encode_bool(
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

    unsafe fn encode_float(
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

    unsafe fn encode_str(
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

    unsafe fn encode_bytes(
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
            bytes_literal(bytes, self.caps.max_bytes)
        } else {
            ffi::PyErr_Clear();
            "b'?'".to_string()
        };
        push_raw(self.fmt, buf, t, &text);
        Ok(())
    }

    /// A container or object encoded in full (its nested values may still come from the
    /// memo).
    unsafe fn encode_composite_fresh(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
        kind: Kind,
    ) -> RecorderResult<()> {
        if kind != Kind::Object {
            self.encode_container(w, obj, buf, depth)
        } else {
            self.encode_struct(w, obj, buf, depth)
        }
    }

    unsafe fn encode_int(
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

    unsafe fn encode_container(
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
            let (kind, keys) = if is_list { ("Sequence", 4) } else { ("Tuple", 3) };
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
                self.encode_at(w, value, buf, depth + 1)?;
                f.array_end(buf);
                f.end(buf);
                i += 1;
            }
            self.push_more_marker(w, buf, len, max)?;
            self.end_sequence(buf);
            return Ok(());
        }
        // set / frozenset: iterating a builtin set never runs user code.
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
        let iter = ffi::PyObject_GetIter(obj);
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
    fn end_sequence(&self, buf: &mut Vec<u8>) {
        let f = self.fmt;
        f.array_end(buf);
        f.key(buf, "is_slice");
        f.bool(buf, false);
        f.end(buf);
    }

    /// Appends a `Raw` element saying how many items the cap left out.
    fn push_more_marker(
        &mut self,
        w: &mut TraceWriter,
        buf: &mut Vec<u8>,
        len: usize,
        max: usize,
    ) -> RecorderResult<()> {
        if len > max {
            let t = self.builtin(w, Builtin::Placeholder)?;
            self.fmt.sep(buf, max == 0);
            push_raw(self.fmt, buf, t, &format!("…<{} more of {len}>", len - max));
        }
        Ok(())
    }

    /// A new reference to `obj`'s `__dict__`, or `None` for a class whose instances have
    /// none (`__slots__`, or heap types made by C extensions, like asyncio's Task and Future).
    /// The answer is kept per class: the AttributeError built and dropped per value showed in
    /// profiles.
    unsafe fn instance_dict(&mut self, obj: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
        let dict = ffi::PyObject_GenericGetDict(obj, std::ptr::null_mut());
        if !dict.is_null() {
            return Some(dict);
        }
        ffi::PyErr_Clear();
        self.kinds.mark_opaque(ffi::Py_TYPE(obj));
        None
    }

    unsafe fn encode_struct(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
    ) -> RecorderResult<()> {
        let Some(dict) = self.instance_dict(obj) else {
            return self.encode_opaque(w, obj, buf);
        };
        let result = match self.known_shape(obj, dict) {
            Some(t) => self.encode_fields(w, dict, t, buf, depth),
            None => self.encode_struct_first_time(w, obj, dict, buf, depth),
        };
        ffi::Py_DecRef(dict);
        result
    }

    /// The struct type id of `obj` if an object of its type with the same fields (same name
    /// objects, same order, same filter outcome) was encoded before.
    unsafe fn known_shape(
        &mut self,
        obj: *mut ffi::PyObject,
        dict: *mut ffi::PyObject,
    ) -> Option<usize> {
        let mut key = std::mem::take(&mut self.shape_scratch);
        key.clear();
        key.push(ffi::Py_TYPE(obj) as usize);
        let mut pos: ffi::Py_ssize_t = 0;
        let (mut name, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        while key.len() <= self.caps.max_items
            && ffi::PyDict_Next(dict, &mut pos, &mut name, &mut value) != 0
        {
            if ffi::PyUnicode_Check(name) == 0 {
                continue;
            }
            match self.attr_action_of(name) {
                ValueAction::Drop => continue,
                // a redacted field has its own shape: its type is the placeholder's
                ValueAction::Redact => key.push(!(name as usize)),
                ValueAction::Allow => key.push(name as usize),
            }
        }
        let found = self.struct_shapes.get(key.as_slice()).copied();
        self.shape_scratch = key;
        found
    }

    /// A struct of known type `t`: fields are encoded straight into `buf`.
    unsafe fn encode_fields(
        &mut self,
        w: &mut TraceWriter,
        dict: *mut ffi::PyObject,
        t: usize,
        buf: &mut Vec<u8>,
        depth: usize,
    ) -> RecorderResult<()> {
        self.begin_struct(buf, t);
        let mut pos: ffi::Py_ssize_t = 0;
        let (mut name, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        let mut written = 0;
        while written < self.caps.max_items
            && ffi::PyDict_Next(dict, &mut pos, &mut name, &mut value) != 0
        {
            if ffi::PyUnicode_Check(name) == 0 {
                continue;
            }
            let action = self.attr_action_of(name);
            if action == ValueAction::Drop {
                self.attr_drops += 1;
                continue;
            }
            let field = match self.fmt {
                ValueFormat::Json => "",
                ValueFormat::Cbor => str_utf8(name).unwrap_or("?"),
            };
            self.begin_field(w, buf, written == 0, field)?;
            written += 1;
            if action == ValueAction::Redact {
                self.attr_redactions += 1;
                self.encode_placeholder(w, crate::runtime::REDACTED, buf)?;
            } else {
                self.encode_at(w, value, buf, depth + 1)?;
            }
            self.end_field(buf);
        }
        self.end_struct(buf);
        Ok(())
    }

    /// Opens an object of struct type `t`. JSON: a `Struct` and its `field_values`. CBOR (the
    /// CTFS route, where types carry names only, so a `Struct` would lose its field names): a
    /// `Sequence` of (field name, value) pairs typed as the struct, as dicts show their items.
    fn begin_struct(&self, buf: &mut Vec<u8>, t: usize) {
        let f = self.fmt;
        match f {
            ValueFormat::Json => {
                f.header(buf, "Struct", t, 3);
                f.key(buf, "field_values");
            }
            ValueFormat::Cbor => {
                f.header(buf, "Sequence", t, 4);
                f.key(buf, "elements");
            }
        }
        f.array_start(buf);
    }

    /// Starts a field of an object: in CBOR its pair and name (the value comes next).
    fn begin_field(
        &mut self,
        w: &mut TraceWriter,
        buf: &mut Vec<u8>,
        first: bool,
        name: &str,
    ) -> RecorderResult<()> {
        let f = self.fmt;
        f.sep(buf, first);
        if f == ValueFormat::Cbor {
            let pair_t = self.builtin(w, Builtin::Field)?;
            let str_t = self.builtin(w, Builtin::Str)?;
            f.header(buf, "Tuple", pair_t, 3);
            f.key(buf, "elements");
            f.array_start(buf);
            f.header(buf, "String", str_t, 3);
            f.key(buf, "text");
            f.str(buf, name);
            f.end(buf);
        }
        Ok(())
    }

    fn end_field(&self, buf: &mut Vec<u8>) {
        if self.fmt == ValueFormat::Cbor {
            self.fmt.array_end(buf);
            self.fmt.end(buf);
        }
    }

    fn end_struct(&self, buf: &mut Vec<u8>) {
        match self.fmt {
            ValueFormat::Json => {
                self.fmt.array_end(buf);
                self.fmt.end(buf);
            }
            ValueFormat::Cbor => self.end_sequence(buf),
        }
    }

    /// First object of a shape: fields are encoded apart, as the struct's `Type` record
    /// needs their type ids; the shape is then remembered for [`Self::known_shape`].
    unsafe fn encode_struct_first_time(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        dict: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
        depth: usize,
    ) -> RecorderResult<()> {
        let shape = self.shape_scratch.clone();
        let mut names: Vec<String> = Vec::new();
        let mut values: Vec<*mut ffi::PyObject> = Vec::new();
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        while names.len() < self.caps.max_items
            && ffi::PyDict_Next(dict, &mut pos, &mut key, &mut value) != 0
        {
            if ffi::PyUnicode_Check(key) == 0 {
                continue;
            }
            // the same decision as known_shape and encode_fields (a non-UTF-8 name is Drop)
            let action = self.attr_action_of(key);
            let Some(name) = str_utf8(key).filter(|_| action != ValueAction::Drop) else {
                self.attr_drops += 1;
                continue;
            };
            names.push(name.to_string());
            if action == ValueAction::Redact {
                self.attr_redactions += 1;
                values.push(std::ptr::null_mut());
            } else {
                values.push(value);
            }
        }
        // Encode the fields first: their type ids are needed for the struct's Type record.
        let mut field_bufs: Vec<Vec<u8>> = Vec::with_capacity(values.len());
        let mut field_types: Vec<usize> = Vec::with_capacity(values.len());
        let mut result = Ok(());
        for &v in &values {
            let mut fb = Vec::new();
            let encoded = if v.is_null() {
                self.encode_placeholder(w, crate::runtime::REDACTED, &mut fb)
            } else {
                self.encode_at(w, v, &mut fb, depth + 1)
            };
            if let Err(e) = encoded {
                result = Err(e);
                break;
            }
            field_types.push(self.fmt.type_id_of(&fb));
            field_bufs.push(fb);
        }
        result?;
        let tp = ffi::Py_TYPE(obj) as usize;
        let field_names = names.clone();
        let key = (tp, names);
        let t = match self.struct_types.get(&key) {
            Some(&id) => id,
            None => {
                let qual = type_qualname(obj);
                let fields: Vec<(&str, usize)> = key
                    .1
                    .iter()
                    .map(String::as_str)
                    .zip(field_types.iter().copied())
                    .collect();
                let id = w.type_id(
                    &format!("struct:{qual}:{tp:x}:{}", key.1.join(",")),
                    TypeKind::Struct,
                    &qual,
                    Some(&fields),
                )?;
                self.keep.push(retain(tp as *mut ffi::PyObject));
                self.struct_types.insert(key, id);
                id
            }
        };
        if self.struct_shapes.len() < SHAPE_CACHE_MAX {
            // pin the field names, so their addresses cannot come back as other names
            for &name in shape.iter().skip(1) {
                let name = if name & 1 == 1 { !name } else { name };
                self.keep.push(retain(name as *mut ffi::PyObject));
            }
            self.struct_shapes.insert(shape, t);
        }
        self.begin_struct(buf, t);
        for (i, (fb, name)) in field_bufs.iter().zip(&field_names).enumerate() {
            self.begin_field(w, buf, i == 0, name)?;
            buf.extend_from_slice(fb);
            self.end_field(buf);
        }
        self.end_struct(buf);
        Ok(())
    }

    /// Anything else (functions, modules, C objects) as `Raw` text built from type data only.
    unsafe fn encode_opaque(
        &mut self,
        w: &mut TraceWriter,
        obj: *mut ffi::PyObject,
        buf: &mut Vec<u8>,
    ) -> RecorderResult<()> {
        let t = self.other_type(w, obj)?;
        let tp = ffi::Py_TYPE(obj) as usize;
        let text = if ffi::PyType_Check(obj) != 0 {
            let name = take_str(ffi::PyType_GetQualName(obj as *mut ffi::PyTypeObject));
            format!("<class '{}'>", name.as_deref().unwrap_or("?"))
        } else if tp == self.known.module {
            let name = take_str(ffi::PyModule_GetNameObject(obj));
            format!("<module '{}'>", name.as_deref().unwrap_or("?"))
        } else if tp == self.known.function || tp == self.known.builtin_function {
            // __qualname__ of functions is a C-level getset: safe to read.
            let name = take_str(ffi::PyObject_GetAttrString(obj, c"__qualname__".as_ptr()));
            format!("<function {}>", name.as_deref().unwrap_or("?"))
        } else {
            // the same for every instance of the type (pinned by other_type): made once
            let text = self
                .opaque_texts
                .entry(tp)
                .or_insert_with(|| format!("<{} object>", type_qualname(obj)));
            push_raw(self.fmt, buf, t, text);
            return Ok(());
        };
        push_raw(self.fmt, buf, t, &text);
        Ok(())
    }
}

/// A `Raw` record: text shown as it is.
fn push_raw(f: ValueFormat, buf: &mut Vec<u8>, type_id: usize, text: &str) {
    f.header(buf, "Raw", type_id, 3);
    f.key(buf, "r");
    f.str(buf, text);
    f.end(buf);
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

    #[test]
    fn type_id_is_read_back() {
        assert_eq!(ValueFormat::Json.type_id_of(b"{\"kind\":\"Int\",\"type_id\":42,\"i\":1}"), 42);
    }
}
