//! JSON equality of two values, and the scans that check a value is all JSON.
//!
//! The comparison is generic over [`Source`]; a source that knows a faster way to
//! compare its own values (the Python views, whose exact builtin types it compares
//! through the C API) plugs it in as a [`Comparator`], which the delta owns: the
//! neutral `Source` trait only reads values (architecture.md, "The native boundary").
//! A source without one uses [`Generic`], the walk below for every pair.

use crate::error::{CoreError, MAX_DEPTH, Seg};
use crate::value::{Array, JsStr, Object, Read, Source};

use super::NODE_DEPTH;

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

/// A faster JSON equality for one kind of [`Source`], tried on each pair before the
/// generic walk of [`Comparer`] (and by the patch diff on each pair of members). Its
/// methods take `self` only to name the comparator (a unit struct): the caller passes
/// it by value, and it costs nothing at run time.
pub(crate) trait Comparator<'s, S: Source<'s>>: Copy {
    /// True when `a` and `b` are scalars found JSON-equal without building a [`Read`]
    /// for either (false says nothing): the commonest pair of two schemas.
    #[inline]
    fn scalar_equal(self, _a: S, _b: S) -> bool {
        false
    }

    /// JSON equality of `a` and `b` (at `depth`) by a path faster than the generic
    /// walk, handing the pairs it does not decide itself back to `fallback`; `None`,
    /// having done nothing, when there is no such path for this pair.
    #[inline]
    fn fast_equal<F: Fallback<'s, S>>(
        self,
        _a: S,
        _b: S,
        _depth: usize,
        _fallback: &mut F,
    ) -> Result<Option<bool>, CoreError> {
        Ok(None)
    }
}

/// The comparator of a source with no faster path: every pair takes the generic walk.
/// Any [`Source`] can use it: the owned `Value` of the cargo tests, and sources that
/// only implement `Source`'s required methods.
// Only the cargo tests use it while the Python views are the one production source.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Generic;

impl<'s, S: Source<'s>> Comparator<'s, S> for Generic {}

/// The generic JSON comparison, as a [`Comparator::fast_equal`] sees it: what it falls
/// back on for everything its fast path leaves undecided ([`Comparer`] is one).
pub(crate) trait Fallback<'s, S: Source<'s>> {
    /// JSON equality of `a` and `b` (at `depth`) without trying the fast path on them
    /// first (their members are tried again).
    fn compare_generic(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError>;

    /// JS string equality of two keys.
    fn key_eq(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError>;

    /// True if two distinct key objects were found equal before (and so are keys of a
    /// valid type); false says nothing.
    fn keys_known(&self, a: <S::Object as Object<'s, S>>::Key, b: <S::Object as Object<'s, S>>::Key) -> bool;

    /// `object[key]` by JS string equality.
    fn member(&mut self, object: S::Object, key: <S::Object as Object<'s, S>>::Key) -> Result<Option<S>, CoreError>;

    /// Raise unless `value` (at `depth`) is all JSON.
    fn scan(&mut self, value: S, depth: usize) -> Result<(), CoreError>;

    /// True when the comparison may end at the first difference, leaving the rest of
    /// both values unscanned (see [`Comparer::equal_or_differs`]).
    fn stops_early(&self) -> bool {
        false
    }

    /// Note where a comparison that [stops early](Fallback::stops_early) stopped in a
    /// pair of containers: called by each pair of the path to the first difference as it
    /// returns false, the innermost first. A pair may leave it out (its diff then walks
    /// it from the start).
    fn stopped(&mut self, _stop: Stop) {}
}

/// Where a comparison that stopped at the first difference stopped, in one pair of
/// containers on the way to it (see [`Comparer::equal_or_differs`]): what lets the patch
/// diff resume there instead of walking again what was found equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    /// The identities of the two containers.
    pub(crate) pair: (usize, usize),
    pub(crate) at: At,
}

/// Where, in a pair of containers, the first difference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    /// Two objects: their first `done` members are pairs of keys with the same code
    /// points, in the same places, holding JSON-equal values; `cursors` are the
    /// [`Object::next_member`] cursors after them, on both sides.
    Members { cursors: (usize, usize), done: usize },
    /// Two arrays of one length whose items before this index are JSON-equal.
    Item(usize),
}

/// JSON equality, with what one comparison learns along the way: which key objects of
/// the two sides are equal. Schemas parsed separately hold distinct but equal key objects
/// (`"id"`, `"props"`...) used thousands of times; comparing each pair's text once is
/// enough. Identities are only meaningful while both schemas are alive: a `Comparer`
/// lives for one call. `C` is the source's fast path.
pub(crate) struct Comparer<C> {
    /// Direct-mapped by the left key's identity: `(left, right)` found to hold the same
    /// code points (and so equal as JS strings too). The patch diff's key test shares it
    /// ([`Comparer::same_key`]).
    keys: Vec<(usize, usize)>,
    comparator: C,
    /// Within [`Comparer::equal_or_differs`]: end at the first difference.
    stop_early: bool,
    /// Where the last [`Comparer::equal_or_differs`] that found a difference stopped, in
    /// each pair of containers on the way to it, the outermost last.
    trail: Vec<Stop>,
    /// Whether two keys with different code points were found equal (as UTF-16): a
    /// surrogate pair held as two code points. Past that, no [`At::Members`] is noted,
    /// since its keys are promised to have the same code points.
    loose_keys: bool,
}

impl<C: Copy> Comparer<C> {
    /// Slots of the key-pair cache: far more than the distinct keys of a schema (a
    /// hundred or so), so that two of them seldom share a slot. Only the slots used are
    /// ever loaded into the cache.
    const SLOTS: usize = 2048;

