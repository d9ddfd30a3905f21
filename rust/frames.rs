//! The JSON a delta and a patch take inside an `update` message, written straight from
//! the walk's values: what `dumps` writes for the `SchemaDelta` Struct and for the list
//! of op dicts, byte for byte, without making a Python object of any value first
//! (architecture.md, "The save pipeline", step 5).

use crate::canonical::stringify_into;
use crate::delta::Delta;
use crate::error::CoreError;
use crate::patch::diff::{Op, write_op};
use crate::value::Source;

/// `{"added":[...],"modified":[...],"removed":[...],"metadataChanges":{...}}`, the last
/// member only when a schema-level key changed (a removed key is `null`).
pub(crate) fn delta_json<'s, S: Source<'s>>(delta: &Delta<S>, out: &mut Vec<u8>) -> Result<(), CoreError> {
    let list = |out: &mut Vec<u8>, name: &[u8], values: &[S]| -> Result<(), CoreError> {
        out.extend_from_slice(name);
        out.push(b'[');
        for (i, &value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            stringify_into(value, false, out)?;
        }
        out.push(b']');
        Ok(())
    };
    let value = |out: &mut Vec<u8>, value: Option<S>| {
        if let Some(value) = value {
            return stringify_into(value, false, out);
        }
        out.extend_from_slice(b"null");
        Ok(())
    };
    list(out, b"{\"added\":", &delta.added)?;
    list(out, b",\"modified\":", &delta.modified)?;
    out.extend_from_slice(b",\"removed\":[");
    for (i, &id) in delta.removed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        value(out, id)?;
    }
    out.push(b']');
    if !delta.changes.is_empty() {
        out.extend_from_slice(b",\"metadataChanges\":{");
        for (i, &(name, change)) in delta.changes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            value(out, change)?;
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

/// The ops as a JSON array of op objects.
pub(crate) fn patch_json<'s, S: Source<'s>>(ops: &[Op<S>], out: &mut Vec<u8>) -> Result<(), CoreError> {
    out.push(b'[');
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_op(op, out)?;
    }
    out.push(b']');
    Ok(())
}
