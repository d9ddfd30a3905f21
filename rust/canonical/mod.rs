//! The JS-compatible JSON writer behind serialization and checksums.
//!
//! [`Mode::Stringify`] reproduces `JSON.stringify(value)` (or `JSON.stringify(value, null,
//! 2)`): JS number formatting, JS property order (array-index keys first, then insertion
//! order), JSON.stringify escaping. [`Mode::Canonical`] is the checksum's form: the same,
//! with every object's keys sorted by UTF-16 code units (array-index keys still first) and
//! `__proto__` keys dropped, as the reference's sorting replacer does.

pub(crate) mod keys;
pub(crate) mod number;
pub(crate) mod string;

use std::cmp::Ordering;

use crate::error::{CoreError, ErrorKind, MAX_DEPTH, Seg};
use crate::value::{Array, JsStr, Object, Read, Source};
use keys::array_index;
use string::write_json_string;

/// Where the writer puts bytes. A streaming output (the hasher) may consume the buffer
/// between values; a `Vec<u8>` keeps everything.
pub(crate) trait Output {
    fn buf(&mut self) -> &mut Vec<u8>;

    /// Called between values; may drain the buffer.
    fn flush_if_full(&mut self) {}

    /// With [`Writer::for_tracker`]: the bytes written from here to the matching
    /// `capture_end` are one value the tracker hashes (see [`Capture`]). Captures nest.
    fn capture_start(&mut self) {}

    /// Ends the innermost capture `capture_start` began.
    fn capture_end(&mut self, _what: Capture<'_>) {}

    /// Inside the captures open now, something was written whose canonical form does not
    /// tell everything JSON equality or a patch sees about it: a dropped `__proto__` key,
    /// a key or string holding surrogates, a non-finite number (written `null`), an object
    /// that is not a plain dict.
    fn inexact(&mut self) {}

    /// With [`Writer::for_tracker`], before capturing an array item that is an object:
    /// write the item (its bytes and captures) from what the output kept of a previous
    /// walk, if it can, and say whether it did. Then the writer does not walk the item.
    fn reuse(&mut self, _identity: usize, _node: bool) -> bool {
        false
    }
}

/// What a capture held (with [`Writer::for_tracker`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Capture<'a> {
    /// A top-level member's value other than `nodes`: its key, and the value's identity.
    Member(&'a [u8], usize),
    /// An item of the top-level `nodes` array, and its identity if it is an object.
    Node(Option<usize>),
    /// Any other array item that is an object, by identity.
    Element(usize),
}

impl Output for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// `JSON.stringify`, compact or with two-space indentation. Needs a non-draining
    /// output: an object whose array-index keys arrive out of order is rewritten.
    Stringify { pretty: bool },
    /// The checksum's canonical form (compact, sorted, `__proto__` dropped).
    Canonical,
}

/// An object member waiting to be written in order: its key's sort data and entry, its
/// value (`None` writes a literal `0`: the checksum's `generatedAt`) and its position in
/// the source object. Small plain fields: members are copied and compared while sorting.
#[derive(Clone, Copy)]
struct Member<S> {
    token: u64,
    index: u32,
    entry: u32,
    position: u32,
    value: Option<S>,
}

/// Keys by identity. A schema repeats the same few key objects (`"id"`, `"type"`,
/// `"props"`...) thousands of times: reading, escaping and ranking each once per call is
/// enough. Identities are only meaningful within one walk, and the cache lives in one
/// writer. It stays small (a schema has a few hundred distinct keys), so it stays in
/// cache while the walk streams through the schema.
struct KeyCache<'s> {
    /// Open addressing (linear probing), at most half full: `(identity, entry)`, identity
    /// 0 marking an empty slot.
    slots: Vec<(usize, u32)>,
    /// Every key seen, never removed during the walk (members refer to them by number).
    entries: Vec<KeyEntry<'s>>,
    /// Each key as a member prefix, `,"key":`, then [`PAD`] spare bytes, so that a prefix
    /// is copied as one fixed-size block.
    bytes: Vec<u8>,
}

/// Prefixes up to this long are copied as one fixed-size block (then trimmed).
const PAD: usize = 32;

