//! Python objects as a JSON [`Source`]: borrowed views, walked in place.
//!
//! This is the hot path of serialization and checksums, so it talks to the C API
//! directly: exact-type dispatch by type pointer, borrowed references (no reference
//! counting per value), UTF-8 read straight from the string object.
//!
//! Safety argument for every borrowed view: a view points at the root object (borrowed
//! from the caller for `'s`), at an item of a container that is itself alive, or at an
//! object kept alive in [`Ctx::keep`] until the walk ends. Containers are not mutated
//! during a walk: the walk holds the GIL and never runs Python code (no `__eq__`,
//! `__hash__`, `__iter__` or property is called; Struct fields are read from their
//! slots).
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ptr::NonNull;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyType};
use pyo3::{Borrowed, intern};

use crate::error::{CoreError, ErrorKind, MAX_DEPTH, Path};
use crate::value::{Array, Compare, JsStr, Object, Read, Source, Watch};

/// `msgspec.Struct` and `msgspec.UNSET`, looked up once.
struct Msgspec {
    struct_type: Py<PyType>,
    unset: Py<PyAny>,
}

static MSGSPEC: PyOnceLock<Msgspec> = PyOnceLock::new();

/// State shared by the views of one walk.
pub(crate) struct Ctx<'py> {
    py: Python<'py>,
    /// New references the walk made (Struct fields and tags, looked-up members, encoded
    /// strings): held here so views into them stay valid until the walk ends.
    keep: RefCell<Vec<Bound<'py, PyAny>>>,
    /// Interned member names used by `get`.
    keys: RefCell<Vec<(&'static str, Bound<'py, PyString>)>>,
    struct_type: *mut ffi::PyTypeObject,
    unset: *mut ffi::PyObject,
    /// Where a dict object holds the address of its key table, on the interpreter versions
    /// whose layout is known (see [`PyVal::prefetch_table`]).
    dict_table_offset: Option<usize>,
}

/// Offset of `ma_keys` in `PyDictObject` on Python 3.11 to 3.14: after the object
/// header (16 bytes), `ma_used` and the watcher tag. Not part of the stable ABI, so it is
/// only used for prefetch hints, and only on those versions.
const DICT_TABLE_OFFSET: usize = 32;

impl<'py> Ctx<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        let msgspec = MSGSPEC.get_or_try_init(py, || {
            let module = py.import("msgspec")?;
            PyResult::Ok(Msgspec {
                struct_type: module.getattr("Struct")?.cast_into::<PyType>()?.unbind(),
                unset: module.getattr("UNSET")?.unbind(),
            })
        })?;
        Ok(Ctx {
            py,
            keep: RefCell::new(Vec::new()),
            keys: RefCell::new(Vec::new()),
            struct_type: msgspec.struct_type.as_ptr().cast(),
            unset: msgspec.unset.as_ptr(),
            // SAFETY: reading a constant the interpreter exports.
            dict_table_offset: (0x030B_0000..0x030F_0000)
                .contains(&unsafe { ffi::Py_Version })
                .then_some(DICT_TABLE_OFFSET),
        })
    }

    /// A view of `obj` for the length of the walk.
    pub(crate) fn view<'s>(&'s self, obj: &'s Bound<'py, PyAny>) -> PyVal<'s, 'py> {
        PyVal { ptr: nonnull(obj.as_ptr()), ctx: self }
    }

    /// An interned str for `name` (looked up by the `&'static str`'s address): dict
    /// lookups with it hash once and compare by identity.
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
}

