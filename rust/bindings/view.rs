//! Python objects as a JSON [`Source`]: borrowed views, walked in place.
//!
//! This is the hot path of serialization and checksums, so it talks to the C API
//! directly: exact-type dispatch by type pointer, borrowed references (no reference
//! counting per value), UTF-8 read straight from the string object.
//!
//! # Soundness
//!
//! A view is a borrowed pointer. It points at the root object (owned by the caller for
//! `'s`), at an item of a container that is itself viewed, or at an object held in
//! [`Ctx::keep`] until the walk ends. Such a pointer stays valid only while no container
//! loses an item, that is, while no Python code runs: any `__eq__`, `__hash__`, `encode`,
//! property, `__getattribute__`, `__del__` or weakref callback could empty a container the
//! walk is inside and free what its views point at. So for the whole life of a [`Ctx`]
//! (the walk, and turning its results into owned objects) nothing runs Python code:
//!
//! - The walk only calls C API functions that read the object they are given, never one
//!   that dispatches through the object's type to a method a subclass may override:
//!   types are told apart by type pointer or type flags; `str` (subclasses too) is read
//!   from its own data (`PyUnicode_AsUTF8AndSize`, `PyUnicode_AsEncodedString` with the
//!   built-in UTF-8 codec, `PyUnicode_Compare`); `int` and `float` with
//!   `PyLong_As*` / `PyFloat_AsDouble`, which read the value itself once the type check
//!   passed; lists, tuples and dicts with `Py{List,Tuple}_GetItem`, `PyDict_Next` and
//!   `Py*_Size`; type names for errors with `PyType_GetName`.
//! - A dict member is found by key without comparing keys with `==` unless every key is
//!   an exact `str` (see [`PyVal::dict_get`]).
//! - A msgspec Struct is read through C only: its field values from its slots
//!   (`msgspec.structs.astuple`), its class's wire names and tag through `StructMeta`'s
//!   and `StructConfig`'s own C descriptors (see [`StructEntries`]). A field is therefore
//!   the value in its slot, as `msgspec.json.encode` writes it: a property,
//!   `__getattribute__` or metaclass `__getattribute__` defined in Python is not consulted.
//! - The walk allocates (UTF-8 caches, encoded bytes, exceptions, Struct tuples), and
//!   allocating a container can start the cyclic garbage collector, which runs `__del__`
//!   and weakref callbacks. A `Ctx` therefore pauses automatic collection for its life
//!   ([`GcPause`]); callers turn views into owned objects before dropping it.
//! - None of these calls releases the GIL, so no other thread runs Python code meanwhile;
//!   the only objects the walk releases are ones it made (exceptions, temporaries) or
//!   extra references to objects something else still holds.
//!
//! Every `unsafe` block below states which of these it relies on.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr::NonNull;

use pyo3::Borrowed;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyCFunction, PyString, PyTuple, PyType};
use rustc_hash::FxHashMap;

use super::build::GcPause;
use crate::error::{CoreError, ErrorKind, MAX_DEPTH, Path};
use crate::value::{Array, Compare, JsStr, Object, Read, Source, Watch};

/// What the walk needs of msgspec, looked up once (before any walk).
struct Msgspec {
    struct_type: Py<PyType>,
    unset: Py<PyAny>,
    /// `msgspec.structs.astuple`: a Struct's field values, read from its slots in C.
    astuple: Py<PyAny>,
    /// `StructMeta`'s descriptors of a Struct class's `__struct_encode_fields__` and
    /// `__struct_config__`, and `StructConfig`'s of `tag_field` and `tag`.
    encode_fields: Descriptor,
    config: Descriptor,
    tag_field: Descriptor,
    tag: Descriptor,
}

static MSGSPEC: PyOnceLock<Msgspec> = PyOnceLock::new();

impl Msgspec {
    fn load(py: Python<'_>) -> PyResult<Self> {
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
struct StructClass {
    wire_names: *mut ffi::PyObject,
    tag: Option<(*mut ffi::PyObject, *mut ffi::PyObject)>,
}

/// State shared by the views of one walk.
pub(crate) struct Ctx<'py> {
    py: Python<'py>,
    /// New references the walk made (Struct fields and tags, looked-up members, encoded
    /// strings): held here so views into them stay valid until the walk ends.
    keep: RefCell<Vec<Bound<'py, PyAny>>>,
    /// Interned member names used by `get`.
    keys: RefCell<Vec<(&'static str, Bound<'py, PyString>)>>,
    msgspec: &'static Msgspec,
    struct_type: *mut ffi::PyTypeObject,
    unset: *mut ffi::PyObject,
    /// Struct classes met, by type address.
    classes: RefCell<FxHashMap<usize, StructClass>>,
    /// The field values of each Struct met (a tuple held in `keep`), by object address.
    struct_values: RefCell<FxHashMap<usize, *mut ffi::PyObject>>,
    /// Dicts whose keys were found to be all exact strs, or not (see [`PyVal::dict_get`]):
    /// direct-mapped by address, each slot the dict's address with bit 0 set when its keys
    /// are; 0 when empty. (A dict cannot change or go during a walk, so an entry never
    /// goes stale; one overwritten is only checked again.)
    plain_dicts: RefCell<Vec<usize>>,
    /// Where a dict object holds the address of its key table, on the interpreter versions
    /// whose layout is known (see [`PyVal::prefetch_table`]).
    dict_table_offset: Option<usize>,
    /// Automatic garbage collection stays off while views exist (last: dropped last).
    _gc: GcPause,
}

/// Offset of `ma_keys` in `PyDictObject` on Python 3.11 to 3.14: after the object
/// header (16 bytes), `ma_used` and the watcher tag. Not part of the stable ABI, so it is
/// only used for prefetch hints, and only on those versions.
const DICT_TABLE_OFFSET: usize = 32;

/// Dicts with at most this many members are scanned for the key object itself before
/// their keys are known to be exact strs (see [`PyVal::dict_get`]).
const SCAN_LIMIT: ffi::Py_ssize_t = 8;

impl<'py> Ctx<'py> {
    /// The context of one walk. Python code may run here (msgspec is imported on first
    /// use), before any view exists; from here until the `Ctx` is dropped, none does.
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        let msgspec = MSGSPEC.get_or_try_init(py, || Msgspec::load(py))?;
        Ok(Ctx {
            py,
            keep: RefCell::new(Vec::new()),
            keys: RefCell::new(Vec::new()),
            msgspec,
            struct_type: msgspec.struct_type.as_ptr().cast(),
            unset: msgspec.unset.as_ptr(),
            classes: RefCell::default(),
            struct_values: RefCell::default(),
            plain_dicts: RefCell::new(Vec::new()),
            // SAFETY: reading a constant the interpreter exports.
            dict_table_offset: (0x030B_0000..0x030F_0000)
                .contains(&unsafe { ffi::Py_Version })
                .then_some(DICT_TABLE_OFFSET),
            _gc: GcPause::new(py),
        })
    }

