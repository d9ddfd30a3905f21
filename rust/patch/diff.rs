//! `calculate_schema_patch`: the RFC 6902 ops that turn one JSON value into another, in
//! the order `lumora_fast.pure.patch` emits them.
//!
//! Objects are diffed key by key (keys compared by code points, as Python's dicts do):
//! removals in the old order, then each new key in the new order, added or diffed. An
//! array whose items are all objects with unique scalar ids, on both sides (neither
//! empty), is matched by id (JS `SameValueZero`): removals from the end, then each item
//! not on the longest increasing run of kept items is moved (or inserted) right after
//! its predecessor in the new order, then matched items are diffed at their new index.
//! Any other array is diffed element by element past its equal head and tail (when the
//! lengths differ), and replaced whole when that op serializes shorter than those ops.
//!
//! The walk also checks that both values are JSON wherever it does not recurse (it
//! compares or scans), so that a clean result means clean input; on an error, both
//! values are checked again in order, to raise what `check_json` would.

use rustc_hash::{FxHashMap, FxHashSet};

use super::pointer::{push_index, push_token};
use crate::canonical::string::write_json_string;
use crate::canonical::stringify_into;
use crate::delta::{Comparer, IdKey, NodeKeys, check_json, id_key, scan};
use crate::error::{CoreError, ErrorKind, MAX_DEPTH};
use crate::value::{Array, JsStr, Object, Read, Source, is_dict};

/// One RFC 6902 op. Pointers are WTF-8; a value of `None` is `null` (a non-finite
/// number, as the wire carries it).
pub(crate) enum Op<S> {
    Add { path: Vec<u8>, value: Option<S> },
    Remove { path: Vec<u8> },
    Replace { path: Vec<u8>, value: Option<S> },
    Move { from: Vec<u8>, path: Vec<u8> },
}

/// What can tell two values JSON-equal without walking them (the tracker's hashes).
pub(crate) trait Known<S> {
    /// True when `old` and `new` are known to be JSON-equal (false says nothing).
    fn equal(&self, old: S, new: S) -> bool;
}

impl<S> Known<S> for () {
    #[inline]
    fn equal(&self, _old: S, _new: S) -> bool {
        false
    }
}

/// The ops that turn `old` into `new`.
pub(crate) fn calculate<'s, S: Source<'s>>(old: S, new: S) -> Result<Vec<Op<S>>, CoreError> {
    calculate_with(old, new, &())
}

