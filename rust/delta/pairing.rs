//! Pairing the items of two lists by id: the one algorithm behind the delta's nodes, the
//! tracker's nodes and the patch diff's arrays of objects with ids (architecture.md,
//! "Pairing by id").
//!
//! Ids are JS `Map` keys ([`IdKey`]: `SameValueZero`). An id that repeats within one list
//! counts once, at its first position, with its last item, as the reference's `Map`
//! does ([`pair`]); a caller that cannot use repeated ids asks [`pair_unique`], which
//! gives up on them. What pairing decides is typed: [`Pairing::Paired`] with the pairs,
//! or [`Pairing::GiveUp`] saying why ([`GiveUp`]), for the caller to take its other way
//! (the delta's indexed walk, the patch's element-by-element diff).
//!
//! [`pair_in_step`] is [`pair_unique`] done in one pass as the items are read, for the
//! common case of two lists that mostly agree: it hands each pair to the caller as soon
//! as it is found, so that the caller compares the two items while they are in cache
//! (the delta's hot path).

use std::hash::Hash;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::error::CoreError;

use super::ids::IdKey;

/// Why pairing by id gave up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum GiveUp {
    /// Two items of one list have the same id.
    DuplicateIds,
    /// An item has no id to pair by: it is not an object (or, for the patch, its id is
    /// missing or not a scalar).
    NoId,
    /// There is no list to pair: the schema is not an object, or its `nodes` not an array.
    NotAList,
}

/// What pairing by id decided: the pairs, or why there are none.
#[must_use]
pub(crate) enum Pairing<P> {
    Paired(P),
    GiveUp(GiveUp),
}

/// Where one distinct id occurs in its list: its first and its last position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Span {
    pub(crate) first: usize,
    pub(crate) last: usize,
}

/// One list's ids, indexed as a JS `Map` holds them: each distinct id once, in the order
/// of its first position, with where it occurs.
pub(crate) struct IdIndex<K> {
    entries: Vec<(K, Span)>,
    /// Each id's entry.
    at: FxHashMap<K, usize>,
    /// Each position's entry.
    of: Vec<usize>,
}

impl<K: Hash + Eq + Clone> IdIndex<K> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        IdIndex {
            entries: Vec::with_capacity(capacity),
            at: FxHashMap::with_capacity_and_hasher(capacity, FxBuildHasher),
            of: Vec::with_capacity(capacity),
        }
    }

    /// Append the id of the list's next item.
    pub(crate) fn push(&mut self, key: K) {
        let position = self.of.len();
        if let Some(&entry) = self.at.get(&key)
            && let Some((_, span)) = self.entries.get_mut(entry)
        {
            span.last = position;
            self.of.push(entry);
            return;
        }
        let entry = self.entries.len();
        self.at.insert(key.clone(), entry);
        self.entries.push((key, Span { first: position, last: position }));
        self.of.push(entry);
    }

    /// How many items the list has.
    pub(crate) fn len(&self) -> usize {
        self.of.len()
    }

    /// Where `key` occurs, if it does.
    pub(crate) fn get(&self, key: &K) -> Option<Span> {
        self.at.get(key).and_then(|&entry| self.entries.get(entry)).map(|&(_, span)| span)
    }

    pub(crate) fn contains(&self, key: &K) -> bool {
        self.at.contains_key(key)
    }

    /// True when some id occurs more than once.
    pub(crate) fn has_repeats(&self) -> bool {
        self.entries.len() != self.of.len()
    }

    /// Where each distinct id occurs, in the order of its first position.
    pub(crate) fn spans(&self) -> impl Iterator<Item = Span> {
        self.entries.iter().map(|&(_, span)| span)
    }

    /// The id of each item, in the list's order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.of.iter().filter_map(|&entry| self.entries.get(entry)).map(|(key, _)| key)
    }

    /// The positions of the items a later item with the same id replaces.
    pub(crate) fn superseded(&self) -> impl Iterator<Item = usize> {
        self.of
            .iter()
            .enumerate()
            .filter(|&(position, &entry)| self.entries.get(entry).is_some_and(|(_, span)| span.last != position))
            .map(|(position, _)| position)
    }
}

