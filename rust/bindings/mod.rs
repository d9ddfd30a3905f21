//! The `lumora_fast._core` module: each function converts its arguments, calls the core
//! and maps the error. Nothing else happens here.

mod convert;
mod errors;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::checksum::Algorithm;
use crate::error::{CoreError, MAX_DEPTH};
use crate::value::JsStr;
use crate::{canonical, checksum, parse, validate};
use convert::{PyBuilder, js_str, py_str};
use errors::to_py;

fn str_list<'py>(py: Python<'py>, items: Vec<Vec<u8>>) -> PyResult<Bound<'py, PyList>> {
    let strings = items.into_iter().map(|bytes| py_str(py, &JsStr::owned(bytes))).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, strings)
}

/// `JSON.stringify(obj)` (or with two-space indentation) as UTF-8 bytes.
#[pyfunction]
#[pyo3(signature = (obj, /, *, pretty = false))]
fn dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, pretty: bool) -> PyResult<Bound<'py, PyBytes>> {
    let out = canonical::stringify(obj, pretty).map_err(to_py)?;
    Ok(PyBytes::new(py, &out))
}

fn check_size(size: usize, limit: Option<usize>) -> Result<(), CoreError> {
    match limit {
        Some(limit) if size > limit => Err(CoreError::TooLarge { size, limit }),
        _ => Ok(()),
    }
}

/// Parse JSON text with `JSON.parse`'s grammar into Python objects.
#[pyfunction]
#[pyo3(signature = (data, /, max_bytes = None))]
fn loads<'py>(py: Python<'py>, data: &Bound<'py, PyAny>, max_bytes: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
    let result = if let Ok(text) = data.cast::<PyString>() {
        let s = js_str(text).map_err(to_py)?;
        check_size(s.as_bytes().len(), max_bytes)
            .and_then(|()| parse::parse(s.as_bytes(), s.is_wtf8(), &mut PyBuilder::new(py)))
    } else if let Ok(bytes) = data.cast::<PyBytes>() {
        let bytes = bytes.as_bytes();
        check_size(bytes.len(), max_bytes)
            .and_then(|()| std::str::from_utf8(bytes).map_err(|e| CoreError::InvalidUtf8 { offset: e.valid_up_to() }))
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
fn validate_message<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    str_list(py, validate::validate_message(obj).map_err(to_py)?)
}

fn version_arg<'a, 'py>(value: &'a Bound<'py, PyAny>) -> PyResult<JsStr<'a>> {
    let s = value.cast::<PyString>().map_err(|_| {
        let name = value.get_type().name().map_or_else(|_| "object".to_owned(), |n| n.to_string());
        PyTypeError::new_err(format!("protocol version must be a str, not {name}"))
    })?;
    js_str(s).map_err(to_py)
}

/// The reference's `validateProtocolVersion(client, server).errors`.
#[pyfunction]
fn validate_protocol_version<'py>(
    py: Python<'py>,
    client: &Bound<'py, PyAny>,
    server: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let (client, server) = (version_arg(client)?, version_arg(server)?);
    str_list(py, validate::validate_protocol_version(&client, &server))
}

/// The reference's `validateSessionId(value).errors`.
#[pyfunction]
fn validate_session_id<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    str_list(py, validate::validate_session_id(value).map_err(to_py)?)
}

/// Checksum of a schema's canonical JSON: sha256 hex, or `xxh3:` + XXH3-128 hex.
#[pyfunction]
#[pyo3(signature = (schema, /, algorithm = "sha256"))]
fn calculate_checksum(schema: &Bound<'_, PyAny>, algorithm: &str) -> PyResult<String> {
    let algorithm = Algorithm::from_name(algorithm).map_err(to_py)?;
    checksum::checksum(schema, algorithm).map_err(to_py)
}

/// The exact bytes `calculate_checksum` hashes.
#[pyfunction]
fn canonical_json<'py>(py: Python<'py>, schema: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let out = checksum::canonical_json(schema).map_err(to_py)?;
    Ok(PyBytes::new(py, &out))
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
    Ok(())
}
