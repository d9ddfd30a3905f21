//! The server's schema tracker: each new schema costs one walk.
//!
//! The walk writes the schema's canonical JSON into the checksum hasher and, on the side,
//! hashes the canonical bytes of every node and of every other top-level member with
//! XXH3-128. Comparing those hashes with the previous schema's gives the delta (equal
//! canonical bytes is JSON equality, except for `__proto__` keys, which the canonical
//! form drops: nodes holding one are compared directly), and tells whether applying the
//! delta on a device reproduces the new schema exactly (equal canonical bytes, part by
//! part, is an equal checksum).

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use xxhash_rust::xxh3::Xxh3;

use crate::canonical::{Output, Writer};
use crate::checksum::{Algorithm, Hasher, check_schema};
use crate::delta::{self, Delta, IdKey, META_KEYS, NODE_DEPTH, id_key};
use crate::error::{CoreError, ErrorKind};
use crate::value::{Array, Source};

const CHUNK: usize = 64 * 1024;

/// The canonical hash of one part of a schema; `exact` is false when a `__proto__` key
/// was dropped from it (its canonical form then hides a difference JSON equality sees).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PartHash {
    hash: u128,
    exact: bool,
}

/// Streams canonical JSON into the checksum hasher, capturing part hashes on the side.
struct TrackerOutput {
    buf: Vec<u8>,
    hasher: Hasher,
    side: Xxh3,
    /// Where in `buf` the active capture's unhashed bytes begin.
    capture_from: Option<usize>,
    exact: bool,
    nodes: Vec<PartHash>,
    members: Vec<(Vec<u8>, PartHash)>,
}

impl Output for TrackerOutput {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn flush_if_full(&mut self) {
        if self.buf.len() >= CHUNK {
            if let Some(from) = self.capture_from.as_mut() {
                self.side.update(&self.buf[*from..]);
                *from = 0;
            }
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    fn capture_start(&mut self) {
        self.side.reset();
        self.capture_from = Some(self.buf.len());
        self.exact = true;
    }

    fn capture_end(&mut self, key: Option<&[u8]>) {
        if let Some(from) = self.capture_from.take() {
            self.side.update(&self.buf[from..]);
        }
        let part = PartHash { hash: self.side.digest128(), exact: self.exact };
        match key {
            Some(key) => self.members.push((key.to_vec(), part)),
            None => self.nodes.push(part),
        }
    }

    fn dropped_proto(&mut self) {
        self.exact = false;
    }
}

/// What the tracker remembers of the current schema (its Python object is kept by the
/// caller, which passes a view of it back in).
pub(crate) struct TrackerState {
    pub(crate) checksum: String,
    /// `None` when the schema's `nodes` is not an array of objects (no delta possible).
    nodes: Option<Nodes>,
    members: Vec<(Vec<u8>, PartHash)>,
}

struct Nodes {
    /// Each node's id key and hash, in order.
    keys: Vec<IdKey<'static>>,
    hashes: Vec<PartHash>,
    /// Id key -> (position of its first node, position of its last node).
    index: FxHashMap<IdKey<'static>, (usize, usize)>,
}

/// The outcome of one update.
pub(crate) struct Change<S> {
    pub(crate) checksum: String,
    /// `None` for the first schema, or when the two schemas cannot be diffed.
    pub(crate) delta: Option<Delta<S>>,
    /// Applying `delta` to the previous schema yields the new schema's checksum.
    pub(crate) incremental: bool,
}

fn member<'a>(members: &'a [(Vec<u8>, PartHash)], key: &str) -> Option<&'a PartHash> {
    members.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, h)| h)
}

