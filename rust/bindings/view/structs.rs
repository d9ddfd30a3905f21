//! msgspec Structs seen as JSON objects, read through C only (module docs of `view`,
//! "Soundness").
#![allow(unsafe_code)]

use std::ffi::c_void;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyTuple, PyType};

use super::{Ctx, PyVal};
use crate::error::CoreError;
use crate::value::Source;

/// What the walk needs of msgspec, looked up once (before any walk).
pub(super) struct Msgspec {
    pub(super) struct_type: Py<PyType>,
    pub(super) unset: Py<PyAny>,
    /// `msgspec.structs.astuple`: a Struct's field values, read from its slots in C.
    astuple: Py<PyAny>,
    /// `StructMeta`'s descriptors of a Struct class's `__struct_encode_fields__` and
    /// `__struct_config__`, and `StructConfig`'s of `tag_field` and `tag`.
    encode_fields: Descriptor,
    config: Descriptor,
    tag_field: Descriptor,
    tag: Descriptor,
}

pub(super) static MSGSPEC: PyOnceLock<Msgspec> = PyOnceLock::new();

impl Msgspec {
    pub(super) fn load(py: Python<'_>) -> PyResult<Self> {
        let module = py.import("msgspec")?;
        let struct_type = module.getattr("Struct")?.cast_into::<PyType>()?;
        let meta = module.getattr("StructMeta")?.cast_into::<PyType>()?;
        let config_type = struct_type.getattr("__struct_config__")?.get_type();
        let astuple = py.import("msgspec.structs")?.getattr("astuple")?;
        if !astuple.is_exact_instance_of::<PyCFunction>() {
            return Err(PyRuntimeError::new_err("msgspec.structs.astuple is not msgspec's C function"));
        }
        Ok(Msgspec {
            unset: module.getattr("UNSET")?.unbind(),
            astuple: astuple.unbind(),
            encode_fields: Descriptor::of(&meta, "__struct_encode_fields__")?,
            config: Descriptor::of(&meta, "__struct_config__")?,
            tag_field: Descriptor::of(&config_type, "tag_field")?,
            tag: Descriptor::of(&config_type, "tag")?,
            struct_type: struct_type.unbind(),
        })
    }
}

/// A C type's own attribute descriptor (a `member_descriptor` or `getset_descriptor`,
/// whose getter is C), called directly: no `__getattribute__` of the instance or of its
/// metaclass is involved.
struct Descriptor {
    object: Py<PyAny>,
    get: ffi::descrgetfunc,
}

impl Descriptor {
    fn of(owner: &Bound<'_, PyType>, name: &str) -> PyResult<Self> {
        let py = owner.py();
        let object = owner.getattr("__dict__")?.get_item(name)?;
        let kind = object.get_type();
        let types = py.import("types")?;
        if !kind.is(&types.getattr("MemberDescriptorType")?) && !kind.is(&types.getattr("GetSetDescriptorType")?) {
            return Err(PyRuntimeError::new_err(format!("msgspec: {name} is not a C member or getset descriptor")));
        }
        // SAFETY: `kind` is a live type object (`member_descriptor` or
        // `getset_descriptor`); PyType_GetSlot reads one of its slots (allowed for static
        // types since Python 3.10) and runs no code.
        let get = unsafe { ffi::PyType_GetSlot(kind.as_type_ptr(), ffi::Py_tp_descr_get) };
        if get.is_null() {
            return Err(PyRuntimeError::new_err(format!("msgspec: {name} has no getter")));
        }
        // SAFETY: a non-null Py_tp_descr_get slot holds a `descrgetfunc` (the slot's C
        // type); a function pointer and a data pointer have the same size here.
        let get = unsafe { std::mem::transmute::<*mut c_void, ffi::descrgetfunc>(get) };
        Ok(Descriptor { object: object.unbind(), get })
    }

    /// The attribute of `obj` (an instance of the descriptor's owner type: else the
    /// getter raises `TypeError`), as a new reference.
    fn get<'py>(&self, py: Python<'py>, obj: *mut ffi::PyObject) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: the descriptor is alive (held by `self`) and `obj` is a live object;
        // `member_get` / `getset_get` check that `obj` is an instance of the owner type,
        // then read the member (or call the C getter of a msgspec type), running no
        // Python code, and return a new reference or NULL with an exception set.
        unsafe { Bound::from_owned_ptr_or_err(py, (self.get)(self.object.as_ptr(), obj, std::ptr::null_mut())) }
    }
}

/// What the walk needs of a Struct class: its wire names (a tuple, in field order) and,
/// when tagged, its tag field and tag. Pointers into objects held in [`Ctx::keep`].
#[derive(Clone, Copy)]
pub(super) struct StructClass {
    wire_names: *mut ffi::PyObject,
    tag: Option<(*mut ffi::PyObject, *mut ffi::PyObject)>,
}

impl<'py> Ctx<'py> {
    /// The wire names and tag of the Struct class `ty`, read through msgspec's C
    /// descriptors (once per class and walk).
    pub(super) fn struct_class(&self, ty: *mut ffi::PyTypeObject) -> PyResult<StructClass> {
        if let Some(class) = self.classes.borrow().get(&(ty as usize)) {
            return Ok(*class);
        }
        let (py, msgspec) = (self.py, self.msgspec);
        let wire_names = msgspec.encode_fields.get(py, ty.cast())?.cast_into::<PyTuple>().map_err(PyErr::from)?;
        let config = msgspec.config.get(py, ty.cast())?;
        let tag_field = msgspec.tag_field.get(py, config.as_ptr())?;
        let tag = if tag_field.is_none() {
            None
        } else {
            let tag = msgspec.tag.get(py, config.as_ptr())?;
            Some((self.keep(tag_field), self.keep(tag)))
        };
        let class = StructClass { wire_names: self.keep(wire_names.into_any()), tag };
        self.classes.borrow_mut().insert(ty as usize, class);
        Ok(class)
    }

