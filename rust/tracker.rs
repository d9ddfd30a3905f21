//! The server's schema tracker: each new schema costs one walk.
//!
//! The walk writes the schema's canonical JSON into the checksum hasher and, on the side,
//! hashes with XXH3-128 every object that is an array item (nodes, children, at any
//! depth) and every top-level member. The hashes nest (Merkle-style): a capture's stream
//! is its canonical bytes with each nested capture replaced by a marker byte and that
//! capture's hash, so every byte is copied and hashed once. Equal hashes are equal canonical bytes,
//! which is JSON equality unless the part is marked inexact (see [`Output::inexact`]).
//!
//! Comparing the node and member hashes with the previous schema's gives the delta, and
//! tells whether applying the delta on a device reproduces the new schema exactly (equal
//! canonical bytes, part by part, is an equal checksum). The hashes of every array item,
//! kept by identity, let the patch diff skip the subtrees that did not change
//! ([`diff::Known`]).
//!
//! # Identities of the previous schema
//!
//! The previous schema's hashes are looked up by the address of its objects. The caller
//! (the `SchemaTracker` binding) holds the previous schema object, so none of its objects
//! is freed and no address is reused while it is current. A hash is only data: a lookup
//! never dereferences anything, so a caller that modifies a schema after handing it over
//! (the API forbids it) can make the patch describe the content the schema had when it
//! was hashed (what devices were sent), never make the walk unsound. Devices verify the
//! checksum a patch update carries and reload on a mismatch.

mod reuse;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use xxhash_rust::xxh3::xxh3_128;

use crate::canonical::{Capture, Output, Writer};
use crate::checksum::{Algorithm, HashSink, check_schema};
use crate::delta::{self, Comparator, Comparer, Delta, IdIndex, IdKey, META_KEYS, NODE_DEPTH, id_key, pair};
use crate::document::Origin;
use crate::error::{CoreError, ErrorKind};
use crate::patch::diff::{self, Known, Op};
use crate::value::{Array, Source};
pub(crate) use reuse::Kept;
use reuse::{Record, Reuse};

/// The canonical hash of one part of a schema; `exact` is false when its canonical form
/// hides a difference JSON equality or a patch sees (see [`Output::inexact`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PartHash {
    hash: u128,
    exact: bool,
}

/// Precedes a nested capture's hash in its parent's stream: never a byte of canonical
/// JSON (UTF-8), so the stream tells text and nested hashes apart.
const NESTED: u8 = 0xFF;

/// Streams canonical JSON into the checksum hasher, hashing captures on the side.
struct TrackerOutput<'scope, 'env, 'r> {
    sink: HashSink<'scope, 'env>,
    /// One stream per open capture, innermost last (the first `open` are in use; the
    /// rest keep their buffers for reuse). Each byte the writer emits is hashed once, when
    /// its innermost capture ends: straight from the buffer if it is all there (a capture
    /// with nothing nested), else from the stream it was copied into.
    streams: Vec<Stream>,
    open: usize,
    /// Where in the buffer the bytes not yet in the innermost capture's stream begin.
    from: usize,
    nodes: Vec<PartHash>,
    members: Vec<(Vec<u8>, PartHash)>,
    /// The exact hashes (see [`known_hash`]) of every array item that is an object and
    /// of every top-level member but `metadata` (whose hash has `generatedAt` zeroed), by
    /// identity.
    known: FxHashMap<usize, u64>,
    /// Nothing in the whole schema hides a difference (see [`Output::inexact`]).
    exact: bool,
    /// The new schema's text and item spans, when it is a document that kept them: then
    /// the walk records each array-item object's bytes and hash (`records`, by ordinal)
    /// and the sink keeps the output, for the next update to reuse.
    origin: Option<Origin<'r>>,
    records: Vec<Record>,
    /// What the previous walk kept, when both versions have their text.
    reuse: Option<Reuse<'r>>,
    /// Canonical bytes copied from the previous walk.
    reused: usize,
    /// Where the next array item probably is among the new and old items (hints).
    next_new: usize,
    next_old: usize,
    /// The ordinal of the array item [`Output::reuse`] was just asked for and did not
    /// write: the capture that writes it starts next.
    pending: Option<usize>,
}

