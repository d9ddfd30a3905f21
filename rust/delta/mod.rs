//! Schema deltas with `lumora_fast`'s fixed semantics (docs/architecture.md,
//! "Compatibility"), and their application on the device side.
//!
//! Top-level nodes are keyed by `id` with JS `SameValueZero` (`"1"` is not `1`, `true` is
//! not `1`, `1 == 1.0`, `NaN` equals itself, an object id is its identity); for a
//! duplicated id the first position and the last node count, as in the reference. Nodes
//! are compared with JSON equality (key order irrelevant, numbers as doubles, a
//! non-finite number is `null` as JSON.stringify writes it, booleans never equal
//! numbers). Nodes are compared whole, so no node shape is an error: where the
//! reference's own comparison throws (a node without `type`, `children` or `props`, or
//! with `null` there), that is one of its defects, fixed here.
//!
//! By concern: `ids` (node ids as `Map` keys, reading a node's id), `pairing` (the one
//! pairing by id, which the tracker and the patch diff use too: architecture.md,
//! "Pairing by id"), `compare` (JSON equality and the JSON scans, and the `Comparator`
//! through which a source brings its own faster equality: architecture.md, "The native
//! boundary"), `apply` (the device side); here, the delta itself.

pub(crate) mod apply;
mod compare;
mod ids;
mod pairing;

#[allow(unused_imports)] // `Generic` and `Fallback`: for the bindings and the tests
pub(crate) use compare::{At, Comparator, Comparer, Fallback, Generic, Stop, check_json, scan};
pub(crate) use ids::{IdKey, NodeKeys, id_key};
pub(crate) use pairing::{GiveUp, IdIndex, Pairing, pair, pair_unique};

use crate::canonical::stringify;
use crate::error::{CoreError, ErrorKind};
use crate::value::{Array, Object, Read, Source, is_dict};
use ids::{NodeIds, index_nodes};
use pairing::pair_in_step;

/// The schema-level keys a delta carries.
pub(crate) const META_KEYS: [&str; 3] = ["version", "theme", "navigation"];

pub(crate) struct Delta<S> {
    /// Nodes whose id is new, in the new schema's order.
    pub(crate) added: Vec<S>,
    /// Nodes whose content changed, in the new schema's order.
    pub(crate) modified: Vec<S>,
    /// Ids of nodes gone, in the old schema's order (`None`: a node without an id,
    /// which JSON writes as `null`).
    pub(crate) removed: Vec<Option<S>>,
    /// `version` / `theme` / `navigation` that changed, with the new value (`None`
    /// when removed). Empty when none did.
    pub(crate) changes: Vec<(&'static str, Option<S>)>,
}

/// The schema's `nodes`, after checking that the schema is a dict, `nodes` an array and
/// every node a dict.
pub(crate) fn schema_nodes<'s, S: Source<'s>>(schema: S) -> Result<S::Array, CoreError> {
    if !is_dict(schema)? {
        return Err(ErrorKind::SchemaNotObject { type_name: schema.type_name() }.into());
    }
    let nodes = match schema.get("nodes")?.map(Source::read) {
        Some(Ok(Read::Array(nodes))) => nodes,
        Some(Err(e)) if !matches!(e.kind(), ErrorKind::Unsupported { .. }) => return Err(e),
        _ => return Err(ErrorKind::NodesNotArray.into()),
    };
    check_nodes::<S>(nodes, "nodes")?;
    Ok(nodes)
}

/// Every element of `nodes` must be a dict.
pub(crate) fn check_nodes<'s, S: Source<'s>>(nodes: S::Array, list: &'static str) -> Result<(), CoreError> {
    nodes.for_each(|index, node| {
        if is_dict(node)? {
            Ok(())
        } else {
            Err(ErrorKind::NodeNotObject { list, index, type_name: node.type_name() }.into())
        }
    })
}

pub(super) fn id_json<'s, S: Source<'s>>(id: Option<S>) -> String {
    id.and_then(|id| stringify(id, false).ok())
        .map_or_else(|| "undefined".to_owned(), |text| String::from_utf8_lossy(&text).into_owned())
}

/// The delta from `old` to `new`.
///
/// Errors, when there are several, are reported in this order: the shape of `old`, then
/// of `new`; then the first value of `old` that is not JSON (depth first), then of
/// `new`; then where the reference's comparison throws, in `new`'s node order. The work
/// itself is one walk over both schemas: matched nodes are compared completely and
/// everything else is scanned; only when that walk fails are the schemas checked again
/// in the order above, to report the same error as any other implementation would.
///
/// Values are compared by `comparator`'s fast path where it has one (the bindings pass
/// theirs; [`Generic`] has none).
pub(crate) fn calculate<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    comparator: C,
) -> Result<Delta<S>, CoreError> {
    // Nearly every pair has unique ids and no errors: one pass pairs its nodes. Anything
    // else (the pairing gives up on a repeated id or a node that is not a dict, or an
    // error anywhere) is decided by the indexed walk below, whose order of checks
    // defines which error is raised.
    if let Ok(Ok(delta)) = in_step(old, new, comparator) {
        return Ok(delta);
    }
    let old_nodes = schema_nodes(old)?;
    let new_nodes = schema_nodes(new)?;
    walk(old, new, old_nodes, new_nodes, comparator).or_else(|err| {
        check_json(old)?;
        check_json(new)?;
        Err(err)
    })
}