fn nonnull(ptr: *mut ffi::PyObject) -> NonNull<ffi::PyObject> {
    // Callers pass pointers the C API returned non-null or that came from a `Bound`.
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
        // SAFETY: the view is alive for 's (module-level argument).
        unsafe { Borrowed::from_ptr(self.ctx.py, self.ptr.as_ptr()) }
    }

    fn type_ptr(self) -> *mut ffi::PyTypeObject {
        // SAFETY: a live object always has a type.
        unsafe { ffi::Py_TYPE(self.ptr.as_ptr()) }
    }

    fn is_type(self, ty: *mut ffi::PyTypeObject) -> bool {
        self.type_ptr() == ty
    }

    fn is_struct(self) -> bool {
        // SAFETY: both are live type objects; PyType_IsSubtype only reads the MRO.
        unsafe { ffi::PyType_IsSubtype(self.type_ptr(), self.ctx.struct_type) != 0 }
    }

    /// The string's UTF-8, borrowed from the str object (which caches it).
    #[inline]
    fn js_str(self) -> Result<JsStr<'s>, CoreError> {
        let mut len: ffi::Py_ssize_t = 0;
        // SAFETY: `ptr` is a live str (or subclass) object.
        let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(self.ptr.as_ptr(), &raw mut len) };
        if data.is_null() {
            return self.js_str_with_surrogates();
        }
        // SAFETY: CPython returns `len` valid bytes that live as long as the str object,
        // which lives for 's.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize) };
        Ok(JsStr::with_flag(bytes, false))
    }

    /// A string holding lone surrogates (no UTF-8 form): its `surrogatepass` encoding
    /// (WTF-8), kept alive for the walk.
    #[cold]
    fn js_str_with_surrogates(self) -> Result<JsStr<'s>, CoreError> {
        drop(PyErr::take(self.ctx.py));
        let encoded = self.bound().call_method1(intern!(self.ctx.py, "encode"), ("utf-8", "surrogatepass"))?;
        let encoded = encoded.cast_into::<PyBytes>().map_err(PyErr::from)?;
        let (data, len) = (encoded.as_bytes().as_ptr(), encoded.as_bytes().len());
        self.ctx.keep(encoded.into_any());
        // SAFETY: the bytes object is kept alive in `ctx` for 's and is immutable.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        Ok(JsStr::wtf8(bytes))
    }

    /// `self[key]` for a dict and an exact str key (whose hash and equality are C code).
    fn dict_get(self, key: *mut ffi::PyObject) -> Result<Option<Self>, CoreError> {
        // SAFETY: `self` is a live dict and `key` a live exact str; the result is borrowed.
        let value = unsafe { ffi::PyDict_GetItemWithError(self.ptr.as_ptr(), key) };
        if value.is_null() {
            return match PyErr::take(self.ctx.py) {
                Some(err) => Err(err.into()),
                None => Ok(None),
            };
        }
        Ok(Some(self.child(value)))
    }

    fn is_str(self) -> bool {
        // SAFETY: a live object.
        self.is_type(&raw mut ffi::PyUnicode_Type) || unsafe { ffi::PyUnicode_Check(self.ptr.as_ptr()) != 0 }
    }

    #[inline]
    fn int(self) -> Result<Read<'s, Self>, CoreError> {
        let mut overflow = 0;
        // SAFETY: a live int (or subclass) object.
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
        // SAFETY: as above.
        let value = unsafe { ffi::PyLong_AsDouble(self.ptr.as_ptr()) };
        #[allow(clippy::float_cmp)] // -1.0 is the C API's error sentinel
        if value == -1.0 && PyErr::take(self.ctx.py).is_some() {
            return Ok(Read::Float(if overflow < 0 { f64::NEG_INFINITY } else { f64::INFINITY }));
        }
        Ok(Read::Float(value))
    }

    fn float(self) -> Read<'s, Self> {
        // SAFETY: a live float (or subclass) object; cannot fail.
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
        // SAFETY: two live exact strs; comparing them runs no Python code.
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
            // SAFETY: a live exact int.
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
        // SAFETY: two live exact floats; cannot fail.
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
        // SAFETY: two live dicts.
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
        // SAFETY: a live dict and a position PyDict_Next returned (or 0); the results are
        // borrowed references.
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
            // SAFETY: a live list and an index below its length (containers are not
            // mutated during a walk); the result is a borrowed reference.
            let item = unsafe { ffi::PyList_GetItem(list.ptr.as_ptr(), i) };
            if item.is_null() {
                return Err(CoreError::from(PyErr::fetch(list.ctx.py)));
            }
            Ok(list.child(item))
        };
        // SAFETY: two live lists.
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
        // SAFETY (all checks): `ptr` is a live object; the *_Check functions read flags.
        if self.is_str() {
            return Ok(Read::Str(self.js_str()?));
        }
        if unsafe { ffi::PyLong_Check(ptr) } != 0 {
            return self.int();
        }
        if unsafe { ffi::PyFloat_Check(ptr) } != 0 {
            return Ok(self.float());
        }
        if unsafe { ffi::PyDict_Check(ptr) } != 0 {
            return Ok(self.dict());
        }
        if unsafe { ffi::PyList_Check(ptr) } != 0 {
            return Ok(self.list(false));
        }
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
        // SAFETY: reading the addresses of the None/True singletons.
        if self.ptr.as_ptr() == unsafe { ffi::Py_None() } {
            return Ok(Read::Null);
        }
        if ty == &raw mut ffi::PyBool_Type {
            // SAFETY: as above.
            return Ok(Read::Bool(self.ptr.as_ptr() == unsafe { ffi::Py_True() }));
        }
        self.read_other()
    }

    fn get(self, key: &'static str) -> Result<Option<Self>, CoreError> {
        // SAFETY: a live object; the check reads type flags.
        if unsafe { ffi::PyDict_Check(self.ptr.as_ptr()) } != 0 {
            return self.dict_get(self.ctx.key(key));
        }
        if self.is_struct() {
            return StructEntries::new(self)?.get(key);
        }
        Ok(None)
    }

    fn type_name(self) -> String {
        super::type_name(&self.bound())
    }

    fn is_dict(self) -> bool {
        // SAFETY: a live object; the check reads type flags.
        unsafe { ffi::PyDict_Check(self.ptr.as_ptr()) != 0 }
    }

    fn identity(self) -> usize {
        self.ptr.as_ptr() as usize
    }

    #[inline]
    fn prefetch(self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it never faults and reads nothing visible.
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
        // SAFETY: a live list/tuple.
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
        // SAFETY: a live list/tuple; the call bounds-checks (NULL and IndexError past
        // the end); the result is borrowed.
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
            // SAFETY: a live list/tuple and an index below its length (containers are not
            // mutated during a walk); the result is a borrowed reference.
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
            // SAFETY: a live dict.
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
            // Only an exact str key is looked up: a subclass's hash or equality could be
            // Python code. Callers fall back to comparing keys as strings.
            PyObject::Dict(_) if !key.is_type(&raw mut ffi::PyUnicode_Type) => Ok(None),
            PyObject::Dict(dict) => dict.dict_get(key.ptr.as_ptr()),
            PyObject::Struct(object) => {
                let wanted = key.js_str()?;
                let members = StructEntries::new(object)?;
                members.get_bytes(wanted.as_bytes())
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
    let mut members = StructEntries::new(object)?;
    for _ in 0..*cursor {
        members.next_member()?;
    }
    *cursor += 1;
    members.next_member()
}

/// `for_each_keyed` of a msgspec Struct.
#[inline(never)]
fn struct_for_each<'s, 'py>(
    object: PyVal<'s, 'py>,
    f: &mut dyn FnMut(PyVal<'s, 'py>, PyVal<'s, 'py>) -> Result<(), CoreError>,
) -> Result<(), CoreError> {
    let mut members = StructEntries::new(object)?;
    while let Some((key, value)) = members.next_member()? {
        f(key, value)?;
    }
    Ok(())
}

/// A msgspec Struct's wire members: the tag first (if tagged), then every field that is
/// not `UNSET`, named as it is encoded (`rename`).
pub(crate) struct StructEntries<'s, 'py> {
    object: PyVal<'s, 'py>,
    fields: Vec<PyVal<'s, 'py>>,
    wire_names: Vec<PyVal<'s, 'py>>,
    tag: Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)>,
    index: usize,
}