/// Make `new` current: its checksum, and the delta from `previous` (the state and a view
/// of the schema it describes).
pub(crate) fn update<'s, S: Source<'s>>(
    previous: Option<(&TrackerState, S)>,
    new: S,
    algorithm: Algorithm,
) -> Result<(Change<S>, TrackerState), CoreError> {
    check_schema(new)?;
    let mut out = TrackerOutput {
        buf: Vec::with_capacity(CHUNK + 4096),
        hasher: Hasher::new(algorithm),
        side: Xxh3::new(),
        capture_from: None,
        exact: true,
        nodes: Vec::new(),
        members: Vec::new(),
    };
    Writer::for_tracker(&mut out).value(new)?;
    let TrackerOutput { buf, mut hasher, nodes: node_hashes, members, .. } = out;
    hasher.update(&buf);
    let checksum = hasher.finish();

    let new_nodes = delta::schema_nodes(new).ok();
    let nodes = match new_nodes {
        Some(array) => Some(index_nodes::<S>(array, node_hashes)?),
        None => None,
    };
    let state = TrackerState { checksum: checksum.clone(), nodes, members };
    let mut change = Change { checksum, delta: None, incremental: false };
    if let (Some((prev, old)), Some(new_array)) = (previous, new_nodes)
        && let (Some(prev_nodes), Some(new_state_nodes)) = (&prev.nodes, &state.nodes)
        // The previous schema is the caller's object: if it was changed since, no delta.
        && let Ok(old_array) = delta::schema_nodes(old)
        && old_array.len() == prev_nodes.keys.len()
    {
        let diff = Diff { prev, prev_nodes, old, old_array, new, new_array, next: &state, next_nodes: new_state_nodes };
        if let Some((delta, incremental)) = diff.run()? {
            change.delta = Some(delta);
            change.incremental = incremental;
        }
    }
    Ok((change, state))
}

fn index_nodes<'s, S: Source<'s>>(array: S::Array, hashes: Vec<PartHash>) -> Result<Nodes, CoreError> {
    let mut keys = Vec::with_capacity(array.len());
    let mut index: FxHashMap<IdKey<'static>, (usize, usize)> =
        FxHashMap::with_capacity_and_hasher(array.len(), FxBuildHasher);
    array.for_each(|i, node| {
        let key = id_key(node.get("id")?)?.into_owned();
        index.entry(key.clone()).and_modify(|(_, last)| *last = i).or_insert((i, i));
        keys.push(key);
        Ok(())
    })?;
    Ok(Nodes { keys, hashes, index })
}

struct Diff<'a, 's, S: Source<'s>> {
    prev: &'a TrackerState,
    prev_nodes: &'a Nodes,
    old: S,
    old_array: S::Array,
    new: S,
    new_array: S::Array,
    next: &'a TrackerState,
    next_nodes: &'a Nodes,
}

impl<'s, S: Source<'s>> Diff<'_, 's, S> {
    /// A node of the previous schema by position (checked to be there on entry).
    fn old_node(&self, at: usize) -> Result<S, CoreError> {
        self.old_array.get(at)?.ok_or_else(|| ErrorKind::NodesNotArray.into())
    }

    fn new_node(&self, at: usize) -> Result<S, CoreError> {
        self.new_array.get(at)?.ok_or_else(|| ErrorKind::NodesNotArray.into())
    }

