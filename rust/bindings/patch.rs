//! `calculate_schema_patch` and `apply_schema_patch` for Python objects.
//!
//! Calculating is a walk over views (see `view`), its ops turned into dicts while the
//! views are valid. Applying builds a new tree of Python objects and holds a strong
//! reference to everything it touches (no borrowed view lives across it), copying
//! only the containers on the paths the ops name: a container copied once is owned by
//! the result and changed in place by later ops; everything else is shared.
//! `lumora_fast.pure.patch` is the same algorithm, with the same error texts.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rustc_hash::FxHashSet;

use super::build::py_str;
use super::errors::to_py;
use super::type_name;
use super::view::{Ctx, PyComparator, wtf8};
use crate::delta::{Comparer, check_json};
use crate::error::{CoreError, ErrorKind, Seg};
use crate::patch::diff::{self, Op};
use crate::patch::pointer::{array_index, fault, parse, quote};
use crate::value::JsStr;

fn op_dict<'py, S: Copy>(
    py: Python<'py>,
    op: &Op<S>,
    object: &mut dyn FnMut(S) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let key = |name: &str| PyString::intern(py, name);
    let pointer = |path: &[u8]| py_str(py, &JsStr::wtf8(path));
    let mut value = |value: Option<S>| value.map_or_else(|| Ok(py.None().into_bound(py)), &mut *object);
    match op {
        Op::Add { path, value: v } | Op::Replace { path, value: v } => {
            dict.set_item(key("op"), key(if matches!(op, Op::Add { .. }) { "add" } else { "replace" }))?;
            dict.set_item(key("path"), pointer(path)?)?;
            dict.set_item(key("value"), value(*v)?)?;
        }
        Op::Remove { path } => {
            dict.set_item(key("op"), key("remove"))?;
            dict.set_item(key("path"), pointer(path)?)?;
        }
        Op::Move { from, path } => {
            dict.set_item(key("op"), key("move"))?;
            dict.set_item(key("from"), pointer(from)?)?;
            dict.set_item(key("path"), pointer(path)?)?;
        }
    }
    Ok(dict)
}

/// The ops as a list of dicts, their values made by `object` (for views, while the
/// views they hold are valid).
pub(crate) fn op_list<'py, S: Copy>(
    py: Python<'py>,
    ops: &[Op<S>],
    object: &mut dyn FnMut(S) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for op in ops {
        list.append(op_dict(py, op, object)?)?;
    }
    Ok(list)
}

/// The RFC 6902 ops that turn `old` into `new`.
#[pyfunction]
#[pyo3(signature = (old, new, /))]
pub(crate) fn calculate_schema_patch<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    if let Some((old, new)) = super::document::both_documents(old, new) {
        let ops = diff::calculate(old.root(), new.root(), crate::delta::Generic).map_err(to_py)?;
        let mut maker = super::document::PyMaker::new(py);
        return op_list(py, &ops, &mut |v| maker.make(v));
    }
    let (old, new) = (&super::document::as_value(old)?, &super::document::as_value(new)?);
    let ctx = Ctx::new(py)?;
    let ops = diff::calculate(ctx.view(old), ctx.view(new), PyComparator).map_err(to_py)?;
    op_list(py, &ops, &mut |v| Ok(v.to_object()))
}

/// A container the walk can enter.
enum Container<'py> {
    Dict(Bound<'py, PyDict>),
    List(Bound<'py, PyList>),
    Tuple(Bound<'py, PyTuple>),
}

fn container<'py>(value: &Bound<'py, PyAny>) -> Option<Container<'py>> {
    if let Ok(dict) = value.cast::<PyDict>() {
        return Some(Container::Dict(dict.clone()));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return Some(Container::List(list.clone()));
    }
    value.cast::<PyTuple>().ok().map(|tuple| Container::Tuple(tuple.clone()))
}

fn token_str<'py>(py: Python<'py>, token: &[u8]) -> PyResult<Bound<'py, PyString>> {
    py_str(py, &JsStr::wtf8(token))
}

