//! The `lumora_fast._core` module: each function converts its arguments, calls the core
//! and maps the error. Nothing else happens here.

mod build;
mod document;
mod errors;
mod patch;
mod view;

use pyo3::exceptions::{PyTypeError, PyValueError};
use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::checksum::Algorithm;
use crate::error::{CoreError, ErrorKind, MAX_DEPTH};
use crate::value::{JsStr, Source, join_surrogate_pairs};
use crate::{canonical, checksum, delta, parse, tracker, validate};
use build::{PyBuilder, py_str};
use errors::to_py;
use view::{Ctx, PyComparator};

/// `type(value).__name__`, for error messages. Read in C (`PyType_GetName`, then the
/// name's own UTF-8), so that it runs no Python code: walks call it too (a metaclass's
/// `__getattribute__` and a str subclass's `__str__` set as `__name__` are not called).
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "object".to_owned(), |n| n.to_string_lossy().into_owned())
}

fn str_list<'py>(py: Python<'py>, items: &[Vec<u8>]) -> PyResult<Bound<'py, PyList>> {
    let strings = items
        .iter()
        .map(|bytes| py_str(py, &JsStr::wtf8(&join_surrogate_pairs(bytes))))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, strings)
}

/// `JSON.stringify(obj)` (or with two-space indentation) as UTF-8 bytes.
#[pyfunction]
#[pyo3(signature = (obj, /, *, pretty = false))]
fn dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, pretty: bool) -> PyResult<Bound<'py, PyBytes>> {
    let ctx = Ctx::new(py)?;
    let doc = document::as_document(obj);
    OUTPUT.with_borrow_mut(|out| {
        out.clear();
        let written = match doc {
            Some(doc) => canonical::stringify_into(doc.root(), pretty, out),
            None => canonical::stringify_into(ctx.view(obj), pretty, out),
        };
        let result = written.map(|()| PyBytes::new(py, out)).map_err(to_py);
        if out.capacity() > KEEP_OUTPUT_CAPACITY {
            *out = Vec::new();
        }
        result
    })
}

/// Largest output buffer kept between `dumps` calls (a full update of the largest
/// schema the protocol allows): reusing it avoids regrowing and re-faulting a large
/// buffer for every update.
const KEEP_OUTPUT_CAPACITY: usize = 16 << 20;

thread_local! {
    static OUTPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A `str` argument's bytes: its UTF-8, or its WTF-8 (`surrogatepass`) when it holds
/// lone surrogates, flagged as such. The string's own data: a subclass's `encode` is not
/// called.
fn str_arg<'a>(text: &'a Bound<'_, PyString>) -> PyResult<(Cow<'a, [u8]>, bool)> {
    if let Ok(s) = text.to_str() {
        return Ok((Cow::Borrowed(s.as_bytes()), false));
    }
    Ok((Cow::Owned(view::wtf8(text)?.as_bytes().to_vec()), true))
}

/// A `max_bytes` argument: `None`, or an `int` of at least 0 (one beyond the address
/// space is no limit at all). Anything else is refused as `lumora_fast.pure` refuses it.
pub(crate) fn limit_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    let Some(value) = value.filter(|value| !value.is_none()) else {
        return Ok(None);
    };
    if value.is_instance_of::<PyBool>() || !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!("max_bytes must be an int or None, not {}", type_name(value))));
    }
    if value.lt(0)? {
        return Err(PyValueError::new_err("max_bytes must be >= 0"));
    }
    Ok(Some(value.extract::<usize>().unwrap_or(usize::MAX)))
}

fn check_size(size: usize, limit: Option<usize>) -> Result<(), CoreError> {
    match limit {
        Some(limit) if size > limit => Err(ErrorKind::TooLarge { size, limit }.into()),
        _ => Ok(()),
    }
}