/// A distinct id of the new list and, if the old list has it too, where it is there.
pub(crate) struct Paired<'a, K> {
    pub(crate) key: &'a K,
    pub(crate) new: Span,
    pub(crate) old: Option<Span>,
}

/// Two lists paired by id.
pub(crate) struct Pairs<'a, K> {
    /// Each distinct id of the new list, in the order of its first position.
    pub(crate) new: Vec<Paired<'a, K>>,
    /// The distinct ids of the old list that the new list lacks, in the old order.
    pub(crate) removed: Vec<(&'a K, Span)>,
}

/// The two lists paired by id, a repeated id counting once (first position, last item).
pub(crate) fn pair<'a, K: Hash + Eq + Clone>(old: &'a IdIndex<K>, new: &'a IdIndex<K>) -> Pairs<'a, K> {
    let paired = new.entries.iter().map(|(key, span)| Paired { key, new: *span, old: old.get(key) }).collect();
    let removed = old.entries.iter().filter(|(key, _)| !new.contains(key)).map(|(key, span)| (key, *span)).collect();
    Pairs { new: paired, removed }
}

/// [`pair`] for lists whose ids must be unique: gives up on a repeated id.
pub(crate) fn pair_unique<'a, K: Hash + Eq + Clone>(old: &'a IdIndex<K>, new: &'a IdIndex<K>) -> Pairing<Pairs<'a, K>> {
    if old.has_repeats() || new.has_repeats() {
        return Pairing::GiveUp(GiveUp::DuplicateIds);
    }
    Pairing::Paired(pair(old, new))
}

/// One list's items as [`pair_in_step`] reads them.
pub(crate) trait Ids<'s> {
    fn len(&self) -> usize;

    /// The id of item `i`; `None` when it has none to pair by.
    fn id(&mut self, i: usize) -> Result<Option<IdKey<'s>>, CoreError>;
}

/// What [`pair_in_step`] leaves unpaired (the pairs went to its caller as they were found).
pub(crate) struct InStep {
    /// The new items whose id the old list lacks, in order.
    pub(crate) added: Vec<usize>,
    /// The old items whose id the new list lacks, in order.
    pub(crate) removed: Vec<usize>,
}

/// How far past the last indexed old item a new id is looked for before it is left to
/// the end (an inserted item, or one moved from far away).
const LOOKAHEAD: usize = 8;

/// Where [`OldIds::find`] found an id.
enum Found {
    At(usize),
    /// Not among the old items indexed so far (which reach a little past the cursor).
    NotYet,
    GiveUp(GiveUp),
}

/// The old list's ids, indexed as the walk in step reaches them.
struct OldIds<'s, I> {
    items: I,
    /// How many items (from the start) are indexed.
    indexed: usize,
    positions: FxHashMap<IdKey<'s>, usize>,
    paired: Vec<bool>,
}