    /// A view of `obj` for the length of the walk.
    pub(crate) fn view<'s>(&'s self, obj: &'s Bound<'py, PyAny>) -> PyVal<'s, 'py> {
        PyVal { ptr: nonnull(obj.as_ptr()), ctx: self }
    }

    /// An interned str for `name` (looked up by the `&'static str`'s address): dict
    /// lookups with it hash once and compare by identity. (Interning an exact str runs
    /// no Python code: the interned table's keys are all exact strs.)
    fn key(&self, name: &'static str) -> *mut ffi::PyObject {
        let mut keys = self.keys.borrow_mut();
        if let Some((_, key)) = keys.iter().find(|(n, _)| std::ptr::eq(*n, name)) {
            return key.as_ptr();
        }
        let key = PyString::intern(self.py, name);
        let ptr = key.as_ptr();
        keys.push((name, key));
        ptr
    }

    fn keep(&self, obj: Bound<'py, PyAny>) -> *mut ffi::PyObject {
        let ptr = obj.as_ptr();
        self.keep.borrow_mut().push(obj);
        ptr
    }

    /// The wire names and tag of the Struct class `ty`, read through msgspec's C
    /// descriptors (once per class and walk).
    fn struct_class(&self, ty: *mut ffi::PyTypeObject) -> PyResult<StructClass> {
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
    fn struct_values(&self, object: PyVal<'_, 'py>) -> PyResult<*mut ffi::PyObject> {
        if let Some(values) = self.struct_values.borrow().get(&object.identity()) {
            return Ok(*values);
        }
        // A C function (checked when loaded): it reads each slot and builds the tuple.
        let values = self.msgspec.astuple.bind(self.py).call1((object.bound(),))?;
        let values = self.keep(values.cast_into::<PyTuple>().map_err(PyErr::from)?.into_any());
        self.struct_values.borrow_mut().insert(object.identity(), values);
        Ok(values)
    }

    /// Slots of the `plain_dicts` cache.
    const PLAIN_SLOTS: usize = 256;

    fn plain_slot(dict: PyVal<'_, 'py>) -> usize {
        (dict.identity() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
            >> (usize::BITS - Self::PLAIN_SLOTS.trailing_zeros())
    }

    /// Whether the keys of `dict` are all exact strs, if known.
    fn known_plain(&self, dict: PyVal<'_, 'py>) -> Option<bool> {
        let entry = *self.plain_dicts.borrow().get(Self::plain_slot(dict))?;
        (entry & !1 == dict.identity()).then_some(entry & 1 == 1)
    }

    /// Remember whether the keys of `dict` are all exact strs.
    fn learn_plain(&self, dict: PyVal<'_, 'py>, plain: bool) {
        let mut cache = self.plain_dicts.borrow_mut();
        if cache.is_empty() {
            cache.resize(Self::PLAIN_SLOTS, 0);
        }
        cache[Self::plain_slot(dict)] = dict.identity() | usize::from(plain);
    }
}

/// The `surrogatepass` UTF-8 encoding (WTF-8) of a str (or subclass), made from the
/// string's own data: the object's `encode` is not called, and no Python code runs.
pub(crate) fn wtf8<'py>(text: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    if !text.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("expected a str"));
    }
    // SAFETY: `text` is a live str (or subclass) object and both names are NUL-terminated.
    // For the codec name "utf-8", PyUnicode_AsEncodedString encodes the string's own data
    // in C (`surrogatepass` is handled inline), without the codec registry or any method
    // of the object. The result is a new reference, or NULL with an exception set.
    let encoded = unsafe {
        Bound::from_owned_ptr_or_err(
            text.py(),
            ffi::PyUnicode_AsEncodedString(text.as_ptr(), c"utf-8".as_ptr(), c"surrogatepass".as_ptr()),
        )
    }?;
    Ok(encoded.cast_into::<PyBytes>()?)
}