/// A key: its text, its prefix in `KeyCache::bytes`, its array index and its sort token.
#[derive(Clone, Copy)]
struct KeyEntry<'s> {
    key: JsStr<'s>,
    start: u32,
    len: u32,
    /// The key's array index, or `u32::MAX` (never an index) when it is not one.
    index: u32,
    /// See [`sort_token`].
    token: u64,
}

/// No sort token (no token holds a 0xFF byte).
const NO_TOKEN: u64 = u64::MAX;

/// The sort token of `__proto__`.
const PROTO_TOKEN: u64 = u64::from_be_bytes(*b"__proto_");

/// The first 8 bytes of a key, big-endian and zero-padded, when none of them is 0xED or
/// above: then two different tokens order their keys as UTF-16 code units do (below 0xED,
/// byte order is UTF-16 order; a zero pad sorts a prefix first). `NO_TOKEN` otherwise.
fn sort_token(bytes: &[u8]) -> u64 {
    let head = &bytes[..bytes.len().min(8)];
    if head.iter().any(|&b| b >= 0xED) {
        return NO_TOKEN;
    }
    let mut word = [0u8; 8];
    word[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(word)
}

impl<'s> KeyCache<'s> {
    const MIN_SLOTS: usize = 256;
    /// Keys indexed at most. Past this (a schema with a great many distinct keys, such as
    /// a large map keyed by ids), new keys get transient entries, dropped when the object
    /// that holds them is written: the cache stays bounded whatever the input.
    const CAP: usize = 1 << 16;

    /// Where the entries end now (see [`KeyCache::release`]).
    fn mark(&self) -> (usize, usize) {
        (self.entries.len(), self.bytes.len())
    }

    /// Drop the entries added since `mark` if they are all transient (the cache was full
    /// at `mark`). Called once the object that used them is written.
    fn release(&mut self, (entries, bytes): (usize, usize)) {
        if entries >= Self::CAP {
            self.entries.truncate(entries);
            self.bytes.truncate(bytes);
        }
    }

    fn new() -> Self {
        KeyCache { slots: Vec::new(), entries: Vec::new(), bytes: Vec::new() }
    }

    fn position(identity: usize) -> usize {
        (identity as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(32) as usize
    }

    /// The entry of the key with this identity, if known (`identity` is never 0).
    #[inline]
    fn get(&self, identity: usize) -> Option<u32> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = Self::position(identity);
        loop {
            let (known, entry) = *self.slots.get(i & mask)?;
            if known == identity {
                return Some(entry);
            }
            if known == 0 {
                return None;
            }
            i += 1;
        }
    }

    /// Add a key, escaped as a prefix; with identity 0, or once the cache is full, it is
    /// not indexed.
    fn put(&mut self, identity: usize, key: JsStr<'s>) -> Result<u32, CoreError> {
        let too_many = || CoreError::from(ErrorKind::TooLarge { size: usize::MAX, limit: u32::MAX as usize });
        let start = self.bytes.len().saturating_sub(PAD);
        self.bytes.truncate(start);
        self.bytes.push(b',');
        write_json_string(&mut self.bytes, &key);
        self.bytes.push(b':');
        let len = self.bytes.len() - start;
        self.bytes.resize(self.bytes.len() + PAD, 0);
        let bytes = key.as_bytes();
        let entry = KeyEntry {
            key,
            start: u32::try_from(start).map_err(|_| too_many())?,
            len: u32::try_from(len).map_err(|_| too_many())?,
            index: array_index(bytes).unwrap_or(u32::MAX),
            token: sort_token(bytes),
        };
        let id = u32::try_from(self.entries.len()).map_err(|_| too_many())?;
        self.entries.push(entry);
        if identity != 0 && self.entries.len() <= Self::CAP {
            if self.slots.len() < 2 * self.entries.len() {
                let size = (2 * self.slots.len()).max(Self::MIN_SLOTS);
                let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
                for (known, entry) in old {
                    if known != 0 {
                        self.place(known, entry);
                    }
                }
            }
            self.place(identity, id);
        }
        Ok(id)
    }

    fn place(&mut self, identity: usize, entry: u32) {
        let mask = self.slots.len() - 1;
        let mut i = Self::position(identity);
        while self.slots[i & mask].0 != 0 {
            i += 1;
        }
        self.slots[i & mask] = (identity, entry);
    }

    fn entry(&self, id: u32) -> KeyEntry<'s> {
        self.entries[id as usize]
    }

    /// The key's prefix, `,"key":`.
    fn prefix(&self, id: u32) -> &[u8] {
        let entry = &self.entries[id as usize];
        &self.bytes[entry.start as usize..(entry.start + entry.len) as usize]
    }

    /// Append the prefix of the `n`th member of an object (no comma before the first).
    #[allow(clippy::inline_always)] // once per member: a call costs more than the copy
    #[inline(always)]
    fn write_prefix(&self, out: &mut Vec<u8>, id: u32, n: usize) {
        let entry = &self.entries[id as usize];
        let skip = usize::from(n == 0);
        let start = entry.start as usize + skip;
        let len = entry.len as usize - skip;
        match self.bytes.get(start..).and_then(<[u8]>::first_chunk::<PAD>) {
            Some(block) if len <= PAD => number::push_block(out, block, len),
            _ => out.extend_from_slice(&self.bytes[start..start + len]),
        }
    }
}