/// Depth of a node: the schema is 1, its `nodes` array 2.
pub(crate) const NODE_DEPTH: usize = 3;

fn walk<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    old_nodes: S::Array,
    new_nodes: S::Array,
    comparator: C,
) -> Result<Delta<S>, CoreError> {
    let (Read::Object(old_object), Read::Object(new_object)) = (old.shape()?, new.shape()?) else {
        return Err(ErrorKind::NodesNotArray.into());
    };
    let old_index = index_nodes::<S>(old_nodes, "nodes")?;
    let new_index = index_nodes::<S>(new_nodes, "nodes")?;
    let pairs = pair(&old_index, &new_index);
    let mut comparer = Comparer::new(comparator);
    let mut added = Vec::new();
    let mut modified = Vec::new();
    for paired in &pairs.new {
        let node = node_at::<S>(new_nodes, paired.new.last)?;
        match paired.old {
            None => {
                scan(node, NODE_DEPTH)?;
                added.push(node);
            }
            Some(old) => {
                if !comparer.compare_node(node_at::<S>(old_nodes, old.last)?, node)? {
                    modified.push(node);
                }
            }
        }
    }
    let mut removed = Vec::new();
    let mut keys = NodeKeys::new();
    for &(_, span) in &pairs.removed {
        scan(node_at::<S>(old_nodes, span.last)?, NODE_DEPTH)?;
        removed.push(keys.id(node_at::<S>(old_nodes, span.first)?)?);
    }
    for (nodes, index) in [(old_nodes, &old_index), (new_nodes, &new_index)] {
        for position in index.superseded() {
            scan(node_at::<S>(nodes, position)?, NODE_DEPTH)?;
        }
    }
    finish(old_object, new_object, old, new, &mut comparer, Delta { added, modified, removed, changes: Vec::new() })
}

/// Node `at` of `nodes`, which the pairing found there.
fn node_at<'s, S: Source<'s>>(nodes: S::Array, at: usize) -> Result<S, CoreError> {
    nodes.get(at)?.ok_or_else(|| ErrorKind::NodesNotArray.into())
}

/// The delta in one pass over both node lists when every id is unique ([`pair_in_step`]):
/// each pair of nodes is compared as soon as it is paired, while both are fresh in the
/// cache. Gives up on a schema this does not decide (a repeated id, a node that is not a
/// dict, nodes that are not a list), for the indexed walk to decide.
fn in_step<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    comparator: C,
) -> Result<Result<Delta<S>, GiveUp>, CoreError> {
    let (Read::Object(old_object), Read::Object(new_object)) = (old.shape()?, new.shape()?) else {
        return Ok(Err(GiveUp::NotAList));
    };
    let (Some(old_nodes), Some(new_nodes)) = (nodes_of(old)?, nodes_of(new)?) else {
        return Ok(Err(GiveUp::NotAList));
    };
    let mut comparer = Comparer::new(comparator);
    // Modified nodes with their positions in the new list.
    let mut modified = Vec::new();
    let old_ids = NodeIds::<S> { nodes: old_nodes, keys: NodeKeys::new() };
    let new_ids = NodeIds::<S> { nodes: new_nodes, keys: NodeKeys::new() };
    let pairing = pair_in_step(old_ids, new_ids, |i, j| {
        let node = node_at::<S>(new_nodes, j)?;
        if !comparer.compare_node(node_at::<S>(old_nodes, i)?, node)? {
            modified.push((j, node));
        }
        Ok(())
    })?;
    let unpaired = match pairing {
        Pairing::Paired(unpaired) => unpaired,
        Pairing::GiveUp(why) => return Ok(Err(why)),
    };
    // Pairs found late came last.
    if !modified.is_sorted_by_key(|&(j, _)| j) {
        modified.sort_by_key(|&(j, _)| j);
    }
    let mut added = Vec::with_capacity(unpaired.added.len());
    for j in unpaired.added {
        let node = node_at::<S>(new_nodes, j)?;
        scan(node, NODE_DEPTH)?;
        added.push(node);
    }
    let mut removed = Vec::with_capacity(unpaired.removed.len());
    let mut keys = NodeKeys::new();
    for i in unpaired.removed {
        let node = node_at::<S>(old_nodes, i)?;
        scan(node, NODE_DEPTH)?;
        removed.push(keys.id(node)?);
    }
    let modified = modified.into_iter().map(|(_, node)| node).collect();
    let delta = Delta { added, modified, removed, changes: Vec::new() };
    finish(old_object, new_object, old, new, &mut comparer, delta).map(Ok)
}

