//! What kind of value an object is, decided once per type.
//!
//! Under the limited API every `PyLong_Check`-style test is a call into the interpreter, and
//! telling a user object from a container took a dozen of them per value. The builtin types
//! are recognised by pointer; any other type is classified once and remembered (and pinned,
//! so its address cannot come back as another type).

use pyo3::ffi;
use pyo3::prelude::*;

use super::{retain, KnownTypes};
use crate::fast_hash::{FastMap, RecentByAddress};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    None,
    Bool,
    Int,
    Float,
    Str,
    Bytes,
    List,
    Tuple,
    Dict,
    Set,
    /// An instance of a class defined in Python: a struct of its `__dict__` fields.
    Object,
    /// A class, module or function: shown by its name.
    Named,
    /// Anything else: shown as `<T object>`.
    Opaque,
}

/// A value's kind, and whether its type is exactly the builtin one (not a subclass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    pub kind: Kind,
    pub exact: bool,
}

/// Types classified more than this are classified again each time (a program that makes
/// classes by the thousand cannot grow the table forever).
const MAX_TYPES: usize = 100_000;

/// Slots of the direct-mapped cache in front of the map.
const RECENT: usize = 64;

#[derive(Default)]
pub struct TypeKinds {
    types: FastMap<usize, TypeInfo>,
    /// The types met last (only pinned ones, so an address is always its type).
    recent: RecentByAddress<usize, TypeInfo, RECENT>,
    keep: Vec<Py<PyAny>>,
}

impl TypeKinds {
    /// # Safety
    /// GIL held; `obj` a valid object.
    #[inline]
    pub unsafe fn of(&mut self, obj: *mut ffi::PyObject, known: &KnownTypes) -> TypeInfo {
        if obj == ffi::Py_None() {
            return TypeInfo {
                kind: Kind::None,
                exact: true,
            };
        }
        let tp = ffi::Py_TYPE(obj);
        // one compare each, in order of how common they are (a table of them looped over ran
        // 9% more instructions on the objects benchmark)
        let exact = |kind| TypeInfo { kind, exact: true };
        if tp == &raw mut ffi::PyLong_Type {
            return exact(Kind::Int);
        }
        if tp == &raw mut ffi::PyUnicode_Type {
            return exact(Kind::Str);
        }
        if tp == &raw mut ffi::PyFloat_Type {
            return exact(Kind::Float);
        }
        if tp == &raw mut ffi::PyBool_Type {
            return exact(Kind::Bool);
        }
        if tp == &raw mut ffi::PyList_Type {
            return exact(Kind::List);
        }
        if tp == &raw mut ffi::PyTuple_Type {
            return exact(Kind::Tuple);
        }
        if tp == &raw mut ffi::PyDict_Type {
            return exact(Kind::Dict);
        }
        if tp == &raw mut ffi::PyBytes_Type {
            return exact(Kind::Bytes);
        }
        let tp = tp as usize;
        match self.recent.get(tp, tp) {
            Some(info) => info,
            None => self.of_slow(obj, known),
        }
    }

    #[cold]
    #[inline(never)]
    unsafe fn of_slow(&mut self, obj: *mut ffi::PyObject, known: &KnownTypes) -> TypeInfo {
        let tp = ffi::Py_TYPE(obj);
        let info = match self.types.get(&(tp as usize)) {
            Some(info) => *info,
            None => {
                let info = TypeInfo {
                    kind: classify(obj, known),
                    exact: false,
                };
                if self.types.len() >= MAX_TYPES {
                    return info;
                }
                self.types.insert(tp as usize, info);
                self.keep.push(retain(tp as *mut ffi::PyObject));
                info
            }
        };
        self.recent.put(tp as usize, tp as usize, info);
        info
    }

    /// Records that instances of `tp` have no `__dict__` after all (`__slots__`, or a heap
    /// type made by a C extension): they show as `<T object>`.
    ///
    /// # Safety
    /// GIL held; `tp` a valid type object.
    pub unsafe fn mark_opaque(&mut self, tp: *mut ffi::PyTypeObject) {
        let info = TypeInfo {
            kind: Kind::Opaque,
            exact: false,
        };
        self.recent.put(tp as usize, tp as usize, info);
        if self.types.insert(tp as usize, info).is_none() {
            self.keep.push(retain(tp as *mut ffi::PyObject));
        }
    }
}

/// The slow, first-time decision for a type that is not one of the builtins above. The order
/// is the encoder's: numbers and text by value first, then containers, then objects.
unsafe fn classify(obj: *mut ffi::PyObject, known: &KnownTypes) -> Kind {
    let tp = ffi::Py_TYPE(obj) as usize;
    if ffi::PyLong_Check(obj) != 0 {
        Kind::Int
    } else if ffi::PyFloat_Check(obj) != 0 {
        Kind::Float
    } else if ffi::PyUnicode_Check(obj) != 0 {
        Kind::Str
    } else if ffi::PyBytes_Check(obj) != 0 {
        Kind::Bytes
    } else if ffi::PyList_Check(obj) != 0 {
        Kind::List
    } else if ffi::PyTuple_Check(obj) != 0 {
        Kind::Tuple
    } else if ffi::PyDict_Check(obj) != 0 {
        Kind::Dict
    } else if ffi::PyAnySet_Check(obj) != 0 {
        Kind::Set
    } else if ffi::PyType_Check(obj) != 0
        || tp == known.module
        || tp == known.function
        || tp == known.builtin_function
    {
        Kind::Named
    } else if tp != known.method
        && ffi::PyType_GetFlags(ffi::Py_TYPE(obj)) & ffi::Py_TPFLAGS_HEAPTYPE != 0
    {
        // Heap types are classes defined in Python (or by extension modules with heap
        // types, found out by `mark_opaque`).
        Kind::Object
    } else {
        Kind::Opaque
    }
}