pub(crate) struct Writer<'o, 's, O: Output, S: Source<'s>> {
    out: &'o mut O,
    mode: Mode,
    depth: usize,
    /// Write the top-level `metadata` object with `generatedAt` set to 0 (checksums).
    zero_generated_at: bool,
    /// Report each top-level member and each node through the output's capture hooks.
    capture: bool,
    /// Writing the elements of the top-level `nodes` array (with `capture`).
    in_nodes: bool,
    /// Members of the objects being reordered, innermost last: one buffer per call
    /// instead of one allocation per object.
    scratch: Vec<Member<S>>,
    keys: KeyCache<'s>,
    floats: number::FloatCache,
}

impl<'o, 's, O: Output, S: Source<'s>> Writer<'o, 's, O, S> {
    pub(crate) fn new(out: &'o mut O, mode: Mode) -> Self {
        Writer {
            out,
            mode,
            depth: 0,
            zero_generated_at: false,
            capture: false,
            in_nodes: false,
            scratch: Vec::new(),
            keys: KeyCache::new(),
            floats: number::FloatCache::new(),
        }
    }

    /// The checksum's writer: canonical, with `metadata.generatedAt` forced to 0 (added
    /// if absent) as the reference does to its deep copy before hashing.
    pub(crate) fn for_checksum(out: &'o mut O) -> Self {
        Writer { zero_generated_at: true, ..Writer::new(out, Mode::Canonical) }
    }

    /// The checksum's writer, also reporting each top-level member and each node of
    /// `nodes` through the output's capture hooks (the schema tracker hashes them).
    pub(crate) fn for_tracker(out: &'o mut O) -> Self {
        let mut writer = Writer::for_checksum(out);
        writer.capture = true;
        writer
    }

    /// Write one JSON value.
    pub(crate) fn value(&mut self, v: S) -> Result<(), CoreError> {
        match v.read()? {
            Read::Null => self.out.buf().extend_from_slice(b"null"),
            Read::Bool(true) => self.out.buf().extend_from_slice(b"true"),
            Read::Bool(false) => self.out.buf().extend_from_slice(b"false"),
            Read::Int(i) => number::write_i64(self.out.buf(), i),
            Read::Float(f) => {
                if self.capture && !f.is_finite() {
                    self.out.inexact();
                }
                self.floats.write(self.out.buf(), f);
            }
            Read::Str(s) => {
                if self.capture && s.is_wtf8() {
                    self.out.inexact();
                }
                write_json_string(self.out.buf(), &s);
            }
            Read::Array(items) => {
                self.enter()?;
                self.array(items)?;
                self.depth -= 1;
            }
            Read::Object(object) => {
                self.enter()?;
                if self.capture && !v.is_dict() {
                    self.out.inexact();
                }
                let mark = self.keys.mark();
                match self.mode {
                    Mode::Stringify { .. } => self.object_in_order(object)?,
                    Mode::Canonical => self.object_sorted(object)?,
                }
                self.keys.release(mark);
                self.depth -= 1;
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), CoreError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CoreError::too_deep());
        }
        Ok(())
    }

    /// Before the `n`th member of a container: a comma, and in pretty mode a new line.
    fn separator(&mut self, n: usize) {
        if n > 0 {
            self.out.buf().push(b',');
        }
        self.newline(self.depth);
    }

    fn newline(&mut self, depth: usize) {
        if self.mode == (Mode::Stringify { pretty: true }) {
            let buf = self.out.buf();
            buf.push(b'\n');
            buf.resize(buf.len() + 2 * depth, b' ');
        }
    }

    fn close(&mut self, count: usize, bracket: u8) {
        if count > 0 {
            self.newline(self.depth - 1);
        }
        self.out.buf().push(bracket);
    }

    fn array(&mut self, items: S::Array) -> Result<(), CoreError> {
        self.out.buf().push(b'[');
        let mut count = 0;
        let nodes = std::mem::take(&mut self.in_nodes);
        let capture = self.capture;
        items.for_each(|i, item| {
            self.separator(i);
            if capture {
                self.captured_item(item, nodes).map_err(|e| e.within(Seg::Index(i)))?;
            } else {
                self.value(item).map_err(|e| e.within(Seg::Index(i)))?;
            }
            self.out.flush_if_full();
            count = i + 1;
            Ok(())
        })?;
        self.close(count, b']');
        Ok(())
    }

    /// An array item, captured when it is an object or an item of the top-level `nodes`.
    #[inline(never)]
    fn captured_item(&mut self, item: S, node: bool) -> Result<(), CoreError> {
        let object = matches!(item.shape(), Ok(Read::Object(_)));
        if !node && !object {
            return self.value(item);
        }
        let identity = item.identity();
        if object && self.out.reuse(identity, node) {
            return Ok(());
        }
        self.out.capture_start();
        self.value(item)?;
        self.out.capture_end(if node { Capture::Node(object.then_some(identity)) } else { Capture::Element(identity) });
        Ok(())
    }

    /// A member's key entry, read and escaped only on first sight.
    #[inline]
    fn key(&mut self, key: <S::Object as Object<'s, S>>::Key) -> Result<u32, CoreError> {
        let identity = S::Object::key_identity(key);
        match self.keys.get(identity) {
            Some(entry) => Ok(entry),
            None => self.key_miss(key, identity),
        }
    }

    #[inline(never)]
    fn key_miss(&mut self, key: <S::Object as Object<'s, S>>::Key, identity: usize) -> Result<u32, CoreError> {
        let text = S::Object::key_str(key)?;
        self.keys.put(identity, text)
    }

    /// A member of the object being collected.
    #[inline]
    fn collect(&mut self, entry: u32, position: usize, value: Option<S>) {
        let KeyEntry { token, index, .. } = self.keys.entry(entry);
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        self.scratch.push(Member { token, index, entry, position, value });
    }

    /// `"key":`, after the separator.
    fn write_key(&mut self, entry: u32) {
        self.out.buf().extend_from_slice(&self.keys.prefix(entry)[1..]);
    }

    /// The `n`th member of an object in compact form, away from the top level of a
    /// checksum: its prepared prefix and its value.
    #[inline]
    fn member_compact(&mut self, n: usize, entry: u32, value: Option<S>) -> Result<(), CoreError> {
        self.keys.write_prefix(self.out.buf(), entry, n);
        match value {
            Some(value) => self.value(value).map_err(|e| self.within_entry(e, entry))?,
            None => self.out.buf().push(b'0'),
        }
        self.out.flush_if_full();
        Ok(())
    }

    /// Locate an error inside the member with this key.
    #[cold]
    fn within_entry(&self, err: CoreError, entry: u32) -> CoreError {
        err.within(Seg::Key(self.keys.entry(entry).key.as_bytes().to_vec()))
    }

    /// Members go through [`Writer::member_compact`]: compact output, except for the top
    /// level of checksums and of the tracker.
    fn compact(&self) -> bool {
        self.mode != (Mode::Stringify { pretty: true })
            && !(self.depth == 1 && (self.capture || self.zero_generated_at))
    }

    fn member(&mut self, n: usize, entry: u32, value: Option<S>) -> Result<(), CoreError> {
        let key = self.keys.entry(entry).key;
        self.separator(n);
        self.write_key(entry);
        let buf = self.out.buf();
        if self.mode == (Mode::Stringify { pretty: true }) {
            buf.push(b' ');
        }
        let Some(value) = value else {
            buf.push(b'0');
            return Ok(());
        };
        let top = self.depth == 1;
        // The tracker hashes each top-level member but `nodes`, and each node of `nodes`.
        let capture = self.capture && top && key.as_bytes() != b"nodes";
        // A value that is not JSON is left to `self.value` below, whose error names the
        // member (`$.nodes`), as `canonical_json` does.
        if capture {
            self.out.capture_start();
        } else if self.capture && top && matches!(value.shape(), Ok(Read::Array(_))) {
            self.in_nodes = true;
        }
        let written = if self.zero_generated_at && top && key.as_bytes() == b"metadata" {
            self.metadata(value)
        } else {
            self.value(value)
        };
        written.map_err(|e| e.within(Seg::Key(key.as_bytes().to_vec())))?;
        self.in_nodes = false;
        if capture {
            self.out.capture_end(Capture::Member(key.as_bytes(), value.identity()));
        }
        self.out.flush_if_full();
        Ok(())
    }

    /// `JSON.stringify` order, written as the members come. Array-index keys must come
    /// first in ascending order; in the rare object where they do not, the output so far
    /// is discarded and the object is written again from collected, reordered members.
    fn object_in_order(&mut self, object: S::Object) -> Result<(), CoreError> {
        let start = self.out.buf().len();
        self.out.buf().push(b'{');
        let mut count = 0;
        let mut last_index: Option<u32> = None;
        let mut named = false;
        let pretty = self.mode == (Mode::Stringify { pretty: true });
        let written = object.for_each_keyed(|key, value| {
            let entry = self.key(key)?;
            let index = self.keys.entry(entry).index;
            if index == u32::MAX {
                named = true;
            } else {
                if named || last_index.is_some_and(|last| index < last) {
                    return Err(ErrorKind::Reorder.into());
                }
                last_index = Some(index);
            }
            if pretty {
                self.separator(count);
                self.write_key(entry);
                self.out.buf().push(b' ');
            } else {
                self.keys.write_prefix(self.out.buf(), entry, count);
            }
            self.value(value).map_err(|e| within_key::<S>(e, key))?;
            count += 1;
            Ok(())
        });
        match written {
            Ok(()) => {
                self.close(count, b'}');
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::Reorder) => {
                self.out.buf().truncate(start);
                self.object_collected(object)
            }
            Err(e) => Err(e),
        }
    }

    /// An object in canonical form: members sorted (array indices first, then by UTF-16
    /// code units), `__proto__` dropped.
    fn object_sorted(&mut self, object: S::Object) -> Result<(), CoreError> {
        let base = self.scratch.len();
        let mut position = 0;
        let collected = object.for_each_keyed(|key, value| {
            let entry = self.key(key)?;
            // The reference's replacer assigns `sorted["__proto__"] = v`, which sets the
            // prototype instead of creating a property: the key vanishes.
            let KeyEntry { token, key, .. } = self.keys.entry(entry);
            if token == PROTO_TOKEN && key.as_bytes() == b"__proto__" {
                self.out.inexact();
            } else {
                if self.capture && key.is_wtf8() {
                    self.out.inexact();
                }
                self.collect(entry, position, Some(value));
            }
            position += 1;
            Ok(())
        });
        if let Err(e) = collected {
            self.scratch.truncate(base);
            return Err(e);
        }
        self.write_members(base)
    }

    /// `JSON.stringify` order for an object whose array-index keys came out of order:
    /// collect the members, order them, and write them.
    fn object_collected(&mut self, object: S::Object) -> Result<(), CoreError> {
        let base = self.scratch.len();
        let mut position = 0;
        object.for_each_keyed(|key, value| {
            let entry = self.key(key)?;
            self.collect(entry, position, Some(value));
            position += 1;
            Ok(())
        })?;
        self.write_members(base)
    }

    /// The top-level `metadata` value of a checksummed schema. An array is written as is
    /// (the reference's `generatedAt` assignment on an array is not serialized).
    fn metadata(&mut self, value: S) -> Result<(), CoreError> {
        let Read::Object(object) = value.read()? else {
            return self.value(value);
        };
        self.enter()?;
        let base = self.scratch.len();
        let mut has_generated_at = false;
        let mut position = 0;
        object.for_each_keyed(|key, value| {
            let entry = self.key(key)?;
            match self.keys.entry(entry).key.as_bytes() {
                b"__proto__" => self.out.inexact(),
                b"generatedAt" => {
                    has_generated_at = true;
                    self.collect(entry, position, None);
                }
                _ => {
                    if self.capture && self.keys.entry(entry).key.is_wtf8() {
                        self.out.inexact();
                    }
                    self.collect(entry, position, Some(value));
                }
            }
            position += 1;
            Ok(())
        })?;
        if !has_generated_at {
            let entry = self.keys.put(0, JsStr::utf8("generatedAt"))?;
            self.collect(entry, usize::MAX, None);
        }
        self.write_members(base)?;
        self.depth -= 1;
        Ok(())
    }

    /// Order `scratch[base..]` (JS property order; sorted by UTF-16 in canonical mode),
    /// write it as an object, and pop it.
    fn write_members(&mut self, base: usize) -> Result<(), CoreError> {
        let canonical = self.mode == Mode::Canonical;
        let keys = &self.keys;
        let by_order = |a: &Member<S>, b: &Member<S>| {
            a.index.cmp(&b.index).then_with(|| {
                if !canonical {
                    a.position.cmp(&b.position)
                } else if a.token != b.token && a.token != NO_TOKEN && b.token != NO_TOKEN {
                    a.token.cmp(&b.token)
                } else {
                    keys.entry(a.entry).key.cmp_utf16(&keys.entry(b.entry).key)
                }
            })
        };
        let members = &mut self.scratch[base..];
        if !members.is_sorted_by(|a, b| by_order(a, b) != Ordering::Greater) {
            members.sort_unstable_by(by_order);
        }
        let count = members.len();
        let written = if self.compact() {
            if count == 0 {
                self.out.buf().extend_from_slice(b"{}");
                Ok(())
            } else {
                self.out.buf().push(b'{');
                (0..count)
                    .try_for_each(|n| {
                        let Member { entry, value, .. } = self.scratch[base + n];
                        self.member_compact(n, entry, value)
                    })
                    .map(|()| self.out.buf().push(b'}'))
            }
        } else {
            self.out.buf().push(b'{');
            (0..count)
                .try_for_each(|n| {
                    let Member { entry, value, .. } = self.scratch[base + n];
                    self.member(n, entry, value)
                })
                .map(|()| self.close(count, b'}'))
        };
        self.scratch.truncate(base);
        written
    }
}