#[derive(Default)]
struct Stream {
    bytes: Vec<u8>,
    /// Nothing it holds hides a difference (see [`Output::inexact`]).
    exact: bool,
    /// A capture was nested in it.
    nested: bool,
    /// Where its bytes begin in the output.
    start: usize,
    /// Its ordinal among the new document's array items, when it is one (see
    /// `TrackerOutput::pending`).
    ordinal: Option<usize>,
}

/// A capture with nothing nested and fewer canonical bytes than this is left out of the
/// patch diff's map: diffing it costs less than a map entry for every such item would.
const SMALL: usize = 256;

/// What the patch diff compares of an exact part: 64 bits of its hash, so that the map of
/// every array item of a large schema stays small enough to be built in passing.
fn known_hash(part: PartHash) -> Option<u64> {
    part.exact.then_some(part.hash as u64)
}

impl TrackerOutput<'_, '_, '_> {
    /// Note what this walk wrote for the array-item object `identity` (when it records).
    #[inline]
    fn record(&mut self, ordinal: Option<usize>, start: usize, part: PartHash, small: bool) {
        if let Some(slot) = ordinal.and_then(|ordinal| self.records.get_mut(ordinal)) {
            *slot = Record::new(start, self.sink.position() - start, part, small);
        }
    }

    /// Put an ended capture's hash in the stream of the capture around it (if any).
    fn nest(&mut self, part: PartHash) {
        if let Some(parent) = self.open.checked_sub(1).and_then(|top| self.streams.get_mut(top)) {
            parent.bytes.push(NESTED);
            parent.bytes.extend_from_slice(&part.hash.to_le_bytes());
            parent.exact &= part.exact;
        }
    }

    /// Enter an array item's hash in the patch diff's map: an exact part, of an item of
    /// the top-level `nodes` or of any other array unless it is small.
    #[inline]
    fn map_item(&mut self, identity: usize, node: bool, part: PartHash, small: bool) {
        if (node || !small)
            && let Some(hash) = known_hash(part)
        {
            self.known.insert(identity, hash);
        }
    }

    /// Move the bytes written since `from` into the innermost open capture's stream.
    #[inline]
    fn catch_up(&mut self) {
        let buf = &self.sink.buf;
        if let Some(stream) = self.open.checked_sub(1).and_then(|top| self.streams.get_mut(top)) {
            stream.bytes.extend_from_slice(buf.get(self.from..).unwrap_or_default());
        }
        self.from = buf.len();
    }
}