impl<'s, 'py> StructEntries<'s, 'py> {
    fn new(object: PyVal<'s, 'py>) -> PyResult<Self> {
        let ctx = object.ctx;
        let py = ctx.py;
        let cls = object.bound().get_type();
        let names = |attr: &Bound<'py, PyString>| -> PyResult<Vec<PyVal<'s, 'py>>> {
            let tuple = cls.getattr(attr)?;
            tuple.try_iter()?.map(|item| item.map(|i| object.child(ctx.keep(i)))).collect()
        };
        let fields = names(intern!(py, "__struct_fields__"))?;
        let wire_names = names(intern!(py, "__struct_encode_fields__"))?;
        let config = cls.getattr(intern!(py, "__struct_config__"))?;
        let tag_field = config.getattr(intern!(py, "tag_field"))?;
        let tag = if tag_field.is_none() {
            None
        } else {
            let tag = config.getattr(intern!(py, "tag"))?;
            Some((object.child(ctx.keep(tag_field)), object.child(ctx.keep(tag))))
        };
        Ok(StructEntries { object, fields, wire_names, tag, index: 0 })
    }

    /// The field's value, or `None` if it is `UNSET`.
    fn field(&self, i: usize) -> PyResult<Option<PyVal<'s, 'py>>> {
        let name = self.fields[i].bound().cast::<PyString>().map_err(PyErr::from)?.to_owned();
        let value = self.object.bound().getattr(name)?;
        if value.as_ptr() == self.object.ctx.unset {
            return Ok(None);
        }
        Ok(Some(self.object.child(self.object.ctx.keep(value))))
    }

    fn next_member(&mut self) -> Result<Option<(PyVal<'s, 'py>, PyVal<'s, 'py>)>, CoreError> {
        if let Some(tag) = self.tag.take() {
            return Ok(Some(tag));
        }
        while self.index < self.fields.len() {
            let i = self.index;
            self.index += 1;
            if let Some(value) = self.field(i)? {
                return Ok(Some((self.wire_names[i], value)));
            }
        }
        Ok(None)
    }

    fn get(&self, wire: &str) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
        self.get_bytes(wire.as_bytes())
    }

    fn get_bytes(&self, wire: &[u8]) -> Result<Option<PyVal<'s, 'py>>, CoreError> {
        if let Some((field, tag)) = self.tag
            && field.js_str()?.as_bytes() == wire
        {
            return Ok(Some(tag));
        }
        for (i, name) in self.wire_names.iter().enumerate() {
            if name.js_str()?.as_bytes() == wire {
                return Ok(self.field(i)?);
            }
        }
        Ok(None)
    }
}