/// Parse JSON text with `JSON.parse`'s grammar into Python objects.
#[pyfunction]
#[pyo3(signature = (data, /, max_bytes = None))]
fn loads<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    max_bytes: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let max_bytes = limit_arg(max_bytes)?;
    let _gc = build::GcPause::new(py);
    let result = if let Ok(text) = data.cast::<PyString>() {
        let (bytes, wtf8) = str_arg(text)?;
        check_size(bytes.len(), max_bytes).and_then(|()| parse::parse(&bytes, wtf8, &mut PyBuilder::new(py)))
    } else if let Ok(bytes) = data.cast::<PyBytes>() {
        let bytes = bytes.as_bytes();
        check_size(bytes.len(), max_bytes)
            .and_then(|()| {
                std::str::from_utf8(bytes)
                    .map_err(|e| CoreError::from(ErrorKind::InvalidUtf8 { offset: e.valid_up_to() }))
            })
            .and_then(|_| parse::parse(bytes, false, &mut PyBuilder::new(py)))
    } else {
        return Err(PyTypeError::new_err(format!(
            "loads() argument must be str or bytes, not {}",
            data.get_type().name()?
        )));
    };
    result.map_err(to_py)
}

/// The reference's `validateMessage(obj).errors`.
#[pyfunction]
#[pyo3(signature = (obj, /))]
fn validate_message<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let ctx = Ctx::new(py)?;
    str_list(py, &validate::validate_message(ctx.view(obj)).map_err(to_py)?)
}

fn version_arg<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    let s = value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("protocol version must be a str, not {}", type_name(value))))?;
    Ok(str_arg(s)?.0)
}

/// The reference's `validateProtocolVersion(client, server).errors`.
#[pyfunction]
#[pyo3(signature = (client, server, /))]
fn validate_protocol_version<'py>(
    py: Python<'py>,
    client: &Bound<'py, PyAny>,
    server: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (client, server) = (version_arg(client)?, version_arg(server)?);
    str_list(py, &validate::validate_protocol_version(&JsStr::wtf8(&client), &JsStr::wtf8(&server)))
}

/// The reference's `validateSessionId(value).errors`.
#[pyfunction]
#[pyo3(signature = (value, /))]
fn validate_session_id<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let ctx = Ctx::new(py)?;
    str_list(py, &validate::validate_session_id(ctx.view(value)).map_err(to_py)?)
}

/// Checksum of a schema's canonical JSON: sha256 hex, or `xxh3:` + XXH3-128 hex.
#[pyfunction]
#[pyo3(signature = (schema, /, algorithm = None), text_signature = "(schema, /, algorithm='sha256')")]
fn calculate_checksum(
    py: Python<'_>,
    schema: &Bound<'_, PyAny>,
    algorithm: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let algorithm = algorithm.map_or(Ok(Algorithm::Sha256), algorithm_arg)?;
    if let Some(doc) = document::as_document(schema) {
        return doc.checksum(algorithm).map_err(to_py);
    }
    let ctx = Ctx::new(py)?;
    checksum::checksum(ctx.view(schema), algorithm).map_err(to_py)
}

/// The exact bytes `calculate_checksum` hashes.
#[pyfunction]
#[pyo3(signature = (schema, /))]
fn canonical_json<'py>(py: Python<'py>, schema: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = match document::as_document(schema) {
        Some(doc) => checksum::canonical_json(doc.root()),
        None => checksum::canonical_json(Ctx::new(py)?.view(schema)),
    }
    .map_err(to_py)?;
    Ok(PyBytes::new(py, &out))
}

fn objects<'py>(py: Python<'py>, values: &[view::PyVal<'_, 'py>]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, values.iter().map(|v| v.to_object()))
}

/// A delta as `(added, modified, removed, metadata_changes)`, its values made by `object`.
pub(crate) fn delta_tuple<'py, S: Copy>(
    py: Python<'py>,
    delta: &delta::Delta<S>,
    object: &mut dyn FnMut(S) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut list = |values: &[S]| -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, values.iter().map(|&v| object(v)).collect::<PyResult<Vec<_>>>()?)
    };
    let added = list(&delta.added)?;
    let modified = list(&delta.modified)?;
    let removed = PyList::new(
        py,
        delta
            .removed
            .iter()
            .map(|id| id.map_or_else(|| Ok(py.None().into_bound(py)), &mut *object))
            .collect::<PyResult<Vec<_>>>()?,
    )?;
    let changes = if delta.changes.is_empty() {
        py.None().into_bound(py)
    } else {
        let dict = PyDict::new(py);
        for (name, value) in &delta.changes {
            dict.set_item(*name, value.map(&mut *object).transpose()?)?;
        }
        dict.into_any()
    };
    PyTuple::new(py, [added.into_any(), modified.into_any(), removed.into_any(), changes])
}