/// The result being built: containers copied on first write (`owned` by address; each
/// held in `keep`, so an address is never reused), everything else shared.
struct Document<'py> {
    py: Python<'py>,
    root: Bound<'py, PyAny>,
    owned: FxHashSet<usize>,
    keep: Vec<Bound<'py, PyAny>>,
}

/// Why a value was not found: which pointer, and whether it is an op's `from`.
#[derive(Clone, Copy)]
struct Target<'a> {
    pointer: &'a [u8],
    index: usize,
    source: bool,
}

impl Target<'_> {
    fn not_found(self) -> CoreError {
        let prefix = if self.source { "from " } else { "" };
        fault(self.index, &format!("{prefix}{} not found", quote(self.pointer)))
    }
}

impl<'py> Document<'py> {
    fn new(root: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut document =
            Document { py: root.py(), root: root.clone(), owned: FxHashSet::default(), keep: Vec::new() };
        if container(root).is_some() {
            document.root = document.own(root)?;
        }
        Ok(document)
    }

    /// `value` if this document made it, else a copy (dicts stay dicts, arrays become lists).
    fn own(&mut self, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if self.owned.contains(&(value.as_ptr() as usize)) {
            return Ok(value.clone());
        }
        let copy = match container(value) {
            Some(Container::Dict(dict)) => {
                let copy = PyDict::new(self.py);
                for (key, item) in dict.iter() {
                    copy.set_item(key, item)?;
                }
                copy.into_any()
            }
            Some(Container::List(list)) => PyList::new(self.py, list.iter())?.into_any(),
            Some(Container::Tuple(tuple)) => PyList::new(self.py, tuple.iter())?.into_any(),
            None => return Ok(value.clone()),
        };
        self.owned.insert(copy.as_ptr() as usize);
        self.keep.push(copy.clone());
        Ok(copy)
    }

    /// `value` is about to be in two places (a `copy`): no container in it may be
    /// changed in place any more, or the change would show in both (and a copy into its
    /// own descendant would make the result contain itself). Owned containers are
    /// owned from the root down, so only owned ones can hold owned ones.
    fn share(&mut self, value: &Bound<'py, PyAny>) {
        let mut stack = vec![value.clone()];
        while let Some(node) = stack.pop() {
            if !self.owned.remove(&(node.as_ptr() as usize)) {
                continue;
            }
            match container(&node) {
                Some(Container::Dict(dict)) => stack.extend(dict.values()),
                Some(Container::List(list)) => stack.extend(list.iter()),
                Some(Container::Tuple(tuple)) => stack.extend(tuple.iter()),
                None => {}
            }
        }
    }

    /// The value at `tokens`, or the op's error.
    fn find(&self, tokens: &[Vec<u8>], target: Target<'_>) -> Result<Bound<'py, PyAny>, CoreError> {
        let mut node = self.root.clone();
        for token in tokens {
            let next = match container(&node) {
                Some(Container::Dict(dict)) => dict.get_item(token_str(self.py, token)?)?,
                Some(Container::List(list)) => {
                    let at = array_index(token, list.len(), false, target.pointer, target.index)?;
                    Some(list.get_item(at)?)
                }
                Some(Container::Tuple(tuple)) => {
                    let at = array_index(token, tuple.len(), false, target.pointer, target.index)?;
                    Some(tuple.get_item(at)?)
                }
                None => None,
            };
            node = next.ok_or_else(|| target.not_found())?;
        }
        Ok(node)
    }

    /// The owned container at `tokens`, which [`Document::find`] found.
    fn writable(&mut self, tokens: &[Vec<u8>]) -> PyResult<Bound<'py, PyAny>> {
        // The root too may be shared: the caller's value after a `replace` of the whole
        // document, or the previous root after a `copy` of it.
        self.root = self.own(&self.root.clone())?;
        let mut node = self.root.clone();
        for token in tokens {
            let child = match container(&node) {
                Some(Container::Dict(dict)) => {
                    let key = token_str(self.py, token)?;
                    let found = dict.get_item(&key)?.ok_or_else(lost)?;
                    let child = self.own(&found)?;
                    dict.set_item(key, &child)?;
                    child
                }
                Some(Container::List(list)) => {
                    let at = position(token);
                    let child = self.own(&list.get_item(at)?)?;
                    list.set_item(at, &child)?;
                    child
                }
                // Owned containers are dicts and lists only.
                Some(Container::Tuple(_)) | None => return Err(lost()),
            };
            node = child;
        }
        Ok(node)
    }