impl Output for TrackerOutput<'_, '_, '_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.sink.buf
    }

    #[inline]
    fn flush_if_full(&mut self) {
        if self.sink.full() {
            self.catch_up();
            self.sink.flush();
            self.from = 0;
        }
    }

    #[inline]
    fn capture_start(&mut self) {
        self.catch_up();
        if let Some(parent) = self.open.checked_sub(1).and_then(|top| self.streams.get_mut(top)) {
            parent.nested = true;
        }
        let start = self.sink.position();
        let ordinal = self.pending.take();
        if let Some(stream) = self.streams.get_mut(self.open) {
            stream.bytes.clear();
            stream.exact = true;
            stream.nested = false;
            stream.start = start;
            stream.ordinal = ordinal;
        } else {
            self.streams.push(Stream { bytes: Vec::new(), exact: true, nested: false, start, ordinal });
        }
        self.open += 1;
    }

    #[inline]
    fn capture_end(&mut self, what: Capture<'_>) {
        let Some(top) = self.open.checked_sub(1) else { return };
        let Some(stream) = self.streams.get_mut(top) else { return };
        let tail = self.sink.buf.get(self.from..).unwrap_or_default();
        self.from = self.sink.buf.len();
        // By its length, not by where the sink's buffer was handed over (which moves the
        // bytes to the stream): a walk that reuses parts hands it over elsewhere.
        let small = !stream.nested && self.sink.position() - stream.start < SMALL;
        let hash = if stream.bytes.is_empty() {
            xxh3_128(tail)
        } else {
            stream.bytes.extend_from_slice(tail);
            xxh3_128(&stream.bytes)
        };
        let part = PartHash { hash, exact: stream.exact };
        let (start, ordinal) = (stream.start, stream.ordinal);
        self.open = top;
        self.nest(part);
        match what {
            Capture::Member(key, identity) => {
                self.members.push((key.to_vec(), part));
                if key != b"metadata"
                    && let Some(hash) = known_hash(part)
                {
                    self.known.insert(identity, hash);
                }
            }
            Capture::Node(identity) => {
                self.nodes.push(part);
                if let Some(identity) = identity {
                    self.record(ordinal, start, part, small);
                    self.map_item(identity, true, part, small);
                }
            }
            Capture::Element(identity) => {
                self.record(ordinal, start, part, small);
                self.map_item(identity, false, part, small);
            }
        }
    }

    /// Write the array-item object `identity` as the previous walk wrote the item with
    /// the same text, if there is one (`reuse` module docs): its bytes, its part hash in
    /// the enclosing capture's stream, and its records and map entries, with those of
    /// every item inside it, as the walk would have made them.
    fn reuse(&mut self, identity: usize, node: bool) -> bool {
        let Some(origin) = self.origin else { return false };
        // A walk meets the items of a version in order, mostly: the next one is
        // probably the one after the last seen (hints; each is checked).
        let Some(ordinal) = origin.ordinal_of(identity, self.next_new) else { return false };
        // If the item is written after all, its capture records it under this ordinal.
        self.pending = Some(ordinal);
        self.next_new = ordinal + 1;
        let Some(reuse) = self.reuse else { return false };
        let Some(span) = origin.elements.get(ordinal) else { return false };
        let Some(old) = reuse.counterpart(span.start, span.end, self.next_old) else { return false };
        let Some(&record) = reuse.kept.records.get(old).filter(|r| r.written) else { return false };
        let inside = origin.subtree_end(ordinal) - ordinal;
        if reuse.old.subtree_end(old) - old != inside {
            return false;
        }
        let Some(nested) = reuse.kept.records.get(old..old + inside) else { return false };
        self.catch_up();
        let start = self.sink.position();
        if !reuse.kept.copy(record.start, record.len, &mut self.sink.buf) {
            return false;
        }
        self.pending = None;
        self.from = self.sink.buf.len();
        self.reused += record.len as usize;
        (self.next_new, self.next_old) = (ordinal + inside, old + inside);
        let part = record.part();
        if let Some(parent) = self.open.checked_sub(1).and_then(|top| self.streams.get_mut(top)) {
            parent.nested = true;
        }
        self.nest(part);
        self.exact &= part.exact;
        if node {
            self.nodes.push(part);
        }
        // The item itself (whose place in `nodes` or not decides its map entry), then the
        // items inside it, moved to where this walk writes them.
        let shift = (start as u64).wrapping_sub(record.start);
        for (k, kept) in nested.iter().enumerate() {
            if !kept.written {
                continue;
            }
            let moved = Record { start: kept.start.wrapping_add(shift), ..*kept };
            if let Some(slot) = self.records.get_mut(ordinal + k) {
                *slot = moved;
            }
            // Only the item itself can be an item of the top-level `nodes`.
            if let Some(id) = if k == 0 { Some(identity) } else { origin.identity_of(ordinal + k) } {
                self.map_item(id, k == 0 && node, kept.part(), kept.small);
            }
        }
        true
    }

    fn inexact(&mut self) {
        self.exact = false;
        if let Some(stream) = self.open.checked_sub(1).and_then(|top| self.streams.get_mut(top)) {
            stream.exact = false;
        }
    }
}