fn nonnull(ptr: *mut ffi::PyObject) -> NonNull<ffi::PyObject> {
    // Callers pass pointers the C API returned non-null or that came from a `Bound`: the
    // fallback is never taken (and a view of it would never be read).
    NonNull::new(ptr).unwrap_or(NonNull::dangling())
}

/// A borrowed view of one Python value inside the tree being walked.
#[derive(Clone, Copy)]
pub(crate) struct PyVal<'s, 'py> {
    ptr: NonNull<ffi::PyObject>,
    ctx: &'s Ctx<'py>,
}

impl<'s, 'py> PyVal<'s, 'py> {
    /// A new (owned) reference to the object, to hand back to Python.
    pub(crate) fn to_object(self) -> Bound<'py, PyAny> {
        self.bound().to_owned()
    }

    fn child(self, ptr: *mut ffi::PyObject) -> Self {
        PyVal { ptr: nonnull(ptr), ctx: self.ctx }
    }

    fn bound(self) -> Borrowed<'s, 'py, PyAny> {
        // SAFETY: a view points at a live object for 's (module docs), and the GIL is
        // held (`ctx.py`).
        unsafe { Borrowed::from_ptr(self.ctx.py, self.ptr.as_ptr()) }
    }

    fn type_ptr(self) -> *mut ffi::PyTypeObject {
        // SAFETY: a view points at a live object, and a live object has a type.
        unsafe { ffi::Py_TYPE(self.ptr.as_ptr()) }
    }

    fn is_type(self, ty: *mut ffi::PyTypeObject) -> bool {
        self.type_ptr() == ty
    }

    fn is_struct(self) -> bool {
        // SAFETY: both are live type objects (msgspec.Struct is held by MSGSPEC);
        // PyType_IsSubtype only reads the MRO tuple, running no Python code.
        unsafe { ffi::PyType_IsSubtype(self.type_ptr(), self.ctx.struct_type) != 0 }
    }

    /// The string's UTF-8, borrowed from the str object (which caches it). The string's
    /// own data, for a subclass too: none of its methods is called.
    #[inline]
    fn js_str(self) -> Result<JsStr<'s>, CoreError> {
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: `ptr` is a live str (or subclass) object; PyUnicode_AsUTF8AndSize reads
        // its data (caching the UTF-8 in the object) and runs no Python code.
        let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(self.ptr.as_ptr(), &raw mut len) };
        if data.is_null() {
            return self.js_str_with_surrogates();
        }
        // SAFETY: CPython returns `len` valid bytes that live as long as the str object,
        // which lives for 's and, being immutable, never drops its UTF-8 cache.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
        Ok(JsStr::with_flag(bytes, false))
    }

    /// A string holding lone surrogates (no UTF-8 form): its `surrogatepass` encoding
    /// (WTF-8), kept alive for the walk.
    #[cold]
    fn js_str_with_surrogates(self) -> Result<JsStr<'s>, CoreError> {
        drop(PyErr::take(self.ctx.py));
        let encoded = wtf8(&self.bound())?;
        let (data, len) = (encoded.as_bytes().as_ptr(), encoded.as_bytes().len());
        self.ctx.keep(encoded.into_any());
        // SAFETY: the bytes object is kept alive in `ctx` for 's and is immutable.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        Ok(JsStr::wtf8(bytes))
    }

    /// `self[key]` for a dict and an exact str key, found without running Python code.
    ///
    /// `PyDict_GetItem` compares `key` with `==` to every stored key of the same hash;
    /// for a stored key that is not an exact str (a str subclass defining `__eq__`, any
    /// object whose hash collides) that is Python code. So it is used only on a dict whose
    /// keys are all exact strs, which is found by scanning the keys once per walk (a small
    /// dict is scanned for `key` itself at the same time: the key objects of a parsed
    /// schema are shared, and the lookup often ends there). Any other dict is searched by
    /// comparing code points ([`PyVal::dict_scan`]).
    fn dict_get(self, key: *mut ffi::PyObject) -> Result<Option<Self>, CoreError> {
        let plain = if let Some(plain) = self.ctx.known_plain(self) {
            plain
        } else {
            // SAFETY: `self` is a live dict (or subclass); PyDict_Size reads its count.
            let small = unsafe { ffi::PyDict_Size(self.ptr.as_ptr()) } <= SCAN_LIMIT;
            let (mut pos, mut plain) = (0, true);
            while let Some((member, value)) = self.dict_next(&mut pos) {
                if small && member.ptr.as_ptr() == key {
                    return Ok(Some(value));
                }
                plain &= member.is_type(&raw mut ffi::PyUnicode_Type);
                if !plain && !small {
                    break;
                }
            }
            self.ctx.learn_plain(self, plain);
            plain
        };
        if !plain {
            return self.dict_scan(key);
        }
        // SAFETY: `self` is a live dict whose keys are all exact strs (checked above, and
        // no Python code runs during a walk to add another), and `key` is a live exact
        // str: hashing it and comparing it with those keys is C (`unicode_eq`). The result
        // is a borrowed reference, alive as long as the dict holds it.
        let value = unsafe { ffi::PyDict_GetItemWithError(self.ptr.as_ptr(), key) };
        if value.is_null() {
            return match PyErr::take(self.ctx.py) {
                Some(err) => Err(err.into()),
                None => Ok(None),
            };
        }
        Ok(Some(self.child(value)))
    }

    /// [`PyVal::dict_get`] by comparing code points: the member whose key is `key`
    /// itself, else an exact str with its code points, else a str subclass with its code
    /// points (where `PyDict_GetItem` would find it too, short of a subclass redefining
    /// `__eq__` or `__hash__`, which is not called). Other keys never match.
    fn dict_scan(self, key: *mut ffi::PyObject) -> Result<Option<Self>, CoreError> {
        let mut pos = 0;
        let mut loose = None;
        while let Some((member, value)) = self.dict_next(&mut pos) {
            if member.ptr.as_ptr() == key {
                return Ok(Some(value));
            }
            let exact = member.is_type(&raw mut ffi::PyUnicode_Type);
            if (exact || (loose.is_none() && member.is_str())) && member.same_code_points(key)? {
                if exact {
                    return Ok(Some(value));
                }
                loose = Some(value);
            }
        }
        Ok(loose)
    }

    /// Whether the str `self` and the str `other` hold the same code points (compared in
    /// C, without calling `__eq__`).
    fn same_code_points(self, other: *mut ffi::PyObject) -> Result<bool, CoreError> {
        // SAFETY: two live str objects (exact or subclasses); PyUnicode_Compare compares
        // their data and runs no Python code.
        let order = unsafe { ffi::PyUnicode_Compare(self.ptr.as_ptr(), other) };
        // SAFETY: reads the thread's error indicator (the GIL is held).
        if order == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
            return Err(PyErr::fetch(self.ctx.py).into());
        }
        Ok(order == 0)
    }

    fn is_str(self) -> bool {
        // SAFETY: a live object; PyUnicode_Check reads its type's flags.
        self.is_type(&raw mut ffi::PyUnicode_Type) || unsafe { ffi::PyUnicode_Check(self.ptr.as_ptr()) != 0 }
    }

    #[inline]
    fn int(self) -> Result<Read<'s, Self>, CoreError> {
        let mut overflow = 0;
        // SAFETY: a live int (or subclass) object: PyLong_AsLongLongAndOverflow reads its
        // digits directly (only a non-int would go through `__index__`).
        let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(self.ptr.as_ptr(), &raw mut overflow) };
        if overflow == 0 {
            if value == -1
                && let Some(err) = PyErr::take(self.ctx.py)
            {
                return Err(err.into());
            }
            return Ok(Read::Int(value));
        }
        // Beyond i64: the nearest double, as JSON.parse would have produced; beyond the
        // double range, Infinity with the integer's sign.
        // SAFETY: a live int (or subclass) object, read directly as above; an overflow
        // sets an exception (allocated with the collector paused), taken below.
        let value = unsafe { ffi::PyLong_AsDouble(self.ptr.as_ptr()) };
        #[allow(clippy::float_cmp)] // -1.0 is the C API's error sentinel
        if value == -1.0 && PyErr::take(self.ctx.py).is_some() {
            return Ok(Read::Float(if overflow < 0 { f64::NEG_INFINITY } else { f64::INFINITY }));
        }
        Ok(Read::Float(value))
    }

    fn float(self) -> Read<'s, Self> {
        // SAFETY: a live float (or subclass) object: PyFloat_AsDouble reads its value
        // directly (only a non-float would go through `__float__`) and cannot fail.
        Read::Float(unsafe { ffi::PyFloat_AsDouble(self.ptr.as_ptr()) })
    }

    /// JSON equality of two members of dicts or lists being compared: the commonest
    /// pairs (equal strs, numbers) in place, containers and the rest out of line.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn equal<C: Compare<'s, Self>>(self, other: Self, depth: usize, with: &mut C) -> Result<bool, CoreError> {
        let ty = self.type_ptr();
        if self.ptr != other.ptr && ty == other.type_ptr() {
            let decided = if ty == &raw mut ffi::PyUnicode_Type {
                self.strs_equal(other)
            } else if ty == &raw mut ffi::PyDict_Type || ty == &raw mut ffi::PyList_Type {
                return self.containers_equal(other, depth, with, &mut ());
            } else if ty == &raw mut ffi::PyLong_Type {
                self.ints_equal(other)
            } else if ty == &raw mut ffi::PyFloat_Type {
                self.floats_equal(other)
            } else {
                None
            };
            if let Some(equal) = decided {
                return Ok(equal);
            }
        }
        self.equal_otherwise(other, depth, with)
    }

    /// [`PyVal::equal`] for two dicts or two lists.
    #[inline(never)]
    fn containers_equal<C: Compare<'s, Self>, W: Watch<Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut C,
        watch: &mut W,
    ) -> Result<bool, CoreError> {
        if depth > MAX_DEPTH {
            return Err(CoreError::too_deep());
        }
        if self.is_type(&raw mut ffi::PyDict_Type) {
            self.dicts_equal(other, depth, with, watch)
        } else {
            self.lists_equal(other, depth, with)
        }
    }

    /// [`PyVal::equal`] for every other pair: [`Source::fast_equal`], else the generic
    /// comparison.
    #[inline(never)]
    fn equal_otherwise<C: Compare<'s, Self>>(self, other: Self, depth: usize, with: &mut C) -> Result<bool, CoreError> {
        match self.fast_equal(other, depth, with, &mut ())? {
            Some(equal) => Ok(equal),
            None => with.compare_generic(self, other, depth),
        }
    }

    /// Two exact strs: equal if their code points are; `None` otherwise, since two
    /// different code point sequences may still be equal UTF-16 (a surrogate pair held
    /// as two code points).
    #[inline]
    fn strs_equal(self, other: Self) -> Option<bool> {
        // SAFETY: two live exact strs; PyUnicode_Compare compares their data in C.
        let order = unsafe { ffi::PyUnicode_Compare(self.ptr.as_ptr(), other.ptr.as_ptr()) };
        if order == -1 {
            // -1 is also the error return (a legacy string that cannot be readied).
            drop(PyErr::take(self.ctx.py));
        }
        (order == 0).then_some(true)
    }

    /// Two exact ints, equal as doubles; `None` for one beyond `i64`, or -1 (the C
    /// API's error sentinel, which the generic comparison checks).
    #[inline]
    fn ints_equal(self, other: Self) -> Option<bool> {
        let value = |int: Self| {
            let mut overflow = 0;
            // SAFETY: a live exact int, read directly (no `__index__`).
            let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(int.ptr.as_ptr(), &raw mut overflow) };
            (overflow == 0 && value != -1).then_some(value)
        };
        #[allow(clippy::float_cmp)] // JSON numbers compare as doubles
        Some(value(self)? as f64 == value(other)? as f64)
    }

    /// Two exact floats; `None` unless both are finite (a non-finite number is `null`,
    /// which the generic comparison knows).
    #[inline]
    fn floats_equal(self, other: Self) -> Option<bool> {
        // SAFETY: two live exact floats, read directly; cannot fail.
        let (x, y) = unsafe { (ffi::PyFloat_AsDouble(self.ptr.as_ptr()), ffi::PyFloat_AsDouble(other.ptr.as_ptr())) };
        #[allow(clippy::float_cmp)]
        (x.is_finite() && y.is_finite()).then_some(x == y)
    }

    /// JSON equality of two dicts (at `depth`), as `Comparer::compare_objects`: walked in
    /// step while their keys agree, by lookup after that, and every value scanned. The
    /// sizes, asked for once, spare a last `PyDict_Next` on each side; each value is
    /// prefetched as soon as it is known, so that its cache miss overlaps the other
    /// side's.
    fn dicts_equal<C: Compare<'s, Self>, W: Watch<Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut C,
        watch: &mut W,
    ) -> Result<bool, CoreError> {
        let (mut x_pos, mut y_pos): (ffi::Py_ssize_t, ffi::Py_ssize_t) = (0, 0);
        // Both key tables load at once, instead of each on its first PyDict_Next.
        self.prefetch_table();
        other.prefetch_table();
        // SAFETY: two live exact dicts; PyDict_Size reads their counts.
        let (x_len, y_len) = unsafe { (ffi::PyDict_Size(self.ptr.as_ptr()), ffi::PyDict_Size(other.ptr.as_ptr())) };
        let (mut equal, mut in_step) = (true, true);
        let mut matched = 0;
        for _ in 0..x_len {
            let Some((key, value)) = self.dict_next(&mut x_pos) else {
                break;
            };
            value.prefetch();
            let mut found = None;
            if in_step {
                if let Some((other_key, other_value)) = other.dict_next(&mut y_pos) {
                    other_value.prefetch();
                    // A pair of keys met before needs no reading: the key objects
                    // themselves are not even loaded.
                    if with.keys_known(key, other_key) || {
                        key.check_key()?;
                        other_key.check_key()?;
                        with.key_eq(key, other_key)?
                    } {
                        watch.see(1, other_key.identity(), other_value);
                        found = Some(other_value);
                    }
                }
                in_step = found.is_some();
            }
            if !in_step {
                key.check_key()?;
                found = with.member(PyObject::Dict(other), key)?;
            }
            watch.see(0, key.identity(), value);
            if let Some(found) = found {
                matched += 1;
                equal &= value.equal(found, depth + 1, with)?;
            } else {
                equal = false;
                with.scan(value, depth + 1)?;
            }
        }
        if in_step && x_len == y_len {
            // Every key of `self` met its twin in place, and `other` has no more.
            return Ok(equal);
        }
        equal &= x_len == y_len;
        if matched < y_len {
            PyObject::Dict(other).for_each_keyed(|key, item| {
                if with.member(PyObject::Dict(self), key)?.is_none() {
                    with.scan(item, depth + 1)?;
                }
                Ok(())
            })?;
        }
        Ok(equal)
    }

    /// A hint that an exact dict's key table (where its members live) will be read soon,
    /// so that the table loads while other work goes on. Python's own `==` gets the same
    /// overlap for free from its reference counting writes; the walk has to ask for it.
    /// A no-op where the dict layout is not known.
    #[inline]
    fn prefetch_table(self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(offset) = self.ctx.dict_table_offset {
            // SAFETY: `self` is a live exact dict on an interpreter version whose
            // `PyDictObject` holds an aligned pointer at `offset` (inside the object), so
            // the read is of initialized memory; the pointer read is only used as a
            // prefetch hint, which never faults.
            unsafe {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                let table = self.ptr.as_ptr().byte_add(offset).cast::<*const i8>().read();
                _mm_prefetch::<_MM_HINT_T0>(table);
            }
        }
    }

    /// The member of a dict after position `pos` (0, or a position this returned), as
    /// (key, value) views.
    #[inline]
    fn dict_next(self, pos: &mut ffi::Py_ssize_t) -> Option<(Self, Self)> {
        let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: a live dict (or subclass) and a position PyDict_Next returned (or 0).
        // PyDict_Next reads the dict's table directly (no `__iter__`, no hashing); the
        // results are borrowed references, alive while the dict holds them, which is for
        // the walk: no Python code runs to change the dict.
        let more = unsafe { ffi::PyDict_Next(self.ptr.as_ptr(), pos, &raw mut key, &raw mut value) };
        (more != 0).then(|| (self.child(key), self.child(value)))
    }

    /// Raise unless the value is a str: a dict key the walk met.
    #[inline]
    fn check_key(self) -> Result<(), CoreError> {
        if self.is_str() { Ok(()) } else { Err(non_str_key(self)) }
    }

    /// JSON equality of two lists (at `depth`), as `Comparer::compare_arrays`.
    fn lists_equal<C: Compare<'s, Self>>(self, other: Self, depth: usize, with: &mut C) -> Result<bool, CoreError> {
        let item = |list: Self, i: ffi::Py_ssize_t| {
            // SAFETY: a live list; PyList_GetItem bounds-checks the index (NULL and
            // IndexError past the end) and returns a borrowed reference, alive while the
            // list holds it: no Python code runs during a walk to change the list.
            let item = unsafe { ffi::PyList_GetItem(list.ptr.as_ptr(), i) };
            if item.is_null() {
                return Err(CoreError::from(PyErr::fetch(list.ctx.py)));
            }
            Ok(list.child(item))
        };
        // SAFETY: two live exact lists; PyList_Size reads their lengths.
        let (x_len, y_len) = unsafe { (ffi::PyList_Size(self.ptr.as_ptr()), ffi::PyList_Size(other.ptr.as_ptr())) };
        let mut equal = x_len == y_len;
        let common = x_len.min(y_len);
        for i in 0..common {
            equal &= item(self, i)?.equal(item(other, i)?, depth + 1, with)?;
        }
        for (list, len) in [(self, x_len), (other, y_len)] {
            for i in common..len {
                with.scan(item(list, i)?, depth + 1)?;
            }
        }
        Ok(equal)
    }

    fn list(self, tuple: bool) -> Read<'s, Self> {
        Read::Array(if tuple { PyArray::Tuple(self) } else { PyArray::List(self) })
    }

    fn dict(self) -> Read<'s, Self> {
        Read::Object(PyObject::Dict(self))
    }

    /// Subclasses of the builtins, tuples, Structs; anything else is not JSON.
    #[cold]
    fn read_other(self) -> Result<Read<'s, Self>, CoreError> {
        let ptr = self.ptr.as_ptr();
        if self.is_str() {
            return Ok(Read::Str(self.js_str()?));
        }
        // SAFETY: `ptr` is a live object; the check reads its type's flags.
        if unsafe { ffi::PyLong_Check(ptr) } != 0 {
            return self.int();
        }
        // SAFETY: as above (PyFloat_Check reads the type and its MRO, no `__instancecheck__`).
        if unsafe { ffi::PyFloat_Check(ptr) } != 0 {
            return Ok(self.float());
        }
        // SAFETY: as above (type flags).
        if unsafe { ffi::PyDict_Check(ptr) } != 0 {
            return Ok(self.dict());
        }
        // SAFETY: as above (type flags).
        if unsafe { ffi::PyList_Check(ptr) } != 0 {
            return Ok(self.list(false));
        }
        // SAFETY: as above (type flags).
        if unsafe { ffi::PyTuple_Check(ptr) } != 0 {
            return Ok(self.list(true));
        }
        if self.is_struct() {
            return Ok(Read::Object(PyObject::Struct(self)));
        }
        Err(ErrorKind::Unsupported { type_name: self.type_name(), path: Path::default() }.into())
    }
}

