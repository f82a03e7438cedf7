//! Python value → runtime_tracing `ValueRecord` JSON, without running user code.
//!
//! Only C-level accessors are used (no `repr`, `str`, `__getattr__` or `__iter__` of user
//! types), so encoding can never change what the program does. Every value is bounded by the
//! [`Caps`]: strings and bytes are cut with a marker, collections keep their first items, and
//! nesting stops at a depth, which also makes encoding cycle-safe.
//!
//! This module holds the encoder's state, the type ids and the dispatch by kind; the
//! encoders themselves are split by kind: `scalars` (None, bool, int, float, str, bytes),
//! `containers` (list, tuple, dict, set) and `objects` (instances, field filters, opaque
//! values). The C-API helpers the whole crate uses are `crate::pyffi`.

pub(crate) mod base64;
pub mod caps;
mod containers;
mod kinds;
mod memo;
mod objects;
pub mod out;
mod reuse;
mod scalars;
mod walk;

use std::collections::HashMap;

use pyo3::ffi;
use pyo3::prelude::*;

pub use caps::Caps;
use kinds::{Kind, TypeKinds};
use memo::{Fact, Memo};
pub use out::ValueFormat;
use reuse::Pending;
use walk::Span;

use containers::Sequence;

use crate::errors::RecorderResult;
use crate::fast_hash::{FastMap, RecentByAddress};
use crate::pyffi::{retain, type_qualname};
use crate::trace_filter::{ScopeDecision, ValueAction};
use crate::trace_writer::{TraceWriter, TypeKind};

/// Declares [`Builtin`] with each type's name and kind; the count is the list's length.
macro_rules! builtins {
    ($($(#[$doc:meta])* $variant:ident => ($name:literal, $kind:ident),)*) => {
        /// The builtin types every recording uses; their ids are cached in an array so the
        /// hot path does no hashing per value.
        #[derive(Debug, Clone, Copy)]
        enum Builtin {
            $($(#[$doc])* $variant,)*
        }

        const BUILTIN_COUNT: usize = [$(Builtin::$variant),*].len();

        impl Builtin {
            fn name_and_kind(self) -> (&'static str, TypeKind) {
                match self {
                    $(Builtin::$variant => ($name, TypeKind::$kind),)*
                }
            }
        }
    };
}

builtins! {
    Placeholder => ("<placeholder>", Raw),
    NoneType => ("NoneType", None),
    Bool => ("bool", Bool),
    Bytes => ("bytes", Raw),
    DictItem => ("dict item", Tuple),
    Dict => ("dict", Seq),
    Float => ("float", Float),
    FrozenSet => ("frozenset", Set),
    Int => ("int", Int),
    List => ("list", Seq),
    Set => ("set", Set),
    Str => ("str", String),
    Tuple => ("tuple", Tuple),
    /// A struct field's (name, value) pair, in the CBOR form (see `encode_fields`).
    Field => ("field", Tuple),
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
    /// Field name pointer → the CBOR that opens that field's (name, value) pair: the same
    /// bytes for every object that has the field (names pinned with their shape, in `keep`).
    field_heads: FastMap<usize, Vec<u8>>,
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
    /// Values cut by a cap (string, bytes, items, depth) when encoded.
    truncations: u64,
    /// Encodings of containers and objects (see `memo.rs`); `None` when turned off.
    memo: Option<Memo>,
    /// Reused buffer of what one value's encoding depends on, for the memo.
    facts_scratch: Vec<Fact>,
    /// Where the last walk met nested containers and objects (reused buffer).
    spans: Vec<Span>,
    /// Set while a walked value is encoded afresh (see `reuse.rs`).
    pending: Option<Pending>,
    /// The byte form values are written in: the trace writer's.
    fmt: ValueFormat,
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
            field_heads: FastMap::default(),
            attr_actions: FastMap::default(),
            recent_actions: Box::default(),
            keep: Vec::new(),
            known: KnownTypes::load(py)?,
            path: Vec::new(),
            attr_rules: None,
            attr_redactions: 0,
            attr_drops: 0,
            truncations: 0,
            memo: (!memo_turned_off()).then(Memo::default),
            facts_scratch: Vec::new(),
            spans: Vec::new(),
            pending: None,
        })
    }

    /// Fields (and dict items) redacted and dropped by `attr:` rules since the last call.
    pub fn take_attr_counts(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.attr_redactions),
            std::mem::take(&mut self.attr_drops),
        )
    }

    /// Values cut by a cap when encoded, since the start.
    pub fn truncations(&self) -> u64 {
        self.truncations
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
        self.encode_at(w, obj, buf, 0)
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
                self.truncations += 1;
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
}

/// A `Raw` record: text shown as it is.
fn push_raw(f: ValueFormat, buf: &mut Vec<u8>, type_id: usize, text: &str) {
    f.header(buf, "Raw", type_id, 3);
    f.key(buf, "r");
    f.str(buf, text);
    f.end(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_has_a_cache_slot() {
        // the count is derived from the list; the last variant's slot must fit in it
        assert_eq!(Builtin::Field as usize + 1, BUILTIN_COUNT);
        assert_eq!(Builtin::Field.name_and_kind().0, "field");
    }

    #[test]
    fn type_id_is_read_back() {
        assert_eq!(
            ValueFormat::Json.type_id_of(b"{\"kind\":\"Int\",\"type_id\":42,\"i\":1}"),
            42
        );
    }
}