    pub(crate) fn new(comparator: C) -> Self {
        Comparer { keys: Vec::new(), comparator, stop_early: false, trail: Vec::new(), loose_keys: false }
    }

    /// The comparator it tries first.
    pub(crate) fn comparator(&self) -> C {
        self.comparator
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

    /// Whether the pair of distinct key objects was found to hold the same code points
    /// before (false says nothing).
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
        let equal = S::Object::key_eq(a, b)?;
        if equal {
            if S::Object::key_str(a)?.as_bytes() != S::Object::key_str(b)?.as_bytes() {
                // Equal as UTF-16 only: not remembered (the cache holds pairs with the
                // same code points), and noted.
                self.loose_keys = true;
                return Ok(true);
            }
            self.remember_keys::<S>(a, b);
        }
        Ok(equal)
    }

    /// Whether two keys hold the same code points (as Python's dicts compare them: the
    /// patch diff's test), remembered in the cache [`Comparer::key_eq`] uses.
    pub(crate) fn same_key<'s, S: Source<'s>>(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError> {
        let (left, right) = (S::Object::key_identity(a), S::Object::key_identity(b));
        if left == right || self.keys_known(left, right) {
            return Ok(true);
        }
        let same = S::Object::key_str(a)?.as_bytes() == S::Object::key_str(b)?.as_bytes();
        if same {
            self.remember_keys::<S>(a, b);
        }
        Ok(same)
    }

    /// Remember two distinct key objects holding the same code points.
    fn remember_keys<'s, S: Source<'s>>(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) {
        let left = S::Object::key_identity(a);
        if self.keys.is_empty() {
            self.keys = vec![(0, 0); Self::SLOTS];
        }
        self.keys[Self::slot(left)] = (left, S::Object::key_identity(b));
    }

    /// JSON equality of `a` and `b` (at `depth`), walking both completely even once they
    /// differ, so that every value of both is also scanned for being JSON.
    #[inline]
    pub(crate) fn compare<'s, S: Source<'s>>(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
        match self.comparator.fast_equal(a, b, depth, self)? {
            Some(equal) => Ok(equal),
            None => self.compare_generic(a, b, depth),
        }
    }

    /// True when `a` and `b` (at `depth`) are JSON-equal, having scanned both as
    /// [`Comparer::compare`] does; false as soon as a difference is found, leaving the
    /// rest unscanned. For a caller that walks the pair itself when they differ (the
    /// patch diff), so that nothing goes unscanned.
    ///
    /// When they differ, each pair of containers on the way to the first difference may
    /// have noted where it stopped: [`Comparer::take_stop`] hands those out, the
    /// outermost first.
    pub(crate) fn equal_or_differs<'s, S: Source<'s>>(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
        self.trail.clear();
        let outer = std::mem::replace(&mut self.stop_early, true);
        let equal = self.compare(a, b, depth);
        self.stop_early = outer;
        equal
    }

    /// Where the last [`Comparer::equal_or_differs`] that found a difference stopped in
    /// the containers `old` and `new`, if that is the next stop on its way (the outermost
    /// not yet taken). Anything else forgets the rest of the way: the caller has left it.
    pub(crate) fn take_stop<'s, S: Source<'s>>(&mut self, old: S, new: S) -> Option<At> {
        match self.trail.last() {
            Some(stop) if stop.pair == (old.identity(), new.identity()) => self.trail.pop().map(|stop| stop.at),
            _ => {
                self.trail.clear();
                None
            }
        }
    }

    /// Note a stop (see [`Fallback::stopped`]).
    fn note(&mut self, stop: Stop) {
        if self.stop_early && !(self.loose_keys && matches!(stop.at, At::Members { .. })) {
            self.trail.push(stop);
        }
    }

    /// [`Comparer::compare`] without the source's fast path for this pair.
    fn compare_generic<'s, S: Source<'s>>(&mut self, a: S, b: S, depth: usize) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
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
                return self.compare_objects::<S>(*x, *y, (a.identity(), b.identity()), depth);
            }
            (Read::Array(x), Read::Array(y)) => {
                if depth > MAX_DEPTH {
                    return Err(CoreError::too_deep());
                }
                return self.compare_arrays::<S>(*x, *y, (a.identity(), b.identity()), depth);
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

    /// JSON equality of two arrays (at `depth`; `pair`: their identities).
    fn compare_arrays<'s, S: Source<'s>>(
        &mut self,
        x: S::Array,
        y: S::Array,
        pair: (usize, usize),
        depth: usize,
    ) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
        let (x_len, y_len) = (x.len(), y.len());
        let mut equal = x_len == y_len;
        if !equal && self.stop_early {
            return Ok(false);
        }
        let mut stopped = None;
        x.for_each(|i, item| {
            if !equal && self.stop_early {
                return Ok(());
            }
            match if i < y_len { y.get(i)? } else { None } {
                Some(other) if other.identity() == item.identity() && item.is_scalar() => {}
                Some(other) => {
                    equal &= self.compare(item, other, depth + 1)?;
                    if !equal && stopped.is_none() {
                        stopped = Some(i);
                    }
                }
                None => scan(item, depth + 1)?,
            }
            Ok(())
        })?;
        if let Some(i) = stopped {
            self.note(Stop { pair, at: At::Item(i) });
        }
        for i in x_len..y_len {
            if let Some(item) = y.get(i)? {
                scan(item, depth + 1)?;
            }
        }
        Ok(equal)
    }