impl<'s, I: Ids<'s>> OldIds<'s, I> {
    /// Where the walk in step finds the old item with `key`, `cursor` being the first
    /// old item not yet paired, which it expects.
    fn find(&mut self, key: &IdKey<'s>, cursor: &mut usize) -> Result<Found, CoreError> {
        while *cursor < self.indexed && self.paired.get(*cursor) == Some(&true) {
            *cursor += 1;
        }
        if *cursor == self.indexed && *cursor < self.paired.len() {
            // In step: the next old item is indexed now, and is most likely the one.
            let next = match self.index_next()? {
                Ok(next) => next,
                Err(why) => return Ok(Found::GiveUp(why)),
            };
            if next == *key {
                *cursor += 1;
                return Ok(Found::At(*cursor - 1));
            }
        }
        let mut found = self.positions.get(key).copied();
        let limit = (self.indexed + LOOKAHEAD).min(self.paired.len());
        while found.is_none() && self.indexed < limit {
            let next = match self.index_next()? {
                Ok(next) => next,
                Err(why) => return Ok(Found::GiveUp(why)),
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

    /// Index the next old item: its id, or why pairing gives up (it has none, or repeats
    /// an id).
    fn index_next(&mut self) -> Result<Result<IdKey<'s>, GiveUp>, CoreError> {
        let i = self.indexed;
        let Some(key) = self.items.id(i)? else {
            return Ok(Err(GiveUp::NoId));
        };
        if self.positions.insert(key.clone(), i).is_some() {
            return Ok(Err(GiveUp::DuplicateIds));
        }
        self.indexed += 1;
        Ok(Ok(key))
    }

    /// Mark old item `at` paired; false if it already was (its id repeats in the new list).
    fn take(&mut self, at: usize) -> bool {
        self.paired.get_mut(at).is_some_and(|paired| !std::mem::replace(paired, true))
    }
}

/// [`pair_unique`] in one pass over both lists: a new item is paired with the old item at
/// the same place in the old list when their ids agree, the old list is indexed just
/// ahead of that place, and `paired(old, new)` is called at once with the two positions.
/// Inserted, removed and moved items put the pairing out of step only until the next
/// item both lists share. Pairs come in the new list's order, except those whose old
/// item was too far from where the walk expected it: they come at the end (in the new
/// list's order too).
///
/// Its own memory stays small (an index of the old ids, a flag per old item): a repeated
/// id in the new list shows as an old item paired twice, or, for ids the old list lacks,
/// among the few items left to the end.
pub(crate) fn pair_in_step<'s>(
    old: impl Ids<'s>,
    mut new: impl Ids<'s>,
    mut paired: impl FnMut(usize, usize) -> Result<(), CoreError>,
) -> Result<Pairing<InStep>, CoreError> {
    let (old_len, new_len) = (old.len(), new.len());
    let mut old_side = OldIds {
        items: old,
        indexed: 0,
        positions: FxHashMap::with_capacity_and_hasher(old_len, FxBuildHasher),
        paired: vec![false; old_len],
    };
    // The new items left to the end.
    let mut later = Vec::new();
    let mut cursor = 0;
    for j in 0..new_len {
        let Some(key) = new.id(j)? else {
            return Ok(Pairing::GiveUp(GiveUp::NoId));
        };
        let at = match old_side.find(&key, &mut cursor)? {
            Found::At(at) => at,
            Found::NotYet => {
                later.push(j);
                continue;
            }
            Found::GiveUp(why) => return Ok(Pairing::GiveUp(why)),
        };
        if !old_side.take(at) {
            return Ok(Pairing::GiveUp(GiveUp::DuplicateIds));
        }
        paired(at, j)?;
    }
    while old_side.indexed < old_len {
        if let Err(why) = old_side.index_next()? {
            return Ok(Pairing::GiveUp(why));
        }
    }
    let mut added = Vec::new();
    let mut added_keys = FxHashSet::default();
    for j in later {
        let Some(key) = new.id(j)? else {
            return Ok(Pairing::GiveUp(GiveUp::NoId));
        };
        if let Some(&at) = old_side.positions.get(&key) {
            if !old_side.take(at) {
                return Ok(Pairing::GiveUp(GiveUp::DuplicateIds));
            }
            paired(at, j)?;
        } else {
            if !added_keys.insert(key) {
                return Ok(Pairing::GiveUp(GiveUp::DuplicateIds));
            }
            added.push(j);
        }
    }
    let removed = (0..old_len).filter(|&i| old_side.paired.get(i) == Some(&false)).collect();
    Ok(Pairing::Paired(InStep { added, removed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[u32]) -> IdIndex<u32> {
        let mut index = IdIndex::with_capacity(keys.len());
        for &key in keys {
            index.push(key);
        }
        index
    }

    /// Ids from a list of numbers, 0 meaning an item without one.
    struct Numbers(Vec<u32>);

    impl Ids<'static> for Numbers {
        fn len(&self) -> usize {
            self.0.len()
        }

        fn id(&mut self, i: usize) -> Result<Option<IdKey<'static>>, CoreError> {
            Ok(self.0.get(i).filter(|&&n| n != 0).map(|&n| IdKey::Number(f64::from(n).to_bits())))
        }
    }

    /// The pairs as they were handed over, the added and the removed items.
    type InStepResult = (Vec<(usize, usize)>, Vec<usize>, Vec<usize>);

    fn in_step(old: &[u32], new: &[u32]) -> Result<InStepResult, GiveUp> {
        let mut pairs = Vec::new();
        let result = pair_in_step(Numbers(old.to_vec()), Numbers(new.to_vec()), |i, j| {
            pairs.push((i, j));
            Ok(())
        });
        match result {
            Ok(Pairing::Paired(rest)) => Ok((pairs, rest.added, rest.removed)),
            Ok(Pairing::GiveUp(why)) => Err(why),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn repeats_count_once_first_position_last_item() {
        let (old, new) = (index(&[1, 2, 1, 3]), index(&[3, 4, 3, 2]));
        assert!(old.has_repeats());
        assert_eq!(old.get(&1), Some(Span { first: 0, last: 2 }));
        assert_eq!(old.superseded().collect::<Vec<_>>(), [0]);
        assert_eq!(old.keys().copied().collect::<Vec<_>>(), [1, 2, 1, 3]);
        let pairs = pair(&old, &new);
        let paired: Vec<_> = pairs.new.iter().map(|p| (*p.key, p.new, p.old)).collect();
        assert_eq!(
            paired,
            [
                (3, Span { first: 0, last: 2 }, Some(Span { first: 3, last: 3 })),
                (4, Span { first: 1, last: 1 }, None),
                (2, Span { first: 3, last: 3 }, Some(Span { first: 1, last: 1 })),
            ]
        );
        assert_eq!(pairs.removed.iter().map(|(k, s)| (**k, *s)).collect::<Vec<_>>(), [(1, Span { first: 0, last: 2 })]);
        assert!(matches!(pair_unique(&old, &new), Pairing::GiveUp(GiveUp::DuplicateIds)));
        assert!(matches!(pair_unique(&index(&[1, 2]), &index(&[2, 5])), Pairing::Paired(_)));
    }

    #[test]
    fn in_step_pairs_as_it_goes_and_leaves_the_far_ones_to_the_end() {
        let (pairs, added, removed) = in_step(&[1, 2, 3, 4], &[1, 5, 3, 4, 2]).unwrap_or_else(|why| panic!("{why:?}"));
        assert_eq!(pairs, [(0, 0), (2, 2), (3, 3), (1, 4)]);
        assert_eq!((added, removed), (vec![1], vec![]));
        // The first item moved to the end: found in the index, in the new order.
        let old: Vec<u32> = (1..=20).collect();
        let mut new = old.clone();
        new.rotate_left(1);
        let (pairs, added, removed) = in_step(&old, &new).unwrap_or_else(|why| panic!("{why:?}"));
        assert_eq!(pairs.last(), Some(&(0, 19)));
        assert!(added.is_empty() && removed.is_empty());
        let (_, added, removed) = in_step(&[1, 2, 3], &[3, 9]).unwrap_or_else(|why| panic!("{why:?}"));
        assert_eq!((added, removed), (vec![1], vec![0, 1]));
    }

    #[test]
    fn in_step_gives_up_on_repeats_and_missing_ids() {
        assert_eq!(in_step(&[1, 2, 1], &[1, 2]).err(), Some(GiveUp::DuplicateIds));
        assert_eq!(in_step(&[1, 2], &[1, 1]).err(), Some(GiveUp::DuplicateIds));
        assert_eq!(in_step(&[1, 2], &[7, 7]).err(), Some(GiveUp::DuplicateIds));
        assert_eq!(in_step(&[1, 0], &[1]).err(), Some(GiveUp::NoId));
        assert_eq!(in_step(&[1], &[0]).err(), Some(GiveUp::NoId));
    }
}
