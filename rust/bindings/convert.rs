//! Python objects as a JSON [`Source`] (walked in place, no conversion), and the
//! [`Builder`] that turns parsed JSON into Python objects.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::{IntoPyObjectExt, intern};

use crate::error::{CoreError, Path};
use crate::parse::Builder;
use crate::value::{JsStr, Key, Read, Source};

/// `msgspec.Struct` and `msgspec.UNSET`, looked up once.
struct Msgspec {
    struct_type: Py<PyType>,
    unset: Py<PyAny>,
}

static MSGSPEC: PyOnceLock<Msgspec> = PyOnceLock::new();

fn msgspec(py: Python<'_>) -> PyResult<&Msgspec> {
    MSGSPEC.get_or_try_init(py, || {
        let module = py.import("msgspec")?;
        Ok(Msgspec {
            struct_type: module.getattr("Struct")?.cast_into::<PyType>()?.unbind(),
            unset: module.getattr("UNSET")?.unbind(),
        })
    })
}

/// A Python `str` as a JS string; strings holding surrogates go through `surrogatepass`.
pub(crate) fn js_str<'a>(s: &'a Bound<'_, PyString>) -> Result<JsStr<'a>, CoreError> {
    if let Ok(text) = s.to_str() {
        return Ok(JsStr::utf8(text));
    }
    let bytes = s.call_method1(intern!(s.py(), "encode"), ("utf-8", "surrogatepass"))?;
    Ok(JsStr::owned(bytes.cast::<PyBytes>().map_err(PyErr::from)?.as_bytes().to_vec()))
}

/// A JS string (WTF-8) as a Python `str`.
pub(crate) fn py_str<'py>(py: Python<'py>, s: &JsStr<'_>) -> PyResult<Bound<'py, PyString>> {
    if !s.is_wtf8()
        && let Ok(text) = std::str::from_utf8(s.as_bytes())
    {
        return Ok(PyString::new(py, text));
    }
    PyString::from_encoded_object(&PyBytes::new(py, s.as_bytes()), Some(c"utf-8"), Some(c"surrogatepass"))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

pub(crate) enum PyItems<'py> {
    List(pyo3::types::list::BoundListIterator<'py>),
    Tuple(pyo3::types::tuple::BoundTupleIterator<'py>),
}

impl<'py> Iterator for PyItems<'py> {
    type Item = Result<Bound<'py, PyAny>, CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            PyItems::List(it) => it.next(),
            PyItems::Tuple(it) => it.next(),
        }
        .map(Ok)
    }
}

pub(crate) enum PyEntries<'py> {
    Dict(pyo3::types::dict::BoundDictIterator<'py>),
    Struct(StructEntries<'py>),
}

impl<'py> Iterator for PyEntries<'py> {
    type Item = Result<(Bound<'py, PyAny>, Bound<'py, PyAny>), CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            PyEntries::Dict(it) => it.next().map(Ok),
            PyEntries::Struct(it) => it.next(),
        }
    }
}

/// A msgspec Struct's wire members: the tag first (if tagged), then every field that is
/// not `UNSET`, named as it is encoded (`rename`).
pub(crate) struct StructEntries<'py> {
    object: Bound<'py, PyAny>,
    fields: Bound<'py, PyTuple>,
    wire_names: Bound<'py, PyTuple>,
    unset: Bound<'py, PyAny>,
    tag: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    index: usize,
}

impl<'py> StructEntries<'py> {
    fn new(object: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = object.py();
        let cls = object.get_type();
        let config = cls.getattr(intern!(py, "__struct_config__"))?;
        let tag_field = config.getattr(intern!(py, "tag_field"))?;
        let tag = if tag_field.is_none() { None } else { Some((tag_field, config.getattr(intern!(py, "tag"))?)) };
        Ok(StructEntries {
            object: object.clone(),
            fields: cls.getattr(intern!(py, "__struct_fields__"))?.cast_into::<PyTuple>()?,
            wire_names: cls.getattr(intern!(py, "__struct_encode_fields__"))?.cast_into::<PyTuple>()?,
            unset: msgspec(py)?.unset.bind(py).clone(),
            tag,
            index: 0,
        })
    }

    /// The value of the member named `wire` on the wire, if set.
    fn get(&self, wire: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        if let Some((field, tag)) = &self.tag
            && field.cast::<PyString>().is_ok_and(|f| f.to_str().is_ok_and(|f| f == wire))
        {
            return Ok(Some(tag.clone()));
        }
        for (i, name) in self.wire_names.iter().enumerate() {
            if name.cast::<PyString>().is_ok_and(|n| n.to_str().is_ok_and(|n| n == wire)) {
                let value = self.object.getattr(self.fields.get_item(i)?.cast_into::<PyString>()?)?;
                return Ok(if value.is(&self.unset) { None } else { Some(value) });
            }
        }
        Ok(None)
    }

