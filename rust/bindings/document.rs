//! `SchemaDocument`: a parsed schema owned by the core (`crate::document`), and what
//! turns its values into Python objects when a caller asks for them.
//!
//! The functions that take a schema (`dumps`, `calculate_checksum`, `canonical_json`,
//! `calculate_schema_delta`, `calculate_schema_patch`, `SchemaTracker.update`) take
//! documents too: they walk the document itself, and only the values they return
//! (changed nodes, patch values) become Python objects.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use rustc_hash::FxHashMap;

use super::build::{GcPause, py_str};
use super::errors::to_py;
use super::view::Ctx;
use super::{algorithm_arg, check_size, limit_arg, str_arg, type_name};
use crate::checksum::Algorithm;
use crate::document::{DocRef, Document, Node, parse, schema_problem as problem_of};
use crate::error::{CoreError, ErrorKind, MAX_DEPTH};
use crate::value::{JsStr, has_surrogate};
use crate::{canonical, checksum};

/// An immutable JSON document (a schema) held by the core: parsing it makes no Python
/// object per value, and checksums, serialization, deltas and patches read it in place.
#[pyclass(module = "lumora_fast._core", name = "SchemaDocument", frozen)]
pub(crate) struct SchemaDocument {
    pub(crate) doc: Document,
}

/// The document `obj` is, if it is one.
pub(crate) fn as_document<'a>(obj: &'a Bound<'_, PyAny>) -> Option<&'a Document> {
    obj.cast::<SchemaDocument>().ok().map(|d| &d.get().doc)
}

/// A document with the content of a JSON value (`JSON.stringify`'s view of it).
pub(crate) fn document_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Document> {
    if let Some(doc) = as_document(obj) {
        // Documents are immutable: a copy through text is the same content.
        let text = canonical::stringify(doc.root(), false).map_err(to_py)?;
        return parse::parse(&text, has_surrogate(&text)).map_err(to_py);
    }
    let ctx = Ctx::new(py)?;
    let text = canonical::stringify(ctx.view(obj), false).map_err(to_py)?;
    drop(ctx);
    parse::parse(&text, has_surrogate(&text)).map_err(to_py)
}

/// Both arguments when both are documents (the document path); `None` otherwise.
pub(crate) fn both_documents<'a>(
    old: &'a Bound<'_, PyAny>,
    new: &'a Bound<'_, PyAny>,
) -> Option<(&'a Document, &'a Document)> {
    Some((as_document(old)?, as_document(new)?))
}

/// `obj` as a Python value: a document's `to_python()`, anything else itself. A document
/// paired with a Python value is diffed as its value, so that the result is the one
/// the dict API gives for `(doc.to_python(), value)`.
pub(crate) fn as_value<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    match as_document(obj) {
        Some(doc) => PyMaker::new(obj.py()).make(doc.root()),
        None => Ok(obj.clone()),
    }
}

/// Makes Python objects of document values, as `loads` would have made them: one `str`
/// object per distinct key.
pub(crate) struct PyMaker<'py> {
    py: Python<'py>,
    keys: FxHashMap<usize, Bound<'py, PyString>>,
}