    /// JSON equality of two objects (at `depth`; `pair`: their identities).
    fn compare_objects<'s, S: Source<'s>>(
        &mut self,
        x: S::Object,
        y: S::Object,
        pair: (usize, usize),
        depth: usize,
    ) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
        // Objects parsed from similar text usually list their keys in the same order:
        // `y` is walked alongside `x`, and a lookup is needed only where the keys part.
        // When every key of `x` met its twin in place and `y` has nothing more, the
        // objects have the same keys, without asking either for its length.
        let mut equal = true;
        let mut in_step = true;
        let mut count = 0;
        let mut matched = 0;
        let (mut x_cursor, mut cursor) = (0, 0);
        // The cursors before the members `next` and `next_other`.
        let (mut x_previous, mut previous) = (0, 0);
        // One member ahead on both sides: its value is prefetched while this one is
        // compared, so that the cache misses of siblings overlap.
        let mut next = x.next_member(&mut x_cursor)?;
        let mut next_other = y.next_member(&mut cursor)?;
        // Where the walk in step last stood before a member: noted if it stops there.
        let mut before = (0, 0, 0);
        while let Some((key, item)) = next {
            if in_step {
                before = (x_previous, previous, count);
            }
            count += 1;
            let in_place = next_other;
            (x_previous, previous) = (x_cursor, cursor);
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
                if !self.stop_early {
                    scan(item, depth + 1)?;
                }
            }
            if !equal && self.stop_early {
                self.note(Stop { pair, at: At::Members { cursors: (before.0, before.1), done: before.2 } });
                return Ok(false);
            }
        }
        // `next_other` is the member of `y` after as many as `x` has.
        if in_step && next_other.is_none() {
            return Ok(equal);
        }
        let y_len = y.len();
        equal &= count == y_len;
        if !equal && self.stop_early {
            if in_step {
                // Every member of `x` met its twin: `y` has more.
                self.note(Stop { pair, at: At::Members { cursors: (x_previous, previous), done: count } });
            }
            return Ok(false);
        }
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
    pub(crate) fn compare_node<'s, S: Source<'s>>(&mut self, old: S, new: S) -> Result<bool, CoreError>
    where
        C: Comparator<'s, S>,
    {
        self.compare(old, new, NODE_DEPTH)
    }
}

