//! Objects: instances of Python classes (their fields, `attr:` filter rules, shapes) and
//! opaque values shown as text built from type data.

use pyo3::ffi;

use super::{push_raw, Builtin, ValueEncoder, ValueFormat, SHAPE_CACHE_MAX};
use crate::errors::RecorderResult;
use crate::pyffi::{retain, str_utf8, take_str, type_qualname};
use crate::trace_filter::{ValueAction, ValueKind};
use crate::trace_writer::{TraceWriter, TypeKind};

impl ValueEncoder {
    pub(super) fn attr_action(&self, name: &str) -> ValueAction {
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
    pub(super) unsafe fn attr_action_of(&mut self, name: *mut ffi::PyObject) -> ValueAction {
        let key = (self.rules_key(), name as usize);
        match self.recent_actions.get(key.1, key) {
            Some(action) => action,
            None => self.attr_action_slow(name, key),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) unsafe fn attr_action_slow(
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

    /// A new reference to `obj`'s `__dict__`, or `None` for a class whose instances have
    /// none (`__slots__`, or heap types made by C extensions, like asyncio's Task and Future).
    /// The answer is kept per class: the AttributeError built and dropped per value showed in
    /// profiles.
    pub(super) unsafe fn instance_dict(
        &mut self,
        obj: *mut ffi::PyObject,
    ) -> Option<*mut ffi::PyObject> {
        let dict = ffi::PyObject_GenericGetDict(obj, std::ptr::null_mut());
        if !dict.is_null() {
            return Some(dict);
        }
        ffi::PyErr_Clear();
        self.kinds.mark_opaque(ffi::Py_TYPE(obj));
        None
    }

    pub(super) unsafe fn encode_struct(
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
    pub(super) unsafe fn known_shape(
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
    pub(super) unsafe fn encode_fields(
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
            if self.fmt == ValueFormat::Json {
                self.begin_field(w, buf, written == 0, "")?;
            } else if let Some(head) = self.field_heads.get(&(name as usize)) {
                // a known shape's names are pinned: the pair's opening, made once, is reused
                buf.extend_from_slice(head);
            } else {
                let start = buf.len();
                self.begin_field(w, buf, written == 0, str_utf8(name).unwrap_or("?"))?;
                if self.field_heads.len() < SHAPE_CACHE_MAX {
                    let head = buf.get(start..).unwrap_or_default().to_vec();
                    self.field_heads.insert(name as usize, head);
                }
            }
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
    pub(super) fn begin_struct(&self, buf: &mut Vec<u8>, t: usize) {
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
    pub(super) fn begin_field(
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

    pub(super) fn end_field(&self, buf: &mut Vec<u8>) {
        if self.fmt == ValueFormat::Cbor {
            self.fmt.array_end(buf);
            self.fmt.end(buf);
        }
    }

    pub(super) fn end_struct(&self, buf: &mut Vec<u8>) {
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
    pub(super) unsafe fn encode_struct_first_time(
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
    pub(super) unsafe fn encode_opaque(
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