    fn next_member(&mut self) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        if let Some(tag) = self.tag.take() {
            return Ok(Some(tag));
        }
        while self.index < self.fields.len() {
            let i = self.index;
            self.index += 1;
            let value = self.object.getattr(self.fields.get_item(i)?.cast_into::<PyString>()?)?;
            if !value.is(&self.unset) {
                return Ok(Some((self.wire_names.get_item(i)?, value)));
            }
        }
        Ok(None)
    }
}

impl<'py> Iterator for StructEntries<'py> {
    type Item = Result<(Bound<'py, PyAny>, Bound<'py, PyAny>), CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_member().map_err(CoreError::from).transpose()
    }
}

fn is_struct(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value.is_instance(msgspec(value.py())?.struct_type.bind(value.py()))
}

fn int_value<'a, 'py>(value: &Bound<'py, PyInt>) -> Read<'a, Bound<'py, PyAny>> {
    if let Ok(i) = value.extract::<i64>() {
        return Read::Int(i);
    }
    // Beyond i64: the nearest double, as JSON.parse would have produced; beyond the
    // double range, Infinity.
    match value.extract::<f64>() {
        Ok(f) => Read::Float(f),
        Err(_) if value.lt(0).unwrap_or(false) => Read::Float(f64::NEG_INFINITY),
        Err(_) => Read::Float(f64::INFINITY),
    }
}

impl<'py> Key for Bound<'py, PyAny> {
    fn js_str(&self) -> Result<JsStr<'_>, CoreError> {
        match self.cast::<PyString>() {
            Ok(s) => js_str(s),
            Err(_) => Err(CoreError::NonStrKey { type_name: type_name(self), path: Path::default() }),
        }
    }
}

impl<'py> Source for Bound<'py, PyAny> {
    type Key = Bound<'py, PyAny>;
    type Items = PyItems<'py>;
    type Entries = PyEntries<'py>;

    fn read(&self) -> Result<Read<'_, Self>, CoreError> {
        // Exact builtin types first: they are nearly everything in a schema.
        if let Ok(s) = self.cast_exact::<PyString>() {
            return Ok(Read::Str(js_str(s)?));
        }
        if let Ok(d) = self.cast_exact::<PyDict>() {
            return Ok(Read::Object(PyEntries::Dict(d.iter())));
        }
        if let Ok(i) = self.cast_exact::<PyInt>() {
            return Ok(int_value(i));
        }
        if let Ok(l) = self.cast_exact::<PyList>() {
            return Ok(Read::Array(PyItems::List(l.iter())));
        }
        if let Ok(f) = self.cast_exact::<PyFloat>() {
            return Ok(Read::Float(f.value()));
        }
        if self.is_none() {
            return Ok(Read::Null);
        }
        if let Ok(b) = self.cast::<PyBool>() {
            return Ok(Read::Bool(b.is_true()));
        }
        // Subclasses (StrEnum, IntEnum, OrderedDict, ...), tuples and Structs.
        if let Ok(s) = self.cast::<PyString>() {
            return Ok(Read::Str(js_str(s)?));
        }
        if let Ok(i) = self.cast::<PyInt>() {
            return Ok(int_value(i));
        }
        if let Ok(f) = self.cast::<PyFloat>() {
            return Ok(Read::Float(f.value()));
        }
        if let Ok(d) = self.cast::<PyDict>() {
            return Ok(Read::Object(PyEntries::Dict(d.iter())));
        }
        if let Ok(l) = self.cast::<PyList>() {
            return Ok(Read::Array(PyItems::List(l.iter())));
        }
        if let Ok(t) = self.cast::<PyTuple>() {
            return Ok(Read::Array(PyItems::Tuple(t.iter())));
        }
        if is_struct(self)? {
            return Ok(Read::Object(PyEntries::Struct(StructEntries::new(self)?)));
        }
        Err(CoreError::Unsupported { type_name: type_name(self), path: Path::default() })
    }

    fn get(&self, key: &str) -> Result<Option<Self>, CoreError> {
        if let Ok(d) = self.cast::<PyDict>() {
            return Ok(d.get_item(key)?);
        }
        if is_struct(self)? {
            return Ok(StructEntries::new(self)?.get(key)?);
        }
        Ok(None)
    }

    fn type_name(&self) -> String {
        type_name(self)
    }
}

/// Makes the Python objects `json.loads` would make.
pub(crate) struct PyBuilder<'py> {
    py: Python<'py>,
}

impl<'py> PyBuilder<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        PyBuilder { py }
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
        let digits = literal.trim_start_matches('-').len();
        if digits > INT_MAX_STR_DIGITS {
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
        self.string(value)
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
