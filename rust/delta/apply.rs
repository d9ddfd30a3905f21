//! Applying a delta on the device side: `apply_schema_delta`'s nodes.

use rustc_hash::FxHashSet;

use crate::error::{CoreError, ErrorKind};
use crate::value::{Array, Source};

use super::ids::{IdKey, at_node, id_key, index_nodes};
use super::{check_nodes, id_json, schema_nodes};

/// The nodes of `schema` after applying a delta: removed ids dropped, each modified node
/// in place of the first node with its id (later duplicates dropped), added nodes
/// appended. `None` in `removed` also drops nodes without an id (JSON writes a missing
/// id as `null`).
pub(crate) fn apply_nodes<'s, S: Source<'s>>(
    schema: S,
    added: S::Array,
    modified: S::Array,
    removed: S::Array,
) -> Result<Vec<S>, CoreError> {
    let nodes = schema_nodes(schema)?;
    check_nodes::<S>(added, "added")?;
    check_nodes::<S>(modified, "modified")?;
    let mut removed_keys: FxHashSet<IdKey<'s>> = FxHashSet::default();
    removed.for_each(|i, id| {
        let key = id_key(Some(id)).map_err(|e| at_node(e, "removed", i, None))?;
        if key == IdKey::Null {
            removed_keys.insert(IdKey::Undefined);
        }
        removed_keys.insert(key);
        Ok(())
    })?;
    // Each modified node takes the place of the first node with its id: the nodes are
    // paired with the replacements by id (a repeated modified id: its last node).
    let replacements = index_nodes::<S>(modified, "modified")?;
    let mut replaced = vec![false; replacements.len()];
    let mut result = Vec::with_capacity(nodes.len() + added.len());
    nodes.for_each(|i, node| {
        let key = id_key(node.get("id")?).map_err(|e| at_node(e, "nodes", i, Some("id")))?;
        if removed_keys.contains(&key) {
            return Ok(());
        }
        let Some(span) = replacements.get(&key) else {
            result.push(node);
            return Ok(());
        };
        if let Some(done) = replaced.get_mut(span.first)
            && !*done
        {
            *done = true;
            result.extend(modified.get(span.last)?);
        }
        Ok(())
    })?;
    if let Some(last) = replacements.spans().find(|span| replaced.get(span.first) == Some(&false)).map(|s| s.last)
        && let Some(node) = modified.get(last)?
    {
        return Err(ErrorKind::ModifiedNotFound { id_json: id_json(node.get("id")?) }.into());
    }
    added.for_each(|_, node| {
        result.push(node);
        Ok(())
    })?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::stringify;
    use crate::parse::{ValueBuilder, parse};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    #[test]
    fn applies_in_place_and_appends() {
        let schema = v(r#"{"nodes":[{"id":"a"},{"id":"b"},{"id":"c"},{"x":1}]}"#);
        let added = v(r#"[{"id":"d"}]"#);
        let modified = v(r#"[{"id":"b","v":2}]"#);
        let removed = v(r#"["a", null]"#);
        let (Value::Array(a), Value::Array(m), Value::Array(r)) = (&added, &modified, &removed) else {
            panic!("the delta's lists are arrays");
        };
        let nodes = apply_nodes(&schema, a.as_slice(), m.as_slice(), r.as_slice()).unwrap();
        let texts: Vec<String> =
            nodes.iter().map(|n| String::from_utf8(stringify(*n, false).unwrap()).unwrap()).collect();
        assert_eq!(texts, [r#"{"id":"b","v":2}"#, r#"{"id":"c"}"#, r#"{"id":"d"}"#]);
        let missing = v(r#"[{"id":"zz"}]"#);
        let Value::Array(mm) = &missing else { panic!("an array") };
        let err = apply_nodes(&schema, a.as_slice(), mm.as_slice(), r.as_slice()).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("cannot apply delta: modified node \"zz\" is not in the schema"));
    }
}