/// What the tracker remembers of the current schema (its Python object is kept by the
/// caller, which passes a view of it back in).
pub(crate) struct TrackerState {
    pub(crate) checksum: String,
    pub(crate) size: Size,
    /// `None` when the schema's `nodes` is not an array of objects (no delta possible).
    nodes: Option<Nodes>,
    members: Vec<(Vec<u8>, PartHash)>,
    /// The hashes of the schema's array items and members, by identity (module docs).
    known: FxHashMap<usize, u64>,
    /// The walk's output and records, when the schema is a document that kept its text
    /// (`reuse` module docs).
    kept: Option<Kept>,
    /// Canonical bytes the walk copied from the previous one's instead of writing them.
    #[cfg_attr(not(test), allow(dead_code))]
    reused: usize,
}

struct Nodes {
    /// Each node's id key, indexed for pairing with the next schema's.
    ids: IdIndex<IdKey<'static>>,
    /// Each node's hash, in order.
    hashes: Vec<PartHash>,
}

/// The length of a schema's canonical JSON (what the checksum hashes), and whether it
/// is exact: nothing in it hides a difference (no `__proto__` key dropped, see
/// [`Output::inexact`]). When exact, `JSON.stringify` of the schema is the same length
/// give or take `metadata.generatedAt` (written as `0`, and added when absent): a bound
/// on the full update's size without writing it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) canonical: usize,
    pub(crate) exact: bool,
}

/// The outcome of one update.
pub(crate) struct Change<S> {
    pub(crate) checksum: String,
    /// The new schema's canonical size.
    pub(crate) size: Size,
    /// `None` for the first schema, or when the two schemas cannot be diffed.
    pub(crate) delta: Option<Delta<S>>,
    /// Applying `delta` to the previous schema yields the new schema's checksum.
    pub(crate) incremental: bool,
    /// The patch from the previous schema (`calculate_schema_patch`); `None` for the first.
    pub(crate) patch: Option<Vec<Op<S>>>,
}

fn member<'a>(members: &'a [(Vec<u8>, PartHash)], key: &str) -> Option<&'a PartHash> {
    members.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, h)| h)
}

/// The two schemas' hashes, as the patch diff asks for them.
struct Hashes<'a> {
    old: &'a FxHashMap<usize, u64>,
    new: &'a FxHashMap<usize, u64>,
}

impl<'s, S: Source<'s>> Known<S> for Hashes<'_> {
    const HASHED: bool = true;

    #[inline]
    fn judge(&self, old: S, new: S) -> Option<bool> {
        match (self.old.get(&old.identity()), self.new.get(&new.identity())) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    }
}