    fn add(&mut self, tokens: &[Vec<u8>], value: &Bound<'py, PyAny>, pointer: &[u8], index: usize) -> PyResult<()> {
        let Some((last, parent_tokens)) = tokens.split_last() else {
            self.root = value.clone();
            return Ok(());
        };
        let target = Target { pointer, index, source: false };
        let parent = self.find(parent_tokens, target).map_err(to_py)?;
        let size = match container(&parent) {
            Some(Container::Dict(_)) => {
                let key = token_str(self.py, last)?;
                return self.writable(parent_tokens)?.cast::<PyDict>()?.set_item(key, value);
            }
            Some(Container::List(items)) => items.len(),
            Some(Container::Tuple(items)) => items.len(),
            None => return Err(to_py(target.not_found())),
        };
        let at = array_index(last, size, true, pointer, index).map_err(to_py)?;
        self.writable(parent_tokens)?.cast::<PyList>()?.insert(at, value)
    }

    fn remove(&mut self, tokens: &[Vec<u8>], target: Target<'_>) -> PyResult<Bound<'py, PyAny>> {
        let Some((last, parent_tokens)) = tokens.split_last() else {
            return Err(to_py(fault(target.index, "cannot remove the whole document")));
        };
        let value = self.find(tokens, target).map_err(to_py)?;
        let parent = self.writable(parent_tokens)?;
        if let Ok(dict) = parent.cast::<PyDict>() {
            dict.del_item(token_str(self.py, last)?)?;
        } else {
            parent.cast::<PyList>()?.del_item(position(last))?;
        }
        Ok(value)
    }

    fn replace(&mut self, tokens: &[Vec<u8>], value: &Bound<'py, PyAny>, target: Target<'_>) -> PyResult<()> {
        self.find(tokens, target).map_err(to_py)?;
        let Some((last, parent_tokens)) = tokens.split_last() else {
            self.root = value.clone();
            return Ok(());
        };
        let parent = self.writable(parent_tokens)?;
        if let Ok(dict) = parent.cast::<PyDict>() {
            dict.set_item(token_str(self.py, last)?, value)
        } else {
            parent.cast::<PyList>()?.set_item(position(last), value)
        }
    }
}

/// A token [`array_index`] accepted (digits that fit).
fn position(token: &[u8]) -> usize {
    std::str::from_utf8(token).ok().and_then(|t| t.parse().ok()).unwrap_or(usize::MAX)
}

/// Where [`Document::find`] found a container that is no longer there (it cannot be).
#[cold]
fn lost() -> PyErr {
    to_py(ErrorKind::Patch { message: "internal error: a patched container went missing".to_owned() }.into())
}

/// A text member of an op: its WTF-8 bytes, or the op's error.
fn text_member(op: &Bound<'_, PyDict>, name: &str, index: usize) -> PyResult<Vec<u8>> {
    let Some(value) = op.get_item(name)? else {
        return Err(to_py(fault(index, &format!("missing '{name}'"))));
    };
    if !value.is_instance_of::<PyString>() {
        return Err(to_py(fault(index, &format!("'{name}' must be a string, got {}", type_name(&value)))));
    }
    Ok(wtf8(&value)?.as_bytes().to_vec())
}

/// Raise op `index`'s error unless `value` is JSON; `seg` names it in the error.
fn check_value(py: Python<'_>, value: &Bound<'_, PyAny>, seg: Option<&str>, index: usize) -> PyResult<()> {
    let ctx = Ctx::new(py)?;
    check_json(ctx.view(value)).map_err(|err| {
        let err = match seg {
            Some(seg) => err.within(Seg::Key(seg.as_bytes().to_vec())),
            None => err,
        };
        match err.kind() {
            ErrorKind::Unsupported { .. } | ErrorKind::NonStrKey { .. } | ErrorKind::TooDeep { .. } => {
                to_py(fault(index, &err.to_string()))
            }
            _ => to_py(err),
        }
    })
}

const OPS: [&[u8]; 6] = [b"add", b"remove", b"replace", b"move", b"copy", b"test"];

fn apply_op<'py>(document: &mut Document<'py>, index: usize, op: &Bound<'py, PyAny>) -> PyResult<()> {
    let py = document.py;
    let Ok(op) = op.cast::<PyDict>() else {
        return Err(to_py(
            ErrorKind::Patch { message: format!("patch op {index} must be an object, got {}", type_name(op)) }.into(),
        ));
    };
    let name = text_member(op, "op", index)?;
    if !OPS.contains(&name.as_slice()) {
        return Err(to_py(fault(index, &format!("unknown op {}", quote(&name)))));
    }
    let pointer = text_member(op, "path", index)?;
    let tokens = parse(&pointer, index).map_err(to_py)?;
    let (mut source, mut source_tokens) = (Vec::new(), Vec::new());
    if name == b"move" || name == b"copy" {
        source = text_member(op, "from", index)?;
        source_tokens = parse(&source, index).map_err(to_py)?;
    }
    let mut value = py.None().into_bound(py);
    if name == b"add" || name == b"replace" || name == b"test" {
        value = op.get_item("value")?.ok_or_else(|| to_py(fault(index, "missing 'value'")))?;
        check_value(py, &value, Some("value"), index)?;
    }
    let target = Target { pointer: &pointer, index, source: false };
    let from = Target { pointer: &source, index, source: true };
    match name.as_slice() {
        b"add" => document.add(&tokens, &value, &pointer, index),
        b"remove" => document.remove(&tokens, target).map(drop),
        b"replace" => document.replace(&tokens, &value, target),
        b"test" => {
            let found = document.find(&tokens, target).map_err(to_py)?;
            check_value(py, &found, None, index)?;
            let ctx = Ctx::new(py)?;
            if Comparer::new(PyComparator).compare(ctx.view(&found), ctx.view(&value), 1).map_err(to_py)? {
                Ok(())
            } else {
                Err(to_py(fault(index, &format!("test failed at {}", quote(&pointer)))))
            }
        }
        b"copy" => {
            let found = document.find(&source_tokens, from).map_err(to_py)?;
            document.share(&found);
            document.add(&tokens, &found, &pointer, index)
        }
        _ => {
            let found = document.find(&source_tokens, from).map_err(to_py)?;
            if tokens == source_tokens {
                return Ok(());
            }
            if tokens.starts_with(&source_tokens) {
                let reason = format!("cannot move {} into itself at {}", quote(&source), quote(&pointer));
                return Err(to_py(fault(index, &reason)));
            }
            document.remove(&source_tokens, from)?;
            document.add(&tokens, &found, &pointer, index)
        }
    }
}

/// A new value with an RFC 6902 patch applied; `schema` and `patch` are not modified.
#[pyfunction]
#[pyo3(signature = (schema, patch, /))]
pub(crate) fn apply_schema_patch<'py>(
    schema: &Bound<'py, PyAny>,
    patch: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let ops: Vec<Bound<'py, PyAny>> = if let Ok(list) = patch.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = patch.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        let message = format!("patch must be an array, got {}", type_name(patch));
        return Err(to_py(ErrorKind::Patch { message }.into()));
    };
    let mut document = Document::new(schema)?;
    for (index, op) in ops.iter().enumerate() {
        apply_op(&mut document, index, op)?;
    }
    Ok(document.root)
}
