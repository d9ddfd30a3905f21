//! The one place a `CoreError` becomes a Python exception.

use pyo3::PyErr;
use pyo3::exceptions::PyValueError;

use crate::error::CoreError;

// Defined in Python so that both backends raise the same class.
pyo3::import_exception!(lumora_fast.errors, ProtocolError);

#[cold]
pub(crate) fn to_py(err: CoreError) -> PyErr {
    match err {
        CoreError::Python(err) => err,
        CoreError::UnknownAlgorithm { .. } => PyValueError::new_err(err.to_string()),
        other => ProtocolError::new_err(other.to_string()),
    }
}