impl<'s, 'py: 's> Source<'s> for PyVal<'s, 'py> {
    type Array = PyArray<'s, 'py>;
    type Object = PyObject<'s, 'py>;

    // Inlined into the walkers: returned through memory, the `Read` was copied in wider
    // pieces than it was written, which stalls store forwarding on every value.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read(self) -> Result<Read<'s, Self>, CoreError> {
        // Exact builtin types first, by type pointer: they are nearly all of a schema.
        let ty = self.type_ptr();
        if ty == &raw mut ffi::PyUnicode_Type {
            return Ok(Read::Str(self.js_str()?));
        }
        if ty == &raw mut ffi::PyDict_Type {
            return Ok(self.dict());
        }
        if ty == &raw mut ffi::PyLong_Type {
            return self.int();
        }
        if ty == &raw mut ffi::PyList_Type {
            return Ok(self.list(false));
        }
        if ty == &raw mut ffi::PyFloat_Type {
            return Ok(self.float());
        }
        // SAFETY: reading the address of the None singleton.
        if self.ptr.as_ptr() == unsafe { ffi::Py_None() } {
            return Ok(Read::Null);
        }
        if ty == &raw mut ffi::PyBool_Type {
            // SAFETY: reading the address of the True singleton.
            return Ok(Read::Bool(self.ptr.as_ptr() == unsafe { ffi::Py_True() }));
        }
        self.read_other()
    }

    fn get(self, key: &'static str) -> Result<Option<Self>, CoreError> {
        // SAFETY: a live object; the check reads its type's flags.
        if unsafe { ffi::PyDict_Check(self.ptr.as_ptr()) } != 0 {
            return self.dict_get(self.ctx.key(key));
        }
        if self.is_struct() {
            return StructEntries::new(self)?.get(key.as_bytes());
        }
        Ok(None)
    }

    fn type_name(self) -> String {
        super::type_name(&self.bound())
    }

    #[inline]
    fn is_dict(self) -> bool {
        // An exact dict (nearly every object of a schema) without a call for its flags.
        // SAFETY: a live object; the check reads its type's flags.
        self.is_type(&raw mut ffi::PyDict_Type) || unsafe { ffi::PyDict_Check(self.ptr.as_ptr()) != 0 }
    }

    fn identity(self) -> usize {
        self.ptr.as_ptr() as usize
    }

    #[inline]
    fn prefetch(self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it never faults, whatever the address, and
        // changes nothing the program can observe.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.ptr.as_ptr().cast::<i8>().cast_const());
        }
    }

    #[inline]
    fn is_scalar(self) -> bool {
        let ty = self.type_ptr();
        ty == &raw mut ffi::PyUnicode_Type
            || ty == &raw mut ffi::PyLong_Type
            || ty == &raw mut ffi::PyFloat_Type
            || ty == &raw mut ffi::PyBool_Type
            // SAFETY: reading the address of the None singleton.
            || self.ptr.as_ptr() == unsafe { ffi::Py_None() }
    }

    #[inline]
    fn scalar_equal(self, other: Self) -> bool {
        if self.ptr == other.ptr {
            return self.is_scalar();
        }
        let ty = self.type_ptr();
        if ty != other.type_ptr() {
            return false;
        }
        let equal = if ty == &raw mut ffi::PyUnicode_Type {
            self.strs_equal(other)
        } else if ty == &raw mut ffi::PyLong_Type {
            self.ints_equal(other)
        } else if ty == &raw mut ffi::PyFloat_Type {
            self.floats_equal(other)
        } else {
            None
        };
        equal == Some(true)
    }

    /// For two values of one exact builtin type: the pairs that make up nearly all of
    /// two schemas, compared without building a [`Read`] for either. `None` (nothing
    /// done) for anything else, and for what only the generic comparison knows (see the
    /// `*_equal` helpers).
    #[inline]
    fn fast_equal<C: Compare<'s, Self>, W: Watch<Self>>(
        self,
        other: Self,
        depth: usize,
        with: &mut C,
        watch: &mut W,
    ) -> Result<Option<bool>, CoreError> {
        if self.ptr == other.ptr {
            // A shared leaf; a shared container still needs its contents scanned.
            return Ok(self.is_scalar().then_some(true));
        }
        let ty = self.type_ptr();
        if ty != other.type_ptr() {
            return Ok(None);
        }
        if ty == &raw mut ffi::PyDict_Type || ty == &raw mut ffi::PyList_Type {
            return self.containers_equal(other, depth, with, watch).map(Some);
        }
        Ok(if ty == &raw mut ffi::PyUnicode_Type {
            self.strs_equal(other)
        } else if ty == &raw mut ffi::PyLong_Type {
            self.ints_equal(other)
        } else if ty == &raw mut ffi::PyFloat_Type {
            self.floats_equal(other)
        } else if ty == &raw mut ffi::PyBool_Type {
            Some(false) // two distinct bools: `true` and `false`
        } else {
            None
        })
    }

    fn shape(self) -> Result<Read<'s, Self>, CoreError> {
        let ty = self.type_ptr();
        if ty == &raw mut ffi::PyDict_Type {
            return Ok(self.dict());
        }
        if ty == &raw mut ffi::PyList_Type {
            return Ok(self.list(false));
        }
        if self.is_scalar() {
            return Ok(Read::Null);
        }
        self.read_other()
    }
}