/// [`calculate`], skipping the pairs `known` says are equal (unscanned: the caller has
/// checked both values).
pub(crate) fn calculate_with<'s, S: Source<'s>, K: Known<S>>(
    old: S,
    new: S,
    known: &K,
) -> Result<Vec<Op<S>>, CoreError> {
    let mut differ = Differ {
        ops: Vec::new(),
        costs: Vec::new(),
        steps: Vec::new(),
        keys: Vec::new(),
        comparer: Comparer::new(),
        known,
        id_keys: [NodeKeys::new(), NodeKeys::new()],
        id_stack: Vec::new(),
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

/// Whether no two of `keys` are equal (`SameValueZero`).
fn unique(keys: &[IdKey<'_>]) -> bool {
    /// Up to this many ids are checked for repeats pairwise (no hash set to build).
    const PAIRWISE: usize = 16;
    if keys.len() <= PAIRWISE {
        return keys.iter().enumerate().all(|(i, key)| !keys[..i].contains(key));
    }
    let mut seen = FxHashSet::default();
    keys.iter().all(|key| seen.insert(key))
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

/// One step of the pointer being diffed, made into text only when an op needs it.
#[derive(Clone, Copy)]
enum Step<K> {
    Key(K),
    Index(usize),
}

struct Differ<'s, 'k, S: Source<'s>, K> {
    ops: Vec<Op<S>>,
    /// Each op's serialized size, once asked for.
    costs: Vec<Option<usize>>,
    /// Where the pair being diffed is.
    steps: Vec<Step<<S::Object as Object<'s, S>>::Key>>,
    /// Pairs of distinct key objects found to hold the same code points, direct-mapped
    /// by the first key's identity (two schemas parsed apart share no key objects, but
    /// use the same few keys thousands of times).
    keys: Vec<(usize, usize)>,
    comparer: Comparer,
    known: &'k K,
    /// The `id` key objects of the old and the new value's objects (a lookup with the
    /// schema's own key object finds the member by identity).
    id_keys: [NodeKeys<'s, S>; 2],
    /// Id keys of the arrays being walked in step, innermost last (one buffer per call).
    id_stack: Vec<IdKey<'s>>,
}

/// Which value an item belongs to.
const OLD: usize = 0;
const NEW: usize = 1;

/// Slots of the key-pair cache.
const KEY_SLOTS: usize = 2048;

fn key_slot(identity: usize) -> usize {
    (identity as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> (usize::BITS - KEY_SLOTS.trailing_zeros())
}

impl<'s, S: Source<'s>, K: Known<S>> Differ<'s, '_, S, K> {
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

    /// Whether two keys hold the same code points (as Python's dicts compare them).
    fn same_key(
        &mut self,
        a: <S::Object as Object<'s, S>>::Key,
        b: <S::Object as Object<'s, S>>::Key,
    ) -> Result<bool, CoreError> {
        let (left, right) = (S::Object::key_identity(a), S::Object::key_identity(b));
        if left == right || self.keys.get(key_slot(left)) == Some(&(left, right)) {
            return Ok(true);
        }
        let same = S::Object::key_str(a)?.as_bytes() == S::Object::key_str(b)?.as_bytes();
        if same {
            if self.keys.is_empty() {
                self.keys = vec![(0, 0); KEY_SLOTS];
            }
            self.keys[key_slot(left)] = (left, right);
        }
        Ok(same)
    }

    fn diff(&mut self, old: S, new: S, depth: usize) -> Result<(), CoreError> {
        if old.identity() == new.identity() {
            self.comparer.compare(old, new, depth)?; // only scans
            return Ok(());
        }
        if self.known.equal(old, new) {
            return Ok(());
        }
        match (old.shape()?, new.shape()?) {
            (Read::Object(a), Read::Object(b)) if old.is_dict() && new.is_dict() => {
                if depth > MAX_DEPTH {
                    return Err(CoreError::too_deep());
                }
                self.objects(a, b, depth)
            }
            (Read::Array(a), Read::Array(b)) => {
                if depth > MAX_DEPTH {
                    return Err(CoreError::too_deep());
                }
                if a.len() == b.len() {
                    return self.in_step(a, b, new, depth);
                }
                self.arrays(a, b, new, depth)
            }
            _ => {
                if !self.comparer.compare(old, new, depth)? {
                    let value = wire(new)?;
                    self.push(Op::Replace { path: self.pointer()?, value });
                }
                Ok(())
            }
        }
    }

    /// The id key of an array item, if it is an object with a scalar `id`.
    fn id_of(&mut self, item: S, side: usize) -> Result<Option<IdKey<'s>>, CoreError> {
        if !is_dict(item)? {
            return Ok(None);
        }
        let Some(id) = self.id_keys[side].id(item)? else {
            return Ok(None);
        };
        if matches!(id.read()?, Read::Array(_) | Read::Object(_)) {
            return Ok(None);
        }
        Ok(Some(id_key(Some(id))?))
    }

    /// The id keys of an array's items, if every item is an object with a scalar `id` and
    /// no two ids are equal (`SameValueZero`).
    fn ids(&mut self, array: S::Array, side: usize) -> Result<Option<Vec<IdKey<'s>>>, CoreError> {
        let mut keys = Vec::with_capacity(array.len());
        for i in 0..array.len() {
            let Some(key) = self.id_of(item::<S>(array, i)?, side)? else {
                return Ok(None);
            };
            keys.push(key);
        }
        Ok(unique(&keys).then_some(keys))
    }

    /// Two arrays of any lengths: matched by id, or element by element.
    fn arrays(&mut self, a: S::Array, b: S::Array, whole: S, depth: usize) -> Result<(), CoreError> {
        if a.len() > 0
            && b.len() > 0
            && let Some(old_ids) = self.ids(a, OLD)?
            && let Some(new_ids) = self.ids(b, NEW)?
        {
            return self.by_id(a, b, &old_ids, &new_ids, depth);
        }
        self.elementwise(a, b, whole, depth)
    }

    /// Two arrays of one length, walked in step: each pair of items is diffed in place
    /// while their ids agree, each item read once. That is what both matchings do
    /// whenever the ids agree throughout: `by_id` with equal id lists diffs the items in
    /// place, and so does `elementwise` with equal lengths (which then weighs one
    /// `replace` against the ops). At the first pair of ids that differ, the ops made so
    /// far are dropped and [`Differ::arrays`] decides.
    fn in_step(&mut self, old: S::Array, new: S::Array, whole: S, depth: usize) -> Result<(), CoreError> {
        let (start, base) = (self.ops.len(), self.id_stack.len());
        let mut ided = true;
        for i in 0..old.len() {
            let (before, after) = (item::<S>(old, i)?, item::<S>(new, i)?);
            if ided {
                match (self.id_of(before, OLD)?, self.id_of(after, NEW)?) {
                    (Some(was), Some(now)) if was == now => self.id_stack.push(was),
                    (Some(_), Some(_)) => {
                        self.ops.truncate(start);
                        self.costs.truncate(start);
                        self.id_stack.truncate(base);
                        return self.arrays(old, new, whole, depth);
                    }
                    _ => {
                        // Not matched by id: element by element, whatever the ids.
                        ided = false;
                        self.id_stack.truncate(base);
                    }
                }
            }
            self.steps.push(Step::Index(i));
            self.diff(before, after, depth + 1)?;
            self.steps.pop();
        }
        let by_id = ided && old.len() > 0 && unique(&self.id_stack[base..]);
        self.id_stack.truncate(base);
        if by_id {
            return Ok(());
        }
        self.settle(start, whole)
    }

    fn objects(&mut self, old: S::Object, new: S::Object, depth: usize) -> Result<(), CoreError> {
        // Objects parsed from similar text list their keys in the same order: walked in
        // step, they need no lookups, and when every key met its twin in place and the
        // sizes agree, nothing was removed. Otherwise the removals, found afterwards, go
        // before this object's other ops (they touch no other key's pointer).
        let start = self.ops.len();
        let mut in_step = true;
        let mut old_cursor = 0;
        new.for_each_keyed(|key, value| {
            let mut before = None;
            if in_step {
                match old.next_member(&mut old_cursor)? {
                    Some((other, found)) if self.same_key(other, key)? => before = Some(found),
                    _ => in_step = false,
                }
            }
            if !in_step {
                before = member_exact::<S>(old, key)?;
            }
            if let Some(before) = before
                && before.scalar_equal(value)
            {
                return Ok(());
            }
            self.steps.push(Step::Key(key));
            if let Some(before) = before {
                self.diff(before, value, depth + 1)?;
            } else {
                scan(value, depth + 1)?;
                let value = wire(value)?;
                self.push(Op::Add { path: self.pointer()?, value });
            }
            self.steps.pop();
            Ok(())
        })?;
        if in_step && old.next_member(&mut old_cursor)?.is_none() {
            return Ok(());
        }
        let later = self.ops.split_off(start);
        let later_costs = self.costs.split_off(start);
        old.for_each_keyed(|key, value| {
            if member_exact::<S>(new, key)?.is_none() {
                scan(value, depth + 1)?;
                let path = self.pointer_to(Step::Key(key))?;
                self.push(Op::Remove { path });
            }
            Ok(())
        })?;
        self.ops.extend(later);
        self.costs.extend(later_costs);
        Ok(())
    }

    fn by_id(
        &mut self,
        old: S::Array,
        new: S::Array,
        old_ids: &[IdKey<'s>],
        new_ids: &[IdKey<'s>],
        depth: usize,
    ) -> Result<(), CoreError> {
        if old_ids == new_ids {
            // Nothing inserted, removed or moved: the items are diffed in place.
            for j in 0..new_ids.len() {
                self.steps.push(Step::Index(j));
                self.diff(item::<S>(old, j)?, item::<S>(new, j)?, depth + 1)?;
                self.steps.pop();
            }
            return Ok(());
        }
        let old_len = old_ids.len();
        let old_at: FxHashMap<&IdKey<'s>, usize> = old_ids.iter().enumerate().map(|(i, k)| (k, i)).collect();
        // Each new item's old index, if it has one.
        let pairs: Vec<Option<usize>> = new_ids.iter().map(|k| old_at.get(k).copied()).collect();
        let mut kept = vec![false; old_len];
        for &i in pairs.iter().flatten() {
            kept[i] = true;
        }
        for i in (0..old_len).rev() {
            if !kept[i] {
                scan(item::<S>(old, i)?, depth + 1)?;
                let path = self.pointer_to(Step::Index(i))?;
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
            // Right after its predecessor in the new order, wherever that is by now.
            let to = if j == 0 { 0 } else { position(&current, token(j - 1))? + 1 };
            current.insert(to, token(j));
            match at {
                None => {
                    let node = item::<S>(new, j)?;
                    scan(node, depth + 1)?;
                    let path = self.pointer_to(Step::Index(to))?;
                    self.push(Op::Add { path, value: Some(node) });
                }
                Some(at) if at != to => {
                    let from = self.pointer_to(Step::Index(at))?;
                    let path = self.pointer_to(Step::Index(to))?;
                    self.push(Op::Move { from, path });
                }
                Some(_) => {}
            }
        }
        for (j, pair) in pairs.iter().enumerate() {
            if let Some(i) = *pair {
                self.steps.push(Step::Index(j));
                self.diff(item::<S>(old, i)?, item::<S>(new, j)?, depth + 1)?;
                self.steps.pop();
            }
        }
        Ok(())
    }

    fn elementwise(&mut self, old: S::Array, new: S::Array, whole: S, depth: usize) -> Result<(), CoreError> {
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
        for i in head..head + old_mid.min(new_mid) {
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
        if self.known.equal(old, new) {
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
    use crate::parse::{ValueBuilder, parse};
    use crate::value::Value;

    fn v(text: &str) -> Value {
        parse(text.as_bytes(), false, &mut ValueBuilder).unwrap()
    }

    fn patch(old: &str, new: &str) -> String {
        let (old, new) = (v(old), v(new));
        let ops = calculate(&old, &new).unwrap();
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
    fn longest_run_stays() {
        assert_eq!(stable(&[3, 0, 1, 2]), [1, 2, 3]);
        assert_eq!(stable(&[2, 1, 0]), [2]);
        assert!(stable(&[]).is_empty());
    }
}