impl<'s, S: Source<'s>, C: Comparator<'s, S>> Fallback<'s, S> for Comparer<C> {
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

    #[inline]
    fn stops_early(&self) -> bool {
        self.stop_early
    }

    fn stopped(&mut self, stop: Stop) {
        self.note(stop);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ValueBuilder, parse};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    /// `value[key]`, or `value[index]` for an array.
    fn at<'v>(value: &'v Value, step: &str) -> &'v Value {
        match value {
            Value::Object(members) => &members.iter().find(|(k, _)| k == step.as_bytes()).unwrap().1,
            Value::Array(items) => &items[step.parse::<usize>().unwrap()],
            _ => panic!("not a container"),
        }
    }

    #[test]
    fn a_stopped_comparison_notes_where_each_pair_stopped() {
        let old = v(r#"{"a":1,"b":[1,{"c":2,"d":[0,1,2]}],"e":3}"#);
        let new = v(r#"{"a":1,"b":[1,{"c":2,"d":[0,9,9]}],"e":4}"#);
        let mut comparer = Comparer::new(Generic);
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        let path = |value| {
            let b = at(value, "b");
            let b1 = at(b, "1");
            (b, b1, at(b1, "d"))
        };
        let ((b, b1, d), (b_, b1_, d_)) = (path(&old), path(&new));
        // The outermost first: each pair's equal part, up to where the difference is.
        assert_eq!(comparer.take_stop(&old, &new), Some(At::Members { cursors: (1, 1), done: 1 }));
        assert_eq!(comparer.take_stop(b, b_), Some(At::Item(1)));
        assert_eq!(comparer.take_stop(b1, b1_), Some(At::Members { cursors: (1, 1), done: 1 }));
        assert_eq!(comparer.take_stop(d, d_), Some(At::Item(1)));
        assert_eq!(comparer.take_stop(d, d_), None);

        // Asking about a pair off the way forgets the rest of it.
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        assert_eq!(comparer.take_stop(b, b_), None);
        assert_eq!(comparer.take_stop(&old, &new), None);

        // A full comparison notes nothing.
        assert!(!comparer.compare(&old, &new, 1).unwrap());
        assert_eq!(comparer.take_stop(&old, &new), None);
    }

    #[test]
    fn arrays_of_other_lengths_and_objects_out_of_step() {
        let mut comparer = Comparer::new(Generic);
        // Another length: nothing compared, nothing to resume from.
        let (old, new) = (v("[[1,2],[3]]"), v("[[1,2],[3,4]]"));
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        assert_eq!(comparer.take_stop(&old, &new), Some(At::Item(1)));
        assert_eq!(comparer.take_stop(at(&old, "1"), at(&new, "1")), None);
        // Keys out of step: the walk resumes where they parted.
        let (old, new) = (v(r#"{"a":1,"b":2,"c":3}"#), v(r#"{"a":1,"c":3,"b":5}"#));
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        assert_eq!(comparer.take_stop(&old, &new), Some(At::Members { cursors: (1, 1), done: 1 }));
        // Every member met its twin: the new object has more.
        let (old, new) = (v(r#"{"a":1}"#), v(r#"{"a":1,"b":2}"#));
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        assert_eq!(comparer.take_stop(&old, &new), Some(At::Members { cursors: (1, 1), done: 1 }));
    }

    #[test]
    fn keys_equal_only_as_utf16_leave_objects_unnoted() {
        // A surrogate pair held as two code points (WTF-8), and the same character.
        let split = b"\xed\xa0\xbd\xed\xb8\x80".to_vec();
        let joined = "\u{1F600}".as_bytes().to_vec();
        let object = |key: Vec<u8>, last: i64| {
            Value::Object(vec![(key, Value::Int(1)), (b"x".to_vec(), Value::Array(vec![Value::Int(last)]))])
        };
        let (old, new) = (object(split, 1), object(joined, 2));
        let mut comparer = Comparer::new(Generic);
        assert!(!comparer.equal_or_differs(&old, &new, 1).unwrap());
        // Nothing to resume the objects from (a stop would promise keys with the same
        // code points); two arrays are noted still.
        assert_eq!(comparer.take_stop(&old, &new), None);
        assert!(!comparer.equal_or_differs(at(&old, "x"), at(&new, "x"), 1).unwrap());
        assert_eq!(comparer.take_stop(at(&old, "x"), at(&new, "x")), Some(At::Item(0)));
    }
}
