//! `calculate_schema_patch`: the RFC 6902 ops that turn one JSON value into another, in
//! the order `lumora_fast.pure.patch` emits them.
//!
//! Two JSON-equal values need no ops. Otherwise objects are diffed key by key (keys
//! compared by code points, as Python's dicts do): removals in the old order, then each
//! new key in the new order, added or diffed. An array whose items are all objects with
//! unique scalar ids, on both sides (neither empty), is matched by id (JS
//! `SameValueZero`): removals from the end, then each item not on the longest increasing
//! run of kept items is moved (or inserted) right after its predecessor in the new
//! order, then matched items are diffed at their new index. Any other array is diffed
//! element by element past its equal head and tail (when the lengths differ), and
//! replaced whole when that op serializes shorter than those ops.
//!
//! Each pair is compared whole first, and walked from where that comparison stopped
//! ([`Differ::diff`]); the order of the ops is the walk's all the same.
//!
//! The walk also checks that both values are JSON wherever it does not recurse (it
//! compares or scans), so that a clean result means clean input; on an error, both
//! values are checked again in order, to raise what `check_json` would.

use rustc_hash::{FxBuildHasher, FxHashSet};

use super::pointer::{push_index, push_token};
use crate::canonical::string::write_json_string;
use crate::canonical::stringify_into;
use crate::delta::{
    At, Comparator, Comparer, GiveUp, IdIndex, IdKey, NodeKeys, Pairing, check_json, id_key, pair_unique, scan,
};
use crate::error::{CoreError, ErrorKind, MAX_DEPTH};
use crate::value::{Array, JsStr, Object, Read, Source};

/// One RFC 6902 op. Pointers are WTF-8; a value of `None` is `null` (a non-finite
/// number, as the wire carries it).
pub(crate) enum Op<S> {
    Add { path: Vec<u8>, value: Option<S> },
    Remove { path: Vec<u8> },
    Replace { path: Vec<u8>, value: Option<S> },
    Move { from: Vec<u8>, path: Vec<u8> },
}

/// What can tell two values JSON-equal, or not, without walking them (the tracker's
/// hashes).
pub(crate) trait Known<S> {
    /// True when it knows the values of the nodes and of the larger array items: such a
    /// diff walks the pairs it cannot judge part by part (and so reaches the ones it
    /// can), except objects below the top, which are compared whole first as when
    /// nothing is known.
    const HASHED: bool;

    /// Whether `old` and `new` are JSON-equal, if known.
    fn judge(&self, old: S, new: S) -> Option<bool>;
}

impl<S> Known<S> for () {
    const HASHED: bool = false;

    #[inline]
    fn judge(&self, _old: S, _new: S) -> Option<bool> {
        None
    }
}

/// The ops that turn `old` into `new`, values compared with `comparator`'s fast path.
pub(crate) fn calculate<'s, S: Source<'s>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    comparator: C,
) -> Result<Vec<Op<S>>, CoreError> {
    calculate_with(old, new, &(), comparator)
}

/// [`calculate`], skipping the pairs `known` says are equal (unscanned: the caller has
/// checked both values).
pub(crate) fn calculate_with<'s, S: Source<'s>, K: Known<S>, C: Comparator<'s, S>>(
    old: S,
    new: S,
    known: &K,
    comparator: C,
) -> Result<Vec<Op<S>>, CoreError> {
    let mut differ = Differ {
        ops: Vec::new(),
        costs: Vec::new(),
        steps: Vec::new(),
        comparer: Comparer::new(comparator),
        known,
        id_keys: [NodeKeys::new(), NodeKeys::new()],
        id_stack: Vec::new(),
        id_key_objects: [None; 2],
        not_id_keys: [0; 64],
    };
    match differ.diff(old, new, 1) {
        Ok(()) => Ok(differ.ops),
        Err(err) => {
            check_json(old)?;
            check_json(new)?;
            Err(err)
        }
    }
}

/// A value as the wire carries it: a non-finite number is `null` (`None`).
fn wire<'s, S: Source<'s>>(value: S) -> Result<Option<S>, CoreError> {
    Ok(match value.read()? {
        Read::Float(f) if !f.is_finite() => None,
        _ => Some(value),
    })
}

/// `object[key]` with the key compared by code points (WTF-8 bytes).
fn member_exact<'s, S: Source<'s>>(
    object: S::Object,
    key: <S::Object as Object<'s, S>>::Key,
) -> Result<Option<S>, CoreError> {
    if let Some(found) = object.lookup(key)? {
        return Ok(Some(found));
    }
    if S::Object::key_plain(key) {
        return Ok(None);
    }
    let wanted = S::Object::key_str(key)?;
    let mut found = None;
    object.for_each(|k, v| {
        if found.is_none() && k.as_bytes() == wanted.as_bytes() {
            found = Some(v);
        }
        Ok(())
    })?;
    Ok(found)
}

fn item<'s, S: Source<'s>>(array: S::Array, index: usize) -> Result<S, CoreError> {
    array.get(index)?.ok_or_else(lost)
}

#[cold]
fn lost() -> CoreError {
    ErrorKind::Patch { message: "internal error: an array item went missing".to_owned() }.into()
}

/// An array item's id key, with its hash taken as the id was read (while it was in
/// cache): the checks for repeats and the pairing come after the walk has moved on, and
/// then hash nothing, and compare two keys' text only when their hashes agree.
#[derive(Clone, Debug)]
struct Id<'s> {
    hash: u64,
    key: IdKey<'s>,
}

impl<'s> Id<'s> {
    fn new(key: IdKey<'s>) -> Self {
        Id { hash: std::hash::BuildHasher::hash_one(&FxBuildHasher, &key), key }
    }
}

impl PartialEq for Id<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl Eq for Id<'_> {}

