//! The `lumora_fast._core` module: each function converts its arguments, calls the core
//! and maps the error. Nothing else happens here.

mod build;
mod errors;
mod patch;
mod view;

use pyo3::exceptions::{PyTypeError, PyValueError};
use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

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
    OUTPUT.with_borrow_mut(|out| {
        out.clear();
        let written = canonical::stringify_into(ctx.view(obj), pretty, out);
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

fn check_size(size: usize, limit: Option<usize>) -> Result<(), CoreError> {
    match limit {
        Some(limit) if size > limit => Err(ErrorKind::TooLarge { size, limit }.into()),
        _ => Ok(()),
    }
}

/// Parse JSON text with `JSON.parse`'s grammar into Python objects.
#[pyfunction]
#[pyo3(signature = (data, /, max_bytes = None))]
fn loads<'py>(py: Python<'py>, data: &Bound<'py, PyAny>, max_bytes: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
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
    let ctx = Ctx::new(py)?;
    checksum::checksum(ctx.view(schema), algorithm).map_err(to_py)
}

/// The exact bytes `calculate_checksum` hashes.
#[pyfunction]
#[pyo3(signature = (schema, /))]
fn canonical_json<'py>(py: Python<'py>, schema: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let ctx = Ctx::new(py)?;
    let out = checksum::canonical_json(ctx.view(schema)).map_err(to_py)?;
    Ok(PyBytes::new(py, &out))
}

fn objects<'py>(py: Python<'py>, values: &[view::PyVal<'_, 'py>]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, values.iter().map(|v| v.to_object()))
}

/// A delta as `(added, modified, removed, metadata_changes)`.
fn delta_tuple<'py>(py: Python<'py>, delta: &delta::Delta<view::PyVal<'_, 'py>>) -> PyResult<Bound<'py, PyTuple>> {
    let removed = PyList::new(
        py,
        delta.removed.iter().map(|id| id.map_or_else(|| py.None().into_bound(py), view::PyVal::to_object)),
    )?;
    let changes = if delta.changes.is_empty() {
        py.None().into_bound(py)
    } else {
        let dict = PyDict::new(py);
        for (name, value) in &delta.changes {
            dict.set_item(*name, value.map(view::PyVal::to_object))?;
        }
        dict.into_any()
    };
    PyTuple::new(
        py,
        [objects(py, &delta.added)?.into_any(), objects(py, &delta.modified)?.into_any(), removed.into_any(), changes],
    )
}

/// `(added, modified, removed, metadata_changes)` from `old` to `new`.
#[pyfunction]
#[pyo3(signature = (old, new, /))]
fn calculate_schema_delta<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyTuple>> {
    let ctx = Ctx::new(py)?;
    let delta = delta::calculate(ctx.view(old), ctx.view(new), PyComparator).map_err(to_py)?;
    delta_tuple(py, &delta)
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
    current: Option<(Py<PyAny>, tracker::TrackerState)>,
}

#[pymethods]
impl SchemaTracker {
    #[new]
    #[pyo3(signature = (algorithm = None), text_signature = "(algorithm='sha256')")]
    fn new(algorithm: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let algorithm = algorithm.map_or(Ok(Algorithm::Sha256), algorithm_arg)?;
        Ok(SchemaTracker { algorithm, current: None })
    }

    /// The current schema, or `None` before the first update.
    #[getter]
    fn schema(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.current.as_ref().map(|(schema, _)| schema.clone_ref(py))
    }

    /// The current schema's checksum, or `None` before the first update.
    #[getter]
    fn checksum(&self) -> Option<String> {
        self.current.as_ref().map(|(_, state)| state.checksum.clone())
    }

    /// Make `schema` current: `(checksum, delta or None, incremental, patch or None)`.
    #[pyo3(signature = (schema, /))]
    fn update<'py>(&mut self, py: Python<'py>, schema: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
        let ctx = Ctx::new(py)?;
        let old = self.current.as_ref().map(|(object, state)| (object.bind(py).clone(), state));
        let previous = old.as_ref().map(|(object, state)| (*state, ctx.view(object)));
        let (change, state) =
            tracker::update(previous, ctx.view(schema), self.algorithm, PyComparator).map_err(to_py)?;
        let delta = match &change.delta {
            Some(delta) => delta_tuple(py, delta)?.into_any(),
            None => py.None().into_bound(py),
        };
        let patch = match &change.patch {
            Some(ops) => patch::op_list(py, ops)?.into_any(),
            None => py.None().into_bound(py),
        };
        let result = PyTuple::new(
            py,
            [
                PyString::new(py, &change.checksum).into_any(),
                delta,
                pyo3::types::PyBool::new(py, change.incremental).to_owned().into_any(),
                patch,
            ],
        )?;
        drop(old);
        self.current = Some((schema.clone().unbind(), state));
        Ok(result)
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
    Ok(())
}