/// `(added, modified, removed, metadata_changes)` from `old` to `new`.
#[pyfunction]
#[pyo3(signature = (old, new, /))]
fn calculate_schema_delta<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    if let Some((old, new)) = document::both_documents(old, new) {
        let delta = delta::calculate(old.root(), new.root(), delta::Generic).map_err(to_py)?;
        let mut maker = document::PyMaker::new(py);
        return delta_tuple(py, &delta, &mut |v| maker.make(v));
    }
    let (old, new) = (&document::as_value(old)?, &document::as_value(new)?);
    let ctx = Ctx::new(py)?;
    let delta = delta::calculate(ctx.view(old), ctx.view(new), PyComparator).map_err(to_py)?;
    delta_tuple(py, &delta, &mut |v| Ok(v.to_object()))
}

fn algorithm_arg(name: &Bound<'_, PyAny>) -> PyResult<Algorithm> {
    let text = name
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("algorithm must be a str, not {}", type_name(name))))?;
    text.to_str().ok().and_then(|t| Algorithm::from_name(t).ok()).ok_or_else(|| {
        let repr = name.repr().map_or_else(|_| String::new(), |r| r.to_string());
        PyValueError::new_err(format!("unknown checksum algorithm {repr} (expected 'sha256' or 'xxh3')"))
    })
}

/// The server's schema tracker: each update walks the new schema once.
#[pyclass(module = "lumora_fast._core", name = "SchemaTracker")]
struct SchemaTracker {
    algorithm: Algorithm,
    current: Option<Current>,
}

/// The tracker's current schema.
enum Current {
    /// A Python value (`value`: the one given, or a document's `to_python()` when
    /// documents and values were mixed), and what the tracker remembers of it.
    Value { given: Py<PyAny>, value: Py<PyAny>, state: Box<tracker::TrackerState> },
    /// A document, which keeps its own tracker state.
    Document(Py<document::SchemaDocument>),
}

/// `(checksum, delta or None, incremental, patch or None)`, values made by `object`.
fn change_tuple<'py, S: Copy>(
    py: Python<'py>,
    change: &tracker::Change<S>,
    object: &mut dyn FnMut(S) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let delta = match &change.delta {
        Some(delta) => delta_tuple(py, delta, object)?.into_any(),
        None => py.None().into_bound(py),
    };
    let patch = match &change.patch {
        Some(ops) => patch::op_list(py, ops, object)?.into_any(),
        None => py.None().into_bound(py),
    };
    PyTuple::new(
        py,
        [
            PyString::new(py, &change.checksum).into_any(),
            delta,
            pyo3::types::PyBool::new(py, change.incremental).to_owned().into_any(),
            patch,
        ],
    )
}

/// `(checksum, delta JSON or None, node changes in the delta, incremental, patch JSON or
/// None)`: the delta and the patch as `update` messages carry them (`crate::frames`).
/// The delta's JSON only when `with_delta` (its node count always).
fn encoded_tuple<'py, 's, S: Source<'s>>(
    py: Python<'py>,
    schema: S,
    change: &tracker::Change<S>,
    with_delta: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let json_len = match stringify_len(schema, change.size).map_err(to_py)? {
        Some(len) => len.into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    };
    let (delta, changes) = match &change.delta {
        Some(delta) if !with_delta => {
            (py.None().into_bound(py), delta.added.len() + delta.modified.len() + delta.removed.len())
        }
        Some(delta) => {
            let mut out = Vec::new();
            crate::frames::delta_json(delta, &mut out).map_err(to_py)?;
            let changes = delta.added.len() + delta.modified.len() + delta.removed.len();
            (PyBytes::new(py, &out).into_any(), changes)
        }
        None => (py.None().into_bound(py), 0),
    };
    let patch = match &change.patch {
        Some(ops) => {
            let mut out = Vec::new();
            crate::frames::patch_json(ops, &mut out).map_err(to_py)?;
            PyBytes::new(py, &out).into_any()
        }
        None => py.None().into_bound(py),
    };
    PyTuple::new(
        py,
        [
            PyString::new(py, &change.checksum).into_any(),
            delta,
            changes.into_pyobject(py)?.into_any(),
            pyo3::types::PyBool::new(py, change.incremental).to_owned().into_any(),
            patch,
            json_len,
        ],
    )
}

