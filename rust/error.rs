//! `CoreError`: every way the core can refuse input, with the message users see.
//!
//! The `Display` texts are part of the contract: `lumora_fast.pure` raises the same
//! strings, and the differential tests compare them.

use std::fmt;

use crate::canonical::string::write_json_string;
use crate::value::JsStr;

/// Maximum container nesting accepted anywhere (`[]` is depth 1).
pub(crate) const MAX_DEPTH: usize = 512;

/// One step of a JSONPath-like location, recorded while an error unwinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Index(usize),
    /// A key as WTF-8 bytes (Python keys may hold lone surrogates).
    Key(Vec<u8>),
}

/// A location such as `$.nodes[3].props.size`. Segments are pushed innermost first while
/// the error propagates outwards, so they are stored reversed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Path(Vec<Seg>);

impl Path {
    pub(crate) fn push_outer(&mut self, seg: Seg) {
        self.0.push(seg);
    }
}

fn is_identifier(key: &[u8]) -> bool {
    let Some((&first, rest)) = key.split_first() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'_' || first == b'$')
        && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

impl Path {
    /// The path as WTF-8 bytes (a key may hold a lone surrogate, escaped as in JSON).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = b"$".to_vec();
        for seg in self.0.iter().rev() {
            match seg {
                Seg::Index(i) => {
                    out.push(b'[');
                    out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
                    out.push(b']');
                }
                Seg::Key(k) if is_identifier(k) => {
                    out.push(b'.');
                    out.extend_from_slice(k);
                }
                Seg::Key(k) => {
                    out.push(b'[');
                    write_json_string(&mut out, &JsStr::wtf8(k));
                    out.push(b']');
                }
            }
        }
        out
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // JSON escaping leaves only valid UTF-8 (lone surrogates become \udxxx).
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Why the core refused its input. Boxed, so that `Result`s on the hot path stay small.
#[derive(Debug)]
pub(crate) struct CoreError(Box<ErrorKind>);

#[derive(Debug)]
pub(crate) enum ErrorKind {
    /// A value that is not JSON (set, bytes, custom object, `UNSET` outside a Struct).
    Unsupported {
        type_name: String,
        path: Path,
    },
    /// An object key that is not a string.
    NonStrKey {
        type_name: String,
        path: Path,
    },
    /// Containers nested deeper than [`MAX_DEPTH`].
    TooDeep {
        path: Path,
    },
    /// JSON text nested deeper than [`MAX_DEPTH`] (no path: there is no tree yet).
    TooDeepInText,
    /// JSON text that `JSON.parse` rejects.
    Syntax {
        message: &'static str,
        offset: usize,
        line: usize,
        column: usize,
    },
    /// Bytes that are not UTF-8.
    InvalidUtf8 {
        offset: usize,
    },
    /// Input over the byte limit, refused before parsing.
    TooLarge {
        size: usize,
        limit: usize,
    },
    /// Schema-shape errors where the reference throws.
    SchemaNotObject {
        type_name: String,
    },
    NoMetadata,
    MetadataNotObject {
        type_name: String,
    },
    NodesNotArray,
    NodeNotObject {
        list: &'static str,
        index: usize,
        type_name: String,
    },
    ModifiedNotFound {
        id_json: String,
    },
    /// A patch that cannot be applied: `patch op <index>: <reason>` (or about the patch
    /// itself), the same text as `lumora_fast.pure.patch`.
    Patch {
        message: String,
    },
    /// Where the reference's string conversion throws a `TypeError`.
    ToPrimitive,
    /// Internal signal: an object's array-index keys arrived out of order and it must be
    /// written again from collected members. Never reaches users.
    Reorder,
    UnknownAlgorithm {
        name: String,
    },
    /// The checksum's hashing thread stopped before the end (it cannot, short of a bug).
    HasherLost,
    /// An exception raised by Python while a value was read.
    #[cfg(feature = "python")]
    Python(pyo3::PyErr),
}

impl From<ErrorKind> for CoreError {
    #[cold]
    fn from(kind: ErrorKind) -> Self {
        CoreError(Box::new(kind))
    }
}

impl CoreError {
    pub(crate) fn kind(&self) -> &ErrorKind {
        &self.0
    }

