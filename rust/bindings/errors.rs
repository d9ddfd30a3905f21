//! The one place a `CoreError` becomes a Python exception.

use pyo3::PyErr;
use pyo3::exceptions::{PyRuntimeError, PyValueError};

use crate::error::{CoreError, ErrorKind};

// Defined in Python so that both backends raise the same class.
pyo3::import_exception!(lumora_fast.errors, ProtocolError);

#[cold]
pub(crate) fn to_py(err: CoreError) -> PyErr {
    match err.into_kind() {
        ErrorKind::Python(err) => err,
        kind @ ErrorKind::UnknownAlgorithm { .. } => PyValueError::new_err(kind.to_string()),
        kind @ ErrorKind::HasherLost => PyRuntimeError::new_err(kind.to_string()),
        kind => ProtocolError::new_err(kind.to_string()),
    }
}