/// The length of `JSON.stringify(schema)`, from its canonical size, when that tells it
/// exactly: the canonical form is the same bytes in another key order, but for
/// `metadata.generatedAt`, written as `0` (and added, after a comma unless `metadata`
/// is empty, when an object has none). `None` when the canonical form dropped a
/// `__proto__` key (see `tracker::Size`).
fn stringify_len<'s, S: Source<'s>>(schema: S, size: tracker::Size) -> Result<Option<usize>, CoreError> {
    use crate::value::{Object, Read};
    if !size.exact {
        return Ok(None);
    }
    let Some(metadata) = schema.get("metadata")? else { return Ok(None) };
    let Read::Object(members) = metadata.read()? else {
        return Ok(Some(size.canonical)); // an array: written alike in both forms
    };
    Ok(match metadata.get("generatedAt")? {
        Some(value) => {
            let written = canonical::stringify(value, false)?.len();
            (size.canonical + written).checked_sub(1)
        }
        None => size.canonical.checked_sub(if members.len() == 0 { 15 } else { 16 }),
    })
}

impl SchemaTracker {
    /// `update` of a document after a document (or as the first schema): a walk of the
    /// new document against the previous one's hashes, kept in the documents.
    fn update_document<'py>(
        &mut self,
        py: Python<'py>,
        new: &Bound<'py, document::SchemaDocument>,
        encoded: bool,
        with_delta: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let algorithm = self.algorithm;
        let new_doc = &new.get().doc;
        let previous = match &self.current {
            Some(Current::Document(doc)) => Some(doc.clone_ref(py)),
            _ => None,
        };
        let old = previous.as_ref().map(|doc| &doc.get().doc);
        let change = match (
            old.and_then(|doc| doc.tracked(algorithm).map(|state| (state, doc.root()))),
            new_doc.tracked(algorithm),
        ) {
            // A first schema the document's own cache describes: nothing to walk.
            (None, Some(state)) => tracker::Change {
                checksum: state.checksum.clone(),
                size: state.size,
                delta: None,
                incremental: false,
                patch: None,
            },
            (prior, _) => {
                let (change, state) =
                    tracker::update(prior, new_doc.root(), algorithm, delta::Generic).map_err(to_py)?;
                new_doc.keep_tracked(algorithm, state);
                change
            }
        };
        let result = if encoded {
            encoded_tuple(py, new_doc.root(), &change, with_delta)?
        } else {
            let mut maker = document::PyMaker::new(py);
            change_tuple(py, &change, &mut |v| maker.make(v))?
        };
        self.current = Some(Current::Document(new.clone().unbind()));
        Ok(result)
    }

    /// `update` of a Python value, or of a document after a value: documents mixed with
    /// values are diffed as their `to_python()` (the dict API's results).
    fn update_value<'py>(
        &mut self,
        py: Python<'py>,
        schema: &Bound<'py, PyAny>,
        encoded: bool,
        with_delta: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let value = document::as_value(schema)?;
        // The previous schema as a value with its state: a previous document is made a
        // value and walked once more.
        let old: Option<(Bound<'py, PyAny>, Option<&tracker::TrackerState>)> = match &self.current {
            None => None,
            Some(Current::Value { value, state, .. }) => Some((value.bind(py).clone(), Some(state))),
            Some(Current::Document(doc)) => Some((document::as_value(doc.bind(py).as_any())?, None)),
        };
        let ctx = Ctx::new(py)?;
        let rebuilt = match &old {
            Some((object, None)) => {
                Some(tracker::update(None, ctx.view(object), self.algorithm, PyComparator).map_err(to_py)?.1)
            }
            _ => None,
        };
        let previous =
            old.as_ref().and_then(|(object, state)| state.or(rebuilt.as_ref()).map(|state| (state, ctx.view(object))));
        let (change, state) =
            tracker::update(previous, ctx.view(&value), self.algorithm, PyComparator).map_err(to_py)?;
        let result = if encoded {
            encoded_tuple(py, ctx.view(&value), &change, with_delta)?
        } else {
            change_tuple(py, &change, &mut |v| Ok(v.to_object()))?
        };
        drop(ctx);
        self.current =
            Some(Current::Value { given: schema.clone().unbind(), value: value.unbind(), state: Box::new(state) });
        Ok(result)
    }
}

#[pymethods]
impl SchemaTracker {
    #[new]
    #[pyo3(signature = (algorithm = None), text_signature = "(algorithm='sha256')")]
    fn new(algorithm: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let algorithm = algorithm.map_or(Ok(Algorithm::Sha256), algorithm_arg)?;
        Ok(SchemaTracker { algorithm, current: None })
    }