    #[cfg(feature = "python")]
    pub(crate) fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// Record that the error happened inside `seg` of the enclosing container.
    #[cold]
    #[must_use]
    pub(crate) fn within(mut self, seg: Seg) -> Self {
        match &mut *self.0 {
            ErrorKind::Unsupported { path, .. } | ErrorKind::NonStrKey { path, .. } | ErrorKind::TooDeep { path } => {
                path.push_outer(seg);
            }
            _ => {}
        }
        self
    }

    #[cold]
    pub(crate) fn hasher_lost() -> Self {
        ErrorKind::HasherLost.into()
    }

    #[cold]
    pub(crate) fn too_deep() -> Self {
        ErrorKind::TooDeep { path: Path::default() }.into()
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Unsupported { type_name, path } => {
                write!(f, "unsupported type {type_name} at {path}")
            }
            ErrorKind::NonStrKey { type_name, path } => {
                write!(f, "dict key must be str, got {type_name} at {path}")
            }
            ErrorKind::TooDeep { path } => write!(f, "nesting depth exceeds {MAX_DEPTH} at {path}"),
            ErrorKind::TooDeepInText => write!(f, "nesting depth exceeds {MAX_DEPTH}"),
            ErrorKind::Syntax { message, offset, line, column } => {
                write!(f, "invalid JSON: {message} at line {line} column {column} (char {offset})")
            }
            ErrorKind::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8: bad byte at offset {offset}")
            }
            ErrorKind::TooLarge { size, limit } => {
                write!(f, "message is {size} bytes, over the limit of {limit}")
            }
            ErrorKind::SchemaNotObject { type_name } => {
                write!(f, "schema must be a JSON object, got {type_name}")
            }
            ErrorKind::NoMetadata => f.write_str("schema has no 'metadata' object"),
            ErrorKind::MetadataNotObject { type_name } => {
                write!(f, "schema 'metadata' must be an object, got {type_name}")
            }
            ErrorKind::NodesNotArray => f.write_str("schema 'nodes' must be an array"),
            ErrorKind::NodeNotObject { list, index, type_name } => {
                write!(f, "node at $.{list}[{index}] must be an object, got {type_name}")
            }
            ErrorKind::ModifiedNotFound { id_json } => {
                write!(f, "cannot apply delta: modified node {id_json} is not in the schema")
            }
            ErrorKind::Patch { message } => f.write_str(message),
            ErrorKind::ToPrimitive => f.write_str("Cannot convert object to primitive value"),
            ErrorKind::Reorder => f.write_str("internal: object members out of order"),
            ErrorKind::HasherLost => f.write_str("internal error: the hashing thread stopped"),
            ErrorKind::UnknownAlgorithm { name } => {
                write!(f, "unknown checksum algorithm '{name}' (expected 'sha256' or 'xxh3')")
            }
            #[cfg(feature = "python")]
            ErrorKind::Python(err) => write!(f, "{err}"),
        }
    }
}

#[cfg(feature = "python")]
impl From<pyo3::PyErr> for CoreError {
    #[cold]
    fn from(err: pyo3::PyErr) -> Self {
        ErrorKind::Python(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_formats_like_jsonpath() {
        let mut p = Path::default();
        p.push_outer(Seg::Key(b"size".to_vec()));
        p.push_outer(Seg::Key(b"props".to_vec()));
        p.push_outer(Seg::Index(3));
        p.push_outer(Seg::Key(b"nodes".to_vec()));
        assert_eq!(p.to_string(), "$.nodes[3].props.size");
        let mut q = Path::default();
        q.push_outer(Seg::Key(b"my key".to_vec()));
        q.push_outer(Seg::Key(b"0a".to_vec()));
        assert_eq!(q.to_string(), "$[\"0a\"][\"my key\"]");
        assert_eq!(Path::default().to_string(), "$");
    }
}
