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
//! Every `unsafe` block below (and in `comparator` and `structs`) states which of these
//! it relies on.
//!
//! The views are here; `comparator` holds their fast JSON equality (the delta's
//! comparator for Python), `structs` how a msgspec Struct is read.
#![allow(unsafe_code)]

mod comparator;
mod structs;

pub(crate) use comparator::PyComparator;

use std::cell::RefCell;
use std::ptr::NonNull;

use pyo3::Borrowed;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use rustc_hash::FxHashMap;

use super::build::GcPause;
use crate::error::{CoreError, ErrorKind, Path};
use crate::value::{Array, JsStr, Object, Read, Source};
use structs::{MSGSPEC, Msgspec, StructClass, StructEntries, struct_for_each, struct_member};

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