    /// The field values of the Struct `object` (a tuple held in `keep`), read from its
    /// slots by `msgspec.structs.astuple` (once per object and walk).
    pub(super) fn struct_values(&self, object: PyVal<'_, 'py>) -> PyResult<*mut ffi::PyObject> {
        if let Some(values) = self.struct_values.borrow().get(&object.identity()) {
            return Ok(*values);
        }
        // A C function (checked when loaded): it reads each slot and builds the tuple.
        let values = self.msgspec.astuple.bind(self.py).call1((object.bound(),))?;
        let values = self.keep(values.cast_into::<PyTuple>().map_err(PyErr::from)?.into_any());
        self.struct_values.borrow_mut().insert(object.identity(), values);
        Ok(values)
    }
}

/// `next_member` of a msgspec Struct.
#[inline(never)]
pub(super) fn struct_member<'s, 'py>(
    object: PyVal<'s, 'py>,
    cursor: &mut usize,
) -> Result<Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)>, CoreError> {
    Ok(StructEntries::new(object)?.next_member(cursor))
}

/// `for_each_keyed` of a msgspec Struct.
#[inline(never)]
pub(super) fn struct_for_each<'s, 'py>(
    object: PyVal<'s, 'py>,
    f: &mut dyn FnMut(PyVal<'s, 'py>, PyVal<'s, 'py>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    let members = StructEntries::new(object)?;
    let mut cursor = 0;
    while let Some((key, value)) = members.next_member(&mut cursor) {
        f(key, value)?;
    }
    Ok(())
}

/// A msgspec Struct's wire members: the tag first (if tagged), then every field that is
/// not `UNSET`, named as it is encoded (`rename`).
///
/// Everything is read in C, so that no Python code runs (module docs): the field values
/// from the object's slots by `msgspec.structs.astuple`, the class's wire names and tag
/// through `StructMeta`'s and `StructConfig`'s own descriptors. A field is the value in
/// its slot, which is what `msgspec.json.encode` writes: a property, descriptor or
/// `__getattribute__` defined on a Struct subclass (or its metaclass) is not consulted,
/// and so cannot make the walk run Python code.
///
/// Members are numbered by position: 0 is the tag, `i + 1` field `i`.
pub(crate) struct StructEntries<'s, 'py> {
    object: PyVal<'s, 'py>,
    class: StructClass,
    /// The field values, a tuple held in `Ctx::keep`.
    values: *mut ffi::PyObject,
    fields: usize,
}

impl<'s, 'py> StructEntries<'s, 'py> {
    pub(super) fn new(object: PyVal<'s, 'py>) -> PyResult<Self> {
        let ctx = object.ctx;
        let class = ctx.struct_class(object.type_ptr())?;
        let values = ctx.struct_values(object)?;
        // SAFETY: two live tuples (held in `ctx.keep`); PyTuple_Size reads their lengths.
        let (fields, names) = unsafe { (ffi::PyTuple_Size(values), ffi::PyTuple_Size(class.wire_names)) };
        if fields != names {
            return Err(PyTypeError::new_err(format!(
                "{} has {fields} field values for {names} wire names",
                object.type_name()
            )));
        }
        Ok(StructEntries { object, class, values, fields: usize::try_from(fields).unwrap_or(0) })
    }

    /// The member at `position`, as (wire name, value); `None` past the end.
    fn at(&self, position: usize) -> Option<(PyVal<'s, 'py>, Option<PyVal<'s, 'py>>)> {
        if position == 0 {
            let (field, tag) = self.class.tag?;
            return Some((self.object.child(field), Some(self.object.child(tag))));
        }
        if position > self.fields {
            return None;
        }
        let i = (position - 1) as ffi::Py_ssize_t;
        // SAFETY: two live tuples (held in `ctx.keep`) of `self.fields` items each, and
        // `i` below that; PyTuple_GetItem returns borrowed references, alive as long as
        // the tuples.
        let (name, value) =
            unsafe { (ffi::PyTuple_GetItem(self.class.wire_names, i), ffi::PyTuple_GetItem(self.values, i)) };
        if name.is_null() {
            return None;
        }
        let value = (!value.is_null() && value != self.object.ctx.unset).then(|| self.object.child(value));
        Some((self.object.child(name), value))
    }

    /// The member after `cursor` (a position, starting at 0), skipping `UNSET` fields.
    pub(super) fn next_member(&self, cursor: &mut usize) -> Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)> {
        while *cursor <= self.fields {
            let position = *cursor;
            *cursor += 1;
            if let Some((name, Some(value))) = self.at(position) {
                return Some((name, value));
            }
        }
        None
    }

    /// The member whose wire name is `wire` (`None` also for an `UNSET` field).
    pub(super) fn get(&self, wire: &[u8]) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
        for position in 0..=self.fields {
            if let Some((name, value)) = self.at(position)
                && name.js_str()?.as_bytes() == wire
            {
                return Ok(value);
            }
        }
        Ok(None)
    }
}