/// Make `new` current: its checksum, and the delta and patch from `previous` (the state
/// and a view of the schema it describes). Values the hashes cannot tell apart are
/// compared with `comparator`'s fast path.
pub(crate) fn update<'s, S: Source<'s>, C: Comparator<'s, S>>(
    previous: Option<(&TrackerState, S)>,
    new: S,
    algorithm: Algorithm,
    comparator: C,
) -> Result<(Change<S>, TrackerState), CoreError> {
    check_schema(new)?;
    let capacity = previous.map_or(0, |(state, _)| state.known.len());
    let origin = new.origin();
    let reusable = match (previous, &origin) {
        (Some((state, old)), Some(origin)) => match (old.origin(), &state.kept) {
            (Some(old_origin), Some(kept)) => {
                Some((old_origin, kept, crate::document::runs::same_text(old_origin.raw, origin.raw)))
            }
            _ => None,
        },
        _ => None,
    };
    let reuse = reusable.as_ref().map(|(old, kept, same)| Reuse::new(*old, kept, same));
    let (checksum, node_hashes, members, known, size, (kept, reused)) = std::thread::scope(|scope| {
        let mut out = TrackerOutput {
            sink: if origin.is_some() { HashSink::keeping(algorithm, scope) } else { HashSink::new(algorithm, scope) },
            streams: Vec::new(),
            open: 0,
            from: 0,
            nodes: Vec::new(),
            members: Vec::new(),
            known: FxHashMap::with_capacity_and_hasher(capacity, FxBuildHasher),
            exact: true,
            records: origin.map_or_else(Vec::new, |o| vec![Record::default(); o.elements.len()]),
            origin,
            reuse,
            reused: 0,
            next_new: 0,
            next_old: 0,
            pending: None,
        };
        let written = Writer::for_tracker(&mut out).value(new);
        let TrackerOutput { sink, nodes, members, known, exact, records, reused, .. } = out;
        let size = Size { canonical: sink.position(), exact };
        let finished = sink.finish();
        written?;
        let (hasher, chunks) = finished?;
        let kept = chunks.map(|chunks| Kept::new(chunks, records));
        Ok::<_, CoreError>((hasher.finish(), nodes, members, known, size, (kept, reused)))
    })?;

    let new_nodes = delta::schema_nodes(new).ok();
    let nodes = match new_nodes {
        Some(array) => Some(index_nodes::<S>(array, node_hashes)?),
        None => None,
    };
    let state = TrackerState { checksum: checksum.clone(), size, nodes, members, known, kept, reused };
    let mut change = Change { checksum, size, delta: None, incremental: false, patch: None };
    if let (Some((prev, old)), Some(new_array)) = (previous, new_nodes)
        && let (Some(prev_nodes), Some(new_state_nodes)) = (&prev.nodes, &state.nodes)
        // The previous schema is the caller's object: if it was changed since, no delta.
        && let Ok(old_array) = delta::schema_nodes(old)
        && old_array.len() == prev_nodes.ids.len()
    {
        let diff = Diff {
            prev,
            prev_nodes,
            old,
            old_array,
            new,
            new_array,
            next: &state,
            next_nodes: new_state_nodes,
            comparator,
        };
        if let Some((delta, incremental)) = diff.run()? {
            change.delta = Some(delta);
            change.incremental = incremental;
        }
    }
    if let Some((prev, old)) = previous {
        let known = Hashes { old: &prev.known, new: &state.known };
        change.patch = Some(diff::calculate_with(old, new, &known, comparator)?);
    }
    Ok((change, state))
}

fn index_nodes<'s, S: Source<'s>>(array: S::Array, hashes: Vec<PartHash>) -> Result<Nodes, CoreError> {
    let mut ids = IdIndex::with_capacity(array.len());
    array.for_each(|_, node| {
        ids.push(id_key(node.get("id")?)?.into_owned());
        Ok(())
    })?;
    Ok(Nodes { ids, hashes })
}

struct Diff<'a, 's, S: Source<'s>, C> {
    prev: &'a TrackerState,
    prev_nodes: &'a Nodes,
    old: S,
    old_array: S::Array,
    new: S,
    new_array: S::Array,
    next: &'a TrackerState,
    next_nodes: &'a Nodes,
    comparator: C,
}