impl<'py> PyMaker<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        PyMaker { py, keys: FxHashMap::default() }
    }

    /// The Python value of `value`.
    pub(crate) fn make(&mut self, value: DocRef<'_>) -> PyResult<Bound<'py, PyAny>> {
        let _gc = GcPause::new(self.py);
        self.value(value.document(), value.node(), 0)
    }

    fn value(&mut self, doc: &Document, node: &Node, depth: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match *node {
            Node::Null => py.None().into_bound(py),
            Node::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
            Node::Int(i) => i.into_pyobject(py)?.into_any(),
            Node::Float(f) => PyFloat::new(py, f).into_any(),
            Node::BigInt { at, len } => {
                let digits = doc.text.get(at as usize..(at + len) as usize).unwrap_or_default();
                let literal = std::str::from_utf8(digits).unwrap_or("0");
                py.get_type::<PyInt>().call1((literal,))?
            }
            Node::Str { at, len, wtf8 } => {
                let bytes = doc.text.get(at as usize..(at + len) as usize).unwrap_or_default();
                py_str(py, &JsStr::with_flag(bytes, wtf8))?.into_any()
            }
            Node::Array { first, len } => {
                if depth >= MAX_DEPTH {
                    return Err(to_py(ErrorKind::TooDeepInText.into()));
                }
                let items = doc.items.get(first as usize..(first + len) as usize).unwrap_or_default();
                let mut values = Vec::with_capacity(items.len());
                for &item in items {
                    values.push(self.value(doc, doc.nodes.get(item as usize).unwrap_or(&Node::Null), depth + 1)?);
                }
                PyList::new(py, values)?.into_any()
            }
            Node::Object { first, len } => {
                if depth >= MAX_DEPTH {
                    return Err(to_py(ErrorKind::TooDeepInText.into()));
                }
                let dict = PyDict::new(py);
                for member in doc.members.get(first as usize..(first + len) as usize).unwrap_or_default() {
                    let Some(key) = doc.keys.get(member.key as usize) else { continue };
                    let identity = std::ptr::from_ref(key) as usize;
                    let key = if let Some(k) = self.keys.get(&identity) {
                        k.clone()
                    } else {
                        let k = py_str(py, &JsStr::with_flag(&key.bytes, key.wtf8))?;
                        self.keys.insert(identity, k.clone());
                        k
                    };
                    let value =
                        self.value(doc, doc.nodes.get(member.value as usize).unwrap_or(&Node::Null), depth + 1)?;
                    dict.set_item(key, value)?;
                }
                dict.into_any()
            }
        })
    }
}

/// The bytes of a `parse` argument: `(bytes, wtf8)`, checked to be UTF-8 (or, for a
/// `str` with lone surrogates, WTF-8).
/// A Python `bytes` object's content, lent to a [`Document`] it was parsed from.
struct LentBytes {
    /// Keeps the object, and so its buffer, alive.
    _owner: Py<PyBytes>,
    ptr: *const u8,
    len: usize,
}

impl LentBytes {
    fn new(bytes: &Bound<'_, PyBytes>) -> Self {
        let content = bytes.as_bytes();
        LentBytes { _owner: bytes.clone().unbind(), ptr: content.as_ptr(), len: content.len() }
    }
}

// SAFETY: the pointer is into a `bytes` object's own buffer, which is immutable and lives
// as long as the object; `_owner` holds a strong reference to it for as long as the
// pointer exists. Reading immutable memory needs no GIL, from any thread, and the
// reference is dropped the way `Py` drops (a document is dropped with the GIL held, by
// its Python object; elsewhere pyo3 defers the decref).
#[allow(unsafe_code)]
unsafe impl Send for LentBytes {}
// SAFETY: see `Send`: nothing reachable through `&LentBytes` can be mutated.
#[allow(unsafe_code)]
unsafe impl Sync for LentBytes {}