    /// The current schema (as given to `update`), or `None` before the first update.
    #[getter]
    fn schema(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.current.as_ref().map(|current| match current {
            Current::Value { given, .. } => given.clone_ref(py),
            Current::Document(doc) => doc.clone_ref(py).into_any(),
        })
    }

    /// The current schema's checksum, or `None` before the first update.
    #[getter]
    fn checksum(&self) -> Option<String> {
        self.current.as_ref().map(|current| match current {
            Current::Value { state, .. } => state.checksum.clone(),
            Current::Document(doc) => {
                doc.get().doc.tracked(self.algorithm).map(|s| s.checksum.clone()).unwrap_or_default()
            }
        })
    }

    /// Make `schema` current: `(checksum, delta or None, incremental, patch or None)`,
    /// or with `encoded`, `(checksum, delta JSON or None, node changes, incremental,
    /// patch JSON or None)`, the delta's JSON only `with_delta`. `schema` is a value or
    /// a `SchemaDocument`; a document after a document (or first) is diffed as a
    /// document, and one mixed with values as its `to_python()`.
    #[pyo3(signature = (schema, /, encoded = false, with_delta = true))]
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        schema: &Bound<'py, PyAny>,
        encoded: bool,
        with_delta: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if let Ok(doc) = schema.cast::<document::SchemaDocument>()
            && matches!(self.current, None | Some(Current::Document(_)))
        {
            return self.update_document(py, doc, encoded, with_delta);
        }
        self.update_value(py, schema, encoded, with_delta)
    }
}

fn array_arg<'s, 'py>(ctx: &'s Ctx<'py>, value: &'s Bound<'py, PyAny>, name: &str) -> PyResult<view::PyArray<'s, 'py>> {
    match ctx.view(value).read() {
        Ok(crate::value::Read::Array(items)) => Ok(items),
        _ => Err(PyTypeError::new_err(format!("{name} must be a list, not {}", type_name(value)))),
    }
}

/// A new schema dict with a delta applied (device side); `schema` is not modified.
#[pyfunction]
#[pyo3(signature = (schema, added, modified, removed, metadata_changes, /))]
fn apply_schema_delta<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyAny>,
    added: &Bound<'py, PyAny>,
    modified: &Bound<'py, PyAny>,
    removed: &Bound<'py, PyAny>,
    metadata_changes: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    // The new nodes become owned objects while the walk's views are valid: copying
    // `schema` below may run Python code (its keys' `__hash__` and `__eq__`), which could
    // free what a view points at.
    let nodes = {
        let ctx = Ctx::new(py)?;
        let (added, modified, removed) = (
            array_arg(&ctx, added, "added")?,
            array_arg(&ctx, modified, "modified")?,
            array_arg(&ctx, removed, "removed")?,
        );
        let nodes = delta::apply::apply_nodes(ctx.view(schema), added, modified, removed).map_err(to_py)?;
        objects(py, &nodes)?
    };
    let result = PyDict::new(py);
    result.update(schema.cast::<PyDict>()?.as_mapping())?;
    result.set_item("nodes", nodes)?;
    if metadata_changes.is_none() {
        return Ok(result);
    }
    let changes = metadata_changes.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!("metadata_changes must be a dict or None, not {}", type_name(metadata_changes)))
    })?;
    for (name, value) in changes.iter() {
        if value.is_none() {
            if result.contains(&name)? {
                result.del_item(&name)?;
            }
        } else {
            result.set_item(name, value)?;
        }
    }
    Ok(result)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_DEPTH", MAX_DEPTH)?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(loads, m)?)?;
    m.add_function(wrap_pyfunction!(validate_message, m)?)?;
    m.add_function(wrap_pyfunction!(validate_protocol_version, m)?)?;
    m.add_function(wrap_pyfunction!(validate_session_id, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_checksum, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_json, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_schema_delta, m)?)?;
    m.add_function(wrap_pyfunction!(apply_schema_delta, m)?)?;
    m.add_function(wrap_pyfunction!(patch::calculate_schema_patch, m)?)?;
    m.add_function(wrap_pyfunction!(patch::apply_schema_patch, m)?)?;
    m.add_class::<SchemaTracker>()?;
    m.add_class::<document::SchemaDocument>()?;
    m.add_function(wrap_pyfunction!(document::schema_problem, m)?)?;
    Ok(())
}
