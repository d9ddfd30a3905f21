//! Pairing the old and the new schema's nodes by id.

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::error::CoreError;
use crate::value::{Array, Read, Source, is_dict};

use super::compare::{Comparator, Comparer, scan};
use super::ids::{IdKey, NodeKeys, id_key};
use super::{Delta, NODE_DEPTH, finish};

/// How far past the last indexed old node a new id is looked for before it is left to
/// the end (an inserted node, or one moved from far away).
const LOOKAHEAD: usize = 8;

/// Where [`OldNodes::find`] found an id.
enum Found {
    At(usize),
    /// Not among the old nodes indexed so far (which reach a little past the cursor).
    NotYet,
    /// A node that is not a dict, or a repeated id: the indexed walk decides.
    GiveUp,
}

/// The old schema's nodes, indexed as the walk in step reaches them.
struct OldNodes<'s, S: Source<'s>> {
    nodes: S::Array,
    /// How many nodes (from the start) are indexed.
    indexed: usize,
    positions: FxHashMap<IdKey<'s>, usize>,
    paired: Vec<bool>,
    keys: NodeKeys<'s, S>,
}

impl<'s, S: Source<'s>> OldNodes<'s, S> {
    /// Node `i` and its id, if it is a dict.
    fn node(&mut self, i: usize) -> Result<Option<(S, Option<S>)>, CoreError> {
        self.keys.node(self.nodes, i)
    }

    /// Where the walk in step finds the old node with `key`, `cursor` being the first
    /// old node not yet paired, which it expects.
    fn find(&mut self, key: &IdKey<'s>, cursor: &mut usize) -> Result<Found, CoreError> {
        while *cursor < self.indexed && self.paired[*cursor] {
            *cursor += 1;
        }
        if *cursor == self.indexed && *cursor < self.paired.len() {
            // In step: the next old node is indexed now, and is most likely the one.
            let Some(next) = self.index_next()? else {
                return Ok(Found::GiveUp);
            };
            if next == *key {
                *cursor += 1;
                return Ok(Found::At(*cursor - 1));
            }
        }
        let mut found = self.positions.get(key).copied();
        let limit = (self.indexed + LOOKAHEAD).min(self.paired.len());
        while found.is_none() && self.indexed < limit {
            let Some(next) = self.index_next()? else {
                return Ok(Found::GiveUp);
            };
            if next == *key {
                found = Some(self.indexed - 1);
            }
        }
        Ok(match found {
            Some(at) => {
                *cursor = (*cursor).max(at + 1);
                Found::At(at)
            }
            None => Found::NotYet,
        })
    }

    /// The ids of the old nodes left unpaired, each node scanned; `None` to give up.
    fn unpaired(&mut self) -> Result<Option<Vec<Option<S>>>, CoreError> {
        let mut removed = Vec::new();
        for i in 0..self.paired.len() {
            if !self.paired[i] {
                let Some((node, id)) = self.node(i)? else {
                    return Ok(None);
                };
                scan(node, NODE_DEPTH)?;
                removed.push(id);
            }
        }
        Ok(Some(removed))
    }

    /// Index the next old node: its id key, or `None` if it is not a dict or repeats an
    /// id.
    fn index_next(&mut self) -> Result<Option<IdKey<'s>>, CoreError> {
        let i = self.indexed;
        let Some((_, id)) = self.node(i)? else {
            return Ok(None);
        };
        let key = id_key(id)?;
        if self.positions.insert(key.clone(), i).is_some() {
            return Ok(None);
        }
        self.indexed += 1;
        Ok(Some(key))
    }
}

/// The delta in one pass over both node lists when every id is unique: a new node is
/// paired with the old node at the same place in the old list when their ids agree, the
/// old list is indexed just ahead of that place, and the two nodes are compared while
/// they are fresh in the cache. Inserted, removed and moved nodes put the pairing out of
/// step only until the next node both lists share. `None` for a schema this does not
/// decide (a duplicate id, a node that is not a dict, nodes that are not a list).
///
/// The walk's own memory stays small (an index of the old ids, a flag per old node):
/// a duplicate id in the new list shows as an old node paired twice, or, for ids the
/// old list lacks, among the few nodes left to the end.
pub(super) fn walk_in_step<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    comparator: C,
) -> Result<Option<Delta<S>>, CoreError> {
    let (Read::Object(old_object), Read::Object(new_object)) = (old.shape()?, new.shape()?) else {
        return Ok(None);
    };
    let (Some(old_nodes), Some(new_nodes)) = (nodes_of(old)?, nodes_of(new)?) else {
        return Ok(None);
    };
    let (old_len, new_len) = (old_nodes.len(), new_nodes.len());
    let mut old_side = OldNodes {
        nodes: old_nodes,
        indexed: 0,
        positions: FxHashMap::with_capacity_and_hasher(old_len, FxBuildHasher),
        paired: vec![false; old_len],
        keys: NodeKeys::new(),
    };
    let mut new_keys = NodeKeys::new();
    let new_node = |j: usize, keys: &mut NodeKeys<'s, S>| -> Result<Option<(S, Option<S>, IdKey<'s>)>, CoreError> {
        let Some((node, id)) = keys.node(new_nodes, j)? else {
            return Ok(None);
        };
        Ok(Some((node, id, id_key(id)?)))
    };
    let mut comparer = Comparer::new(comparator);
    // Modified nodes with their positions in the new list; the positions of new nodes
    // left to the end.
    let (mut modified, mut later) = (Vec::new(), Vec::new());
    let mut cursor = 0;
    for j in 0..new_len {
        let Some((node, _, key)) = new_node(j, &mut new_keys)? else {
            return Ok(None);
        };
        let at = match old_side.find(&key, &mut cursor)? {
            Found::At(at) => at,
            Found::NotYet => {
                later.push(j);
                continue;
            }
            Found::GiveUp => return Ok(None),
        };
        if std::mem::replace(&mut old_side.paired[at], true) {
            return Ok(None); // the id was seen before in the new list
        }
        let Some(old_node) = Array::get(old_side.nodes, at)? else {
            return Ok(None);
        };
        if !comparer.compare_node(old_node, node)? {
            modified.push((j, node));
        }
    }
    while old_side.indexed < old_len {
        if old_side.index_next()?.is_none() {
            return Ok(None);
        }
    }
    let mut added = Vec::new();
    let mut added_keys = FxHashSet::default();
    let settled = modified.len();
    for j in later {
        let Some((node, _, key)) = new_node(j, &mut new_keys)? else {
            return Ok(None);
        };
        if let Some(&at) = old_side.positions.get(&key) {
            if std::mem::replace(&mut old_side.paired[at], true) {
                return Ok(None);
            }
            let Some(old_node) = Array::get(old_side.nodes, at)? else {
                return Ok(None);
            };
            if !comparer.compare_node(old_node, node)? {
                modified.push((j, node));
            }
        } else {
            if !added_keys.insert(key) {
                return Ok(None);
            }
            scan(node, NODE_DEPTH)?;
            added.push(node);
        }
    }
    if modified.len() > settled {
        modified.sort_by_key(|&(j, _)| j);
    }
    let Some(removed) = old_side.unpaired()? else {
        return Ok(None);
    };
    let modified = modified.into_iter().map(|(_, node)| node).collect();
    let delta = Delta { added, modified, removed, changes: Vec::new() };
    finish(old_object, new_object, old, new, &mut comparer, delta).map(Some)
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