#[allow(unsafe_code)]
impl AsRef<[u8]> for LentBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` describe the buffer of the `bytes` object `_owner`
        // keeps alive, unchanged since it was created (module: `LentBytes`'s `Send`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

fn parse_input(data: &Bound<'_, PyAny>, max_bytes: Option<usize>, previous: Option<&Document>) -> PyResult<Document> {
    let parse_bytes = |bytes: &[u8]| -> Result<Document, CoreError> {
        check_size(bytes.len(), max_bytes)?;
        std::str::from_utf8(bytes).map_err(|e| CoreError::from(ErrorKind::InvalidUtf8 { offset: e.valid_up_to() }))?;
        parse::parse_after(bytes, false, previous)
    };
    let result = if let Ok(text) = data.cast::<PyString>() {
        let (bytes, wtf8) = str_arg(text)?;
        check_size(bytes.len(), max_bytes).and_then(|()| parse::parse_after(&bytes, wtf8, previous))
    } else if let Ok(bytes) = data.cast::<PyBytes>() {
        let text = bytes.as_bytes();
        // Bytes are immutable: the parse runs without the GIL, so other threads (a
        // server's watcher, its event loop) go on meanwhile.
        let parsed = data.py().detach(|| parse_bytes(text));
        // The document keeps the bytes object (no copy; a server's watcher holds it too):
        // the tracker reuses what did not change between two saves' texts.
        parsed.map(|mut doc| {
            doc.lend_text(Box::new(LentBytes::new(bytes)));
            doc
        })
    } else if let Ok(array) = data.cast::<PyByteArray>() {
        parse_bytes(&array.to_vec())
    } else if let Ok(view) = data.cast::<pyo3::types::PyMemoryView>() {
        let bytes: Vec<u8> = view.call_method0("tobytes")?.extract()?;
        parse_bytes(&bytes)
    } else {
        return Err(PyTypeError::new_err(format!(
            "SchemaDocument.parse() argument must be str, bytes, bytearray or memoryview, not {}",
            type_name(data)
        )));
    };
    result.map_err(to_py)
}

#[pymethods]
impl SchemaDocument {
    #[new]
    fn new() -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "SchemaDocument cannot be created directly: use SchemaDocument.parse(data) or SchemaDocument.from_python(value)",
        ))
    }

    /// Parse JSON text (`bytes`, `bytearray`, `memoryview` or `str`) with the semantics
    /// and limits of `loads`. With `previous`, the document of the file's previous
    /// version, what was built for its array items whose text did not change is copied
    /// (the same document results, sooner).
    #[staticmethod]
    #[pyo3(signature = (data, /, max_bytes = None, *, previous = None))]
    fn parse(
        data: &Bound<'_, PyAny>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        previous: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let previous = match previous {
            None => None,
            Some(obj) if obj.is_none() => None,
            Some(obj) => Some(obj.cast::<SchemaDocument>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "SchemaDocument.parse() previous must be a SchemaDocument or None, not {}",
                    type_name(obj)
                ))
            })?),
        };
        let previous = previous.map(|doc| &doc.get().doc);
        Ok(SchemaDocument { doc: parse_input(data, limit_arg(max_bytes)?, previous)? })
    }

    /// A document with the content of a JSON value, as `dumps` writes it.
    #[staticmethod]
    #[pyo3(signature = (obj, /))]
    fn from_python(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(SchemaDocument { doc: document_of(py, obj)? })
    }

    /// The content as new Python objects (what `loads` makes of the text).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyMaker::new(py).make(self.doc.root())
    }

    /// `JSON.stringify(document)` (or with two-space indentation) as UTF-8 bytes.
    #[pyo3(signature = (pretty = false))]
    fn dumps<'py>(&self, py: Python<'py>, pretty: bool) -> PyResult<Bound<'py, PyBytes>> {
        let out = canonical::stringify(self.doc.root(), pretty).map_err(to_py)?;
        Ok(PyBytes::new(py, &out))
    }

    /// The schema checksum (sha256 hex, or `xxh3:` + XXH3-128 hex), computed once.
    #[pyo3(signature = (algorithm = None), text_signature = "($self, algorithm='sha256')")]
    fn checksum(&self, algorithm: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let algorithm = algorithm.map_or(Ok(Algorithm::Sha256), algorithm_arg)?;
        self.doc.checksum(algorithm).map_err(to_py)
    }

    /// The exact bytes `checksum` hashes.
    fn canonical_json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = checksum::canonical_json(self.doc.root()).map_err(to_py)?;
        Ok(PyBytes::new(py, &out))
    }

    /// Bytes of memory the document holds (its values, keys and strings).
    #[getter]
    fn nbytes(&self) -> usize {
        self.doc.heap_bytes()
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Some(theirs) = as_document(other) else {
            return Ok(py.NotImplemented());
        };
        let equal = || -> PyResult<bool> {
            let ours = canonical::stringify(self.doc.root(), false).map_err(to_py)?;
            Ok(std::ptr::eq(&raw const self.doc, theirs)
                || ours == canonical::stringify(theirs.root(), false).map_err(to_py)?)
        };
        match op {
            CompareOp::Eq => Ok(equal()?.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!equal()?).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    /// Documents are immutable: a copy is the document itself.
    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }

    /// Pickled as its JSON text, parsed again on load.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let parse = slf.get_type().getattr("parse")?;
        let out = canonical::stringify(slf.get().doc.root(), false).map_err(to_py)?;
        Ok((parse, (PyBytes::new(py, &out),)))
    }

    fn __repr__(&self) -> PyResult<String> {
        let out = canonical::stringify(self.doc.root(), false).map_err(to_py)?;
        Ok(format!("<SchemaDocument: {} bytes>", out.len()))
    }
}

/// Why a document is not a usable Lumora schema (`None` when it is one).
#[pyfunction]
#[pyo3(signature = (document, /))]
pub(crate) fn schema_problem(document: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let doc = as_document(document).ok_or_else(|| {
        PyTypeError::new_err(format!("schema_problem() argument must be a SchemaDocument, not {}", type_name(document)))
    })?;
    problem_of(doc.root()).map_err(to_py)
}
