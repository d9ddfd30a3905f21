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

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use std::borrow::Cow;

use crate::canonical::stringify;
use crate::error::{CoreError, ErrorKind, MAX_DEPTH, Seg};
use crate::value::{Array, Compare, JsStr, Object, Read, Source, is_dict, join_surrogate_pairs};

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

/// A node id under JS `SameValueZero`: equal keys exactly when the ids are the same key of
/// a JS `Map`.
#[derive(PartialEq, Eq, Hash, Clone, Debug)]
pub(crate) enum IdKey<'s> {
    Undefined,
    Null,
    Bool(bool),
    /// The double's bits, with `-0` folded into `0` and every NaN into one.
    Number(u64),
    /// WTF-8 with surrogate pairs joined: one spelling per JS string.
    Str(Cow<'s, [u8]>),
    Identity(usize),
}

impl IdKey<'_> {
    /// The same key, owning its text (to outlive the schema it came from).
    pub(crate) fn into_owned(self) -> IdKey<'static> {
        match self {
            IdKey::Str(text) => IdKey::Str(Cow::Owned(text.into_owned())),
            IdKey::Undefined => IdKey::Undefined,
            IdKey::Null => IdKey::Null,
            IdKey::Bool(b) => IdKey::Bool(b),
            IdKey::Number(n) => IdKey::Number(n),
            IdKey::Identity(i) => IdKey::Identity(i),
        }
    }
}

fn number_key(value: f64) -> IdKey<'static> {
    if value.is_nan() {
        IdKey::Number(f64::NAN.to_bits())
    } else if value == 0.0 {
        IdKey::Number(0)
    } else {
        IdKey::Number(value.to_bits())
    }
}

/// The id key of `id` (`None`: no `id` property).
pub(crate) fn id_key<'s, S: Source<'s>>(id: Option<S>) -> Result<IdKey<'s>, CoreError> {
    let Some(id) = id else {
        return Ok(IdKey::Undefined);
    };
    Ok(match id.read()? {
        Read::Null => IdKey::Null,
        Read::Bool(b) => IdKey::Bool(b),
        Read::Int(i) => number_key(i as f64),
        Read::Float(f) => number_key(f),
        Read::Str(s) if !s.is_wtf8() => IdKey::Str(Cow::Borrowed(s.as_bytes())),
        Read::Str(s) => IdKey::Str(join_surrogate_pairs(s.as_bytes())),
        Read::Array(_) | Read::Object(_) => IdKey::Identity(id.identity()),
    })
}

/// An insertion-ordered map from id keys to (first id, last node), like a JS `Map`.
pub(crate) struct NodeIndex<'s, S: Source<'s>> {
    pub(crate) entries: Vec<(IdKey<'s>, Option<S>, S)>,
    positions: FxHashMap<IdKey<'s>, usize>,
    /// Nodes replaced by a later node with the same id.
    pub(crate) superseded: Vec<S>,
    /// The key objects of the nodes' fields.
    keys: NodeKeys<'s, S>,
}

impl<'s, S: Source<'s>> NodeIndex<'s, S> {
    pub(crate) fn build(nodes: S::Array, list: &'static str) -> Result<Self, CoreError> {
        let mut index = NodeIndex {
            entries: Vec::with_capacity(nodes.len()),
            positions: FxHashMap::with_capacity_and_hasher(nodes.len(), FxBuildHasher),
            superseded: Vec::new(),
            keys: NodeKeys::new(),
        };
        nodes.for_each(|i, node| {
            let id = index.keys.get(node, ID)?;
            let key = id_key(id).map_err(|e| at_node(e, list, i, Some("id")))?;
            if let Some(&at) = index.positions.get(&key) {
                index.superseded.push(std::mem::replace(&mut index.entries[at].2, node));
            } else {
                index.positions.insert(key.clone(), index.entries.len());
                index.entries.push((key, id, node));
            }
            Ok(())
        })?;
        Ok(index)
    }