/// A list or tuple. (`repr(usize)`: a word-sized tag keeps copies of these handles
/// whole-word, which avoids store-forwarding stalls on the hot path.)
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum PyArray<'s, 'py> {
    List(PyVal<'s, 'py>),
    Tuple(PyVal<'s, 'py>),
}

impl<'s, 'py: 's> Array<'s, PyVal<'s, 'py>> for PyArray<'s, 'py> {
    fn len(self) -> usize {
        // SAFETY: a live list/tuple (or subclass); the size functions read its length.
        let len = unsafe {
            match self {
                PyArray::List(seq) => ffi::PyList_Size(seq.ptr.as_ptr()),
                PyArray::Tuple(seq) => ffi::PyTuple_Size(seq.ptr.as_ptr()),
            }
        };
        usize::try_from(len).unwrap_or(0)
    }

    fn get(self, index: usize) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
        let (PyArray::List(seq) | PyArray::Tuple(seq)) = self;
        let Ok(index) = ffi::Py_ssize_t::try_from(index) else {
            return Ok(None);
        };
        // SAFETY: a live list/tuple (or subclass); the call bounds-checks (NULL and
        // IndexError past the end) and reads the item directly (no `__getitem__`); the
        // result is borrowed, alive while the container holds it (for the walk: no Python
        // code runs to change it).
        let item = unsafe {
            match self {
                PyArray::List(_) => ffi::PyList_GetItem(seq.ptr.as_ptr(), index),
                PyArray::Tuple(_) => ffi::PyTuple_GetItem(seq.ptr.as_ptr(), index),
            }
        };
        if item.is_null() {
            drop(PyErr::take(seq.ctx.py));
            return Ok(None);
        }
        Ok(Some(seq.child(item)))
    }

    fn for_each(self, mut f: impl FnMut(usize, PyVal<'s, 'py>) -> Result<(), CoreError>) -> Result<(), CoreError> {
        let (seq, get): (
            PyVal<'s, 'py>,
            unsafe extern "C" fn(*mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject,
        ) = match self {
            PyArray::List(seq) => (seq, ffi::PyList_GetItem),
            PyArray::Tuple(seq) => (seq, ffi::PyTuple_GetItem),
        };
        for i in 0..self.len() {
            // SAFETY: a live list/tuple (or subclass); the call bounds-checks the index
            // (NULL past the end, handled below) and reads the item directly; the result
            // is borrowed, alive while the container holds it (for the walk: no Python
            // code runs to change it).
            let item = unsafe { get(seq.ptr.as_ptr(), i as ffi::Py_ssize_t) };
            if item.is_null() {
                return Err(PyErr::fetch(seq.ctx.py).into());
            }
            f(i, seq.child(item))?;
        }
        Ok(())
    }
}

