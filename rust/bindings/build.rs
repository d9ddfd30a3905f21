//! The [`Builder`] that turns parsed JSON into the Python objects `json.loads` makes.

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};
use rustc_hash::FxHashMap;

use crate::error::CoreError;
use crate::parse::Builder;
use crate::value::JsStr;

/// A JS string (WTF-8) as a Python `str`; surrogates survive via `surrogatepass`.
pub(crate) fn py_str<'py>(py: Python<'py>, s: &JsStr<'_>) -> PyResult<Bound<'py, PyString>> {
    if !s.is_wtf8()
        && let Ok(text) = std::str::from_utf8(s.as_bytes())
    {
        return Ok(PyString::new(py, text));
    }
    PyString::from_encoded_object(&PyBytes::new(py, s.as_bytes()), Some(c"utf-8"), Some(c"surrogatepass"))
}

pub(crate) struct PyBuilder<'py> {
    py: Python<'py>,
    /// Key strings made so far: a document repeats the same few keys thousands of times,
    /// and a shared key object is smaller, hashes once, and lets the serializer's key
    /// cache hit when the result is written again.
    keys: FxHashMap<Vec<u8>, Bound<'py, PyString>>,
}

impl<'py> PyBuilder<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        PyBuilder { py, keys: FxHashMap::default() }
    }
}

/// Keys longer than this are not shared (they are rarely repeated).
const MAX_SHARED_KEY: usize = 64;

/// Keeps the cyclic garbage collector off while a document is built: building hundreds
/// of thousands of containers would otherwise trigger collections that traverse them
/// over and over (about half the time of a large parse). The previous state is restored
/// on drop, errors included.
pub(crate) struct GcPause {
    was_enabled: bool,
}

#[allow(unsafe_code)]
impl GcPause {
    pub(crate) fn new(_py: Python<'_>) -> Self {
        // SAFETY: called with the GIL held (the `Python` token proves it).
        let was_enabled = unsafe { pyo3::ffi::PyGC_Disable() } != 0;
        GcPause { was_enabled }
    }
}

#[allow(unsafe_code)]
impl Drop for GcPause {
    fn drop(&mut self) {
        if self.was_enabled {
            // SAFETY: dropped on the thread that made it, still holding the GIL (the
            // guard lives inside a function that holds a `Python` token).
            unsafe { pyo3::ffi::PyGC_Enable() };
        }
    }
}

/// Python refuses to convert integers of more than 4300 digits from text
/// (`sys.int_info.str_digits_check_threshold`); JSON.parse reads them as doubles.
const INT_MAX_STR_DIGITS: usize = 4300;

impl<'py> Builder for PyBuilder<'py> {
    type Value = Bound<'py, PyAny>;
    type Key = Bound<'py, PyAny>;

    fn null(&mut self) -> Result<Self::Value, CoreError> {
        Ok(self.py.None().into_bound(self.py))
    }

    fn boolean(&mut self, value: bool) -> Result<Self::Value, CoreError> {
        Ok(PyBool::new(self.py, value).to_owned().into_any())
    }

    fn integer(&mut self, literal: &str) -> Result<Self::Value, CoreError> {
        if let Ok(i) = literal.parse::<i64>() {
            return Ok(i.into_bound_py_any(self.py)?);
        }
        if literal.trim_start_matches('-').len() > INT_MAX_STR_DIGITS {
            let value: f64 = literal.parse().unwrap_or(f64::INFINITY);
            return Ok(PyFloat::new(self.py, value).into_any());
        }
        Ok(self.py.get_type::<PyInt>().call1((literal,))?)
    }

    fn float(&mut self, value: f64) -> Result<Self::Value, CoreError> {
        Ok(PyFloat::new(self.py, value).into_any())
    }

    fn string(&mut self, value: JsStr<'_>) -> Result<Self::Value, CoreError> {
        Ok(py_str(self.py, &value)?.into_any())
    }

    fn key(&mut self, value: JsStr<'_>) -> Result<Self::Key, CoreError> {
        let bytes = value.as_bytes();
        if bytes.len() > MAX_SHARED_KEY {
            return self.string(value);
        }
        if let Some(key) = self.keys.get(bytes) {
            return Ok(key.clone().into_any());
        }
        let key = py_str(self.py, &value)?;
        self.keys.insert(bytes.to_vec(), key.clone());
        Ok(key.into_any())
    }

    fn array(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, CoreError> {
        Ok(PyList::new(self.py, items)?.into_any())
    }

    fn object(&mut self, entries: Vec<(Self::Key, Self::Value)>) -> Result<Self::Value, CoreError> {
        let dict = PyDict::new(self.py);
        for (key, value) in entries {
            dict.set_item(key, value)?;
        }
        Ok(dict.into_any())
    }
}