/// Locate an error inside the member `key`.
#[cold]
fn within_key<'s, S: Source<'s>>(err: CoreError, key: <S::Object as Object<'s, S>>::Key) -> CoreError {
    let key = S::Object::key_str(key).map(|k| k.as_bytes().to_vec()).unwrap_or_default();
    err.within(Seg::Key(key))
}

/// `JSON.stringify(value)` / `JSON.stringify(value, null, 2)` as UTF-8 bytes.
pub(crate) fn stringify<'s, S: Source<'s>>(value: S, pretty: bool) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    stringify_into(value, pretty, &mut out)?;
    Ok(out)
}

/// Like [`stringify`], appending to `out` (which callers may reuse between calls).
pub(crate) fn stringify_into<'s, S: Source<'s>>(value: S, pretty: bool, out: &mut Vec<u8>) -> Result<(), CoreError> {
    Writer::new(out, Mode::Stringify { pretty }).value(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn compact(v: &Value) -> String {
        String::from_utf8(stringify(v, false).unwrap()).unwrap()
    }

    fn pretty(v: &Value) -> String {
        String::from_utf8(stringify(v, true).unwrap()).unwrap()
    }

    fn canonical(v: &Value) -> String {
        let mut out = Vec::new();
        Writer::new(&mut out, Mode::Canonical).value(v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_values_like_json_stringify() {
        let v = Value::object([
            ("b", Value::Int(1)),
            ("a", Value::Float(100.0)),
            ("s", Value::str("x\ny")),
            ("l", Value::Array(vec![Value::Null, Value::Bool(true), Value::Float(f64::NAN)])),
            ("e", Value::Object(vec![])),
        ]);
        assert_eq!(compact(&v), r#"{"b":1,"a":100,"s":"x\ny","l":[null,true,null],"e":{}}"#);
    }

    #[test]
    fn array_index_keys_come_first_in_numeric_order() {
        let v = Value::object([
            ("xs", Value::Int(0)),
            ("10", Value::Int(1)),
            ("2", Value::Int(2)),
            ("01", Value::Int(3)),
            ("0", Value::Int(4)),
        ]);
        assert_eq!(compact(&v), r#"{"0":4,"2":2,"10":1,"xs":0,"01":3}"#);
        assert_eq!(canonical(&v), r#"{"0":4,"2":2,"10":1,"01":3,"xs":0}"#);
    }

    #[test]
    fn canonical_sorts_by_utf16_and_drops_proto() {
        let v = Value::object([
            ("\u{FF21}", Value::Int(1)),
            ("😀", Value::Int(2)),
            ("__proto__", Value::object([("x", Value::Int(1))])),
            ("b", Value::object([("z", Value::Int(1)), ("a", Value::Int(2))])),
        ]);
        assert_eq!(canonical(&v), "{\"b\":{\"a\":2,\"z\":1},\"😀\":2,\"\u{FF21}\":1}");
        assert!(compact(&v).contains("__proto__"));
    }

    #[test]
    fn canonical_order_is_utf16_order_for_every_kind_of_key() {
        // Sorted as JS does (`Object.keys(o).sort()` on UTF-16 code units).
        let sorted = [
            "1",
            "20",
            "",
            "\u{0}",
            "a",
            "a\u{0}",
            "abcdefgh",
            "abcdefgh\u{0}",
            "abcdefgh1",
            "abcdefgha",
            "abcdefghb",
            "z",
            "\u{7f}",
            "\u{80}",
            "é",
            "\u{d7ff}",
            "😀",
            "😀a",
            "\u{e000}",
            "\u{ff21}",
            "\u{ffff}",
        ];
        let mut reversed: Vec<_> = sorted.iter().rev().enumerate().collect();
        // Interleave, so that no input order is close to the output.
        reversed.sort_by_key(|(i, _)| (i % 3, *i));
        let v = Value::Object(reversed.iter().map(|&(i, k)| (k.as_bytes().to_vec(), Value::Int(i as i64))).collect());
        let text = canonical(&v);
        let mut at = 0;
        for key in sorted {
            let quoted = format!("{}:", String::from_utf8(stringify(&Value::str(key), false).unwrap()).unwrap());
            let found = text[at..].find(&quoted).unwrap_or_else(|| panic!("{key:?} out of order in {text}"));
            at += found + quoted.len();
        }
    }

    #[test]
    fn more_distinct_keys_than_the_cache_holds() {
        use std::fmt::Write;
        // Every key is a distinct key object here: the cache fills, and later keys take
        // the transient path (their entries dropped as each object is written).
        let count = KeyCache::CAP + 5_000;
        let inner = || Value::object([("b", Value::Int(2)), ("a", Value::Int(1))]);
        let outer = Value::Object((0..count).rev().map(|i| (format!("k{i:06}").into_bytes(), inner())).collect());
        let v = Value::object([("z", outer), ("y", inner())]);
        let mut expected = String::from("{\"y\":{\"a\":1,\"b\":2},\"z\":{");
        for i in 0..count {
            if i > 0 {
                expected.push(',');
            }
            write!(expected, "\"k{i:06}\":{{\"a\":1,\"b\":2}}").unwrap();
        }
        expected.push_str("}}");
        let mut out = Vec::new();
        let mut writer = Writer::new(&mut out, Mode::Canonical);
        writer.value(&v).unwrap();
        // The outer object's own keys, and a few: not the inner objects' 2 * count.
        let kept = writer.keys.entries.len();
        assert!(kept < count + 10, "{kept} key entries kept");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn pretty_matches_two_space_indentation() {
        let v = Value::object([
            ("a", Value::Array(vec![Value::Int(1), Value::Array(vec![])])),
            ("b", Value::Object(vec![])),
        ]);
        assert_eq!(pretty(&v), "{\n  \"a\": [\n    1,\n    []\n  ],\n  \"b\": {}\n}");
        assert_eq!(pretty(&Value::Array(vec![])), "[]");
    }

    #[test]
    fn depth_is_bounded_with_a_path() {
        let mut v = Value::Array(vec![]);
        for _ in 0..MAX_DEPTH - 1 {
            v = Value::Array(vec![v]);
        }
        stringify(&v, false).unwrap();
        let deeper = Value::object([("k", Value::Array(vec![v]))]);
        let err = stringify(&deeper, false).expect_err("an error").to_string();
        let expected_path = format!("$.k{}", "[0]".repeat(MAX_DEPTH - 1));
        assert_eq!(err, format!("nesting depth exceeds {MAX_DEPTH} at {expected_path}"));
    }
}