/// A dict, or a msgspec Struct seen as an object (word-sized tag, as `PyArray`).
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum PyObject<'s, 'py> {
    Dict(PyVal<'s, 'py>),
    Struct(PyVal<'s, 'py>),
}

impl<'s, 'py: 's> Object<'s, PyVal<'s, 'py>> for PyObject<'s, 'py> {
    type Key = PyVal<'s, 'py>;

    fn len(self) -> usize {
        match self {
            // SAFETY: a live dict (or subclass); PyDict_Size reads its count.
            PyObject::Dict(dict) => usize::try_from(unsafe { ffi::PyDict_Size(dict.ptr.as_ptr()) }).unwrap_or(0),
            PyObject::Struct(_) => {
                let mut count = 0;
                // A Struct with an unreadable field has no length; for_each reports the error.
                let _ = self.for_each(|_, _| {
                    count += 1;
                    Ok(())
                });
                count
            }
        }
    }

    fn for_each(self, mut f: impl FnMut(JsStr<'s>, PyVal<'s, 'py>) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.for_each_keyed(|key, value| f(key.js_str()?, value))
    }

    fn key_str(key: PyVal<'s, 'py>) -> Result<JsStr<'s>, CoreError> {
        key.js_str()
    }

    fn key_identity(key: PyVal<'s, 'py>) -> usize {
        key.ptr.as_ptr() as usize
    }