impl std::hash::Hash for Id<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Whether no two of `keys` are equal (`SameValueZero`).
fn unique(keys: &[Id<'_>]) -> bool {
    /// Up to this many ids are checked for repeats pairwise (no hash set to build).
    const PAIRWISE: usize = 16;
    if keys.len() <= PAIRWISE {
        return keys.iter().enumerate().all(|(i, key)| !keys[..i].contains(key));
    }
    let mut seen = FxHashSet::default();
    keys.iter().all(|key| seen.insert(key))
}

/// The middles of two arrays (between the head and the tail, their ids `old_mid` and
/// `new_mid`) paired by id. Gives up unless every id is unique on its side, among the
/// middle's and the head's and tail's (`head`, and `tail`, with where each item holds its
/// id, as in the middles).
fn pair_middles<'s>(
    old_mid: &[(Id<'s>, usize)],
    new_mid: &[(Id<'s>, usize)],
    head: &[Id<'s>],
    tail: &[(Id<'s>, usize)],
) -> Pairing<Middles> {
    let mut shared = FxHashSet::with_capacity_and_hasher(head.len() + tail.len(), FxBuildHasher);
    if !head.iter().chain(tail.iter().map(|(key, _)| key)).all(|key| shared.insert(key)) {
        return Pairing::GiveUp(GiveUp::DuplicateIds);
    }
    let index = |ids: &[(Id<'s>, usize)]| {
        let mut index = IdIndex::with_capacity(ids.len());
        for (key, _) in ids {
            index.push(key.clone());
        }
        index
    };
    let (old_ids, new_ids) = (index(old_mid), index(new_mid));
    if old_mid.iter().chain(new_mid).any(|(key, _)| shared.contains(key)) {
        return Pairing::GiveUp(GiveUp::DuplicateIds);
    }
    let nullish = old_mid.iter().chain(new_mid).any(|(id, _)| !json_tells_apart(&id.key));
    match pair_unique(&old_ids, &new_ids) {
        Pairing::Paired(pairs) => Pairing::Paired(Middles {
            pairs: pairs.new.iter().map(|paired| paired.old.map(|span| span.first)).collect(),
            nullish,
        }),
        Pairing::GiveUp(why) => Pairing::GiveUp(why),
    }
}

/// Indices into `values` (distinct) of a longest increasing subsequence: the leftmost
/// tail is replaced, as in `lumora_fast.pure.patch._stable`.
fn stable(values: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new();
    let mut previous = vec![usize::MAX; values.len()];
    for (i, &value) in values.iter().enumerate() {
        let at = tails.partition_point(|&t| values[t] < value);
        if at > 0 {
            previous[i] = tails[at - 1];
        }
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut result = Vec::with_capacity(tails.len());
    let mut k = tails.last().copied().unwrap_or(usize::MAX);
    while k != usize::MAX {
        result.push(k);
        k = previous[k];
    }
    result.reverse();
    result
}

/// The middles of two arrays paired by id ([`pair_middles`]).
struct Middles {
    /// For each new middle item, the index in the old middle of the item with its id.
    pairs: Vec<Option<usize>>,
    /// Whether some id is `null` or a non-finite number: ids that differ as
    /// `SameValueZero` but not as JSON (both are `null` on the wire).
    nullish: bool,
}

/// Two arrays' items past their equal head, as [`Differ::rest`] read them.
struct Rest<'s> {
    /// Each item's id, with where the item holds it (see [`Differ::id_of`]).
    old: Vec<(Id<'s>, usize)>,
    new: Vec<(Id<'s>, usize)>,
    /// For each pair met in step (the last `agree.len()` of each side), whether their
    /// ids are equal.
    agree: Vec<bool>,
    /// The pairs diffed as they were met that made ops: the new item's index, and how
    /// many ops (in order, from `from` in the list).
    runs: Vec<(usize, usize)>,
    from: usize,
}

/// Whether a pair needs no ops ([`Differ::verdict`]).
enum Verdict {
    /// JSON-equal: none.
    Equal,
    /// To be walked, from where a comparison stopped if it noted that.
    Differ(Option<At>),
}

/// What [`Differ::step`] found for two items met in step: their ids, with where each
/// item holds its own (see [`Differ::id_of`]).
enum Stepped<'s> {
    /// The same id (and the pair diffed).
    Same((Id<'s>, usize), (Id<'s>, usize)),
    /// Two different ids.
    Apart((Id<'s>, usize), (Id<'s>, usize)),
    /// An item without a scalar id.
    Missing,
}

/// Where the walk of two objects matched by id may start (see [`Differ::diff_from`]):
/// past their ids when both hold theirs first (`past_ids`, the cursors after them, are
/// then not 0), else at the start.
fn after_ids(past_ids: (usize, usize)) -> (usize, usize, usize) {
    if past_ids.0 != 0 && past_ids.1 != 0 { (past_ids.0, past_ids.1, 1) } else { (0, 0, 0) }
}

/// Whether two ids JSON-equal to this one are all this id (`SameValueZero`): all but
/// `null` and the non-finite numbers, which are all `null` on the wire.
fn json_tells_apart(key: &IdKey<'_>) -> bool {
    match *key {
        IdKey::Number(bits) => f64::from_bits(bits).is_finite(),
        IdKey::Null => false,
        _ => true,
    }
}

/// One step of the pointer being diffed, made into text only when an op needs it.
#[derive(Clone, Copy)]
enum Step<K> {
    Key(K),
    Index(usize),
}

struct Differ<'s, 'k, S: Source<'s>, K, C> {
    ops: Vec<Op<S>>,
    /// Each op's serialized size, once asked for.
    costs: Vec<Option<usize>>,
    /// Where the pair being diffed is.
    steps: Vec<Step<<S::Object as Object<'s, S>>::Key>>,
    comparer: Comparer<C>,
    known: &'k K,
    /// The `id` key objects of the old and the new value's objects (a lookup with the
    /// schema's own key object finds the member by identity).
    id_keys: [NodeKeys<'s, S>; 2],
    /// Id keys of the arrays being walked in step, innermost last (one buffer per call).
    id_stack: Vec<Id<'s>>,
    /// Identities of the exact `"id"` key objects met on each side (see [`Differ::is_id_key`]).
    id_key_objects: [Option<usize>; 2],
    /// Identities of exact str keys found not to be `"id"` (64 slots, direct-mapped by
    /// identity; 0 when empty).
    not_id_keys: [usize; 64],
}

/// Which value an item belongs to.
const OLD: usize = 0;
const NEW: usize = 1;

/// Objects with at most this many members are scanned for their `id` (see
/// [`Differ::id_member`]); larger ones are looked up.
const ID_SCAN_LIMIT: usize = 8;

impl<'s, S: Source<'s>, K: Known<S>, C: Comparator<'s, S>> Differ<'s, '_, S, K, C> {
    fn push(&mut self, op: Op<S>) {
        self.ops.push(op);
        self.costs.push(None);
    }

    /// The pointer of `steps`.
    fn pointer(&self) -> Result<Vec<u8>, CoreError> {
        let mut out = Vec::new();
        for step in &self.steps {
            match *step {
                Step::Key(key) => push_token(&mut out, S::Object::key_str(key)?.as_bytes()),
                Step::Index(i) => push_index(&mut out, i),
            }
        }
        Ok(out)
    }

    /// The pointer of `steps` and then `last`.
    fn pointer_to(&mut self, last: Step<<S::Object as Object<'s, S>>::Key>) -> Result<Vec<u8>, CoreError> {
        self.steps.push(last);
        let pointer = self.pointer();
        self.steps.pop();
        pointer
    }

    /// The ops that turn `old` into `new` (at `depth`): none when they are JSON-equal
    /// (whatever walking them part by part would find: keys equal only as UTF-16, ids
    /// equal only as JSON), else those of walking them.
    ///
    /// Unless `known` judges the pair (or its diff walks such pairs part by part), it is
    /// first compared whole, up to the first difference: nearly every pair of two
    /// versions is unchanged, and the comparator is the fastest walk. When the pair
    /// differs, each pair of containers on the way to the difference noted where the
    /// comparison stopped, and the walk resumes there in each of them, instead of walking
    /// again what was found equal ([`Comparer::take_stop`]).
    fn diff(&mut self, old: S, new: S, depth: usize) -> Result<(), CoreError> {
        self.diff_from(old, new, (0, 0, 0), depth)
    }

    /// [`Differ::diff`]; for two objects whose first `from.2` members are known to be
    /// equal members with equal keys, in place (`from.0` and `from.1` are the cursors
    /// after them), the walk of their members starts after them.
    fn diff_from(&mut self, old: S, new: S, from: (usize, usize, usize), depth: usize) -> Result<(), CoreError> {
        match self.verdict(old, new, depth)? {
            Verdict::Equal => Ok(()),
            Verdict::Differ(stop) => self.walk(old, new, from, stop, depth),
        }
    }

    /// Whether a pair (at `depth`) needs no ops ([`Differ::diff`]): JSON-equal as far
    /// as is known, found by comparing it whole first unless `known` judges it (or says
    /// to walk it); otherwise where its walk resumes, if that is known.
    fn verdict(&mut self, old: S, new: S, depth: usize) -> Result<Verdict, CoreError> {
        if old.identity() == new.identity() {
            self.comparer.compare(old, new, depth)?; // only scans
            return Ok(Verdict::Equal);
        }
        if let Some(stop) = self.comparer.take_stop(old, new) {
            return Ok(Verdict::Differ(Some(stop)));
        }
        match self.known.judge(old, new) {
            Some(true) => Ok(Verdict::Equal),
            None if Self::whole_first(old, new, depth) => Ok(if self.comparer.equal_or_differs(old, new, depth)? {
                Verdict::Equal
            } else {
                Verdict::Differ(self.comparer.take_stop(old, new))
            }),
            Some(false) | None => Ok(Verdict::Differ(None)),
        }
    }

    /// The ops of a pair that differs (at `depth`), walked part by part from `stop` (or,
    /// for two objects, from `from`: see [`Differ::diff_from`]).
    fn walk(
        &mut self,
        old: S,
        new: S,
        from: (usize, usize, usize),
        stop: Option<At>,
        depth: usize,
    ) -> Result<(), CoreError> {
        // One side's shape at a time, each matched where it is made: a pair of `Read`s
        // held together was copied around in wider pieces than it was written.
        match old.shape()? {
            Read::Object(a) if old.is_dict() => {
                if let Read::Object(b) = new.shape()?
                    && new.is_dict()
                {
                    if depth > MAX_DEPTH {
                        return Err(CoreError::too_deep());
                    }
                    let from = match stop {
                        Some(At::Members { cursors, done }) => (cursors.0, cursors.1, done),
                        _ => from,
                    };
                    return self.objects(old, new, a, b, from, depth);
                }
            }
            Read::Array(a) => {
                if let Read::Array(b) = new.shape()? {
                    if depth > MAX_DEPTH {
                        return Err(CoreError::too_deep());
                    }
                    let equal_before = match stop {
                        Some(At::Item(i)) => i,
                        _ => 0,
                    };
                    return self.arrays(old, new, a, b, equal_before, depth);
                }
            }
            _ => {}
        }
        if !self.comparer.compare(old, new, depth)? {
            let value = wire(new)?;
            self.push(Op::Replace { path: self.pointer()?, value });
        }
        Ok(())
    }

    /// Whether a pair `known` cannot judge is compared whole before it is walked: always,
    /// unless `known` is [hashed](Known::HASHED), and then only objects below the top
    /// (`props`, `style`: small, nearly always unchanged, and not hashed themselves).
    #[inline]
    fn whole_first(old: S, new: S, depth: usize) -> bool {
        !K::HASHED || {
            let plain = |value: S| matches!(value.shape(), Ok(Read::Object(_))) && value.is_dict();
            depth > 1 && plain(old) && plain(new)
        }
    }

    /// [`Differ::diff`] of two items matched by id, at the same place or not (ids equal
    /// under `SameValueZero`, which for scalars implies JSON equality): when both hold
    /// the id first (`past_ids` are the cursors after it, else 0), a walk of their
    /// members starts after it.
    fn diff_matched(&mut self, old: S, new: S, past_ids: (usize, usize), depth: usize) -> Result<(), CoreError> {
        self.diff_from(old, new, after_ids(past_ids), depth)
    }

    /// The id key of an array item, if it is an object with a scalar `id`, and where the
    /// id is: the cursor after it when it is the object's first member, else 0.
    fn id_of(&mut self, item: S, side: usize) -> Result<Option<(Id<'s>, usize)>, CoreError> {
        let object = match item.shape() {
            Ok(Read::Object(object)) if item.is_dict() => object,
            Ok(_) => return Ok(None),
            Err(err) if matches!(err.kind(), ErrorKind::Unsupported { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let (Some(id), first) = self.id_member(object, item, side)? else {
            return Ok(None);
        };
        Ok(match id_key(Some(id))? {
            IdKey::Identity(_) => None, // an array or object: not a scalar id
            key => Some((Id::new(key), first)),
        })
    }

    /// `object["id"]` (`object` is `item`, a dict). A small object whose keys are all
    /// exact strs is scanned, its keys told apart by identity once their text is known
    /// (parsed schemas share their key objects, and list a node's `id` first); any other
    /// is looked up.
    /// With it, the cursor after the member when it is the first, else 0.
    fn id_member(&mut self, object: S::Object, item: S, side: usize) -> Result<(Option<S>, usize), CoreError> {
        let mut cursor = 0;
        for i in 0..ID_SCAN_LIMIT {
            match object.next_member(&mut cursor) {
                Ok(Some((key, value))) if S::Object::key_plain(key) => {
                    if self.is_id_key(key, side)? {
                        return Ok((Some(value), if i == 0 { cursor } else { 0 }));
                    }
                }
                Ok(None) => return Ok((None, 0)),
                Ok(Some(_)) | Err(_) => break,
            }
        }
        Ok((self.id_keys[side].id(item)?, 0))
    }

    /// Whether `key`, an exact str, is `"id"`: known by identity for the `id` key object
    /// of each side and for the other keys met (a few slots, direct-mapped).
    fn is_id_key(&mut self, key: <S::Object as Object<'s, S>>::Key, side: usize) -> Result<bool, CoreError> {
        let identity = S::Object::key_identity(key);
        if self.id_key_objects[side] == Some(identity) {
            return Ok(true);
        }
        let slot = (identity as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> (usize::BITS - 6);
        if self.not_id_keys[slot] == identity {
            return Ok(false);
        }
        if S::Object::key_str(key)?.as_bytes() == b"id" {
            self.id_key_objects[side] = Some(identity);
            return Ok(true);
        }
        self.not_id_keys[slot] = identity;
        Ok(false)
    }

    /// Two arrays, walked in step from both ends while the ids of their items agree:
    /// each pair is diffed in place as it is met (each item read once, while it is in
    /// cache), and only the items in between are matched through their ids. That gives
    /// the ops of `lumora_fast.pure.patch`'s matching by id: its longest run of kept
    /// items holds the equal head and tail, so every removal, insert and move falls in
    /// between; its item diffs come after those, in the new order (the head's and the
    /// tail's are held back and put in place). When some item has no scalar id, or two
    /// ids on one side are equal, the arrays are diffed element by element instead.
    ///
    /// `old_value` and `new_value` are the arrays `old` and `new`; the items before
    /// `equal_before` are known to be JSON-equal in place (and so are not diffed).
    fn arrays(
        &mut self,
        old_value: S,
        new_value: S,
        old: S::Array,
        new: S::Array,
        equal_before: usize,
        depth: usize,
    ) -> Result<(), CoreError> {
        let (old_len, new_len) = (old.len(), new.len());
        if old_len == 0 || new_len == 0 {
            if old_len == new_len {
                return Ok(());
            }
            return self.elementwise(old, new, new_value, equal_before, depth);
        }
        let (start, base) = (self.ops.len(), self.id_stack.len());
        let shorter = old_len.min(new_len);
        let mut head = 0;
        while head < shorter {
            let (before, after) = (item::<S>(old, head)?, item::<S>(new, head)?);
            match self.step(before, after, head, head < equal_before, depth + 1)? {
                Stepped::Same((was, _), _) => self.id_stack.push(was),
                Stepped::Apart(..) => break,
                Stepped::Missing => {
                    self.id_stack.truncate(base);
                    if old_len == new_len {
                        // Not matched by id: element by element, and with equal lengths
                        // that is in place, as the head was.
                        return self.in_place(old, new, head, start, new_value, equal_before, depth);
                    }
                    return self.unmatched(old, new, start, new_value, equal_before, depth);
                }
            }
            head += 1;
        }
        if head == old_len && head == new_len {
            let by_id = unique(&self.id_stack[base..]);
            self.id_stack.truncate(base);
            if by_id {
                return Ok(());
            }
            // Element by element with equal lengths: the same diffs, then weighed.
            return self.settle(start, new_value);
        }
        // The rest, read from the start (a walk from the end, through memory laid out
        // from the start, would defeat the processor's prefetching), in step as it is
        // aligned with the end: a pair with the same id there is diffed now, while its
        // items are in cache (by unique ids, the pairing pairs them too); its ops are put
        // in place below. Then the tail (as far from the end as the ids agree), and the
        // middles between, paired by id.
        let Some(rest) = self.rest(old, new, head, equal_before, depth)? else {
            self.id_stack.truncate(base);
            return self.unmatched(old, new, start, new_value, equal_before, depth);
        };
        let Rest { old: old_rest, new: new_rest, agree, runs, from: runs_from } = rest;
        let tail = agree.iter().rev().take_while(|&&same| same).count();
        let (old_mid, new_mid) = (old_len - head - tail, new_len - head - tail);
        let (old_ids, old_tail) = old_rest.split_at(old_mid);
        let middles = pair_middles(old_ids, &new_rest[..new_mid], &self.id_stack[base..], old_tail);
        self.id_stack.truncate(base);
        let Middles { pairs, nullish } = match middles {
            Pairing::Paired(middles) => middles,
            Pairing::GiveUp(_) => return self.unmatched(old, new, start, new_value, equal_before, depth),
        };
        let mut diffed = self.ops.split_off(runs_from).into_iter().zip(self.costs.split_off(runs_from));
        let head_ops = self.ops.split_off(start);
        let head_costs = self.costs.split_off(start);
        self.rearrange(old, new, head, old_mid, &pairs, depth)?;
        // Ids that differ only where JSON cannot tell (a non-finite number and `null`)
        // may belong to two JSON-equal arrays.
        if nullish && self.drop_if_equal(start, old_value, new_value, depth)? {
            return Ok(());
        }
        self.ops.extend(head_ops);
        self.costs.extend(head_costs);
        // The matched items' ops in the new order: those diffed above, the others now.
        let aligned = |i: usize, j: usize| j + old_len == i + new_len;
        let mut runs = runs.into_iter().peekable();
        for (j, pair) in pairs.iter().enumerate() {
            let Some(i) = *pair else {
                continue;
            };
            let (i, j) = (head + i, head + j);
            if aligned(i, j) {
                continue;
            }
            while let Some((_, ops)) = runs.next_if(|&(at, _)| at < j) {
                self.take_ops(&mut diffed, ops);
            }
            let past_ids = (old_rest[i - head].1, new_rest[j - head].1);
            self.steps.push(Step::Index(j));
            self.diff_matched(item::<S>(old, i)?, item::<S>(new, j)?, past_ids, depth + 1)?;
            self.steps.pop();
        }
        for (_, ops) in runs {
            self.take_ops(&mut diffed, ops);
        }
        Ok(())
    }

    /// Move the next `count` ops (with their costs) from `from` to the end of the list.
    fn take_ops(&mut self, from: &mut impl Iterator<Item = (Op<S>, Option<usize>)>, count: usize) {
        for (op, cost) in from.take(count) {
            self.ops.push(op);
            self.costs.push(cost);
        }
    }

    /// The ids of two arrays' items past their first `head` (for [`Differ::arrays`]),
    /// read in step as the rest is aligned with the end, each pair with the same id
    /// diffed as it is met (not those before `equal_before` in place, known to be
    /// equal). `None` when some item has no scalar id.
    fn rest(
        &mut self,
        old: S::Array,
        new: S::Array,
        head: usize,
        equal_before: usize,
        depth: usize,
    ) -> Result<Option<Rest<'s>>, CoreError> {
        let (old_len, new_len) = (old.len(), new.len());
        let mut rest = Rest {
            old: Vec::with_capacity(old_len - head),
            new: Vec::with_capacity(new_len - head),
            agree: Vec::with_capacity(old_len.min(new_len) - head),
            runs: Vec::new(),
            from: self.ops.len(),
        };
        // The longer side's first items have no counterpart at the end's alignment.
        let aligned = old_len.min(new_len) - head;
        for (array, len, side) in [(old, old_len, OLD), (new, new_len, NEW)] {
            for i in head..len - aligned {
                let Some(id) = self.id_of(item::<S>(array, i)?, side)? else {
                    return Ok(None);
                };
                if side == OLD { &mut rest.old } else { &mut rest.new }.push(id);
            }
        }
        let (old_from, new_from) = (old_len - aligned, new_len - aligned);
        for k in 0..aligned {
            let (i, j) = (old_from + k, new_from + k);
            let (before, after) = (item::<S>(old, i)?, item::<S>(new, j)?);
            let mark = self.ops.len();
            let (was, now) = match self.step(before, after, j, i == j && i < equal_before, depth + 1)? {
                Stepped::Same(was, now) => {
                    if self.ops.len() > mark {
                        rest.runs.push((j, self.ops.len() - mark));
                    }
                    rest.agree.push(true);
                    (was, now)
                }
                Stepped::Apart(was, now) => {
                    rest.agree.push(false);
                    (was, now)
                }
                Stepped::Missing => return Ok(None),
            };
            rest.old.push(was);
            rest.new.push(now);
        }
        Ok(Some(rest))
    }

    /// Two items met in step (`before` in the old array, `after` at `j` in the new one;
    /// at `depth`): their ids, and, when those are equal, the pair
    /// diffed (but not when `equal`: known to be JSON-equal). The pair is judged first:
    /// two JSON-equal objects have the same id, and the new one's is then not read,
    /// unless the id is one JSON does not tell from others (`null`, a non-finite
    /// number).
    fn step(&mut self, before: S, after: S, j: usize, equal: bool, depth: usize) -> Result<Stepped<'s>, CoreError> {
        let Some(was) = self.id_of(before, OLD)? else {
            return Ok(Stepped::Missing);
        };
        let verdict = if equal { Verdict::Equal } else { self.verdict(before, after, depth)? };
        if matches!(verdict, Verdict::Equal) && json_tells_apart(&was.0.key) && after.is_dict() {
            let now = (was.0.clone(), 0);
            return Ok(Stepped::Same(was, now));
        }
        let Some(now) = self.id_of(after, NEW)? else {
            return Ok(Stepped::Missing);
        };
        if was.0 != now.0 {
            return Ok(Stepped::Apart(was, now));
        }
        if let Verdict::Differ(stop) = verdict {
            self.steps.push(Step::Index(j));
            self.walk(before, after, after_ids((was.1, now.1)), stop, depth)?;
            self.steps.pop();
        }
        Ok(Stepped::Same(was, now))
    }

    /// Two arrays of one length not matched by id, whose items before `from` were diffed
    /// in place (their ops start at `start`): the rest in place too (but those before
    /// `equal_before`, known to be equal), then weighed.
    #[allow(clippy::too_many_arguments)]
    fn in_place(
        &mut self,
        old: S::Array,
        new: S::Array,
        from: usize,
        start: usize,
        whole: S,
        equal_before: usize,
        depth: usize,
    ) -> Result<(), CoreError> {
        for i in from.max(equal_before)..old.len() {
            self.steps.push(Step::Index(i));
            self.diff(item::<S>(old, i)?, item::<S>(new, i)?, depth + 1)?;
            self.steps.pop();
        }
        self.settle(start, whole)
    }

    /// Two arrays found not to be matched by id after ops were made for them (from
    /// `start`): those are dropped, and the arrays diffed element by element.
    #[cold]
    fn unmatched(
        &mut self,
        old: S::Array,
        new: S::Array,
        start: usize,
        whole: S,
        equal_before: usize,
        depth: usize,
    ) -> Result<(), CoreError> {
        self.ops.truncate(start);
        self.costs.truncate(start);
        self.elementwise(old, new, whole, equal_before, depth)
    }

    /// [`Differ::diff`] of two objects (`old_value` and `new_value`), past the first
    /// `from.2` members of both, known to be equal members with equal keys, in place
    /// (`from.0` and `from.1` are the cursors after them).
    fn objects(
        &mut self,
        old_value: S,
        new_value: S,
        old: S::Object,
        new: S::Object,
        from: (usize, usize, usize),
        depth: usize,
    ) -> Result<(), CoreError> {
        // Objects parsed from similar text list their keys in the same order: walked in
        // step, they need no lookups, and when every key met its twin in place and the
        // sizes agree, nothing was removed. Otherwise the removals, found afterwards, go
        // before this object's other ops (they touch no other key's pointer). The sizes,
        // asked for once, spare a last step on each side.
        let start = self.ops.len();
        let mut in_step = true;
        // Whether a key added or removed may hold surrogate code points (and so equal
        // another as UTF-16).
        let mut loose = false;
        let (mut old_cursor, mut new_cursor, done) = from;
        let (old_len, new_len) = (old.len(), new.len());
        for _ in done..new_len {
            let Some((key, value)) = new.next_member(&mut new_cursor)? else {
                break;
            };
            let mut before = None;
            if in_step {
                match old.next_member(&mut old_cursor)? {
                    Some((other, found)) if self.comparer.same_key::<S>(other, key)? => before = Some(found),
                    _ => in_step = false,
                }
            }
            if !in_step {
                before = member_exact::<S>(old, key)?;
            }
            if let Some(before) = before
                && self.comparer.comparator().scalar_equal(before, value)
            {
                continue;
            }
            self.steps.push(Step::Key(key));
            if let Some(before) = before {
                self.diff(before, value, depth + 1)?;
            } else {
                loose |= S::Object::key_str(key)?.is_wtf8();
                scan(value, depth + 1)?;
                let value = wire(value)?;
                self.push(Op::Add { path: self.pointer()?, value });
            }
            self.steps.pop();
        }
        if in_step && old_len == new_len {
            return Ok(());
        }
        let later = self.ops.split_off(start);
        let later_costs = self.costs.split_off(start);
        old.for_each_keyed(|key, value| {
            if member_exact::<S>(new, key)?.is_none() {
                loose |= S::Object::key_str(key)?.is_wtf8();
                scan(value, depth + 1)?;
                let path = self.pointer_to(Step::Key(key))?;
                self.push(Op::Remove { path });
            }
            Ok(())
        })?;
        self.ops.extend(later);
        self.costs.extend(later_costs);
        // Keys that differ only in how a surrogate pair is held may belong to two
        // JSON-equal objects.
        if loose {
            self.drop_if_equal(start, old_value, new_value, depth)?;
        }
        Ok(())
    }

    /// Drop the ops from `start`, made for `old` and `new` (at `depth`), if the two are
    /// JSON-equal after all (true then): such a pair needs none. Only asked where walking
    /// a pair part by part can tell apart what JSON does not.
    #[cold]
    fn drop_if_equal(&mut self, start: usize, old: S, new: S, depth: usize) -> Result<bool, CoreError> {
        if self.ops.len() == start || !self.comparer.compare(old, new, depth)? {
            return Ok(false);
        }
        self.ops.truncate(start);
        self.costs.truncate(start);
        Ok(true)
    }

    /// The removals, inserts and moves that turn the middle of `old` (from `offset`,
    /// `old_len` items) into the middle of `new` (from `offset`), the items before and
    /// after the middles being kept in place; `pairs` holds, for each new middle item, the
    /// index in the old middle of the item with its id, if there is one.
    fn rearrange(
        &mut self,
        old: S::Array,
        new: S::Array,
        offset: usize,
        old_len: usize,
        pairs: &[Option<usize>],
        depth: usize,
    ) -> Result<(), CoreError> {
        let mut kept = vec![false; old_len];
        for &i in pairs.iter().flatten() {
            kept[i] = true;
        }
        for i in (0..old_len).rev() {
            if !kept[i] {
                scan(item::<S>(old, offset + i)?, depth + 1)?;
                let path = self.pointer_to(Step::Index(offset + i))?;
                self.push(Op::Remove { path });
            }
        }
        // Items are tokens: a kept item its old index, an inserted one `old_len + j`.
        let token = |j: usize| pairs[j].unwrap_or(old_len + j);
        let matched: Vec<usize> = pairs.iter().flatten().copied().collect();
        let mut settled = vec![false; old_len];
        for k in stable(&matched) {
            settled[matched[k]] = true;
        }
        let mut current: Vec<usize> = (0..old_len).filter(|&i| kept[i]).collect();
        let position = |current: &[usize], t: usize| current.iter().position(|&c| c == t).ok_or_else(lost);
        for (j, pair) in pairs.iter().enumerate() {
            let at = match *pair {
                Some(i) if settled[i] => continue,
                Some(i) => {
                    let at = position(&current, i)?;
                    current.remove(at);
                    Some(at)
                }
                None => None,
            };
            // Right after its predecessor in the new order, wherever that is by now (for
            // the first, right after the items before the middle).
            let to = if j == 0 { 0 } else { position(&current, token(j - 1))? + 1 };
            current.insert(to, token(j));
            match at {
                None => {
                    let node = item::<S>(new, offset + j)?;
                    scan(node, depth + 1)?;
                    let path = self.pointer_to(Step::Index(offset + to))?;
                    self.push(Op::Add { path, value: Some(node) });
                }
                Some(at) if at != to => {
                    let from = self.pointer_to(Step::Index(offset + at))?;
                    let path = self.pointer_to(Step::Index(offset + to))?;
                    self.push(Op::Move { from, path });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Two arrays diffed element by element (the items before `equal_before` are known
    /// to be JSON-equal in place).
    fn elementwise(
        &mut self,
        old: S::Array,
        new: S::Array,
        whole: S,
        equal_before: usize,
        depth: usize,
    ) -> Result<(), CoreError> {
        let start = self.ops.len();
        let (old_len, new_len) = (old.len(), new.len());
        let (mut head, mut tail) = (0, 0);
        if old_len != new_len {
            let shorter = old_len.min(new_len);
            while head < shorter && self.same(item::<S>(old, head)?, item::<S>(new, head)?, depth + 1)? {
                head += 1;
            }
            while tail < shorter - head
                && self.same(item::<S>(old, old_len - 1 - tail)?, item::<S>(new, new_len - 1 - tail)?, depth + 1)?
            {
                tail += 1;
            }
        }
        let (old_mid, new_mid) = (old_len - head - tail, new_len - head - tail);
        for i in head.max(equal_before)..head + old_mid.min(new_mid) {
            self.steps.push(Step::Index(i));
            self.diff(item::<S>(old, i)?, item::<S>(new, i)?, depth + 1)?;
            self.steps.pop();
        }
        for i in (head + new_mid..head + old_mid).rev() {
            scan(item::<S>(old, i)?, depth + 1)?;
            let path = self.pointer_to(Step::Index(i))?;
            self.push(Op::Remove { path });
        }
        for i in head + old_mid..head + new_mid {
            let value = item::<S>(new, i)?;
            scan(value, depth + 1)?;
            let path = self.pointer_to(Step::Index(i))?;
            self.push(Op::Add { path, value: wire(value)? });
        }
        self.settle(start, whole)
    }

    /// The end of an element-wise array diff whose ops start at `start`: one `replace`
    /// of the whole array (the pair being diffed) instead, when that is shorter.
    fn settle(&mut self, start: usize, whole: S) -> Result<(), CoreError> {
        if self.ops.len() == start {
            return Ok(());
        }
        let mut each = 0;
        for at in start..self.ops.len() {
            each += self.cost(at)?;
        }
        let replace = Op::Replace { path: self.pointer()?, value: Some(whole) };
        let whole_cost = op_cost(&replace)?;
        if whole_cost < each {
            self.ops.truncate(start);
            self.costs.truncate(start);
            self.ops.push(replace);
            self.costs.push(Some(whole_cost));
        }
        Ok(())
    }

    /// JSON equality of two values, by `known` when it can tell.
    fn same(&mut self, old: S, new: S, depth: usize) -> Result<bool, CoreError> {
        if self.known.judge(old, new) == Some(true) {
            return Ok(true);
        }
        self.comparer.compare(old, new, depth)
    }

    fn cost(&mut self, at: usize) -> Result<usize, CoreError> {
        if let Some(Some(cost)) = self.costs.get(at) {
            return Ok(*cost);
        }
        let cost = op_cost(&self.ops[at])?;
        self.costs[at] = Some(cost);
        Ok(cost)
    }
}

/// The op's size as `JSON.stringify` writes it, plus the comma before the next.
fn op_cost<'s, S: Source<'s>>(op: &Op<S>) -> Result<usize, CoreError> {
    let mut out = Vec::new();
    write_op(op, &mut out)?;
    Ok(out.len() + 1)
}

/// `JSON.stringify(op)` (compact), keys in the order the Python dicts hold them.
pub(crate) fn write_op<'s, S: Source<'s>>(op: &Op<S>, out: &mut Vec<u8>) -> Result<(), CoreError> {
    let pointer = |out: &mut Vec<u8>, path: &[u8]| write_json_string(out, &JsStr::wtf8(path));
    let value = |out: &mut Vec<u8>, value: Option<S>| -> Result<(), CoreError> {
        out.extend_from_slice(b",\"value\":");
        if let Some(value) = value {
            return stringify_into(value, false, out);
        }
        out.extend_from_slice(b"null");
        Ok(())
    };
    match op {
        Op::Add { path, value: v } | Op::Replace { path, value: v } => {
            let name: &[u8] = if matches!(op, Op::Add { .. }) { b"add" } else { b"replace" };
            out.extend_from_slice(b"{\"op\":\"");
            out.extend_from_slice(name);
            out.extend_from_slice(b"\",\"path\":");
            pointer(out, path);
            value(out, *v)?;
        }
        Op::Remove { path } => {
            out.extend_from_slice(b"{\"op\":\"remove\",\"path\":");
            pointer(out, path);
        }
        Op::Move { from, path } => {
            out.extend_from_slice(b"{\"op\":\"move\",\"from\":");
            pointer(out, from);
            out.extend_from_slice(b",\"path\":");
            pointer(out, path);
        }
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::Generic;
    use crate::parse::{ValueBuilder, parse};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    fn patch(old: &str, new: &str) -> String {
        let (old, new) = (v(old), v(new));
        let ops = calculate(&old, &new, Generic).unwrap();
        let mut out = b"[".to_vec();
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_op(op, &mut out).unwrap();
        }
        out.push(b']');
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn objects_key_by_key() {
        assert_eq!(
            patch(r#"{"a":1,"b":{"c":2,"d":3},"x/y":0}"#, r#"{"b":{"c":2,"d":4},"e~":[1],"a":1}"#),
            r#"[{"op":"remove","path":"/x~1y"},{"op":"replace","path":"/b/d","value":4},{"op":"add","path":"/e~0","value":[1]}]"#
        );
        assert_eq!(patch(r#"{"a":1}"#, r#"{"a":1.0}"#), "[]");
        assert_eq!(patch(r#"{"a":1}"#, "[1]"), r#"[{"op":"replace","path":"","value":[1]}]"#);
    }

    #[test]
    fn arrays_by_id() {
        let old = r#"[{"id":1,"v":0},{"id":2},{"id":3},{"id":4}]"#;
        assert_eq!(
            patch(old, r#"[{"id":2},{"id":3},{"id":4},{"id":1,"v":1}]"#),
            r#"[{"op":"move","from":"/0","path":"/3"},{"op":"replace","path":"/3/v","value":1}]"#
        );
        assert_eq!(
            patch(&format!("{{\"c\":{old}}}"), r#"{"c":[{"id":2},{"id":1,"v":0}]}"#),
            r#"[{"op":"remove","path":"/c/3"},{"op":"remove","path":"/c/2"},{"op":"move","from":"/c/1","path":"/c/0"}]"#
        );
        assert_eq!(
            patch(old, r#"[{"id":5},{"id":1,"v":0},{"id":3},{"id":4}]"#),
            r#"[{"op":"remove","path":"/1"},{"op":"add","path":"/0","value":{"id":5}}]"#
        );
    }

    #[test]
    fn arrays_elementwise_or_whole() {
        assert_eq!(patch("[1,2,3,4,5,6]", "[0,1,2,3,4,5,6]"), r#"[{"op":"add","path":"/0","value":0}]"#);
        assert_eq!(patch("[1,2,3,4,5,6]", "[1,2,4,5,6]"), r#"[{"op":"remove","path":"/2"}]"#);
        assert_eq!(patch("[1,2,3]", "[4,5,6]"), r#"[{"op":"replace","path":"","value":[4,5,6]}]"#);
        assert_eq!(patch("[1,2,3]", "[1,9,3]"), r#"[{"op":"replace","path":"/1","value":9}]"#);
    }

    #[test]
    fn resumes_where_the_comparison_stopped() {
        // Edits at several depths, each met once by the comparison of the whole, and
        // walked from where it stopped.
        assert_eq!(
            patch(
                r#"{"a":[{"id":1,"p":{"x":1,"y":[1,2]}},{"id":2,"p":{"x":2}},{"id":3}],"b":{"c":1}}"#,
                r#"{"a":[{"id":1,"p":{"x":1,"y":[1,3]}},{"id":2,"p":{"x":3}},{"id":3}],"b":{"c":2}}"#
            ),
            r#"[{"op":"replace","path":"/a/0/p/y/1","value":3},{"op":"replace","path":"/a/1/p/x","value":3},{"op":"replace","path":"/b/c","value":2}]"#
        );
        // Items moved and edited, in a long array (its rest read in step with the end).
        let items = |order: &[u32], edited: u32| {
            let items: Vec<String> = order
                .iter()
                .map(|&i| if i == edited { format!(r#"{{"id":{i},"v":1}}"#) } else { format!(r#"{{"id":{i}}}"#) })
                .collect();
            format!("[{}]", items.join(","))
        };
        let old: Vec<u32> = (0..20).collect();
        let mut new = old.clone();
        new.remove(3);
        new.insert(12, 3);
        assert_eq!(
            patch(&items(&old, 99), &items(&new, 15)),
            r#"[{"op":"move","from":"/3","path":"/12"},{"op":"add","path":"/15/v","value":1}]"#
        );
    }

    #[test]
    fn json_equal_values_need_no_ops() {
        let split = b"\xed\xa0\xbd\xed\xb8\x80".to_vec();
        let joined = "\u{1F600}".as_bytes().to_vec();
        let (old, new) =
            (Value::Object(vec![(split, Value::Int(1))]), Value::Object(vec![(joined, Value::Float(1.0))]));
        assert!(calculate(&old, &new, Generic).unwrap().is_empty());
        // Ids that only JSON finds equal (null on the wire), moved.
        let (old, new) = (v(r#"[{"id":null},{"id":1}]"#), v(r#"[{"id":1},{"id":null}]"#));
        assert_eq!(calculate(&old, &new, Generic).unwrap().len(), 1);
        let nan = |first: bool| {
            let id = |value| Value::Object(vec![(b"id".to_vec(), value)]);
            let (a, b) = (id(Value::Float(f64::NAN)), id(Value::Null));
            Value::Array(if first { vec![a, b] } else { vec![b.clone(), id(Value::Float(f64::INFINITY))] })
        };
        assert!(calculate(&nan(true), &nan(false), Generic).unwrap().is_empty());
    }

    #[test]
    fn longest_run_stays() {
        assert_eq!(stable(&[3, 0, 1, 2]), [1, 2, 3]);
        assert_eq!(stable(&[2, 1, 0]), [2]);
        assert!(stable(&[]).is_empty());
    }
}