impl<'s, S: Source<'s>, C: Comparator<'s, S>> Diff<'_, 's, S, C> {
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
        // The nodes paired by id, as `calculate_schema_delta` pairs them (a repeated id:
        // its first position, its last node).
        let pairs = pair(&prev.ids, &next.ids);
        for paired in &pairs.new {
            let last = paired.new.last;
            let node = self.new_node(last)?;
            let Some(old) = paired.old else {
                added.push((last, node));
                continue;
            };
            let old_last = old.last;
            let old_node = self.old_node(old_last)?;
            let (was, now) = (prev.hashes[old_last], next.hashes[last]);
            let same = if was.exact && now.exact {
                was.hash == now.hash
            } else {
                Comparer::new(self.comparator).compare(old_node, node, NODE_DEPTH)?
            };
            if !same {
                modified.push(node);
                modified_keys.insert(paired.key);
            }
        }
        let mut removed = Vec::new();
        let mut removed_keys: FxHashSet<&IdKey<'static>> = FxHashSet::default();
        for &(key, span) in &pairs.removed {
            removed.push(self.old_node(span.first)?.get("id")?);
            removed_keys.insert(key);
        }
        let mut changes = Vec::new();
        let mut representable = true;
        for name in META_KEYS {
            let (was, now) = (self.old.get(name)?, self.new.get(name)?);
            let same = match (was, now) {
                (None, None) => true,
                (Some(x), Some(y)) => match (member(&self.prev.members, name), member(&self.next.members, name)) {
                    (Some(a), Some(b)) if a.exact && b.exact => a.hash == b.hash,
                    _ => Comparer::new(self.comparator).compare(x, y, 2)?,
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
        for (key, hash) in prev.ids.keys().zip(&prev.hashes) {
            if gone(key) {
                continue;
            }
            if modified.contains(key) {
                if replaced.insert(key) {
                    match next.ids.get(key) {
                        Some(span) => expected.push(next.hashes[span.last].hash),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::Generic;
    use crate::parse::{ValueBuilder, parse};
    use crate::patch::diff::{calculate, write_op};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    fn text<'s, S: Source<'s>>(ops: &[Op<S>]) -> String {
        let mut out = Vec::new();
        for op in ops {
            write_op(op, &mut out).unwrap();
            out.push(b'\n');
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn patch_skips_hashed_subtrees_and_equals_the_full_diff() {
        let old = v(r#"{"metadata":{"generatedAt":1},"nodes":[{"id":1,"children":[{"id":2,"p":{"a":1}},
            {"id":3,"p":{"a":[1,2]}}]},{"id":4,"children":[]}],"theme":{"c":"red"}}"#);
        let new = v(r#"{"metadata":{"generatedAt":2},"nodes":[{"children":[{"id":2,"p":{"a":1}},
            {"id":3,"p":{"a":[1,3]}}],"id":1},{"id":4,"children":[]},{"id":5}],"theme":{"c":"red"}}"#);
        let (first, state) = update(None, &old, Algorithm::Xxh3, Generic).unwrap();
        assert!(first.patch.is_none());
        // Every array item that is an object is hashed (the small ones left out of the map).
        assert_eq!(state.nodes.as_ref().map(|n| n.hashes.len()), Some(2));
        let (change, _) = update(Some((&state, &old)), &new, Algorithm::Xxh3, Generic).unwrap();
        let expected = calculate(&old, &new, Generic).unwrap();
        assert_eq!(text(change.patch.as_deref().unwrap()), text(&expected));
        assert_eq!(
            text(&expected),
            "{\"op\":\"replace\",\"path\":\"/metadata/generatedAt\",\"value\":2}\n\
             {\"op\":\"add\",\"path\":\"/nodes/2\",\"value\":{\"id\":5}}\n\
             {\"op\":\"replace\",\"path\":\"/nodes/0/children/1/p/a/1\",\"value\":3}\n"
        );
    }

    #[test]
    fn nested_hashes_are_the_content_not_the_context() {
        // The same node alone and inside another array hashes the same.
        let node = format!(r#"{{"id":2,"big":"{}"}}"#, "a".repeat(SMALL));
        let a = v(&format!(r#"{{"metadata":{{}},"nodes":[{{"id":1,"x":[{node}]}}]}}"#));
        let b = v(&format!(r#"{{"metadata":{{}},"nodes":[{node}]}}"#));
        let (_, sa) = update(None, &a, Algorithm::Sha256, Generic).unwrap();
        let (_, sb) = update(None, &b, Algorithm::Sha256, Generic).unwrap();
        let inner = sa.known.values().copied().collect::<FxHashSet<_>>();
        let alone = sb.nodes.as_ref().unwrap().hashes[0];
        assert!(alone.exact);
        assert!(inner.contains(&(alone.hash as u64)));
    }

    /// A schema text of `n` nodes, each with nested children, and `edit` applied to the
    /// text of node `at` (and to the metadata, at the front of the file).
    fn schema_text(n: usize, stamp: u32, edit: Option<(usize, &str)>) -> String {
        let nodes: Vec<String> = (0..n)
            .map(|i| {
                let label = match edit {
                    Some((at, text)) if at == i => text.to_owned(),
                    _ => format!("label {i}"),
                };
                let kids: Vec<String> = (0..4)
                    .map(|k| format!(r#"{{"id":"n{i}c{k}","type":"Text","props":{{"text":"{label} {k}","size":{k}}},"children":[]}}"#))
                    .collect();
                format!(r#"{{"id":"n{i}","type":"View","props":{{"title":"{label}","pad":[1,2]}},"children":[{}]}}"#, kids.join(","))
            })
            .collect();
        format!(
            r#"{{"metadata":{{"generatedAt":{stamp}}},"version":"1","nodes":[{}],"theme":{{"c":"red"}}}}"#,
            nodes.join(",\n")
        )
    }

    fn document(text: &str, lend: bool) -> crate::document::Document {
        let mut doc = crate::document::parse::parse(text.as_bytes(), false).unwrap();
        if lend {
            doc.lend_text(Box::new(text.as_bytes().to_vec()));
        }
        doc
    }

    /// What a state says, with identities made node indices (comparable across documents).
    fn described(state: &TrackerState, doc: &crate::document::Document) -> String {
        let base = doc.nodes.as_ptr() as usize;
        let mut known: Vec<(usize, u64)> =
            state.known.iter().map(|(&id, &h)| ((id - base) / size_of::<crate::document::Node>(), h)).collect();
        known.sort_unstable();
        let nodes = state.nodes.as_ref().map(|n| n.hashes.clone());
        format!("{} {:?} {:?} {:?} {:?}", state.checksum, state.size, nodes, state.members, known)
    }

    #[test]
    fn reused_text_gives_what_a_full_walk_gives() {
        let texts = [
            schema_text(3000, 1, None),
            schema_text(3000, 22, Some((1500, "edited"))),
            schema_text(3000, 22, Some((1500, "edited"))).replace("\"n2999\"", "\"n2999-x\""),
            schema_text(3000, 333, Some((10, "a \\u00e9 longer label"))).replacen(",\n", ", ", 700),
            schema_text(3000, 333, Some((10, "a \\u00e9 longer label"))).replacen(",\n", ", ", 700),
        ];
        for algorithm in [Algorithm::Sha256, Algorithm::Xxh3] {
            let lent: Vec<_> = texts.iter().map(|t| document(t, true)).collect();
            let plain: Vec<_> = texts.iter().map(|t| document(t, false)).collect();
            let (mut prev_lent, mut prev_plain) = (None, None);
            for i in 0..texts.len() {
                let (a, sa) =
                    update(prev_lent.as_ref().map(|s| (s, lent[i - 1].root())), lent[i].root(), algorithm, Generic)
                        .unwrap();
                let (b, sb) =
                    update(prev_plain.as_ref().map(|s| (s, plain[i - 1].root())), plain[i].root(), algorithm, Generic)
                        .unwrap();
                assert_eq!(a.checksum, b.checksum);
                assert_eq!(a.incremental, b.incremental);
                assert_eq!(a.patch.as_deref().map(text), b.patch.as_deref().map(text));
                assert_eq!(a.delta.is_some(), b.delta.is_some());
                let (da, db) = (described(&sa, &lent[i]), described(&sb, &plain[i]));
                if da != db {
                    let at = da.bytes().zip(db.bytes()).position(|(x, y)| x != y).unwrap_or(0);
                    let near = |d: &str| d.get(at.saturating_sub(150)..(at + 80).min(d.len())).unwrap_or("").to_owned();
                    panic!("step {i} {algorithm:?}: states differ at {at}:\n{}\n{}", near(&da), near(&db));
                }
                assert_eq!(sb.reused, 0);
                if i > 0 {
                    // All but the edited nodes' text (and the metadata) is copied; with the
                    // 700 separators changed, the nodes between them are written afresh (each
                    // is shorter than the stretch a shared run is looked for in).
                    let tenths = if i == 3 { 5 } else { 9 };
                    assert!(
                        sa.reused * 10 > sa.size.canonical * tenths,
                        "step {i}: {} of {}",
                        sa.reused,
                        sa.size.canonical
                    );
                } else {
                    assert_eq!(sa.reused, 0);
                }
                (prev_lent, prev_plain) = (Some(sa), Some(sb));
            }
        }
    }
}