    fn lookup(self, key: PyVal<'s, 'py>) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
        match self {
            // Only an exact str key is looked up: a subclass's `__hash__` could be Python
            // code (and `dict_get` may hash its key). Callers fall back to comparing keys
            // as strings.
            PyObject::Dict(_) if !key.is_type(&raw mut ffi::PyUnicode_Type) => Ok(None),
            PyObject::Dict(dict) => dict.dict_get(key.ptr.as_ptr()),
            PyObject::Struct(object) => {
                let wanted = key.js_str()?;
                StructEntries::new(object)?.get(wanted.as_bytes())
            }
        }
    }

    #[inline]
    fn next_member(self, cursor: &mut usize) -> Result<Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)>, CoreError> {
        match self {
            PyObject::Dict(dict) => {
                let mut pos = *cursor as ffi::Py_ssize_t;
                let next = dict.dict_next(&mut pos);
                *cursor = pos as usize;
                let Some((key, value)) = next else {
                    return Ok(None);
                };
                key.check_key()?;
                Ok(Some((key, value)))
            }
            PyObject::Struct(object) => struct_member(object, cursor),
        }
    }

    #[inline]
    fn key_plain(key: PyVal<'s, 'py>) -> bool {
        key.is_type(&raw mut ffi::PyUnicode_Type)
    }

    fn key_eq(a: PyVal<'s, 'py>, b: PyVal<'s, 'py>) -> Result<bool, CoreError> {
        if a.ptr == b.ptr {
            return Ok(true);
        }
        Ok(a.js_str()?.js_eq(&b.js_str()?))
    }

    #[inline]
    fn for_each_keyed(
        self,
        mut f: impl FnMut(PyVal<'s, 'py>, PyVal<'s, 'py>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        match self {
            PyObject::Dict(dict) => {
                let mut pos: ffi::Py_ssize_t = 0;
                while let Some((key, value)) = dict.dict_next(&mut pos) {
                    key.check_key()?;
                    f(key, value)?;
                }
                Ok(())
            }
            PyObject::Struct(object) => struct_for_each(object, &mut f),
        }
    }
}

#[cold]
fn non_str_key(key: PyVal<'_, '_>) -> CoreError {
    ErrorKind::NonStrKey { type_name: key.type_name(), path: Path::default() }.into()
}

/// `next_member` of a msgspec Struct.
#[inline(never)]
fn struct_member<'s, 'py>(
    object: PyVal<'s, 'py>,
    cursor: &mut usize,
) -> Result<Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)>, CoreError> {
    Ok(StructEntries::new(object)?.next_member(cursor))
}

/// `for_each_keyed` of a msgspec Struct.
#[inline(never)]
fn struct_for_each<'s, 'py>(
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
    fn new(object: PyVal<'s, 'py>) -> PyResult<Self> {
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
    fn next_member(&self, cursor: &mut usize) -> Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)> {
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
    fn get(&self, wire: &[u8]) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
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