/// The schema's `nodes` when it is a list (nothing checked inside).
fn nodes_of<'s, S: Source<'s>>(schema: S) -> Result<Option<S::Array>, CoreError> {
    if !is_dict(schema)? {
        return Ok(None);
    }
    Ok(match schema.get("nodes")?.map(Source::read) {
        Some(Ok(Read::Array(nodes))) => Some(nodes),
        _ => None,
    })
}

/// A delta's metadata changes, once its nodes are done, and the check that the rest of
/// both schemas is JSON.
pub(super) fn finish<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old_object: S::Object,
    new_object: S::Object,
    old: S,
    new: S,
    comparer: &mut Comparer<C>,
    mut delta: Delta<S>,
) -> Result<Delta<S>, CoreError> {
    let changes = &mut delta.changes;
    for name in META_KEYS {
        let same = match (old.get(name)?, new.get(name)?) {
            (None, None) => true,
            (Some(x), Some(y)) => comparer.compare(x, y, 2)?,
            (Some(x), None) => {
                scan(x, 2)?;
                false
            }
            (None, Some(y)) => {
                scan(y, 2)?;
                false
            }
        };
        if !same {
            changes.push((name, new.get(name)?));
        }
    }
    for object in [old_object, new_object] {
        object.for_each(|key, value| {
            if key.as_bytes() != b"nodes" && !META_KEYS.iter().any(|m| m.as_bytes() == key.as_bytes()) {
                scan(value, 2)?;
            }
            Ok(())
        })?;
    }
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ValueBuilder, parse};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    fn old_text(value: &Value) -> String {
        String::from_utf8(stringify(value, false).unwrap()).unwrap()
    }

    fn ids(values: &[&Value]) -> Vec<String> {
        values.iter().map(|n| id_json(n.get("id").unwrap())).collect()
    }

    #[test]
    fn finds_added_modified_removed_and_metadata() {
        let old =
            v(r#"{"version":"1","nodes":[{"id":"a","p":1},{"id":"b","p":{"x":1,"y":2}},{"id":"c"}],"theme":{"t":1}}"#);
        let new = v(r#"{"version":"2","nodes":[{"id":"b","p":{"y":2,"x":1.0}},{"id":"a","p":2},{"id":"d"}]}"#);
        // Nodes without `type`, `children` or `props` are compared whole, like any value.
        let delta = calculate(&old, &new, Generic).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&delta.added), ["\"d\""]);
        assert_eq!(ids(&delta.modified), ["\"a\""]);
        assert_eq!(delta.removed.iter().map(|id| id_json(*id)).collect::<Vec<_>>(), ["\"c\""]);
        let changes: Vec<_> = delta.changes.iter().map(|(k, v)| (*k, id_json(*v))).collect();
        assert_eq!(changes, [("version", "\"2\"".to_owned()), ("theme", "undefined".to_owned())]);
    }

    #[test]
    fn same_value_zero_ids_and_json_equality() {
        let old = v(r#"{"nodes":[{"id":1,"v":[1,2]},{"id":"1"},{"id":true},{"id":-0.0,"n":1e400}]}"#);
        let new = v(r#"{"nodes":[{"id":1.0,"v":[1.0,2]},{"id":"1"},{"id":1},{"id":0,"n":null}]}"#);
        let typed = |value: &Value| {
            let text = old_text(value).replace("{\"id\"", "{\"type\":\"T\",\"children\":[],\"props\":{},\"id\"");
            v(&text)
        };
        let (old, new) = (typed(&old), typed(&new));
        let delta = calculate(&old, &new, Generic).unwrap_or_else(|e| panic!("{e}"));
        // 1 and 1.0 are one key: first position, last node ({"id":1}), which differs.
        assert!(delta.added.is_empty());
        assert_eq!(ids(&delta.modified), ["1"]);
        assert_eq!(delta.removed.iter().map(|id| id_json(*id)).collect::<Vec<_>>(), ["true"]);
    }

    #[test]
    fn partial_nodes_are_no_error() {
        let old = v(r#"{"nodes":[{"id":"a","type":"T","props":{}},{"id":"b","props":null}]}"#);
        let new = v(r#"{"nodes":[{"id":"a","type":"T","children":[],"props":{}},{"id":"b","props":null}]}"#);
        let delta = calculate(&old, &new, Generic).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&delta.modified), ["\"a\""]);
        let bad = v(r#"{"nodes":[1]}"#);
        let err = calculate(&bad, &new, Generic).err().expect("an error").to_string();
        assert_eq!(err, "node at $.nodes[0] must be an object, got int");
        let err = calculate(&v(r#"{"nodes":{}}"#), &new, Generic).err().expect("an error").to_string();
        assert_eq!(err, "schema 'nodes' must be an array");
    }
}