    /// The delta with the fixed semantics, and whether it reproduces the new schema;
    /// `None` where `calculate_schema_delta` would raise (the reference's comparison
    /// throws).
    fn run(&self) -> Result<Option<(Delta<S>, bool)>, CoreError> {
        let (prev, next) = (self.prev_nodes, self.next_nodes);
        let mut added = Vec::new();
        let mut modified = Vec::new();
        let mut modified_keys = FxHashSet::default();
        // New entries in the new schema's order: each key's first position.
        for (position, key) in next.keys.iter().enumerate() {
            let Some(&(first, last)) = next.index.get(key) else { continue };
            if first != position {
                continue;
            }
            let node = self.new_node(last)?;
            let Some(&(_, old_last)) = prev.index.get(key) else {
                added.push((last, node));
                continue;
            };
            let old_node = self.old_node(old_last)?;
            let (was, now) = (prev.hashes[old_last], next.hashes[last]);
            let same = if was.exact && now.exact {
                was.hash == now.hash
            } else {
                delta::Comparer::new().compare(old_node, node, NODE_DEPTH)?
            };
            if !same {
                modified.push(node);
                modified_keys.insert(key);
            }
        }
        let mut removed = Vec::new();
        let mut removed_keys: FxHashSet<&IdKey<'static>> = FxHashSet::default();
        for (position, key) in prev.keys.iter().enumerate() {
            let Some(&(first, _)) = prev.index.get(key) else { continue };
            if first == position && !next.index.contains_key(key) {
                removed.push(self.old_node(first)?.get("id")?);
                removed_keys.insert(key);
            }
        }
        let mut changes = Vec::new();
        let mut representable = true;
        for name in META_KEYS {
            let (was, now) = (self.old.get(name)?, self.new.get(name)?);
            let same = match (was, now) {
                (None, None) => true,
                (Some(x), Some(y)) => match (member(&self.prev.members, name), member(&self.next.members, name)) {
                    (Some(a), Some(b)) if a.exact && b.exact => a.hash == b.hash,
                    _ => delta::Comparer::new().compare(x, y, 2)?,
                },
                _ => false,
            };
            if !same {
                // Applying writes the new value, or deletes the key for null: a key the new
                // schema holds as null cannot be reproduced.
                if now.is_some_and(|v| matches!(v.read(), Ok(crate::value::Read::Null))) {
                    representable = false;
                }
                changes.push((name, now));
            }
        }
        let other = |(k, _): &&(Vec<u8>, PartHash)| !META_KEYS.iter().any(|m| m.as_bytes() == k.as_slice());
        let mut before: Vec<_> = self.prev.members.iter().filter(other).collect();
        let mut after: Vec<_> = self.next.members.iter().filter(other).collect();
        before.sort_by(|a, b| a.0.cmp(&b.0));
        after.sort_by(|a, b| a.0.cmp(&b.0));
        let same_members =
            before.len() == after.len() && before.iter().zip(&after).all(|(a, b)| a.0 == b.0 && a.1.hash == b.1.hash);
        representable &= same_members && self.reproduces_nodes(&added, &modified_keys, &removed_keys);
        let delta = Delta { added: added.into_iter().map(|(_, node)| node).collect(), modified, removed, changes };
        Ok(Some((delta, representable)))
    }

    /// Whether `apply_schema_delta` on the previous nodes yields the new nodes' canonical
    /// forms, in order: it drops removed ids (null also drops nodes without an id, and the
    /// reverse), puts each modified node in place of the first node with its id (dropping
    /// later ones) and appends the added nodes.
    fn reproduces_nodes(
        &self,
        added: &[(usize, S)],
        modified: &FxHashSet<&IdKey<'static>>,
        removed: &FxHashSet<&IdKey<'static>>,
    ) -> bool {
        let (prev, next) = (self.prev_nodes, self.next_nodes);
        let nullish = removed.contains(&IdKey::Null) || removed.contains(&IdKey::Undefined);
        let gone =
            |key: &IdKey<'static>| removed.contains(key) || (nullish && matches!(key, IdKey::Null | IdKey::Undefined));
        if modified.iter().any(|key| gone(key)) {
            return false; // apply would not find the node to replace
        }
        let mut expected = Vec::with_capacity(next.hashes.len());
        let mut replaced = FxHashSet::default();
        for (key, hash) in prev.keys.iter().zip(&prev.hashes) {
            if gone(key) {
                continue;
            }
            if modified.contains(key) {
                if replaced.insert(key) {
                    match next.index.get(key) {
                        Some(&(_, last)) => expected.push(next.hashes[last].hash),
                        None => return false,
                    }
                }
            } else {
                expected.push(hash.hash);
            }
        }
        expected.extend(added.iter().map(|&(last, _)| next.hashes[last].hash));
        expected.len() == next.hashes.len() && expected.iter().zip(&next.hashes).all(|(a, b)| *a == b.hash)
    }
}