    pub(crate) fn get(&self, key: &IdKey<'s>) -> Option<&(IdKey<'s>, Option<S>, S)> {
        self.positions.get(key).map(|&at| &self.entries[at])
    }

    pub(crate) fn contains(&self, key: &IdKey<'s>) -> bool {
        self.positions.contains_key(key)
    }
}

/// The node fields the delta reads by name: only the id (nodes are compared whole).
const NODE_KEYS: [&str; 1] = ["id"];
const ID: usize = 0;

/// The key objects one schema's nodes use for [`NODE_KEYS`], as nodes show them. Parsed
/// schemas share one key object per name: a lookup with the schema's own key object
/// finds the member by identity instead of by text.
pub(crate) struct NodeKeys<'s, S: Source<'s>>([Option<<S::Object as Object<'s, S>>::Key>; 1]);

impl<'s, S: Source<'s>> NodeKeys<'s, S> {
    pub(crate) fn new() -> Self {
        NodeKeys([None])
    }

    /// `node["id"]`.
    pub(crate) fn id(&mut self, node: S) -> Result<Option<S>, CoreError> {
        self.get(node, ID)
    }

    /// `node[NODE_KEYS[field]]`.
    fn get(&mut self, node: S, field: usize) -> Result<Option<S>, CoreError> {
        let name = NODE_KEYS[field];
        let Read::Object(object) = node.shape()? else {
            return node.get(name);
        };
        if let Some(key) = self.0[field] {
            return object.lookup(key);
        }
        let mut found = None;
        object.for_each_keyed(|key, _| {
            if found.is_none() && S::Object::key_plain(key) && S::Object::key_str(key)?.as_bytes() == name.as_bytes() {
                found = Some(key);
            }
            Ok(())
        })?;
        self.0[field] = found;
        node.get(name)
    }

    /// Node `i` of `nodes` and its id, if it is a dict.
    fn node(&mut self, nodes: S::Array, i: usize) -> Result<Option<(S, Option<S>)>, CoreError> {
        let Some(node) = nodes.get(i)? else {
            return Ok(None);
        };
        if !is_dict(node)? {
            return Ok(None);
        }
        Ok(Some((node, self.get(node, ID)?)))
    }
}

fn at_node(err: CoreError, list: &'static str, index: usize, field: Option<&str>) -> CoreError {
    let err = match field {
        Some(field) => err.within(Seg::Key(field.as_bytes().to_vec())),
        None => err,
    };
    err.within(Seg::Index(index)).within(Seg::Key(list.as_bytes().to_vec()))
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

/// Raise for the first value that is not JSON, key that is not a string, or container
/// deeper than `MAX_DEPTH` (depth first, an object's keys before its values).
pub(crate) fn check_json<'s, S: Source<'s>>(value: S) -> Result<(), CoreError> {
    check_value(value, 1)
}

fn check_value<'s, S: Source<'s>>(value: S, depth: usize) -> Result<(), CoreError> {
    match value.read()? {
        Read::Array(items) => {
            if depth > MAX_DEPTH {
                return Err(CoreError::too_deep());
            }
            items.for_each(|i, item| check_value(item, depth + 1).map_err(|e| e.within(Seg::Index(i))))
        }
        Read::Object(object) => {
            if depth > MAX_DEPTH {
                return Err(CoreError::too_deep());
            }
            object.for_each_keyed(|_, _| Ok(()))?;
            object.for_each_keyed(|key, item| check_value(item, depth + 1).map_err(|e| within_key::<S>(e, key)))
        }
        _ => Ok(()),
    }
}

fn within_key<'s, S: Source<'s>>(err: CoreError, key: <S::Object as Object<'s, S>>::Key) -> CoreError {
    let key = S::Object::key_str(key).map(|k| k.as_bytes().to_vec()).unwrap_or_default();
    err.within(Seg::Key(key))
}

/// Whether `value` (at `depth`) is all JSON. Fast, and only a yes/no: which problem is
/// reported is decided by [`check_json`] afterwards.
pub(crate) fn scan<'s, S: Source<'s>>(value: S, depth: usize) -> Result<(), CoreError> {
    match value.shape()? {
        Read::Array(items) => {
            if depth > MAX_DEPTH {
                return Err(CoreError::too_deep());
            }
            items.for_each(|_, item| scan(item, depth + 1))
        }
        Read::Object(object) => {
            if depth > MAX_DEPTH {
                return Err(CoreError::too_deep());
            }
            object.for_each_keyed(|_, item| scan(item, depth + 1))
        }
        _ => Ok(()),
    }
}

/// Numbers as doubles; a non-finite number is `null` (as JSON.stringify writes it).
enum Scalar<'s> {
    Null,
    Bool(bool),
    Number(f64),
    Str(JsStr<'s>),
}

fn scalar<'s, S: Source<'s>>(read: &Read<'s, S>) -> Option<Scalar<'s>> {
    Some(match *read {
        Read::Bool(b) => Scalar::Bool(b),
        Read::Int(i) => Scalar::Number(i as f64),
        Read::Float(f) if f.is_finite() => Scalar::Number(f),
        // JSON.stringify writes a non-finite number as null.
        Read::Null | Read::Float(_) => Scalar::Null,
        Read::Str(s) => Scalar::Str(s),
        Read::Array(_) | Read::Object(_) => return None,
    })
}

/// JSON equality, with what one comparison learns along the way: which key objects of
/// the two sides are equal. Schemas parsed separately hold distinct but equal key objects
/// (`"id"`, `"props"`...) used thousands of times; comparing each pair's text once is
/// enough. Identities are only meaningful while both schemas are alive: a `Comparer`
/// lives for one call.
pub(crate) struct Comparer {
    /// Direct-mapped by the left key's identity: `(left, right)` found equal.
    keys: Vec<(usize, usize)>,
}

impl Comparer {
    /// Slots of the key-pair cache: far more than the distinct keys of a schema (a
    /// hundred or so), so that two of them seldom share a slot. Only the slots used are
    /// ever loaded into the cache.
    const SLOTS: usize = 2048;

    pub(crate) fn new() -> Self {
        Comparer { keys: Vec::new() }
    }

    /// The slot of a key object in the direct-mapped caches.
    fn slot(identity: usize) -> usize {
        // Fibonacci hashing: the top bits of the product mix every bit of the address.
        (identity as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> (usize::BITS - Self::SLOTS.trailing_zeros())
    }

    /// JS string equality of two keys.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn key_eq<'s, S: Source<'s>>(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError> {
        let (left, right) = (S::Object::key_identity(a), S::Object::key_identity(b));
        if left == right || self.keys_known(left, right) {
            return Ok(true);
        }
        self.learn_keys::<S>(a, b)
    }

    /// Whether the pair of distinct key objects was found equal before (only such pairs
    /// are remembered).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn keys_known(&self, left: usize, right: usize) -> bool {
        self.keys.get(Self::slot(left)) == Some(&(left, right))
    }

    /// [`Comparer::key_eq`] for a pair of key objects not seen yet.
    #[inline(never)]
    fn learn_keys<'s, S: Source<'s>>(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError> {
        let (left, right) = (S::Object::key_identity(a), S::Object::key_identity(b));
        let slot = Self::slot(left);
        let equal = S::Object::key_eq(a, b)?;
        if equal {
            if self.keys.is_empty() {
                self.keys = vec![(0, 0); Self::SLOTS];
            }
            self.keys[slot] = (left, right);
        }
        Ok(equal)
    }

    /// JSON equality of `a` and `b` (at `depth`), walking both completely even once they
    /// differ, so that every value of both is also scanned for being JSON.
    #[inline]
    pub(crate) fn compare<'s, S: Source<'s>>(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError> {
        match a.fast_equal(b, depth, self, &mut ())? {
            Some(equal) => Ok(equal),
            None => self.compare_generic(a, b, depth),
        }
    }

    /// [`Comparer::compare`] without the source's fast path for this pair.
    fn compare_generic<'s, S: Source<'s>>(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError> {
        if a.identity() == b.identity() {
            scan(a, depth)?;
            return Ok(true);
        }
        let (ra, rb) = (a.read()?, b.read()?);
        // The common pairs first, matched in place (moving `Read`s around stalls).
        match (&ra, &rb) {
            (Read::Str(x), Read::Str(y)) => return Ok(x.js_eq(y)),
            (Read::Object(x), Read::Object(y)) => {
                if depth > MAX_DEPTH {
                    return Err(CoreError::too_deep());
                }
                return self.compare_objects::<S>(*x, *y, depth);
            }
            (Read::Array(x), Read::Array(y)) => {
                if depth > MAX_DEPTH {
                    return Err(CoreError::too_deep());
                }
                return self.compare_arrays::<S>(*x, *y, depth);
            }
            _ => {}
        }
        #[allow(clippy::float_cmp)] // JSON numbers compare as doubles
        match (scalar(&ra), scalar(&rb)) {
            (Some(x), Some(y)) => Ok(match (x, y) {
                (Scalar::Null, Scalar::Null) => true,
                (Scalar::Bool(x), Scalar::Bool(y)) => x == y,
                (Scalar::Number(x), Scalar::Number(y)) => x == y,
                (Scalar::Str(x), Scalar::Str(y)) => x.js_eq(&y),
                _ => false,
            }),
            (Some(_), None) => {
                scan(b, depth)?;
                Ok(false)
            }
            (None, Some(_)) => {
                scan(a, depth)?;
                Ok(false)
            }
            (None, None) => {
                // An array and an object.
                scan(a, depth)?;
                scan(b, depth)?;
                Ok(false)
            }
        }
    }

    /// JSON equality of two arrays (at `depth`).
    fn compare_arrays<'s, S: Source<'s>>(&mut self, x: S::Array, y: S::Array, depth: usize) -> Result<bool, CoreError> {
        let (x_len, y_len) = (x.len(), y.len());
        let mut equal = x_len == y_len;
        x.for_each(|i, item| {
            match if i < y_len { y.get(i)? } else { None } {
                Some(other) if other.identity() == item.identity() && item.is_scalar() => {}
                Some(other) => equal &= self.compare(item, other, depth + 1)?,
                None => scan(item, depth + 1)?,
            }
            Ok(())
        })?;
        for i in x_len..y_len {
            if let Some(item) = y.get(i)? {
                scan(item, depth + 1)?;
            }
        }
        Ok(equal)
    }

    /// JSON equality of two objects (at `depth`).
    fn compare_objects<'s, S: Source<'s>>(
        &mut self,
        x: S::Object,
        y: S::Object,
        depth: usize,
    ) -> Result<bool, CoreError> {
        // Objects parsed from similar text usually list their keys in the same order:
        // `y` is walked alongside `x`, and a lookup is needed only where the keys part.
        // When every key of `x` met its twin in place and `y` has nothing more, the
        // objects have the same keys, without asking either for its length.
        let mut equal = true;
        let mut in_step = true;
        let mut count = 0;
        let mut matched = 0;
        let (mut x_cursor, mut cursor) = (0, 0);
        // One member ahead on both sides: its value is prefetched while this one is
        // compared, so that the cache misses of siblings overlap.
        let mut next = x.next_member(&mut x_cursor)?;
        let mut next_other = y.next_member(&mut cursor)?;
        while let Some((key, item)) = next {
            count += 1;
            let in_place = next_other;
            next = x.next_member(&mut x_cursor)?;
            next_other = y.next_member(&mut cursor)?;
            if let Some((_, value)) = next {
                value.prefetch();
            }
            if let Some((_, value)) = next_other {
                value.prefetch();
            }
            let found = match in_place {
                Some((other_key, other)) if self.key_eq::<S>(key, other_key)? => Some(other),
                _ => {
                    in_step = false;
                    member::<S>(y, key)?
                }
            };
            if let Some(other) = found {
                matched += 1;
                // The same scalar on both sides (a leaf both schemas share): nothing to
                // compare, and nothing inside to scan.
                if item.identity() != other.identity() || !item.is_scalar() {
                    equal &= self.compare(item, other, depth + 1)?;
                }
            } else {
                equal = false;
                scan(item, depth + 1)?;
            }
        }
        // `next_other` is the member of `y` after as many as `x` has.
        if in_step && next_other.is_none() {
            return Ok(equal);
        }
        let y_len = y.len();
        equal &= count == y_len;
        if matched < y_len {
            y.for_each_keyed(|key, item| {
                if member::<S>(x, key)?.is_none() {
                    scan(item, depth + 1)?;
                }
                Ok(())
            })?;
        }
        Ok(equal)
    }

    /// JSON equality of two matched top-level nodes. Nodes are compared whole: a node
    /// without `type`, `children` or `props`, or with `null` there, is no error (where
    /// the reference throws a `TypeError`, a defect this fixes).
    pub(crate) fn compare_node<'s, S: Source<'s>>(&mut self, old: S, new: S) -> Result<bool, CoreError> {
        self.compare(old, new, NODE_DEPTH)
    }
}

impl<'s, S: Source<'s>> Compare<'s, S> for Comparer {
    fn compare_generic(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError> {
        Comparer::compare_generic(self, a, b, depth)
    }

    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn key_eq(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError> {
        Comparer::key_eq::<S>(self, a, b)
    }

    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn keys_known(&self, a: <S::Object as Object<'s, S>>::Key, b: <S::Object as Object<'s, S>>::Key) -> bool {
        Comparer::keys_known(self, S::Object::key_identity(a), S::Object::key_identity(b))
    }

    fn member(&mut self, object: S::Object, key: <S::Object as Object<'s, S>>::Key) -> Result<Option<S>, CoreError> {
        member::<S>(object, key)
    }

    fn scan(&mut self, value: S, depth: usize) -> Result<(), CoreError> {
        scan(value, depth)
    }
}

/// `object[key]` by JS string equality: a direct lookup, then (rarely: the key differs
/// only in how a surrogate pair or a str subclass is held) a scan.
fn member<'s, S: Source<'s>>(
    object: S::Object,
    key: <S::Object as Object<'s, S>>::Key,
) -> Result<Option<S>, CoreError> {
    if let Some(found) = object.lookup(key)? {
        return Ok(Some(found));
    }
    let wanted = S::Object::key_str(key)?;
    let mut found = None;
    object.for_each(|k, v| {
        if found.is_none() && k.js_eq(&wanted) {
            found = Some(v);
        }
        Ok(())
    })?;
    Ok(found)
}

fn id_json<'s, S: Source<'s>>(id: Option<S>) -> String {
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
pub(crate) fn calculate<'s, S: Source<'s>>(old: S, new: S) -> Result<Delta<S>, CoreError> {
    // Nearly every pair has unique ids and no errors: one pass pairs its nodes. Anything
    // else (a duplicate id, an error anywhere) is decided by the indexed walk below,
    // whose order of checks defines which error is raised.
    if let Ok(Some(delta)) = walk_in_step(old, new) {
        return Ok(delta);
    }
    let old_nodes = schema_nodes(old)?;
    let new_nodes = schema_nodes(new)?;
    walk(old, new, old_nodes, new_nodes).or_else(|err| {
        check_json(old)?;
        check_json(new)?;
        Err(err)
    })
}

/// Depth of a node: the schema is 1, its `nodes` array 2.
pub(crate) const NODE_DEPTH: usize = 3;

fn walk<'s, S: Source<'s>>(old: S, new: S, old_nodes: S::Array, new_nodes: S::Array) -> Result<Delta<S>, CoreError> {
    let (Read::Object(old_object), Read::Object(new_object)) = (old.shape()?, new.shape()?) else {
        return Err(ErrorKind::NodesNotArray.into());
    };
    let old_index = NodeIndex::build(old_nodes, "nodes")?;
    let new_index = NodeIndex::build(new_nodes, "nodes")?;
    let mut comparer = Comparer::new();
    let mut added = Vec::new();
    let mut modified = Vec::new();
    for (key, _, node) in &new_index.entries {
        match old_index.get(key).map(|entry| entry.2) {
            None => {
                scan(*node, NODE_DEPTH)?;
                added.push(*node);
            }
            Some(old_node) => {
                if !comparer.compare_node(old_node, *node)? {
                    modified.push(*node);
                }
            }
        }
    }
    let mut removed = Vec::new();
    for (key, id, node) in &old_index.entries {
        if !new_index.contains(key) {
            scan(*node, NODE_DEPTH)?;
            removed.push(*id);
        }
    }
    for node in old_index.superseded.iter().chain(&new_index.superseded) {
        scan(*node, NODE_DEPTH)?;
    }
    finish(old_object, new_object, old, new, &mut comparer, Delta { added, modified, removed, changes: Vec::new() })
}

/// A delta's metadata changes, once its nodes are done, and the check that the rest of
/// both schemas is JSON.
fn finish<'s, S: Source<'s>>(
    old_object: S::Object,
    new_object: S::Object,
    old: S,
    new: S,
    comparer: &mut Comparer,
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
fn walk_in_step<'s, S: Source<'s>>(old: S, new: S) -> Result<Option<Delta<S>>, CoreError> {
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
    let mut comparer = Comparer::new();
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
    let replacements = NodeIndex::build(modified, "modified")?;
    let mut replaced = vec![false; replacements.entries.len()];
    let mut result = Vec::with_capacity(nodes.len() + added.len());
    nodes.for_each(|i, node| {
        let key = id_key(node.get("id")?).map_err(|e| at_node(e, "nodes", i, Some("id")))?;
        if removed_keys.contains(&key) {
            return Ok(());
        }
        match replacements.positions.get(&key) {
            None => result.push(node),
            Some(&at) if !replaced[at] => {
                replaced[at] = true;
                result.push(replacements.entries[at].2);
            }
            Some(_) => {}
        }
        Ok(())
    })?;
    if let Some(at) = replaced.iter().position(|done| !done) {
        let node = replacements.entries[at].2;
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
        let delta = calculate(&old, &new).unwrap_or_else(|e| panic!("{e}"));
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
        let delta = calculate(&old, &new).unwrap_or_else(|e| panic!("{e}"));
        // 1 and 1.0 are one key: first position, last node ({"id":1}), which differs.
        assert!(delta.added.is_empty());
        assert_eq!(ids(&delta.modified), ["1"]);
        assert_eq!(delta.removed.iter().map(|id| id_json(*id)).collect::<Vec<_>>(), ["true"]);
    }

    #[test]
    fn partial_nodes_are_no_error() {
        let old = v(r#"{"nodes":[{"id":"a","type":"T","props":{}},{"id":"b","props":null}]}"#);
        let new = v(r#"{"nodes":[{"id":"a","type":"T","children":[],"props":{}},{"id":"b","props":null}]}"#);
        let delta = calculate(&old, &new).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids(&delta.modified), ["\"a\""]);
        let bad = v(r#"{"nodes":[1]}"#);
        let err = calculate(&bad, &new).err().expect("an error").to_string();
        assert_eq!(err, "node at $.nodes[0] must be an object, got int");
        let err = calculate(&v(r#"{"nodes":{}}"#), &new).err().expect("an error").to_string();
        assert_eq!(err, "schema 'nodes' must be an array");
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
