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
    /// `capture_end` are one top-level member's value, or one node of `nodes`.
    fn capture_start(&mut self) {}

    /// Ends the capture `capture_start` began: `key` names the top-level member, or is
    /// `None` for a node.
    fn capture_end(&mut self, _key: Option<&[u8]>) {}

    /// A `__proto__` key was dropped inside the value being captured: its canonical form
    /// no longer tells everything about it.
    fn dropped_proto(&mut self) {}
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

/// An object member waiting to be written in order: its key, its array index if it is
/// one, its value (`None` writes a literal `0`: the checksum's `generatedAt`) and its
/// position in the source object.
#[derive(Clone, Copy)]
struct Member<'s, S> {
    key: KeySlot<'s>,
    value: Option<S>,
    position: usize,
}

/// Escaped keys by identity. A schema repeats the same few key objects (`"id"`,
/// `"type"`, `"props"`...) thousands of times: reading and escaping each once per call is
/// enough. Identities are only meaningful within one walk, and the cache lives in one
/// writer.
struct KeyCache<'s> {
    /// Direct-mapped by identity; identity 0 marks an empty slot.
    slots: Vec<KeySlot<'s>>,
    bytes: Vec<u8>,
}

/// A key: its text, its escaped form in the cache (`len == 0`: not cached) and its
/// array index. Plain words, no `Option`s: this is copied around on the hot path.
#[derive(Clone, Copy)]
struct KeySlot<'s> {
    identity: usize,
    key: JsStr<'s>,
    start: u32,
    len: u32,
    /// The key's array index, or `u32::MAX` (never an index) when it is not one.
    index: u32,
}

impl<'s> KeySlot<'s> {
    fn uncached(key: JsStr<'s>) -> Self {
        KeySlot { identity: 0, key, start: 0, len: 0, index: array_index(key.as_bytes()).unwrap_or(u32::MAX) }
    }

    fn index(self) -> Option<u32> {
        (self.index != u32::MAX).then_some(self.index)
    }
}

impl<'s> KeyCache<'s> {
    const SLOTS: usize = 1024;

    fn new() -> Self {
        KeyCache { slots: Vec::new(), bytes: Vec::new() }
    }
    /// Longer keys are written directly: they are rarely repeated.
    const MAX_KEY: usize = 64;

    fn position(identity: usize) -> usize {
        ((identity >> 4) ^ (identity >> 14)) & (Self::SLOTS - 1)
    }

    /// The key with this identity, if cached (`identity` is never 0).
    #[allow(clippy::inline_always)] // see `Writer::key`
    #[inline(always)]
    fn get(&self, identity: usize) -> Option<KeySlot<'s>> {
        let slot = *self.slots.get(Self::position(identity))?;
        (slot.identity == identity).then_some(slot)
    }

    /// Escape `key` into the cache when it is short, and describe it.
    fn put(&mut self, identity: usize, key: JsStr<'s>) -> KeySlot<'s> {
        let uncached = KeySlot::uncached(key);
        let start = self.bytes.len();
        if key.as_bytes().len() > Self::MAX_KEY || identity == 0 || start > (u32::MAX as usize) / 2 {
            return uncached;
        }
        if self.slots.is_empty() {
            self.slots = vec![KeySlot::uncached(JsStr::utf8("")); Self::SLOTS];
        }
        write_json_string(&mut self.bytes, &key);
        let slot = KeySlot { identity, start: start as u32, len: (self.bytes.len() - start) as u32, ..uncached };
        self.slots[Self::position(identity)] = slot;
        slot
    }

    fn bytes(&self, slot: KeySlot<'_>) -> &[u8] {
        &self.bytes[slot.start as usize..(slot.start + slot.len) as usize]
    }
}

/// Member orders by key sequence, for the canonical (sorted) form. A schema's objects come
/// in a few thousand shapes (every node has `id, type, props, children, metadata`):
/// sorting each shape's keys and escaping them once per call is enough; writing an object
/// is then one lookup and, per member, a copy of a prepared key. Shapes are found by the
/// identities of their keys, which are only meaningful within one walk. Everything lives
/// in a few flat vectors: the walk streams through far more memory than this, and
/// scattered small allocations would each cost a cache miss.
struct Shapes<'s> {
    /// Open addressing (linear probing), at most half full: an index into `arena`, plus
    /// one (0: empty).
    slots: Vec<u32>,
    arena: Vec<Shape>,
    /// Every shape's key identities, in source order.
    identities: Vec<usize>,
    /// Every shape's members, in output order.
    members: Vec<ShapeMember>,
    /// The same members' keys (for the general path).
    keys: Vec<KeySlot<'s>>,
    /// The members' prefixes (`{"key":` for an object's first member, `,"key":` for the
    /// others), then [`PAD`] spare bytes, so that a short prefix is copied as one
    /// fixed-size block.
    prefixes: Vec<u8>,
}

/// Prefixes up to this long are copied as one fixed-size block (then trimmed).
const PAD: usize = 32;

struct Shape {
    hash: u64,
    /// Where its key identities start in `Shapes::identities`, and how many there are.
    identities: u32,
    len: u32,
    /// Where its members start in `Shapes::members` / `Shapes::keys`, and how many
    /// (fewer than its keys when a `__proto__` key is dropped).
    members: u32,
    count: u32,
    /// A `__proto__` key was dropped.
    dropped_proto: bool,
}

/// A member of a shape: its position in the source object, and its prefix.
#[derive(Clone, Copy)]
struct ShapeMember {
    position: u32,
    start: u32,
    len: u32,
}

impl Shapes<'_> {
    const MIN_SLOTS: usize = 1024;

    fn new() -> Self {
        Shapes {
            slots: Vec::new(),
            arena: Vec::new(),
            identities: Vec::new(),
            members: Vec::new(),
            keys: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    fn mix(hash: u64, identity: usize) -> u64 {
        (hash.rotate_left(5) ^ identity as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
    }

    fn slot(hash: u64) -> usize {
        (hash >> 32) as usize
    }

    /// The shape with these keys, if known.
    fn find(&self, hash: u64, identities: &[usize]) -> Option<&Shape> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = Self::slot(hash);
        loop {
            let at = *self.slots.get(i & mask)?;
            let shape = self.arena.get((at as usize).checked_sub(1)?)?;
            if shape.hash == hash && shape.len as usize == identities.len() {
                let start = shape.identities as usize;
                let known = self.identities.get(start..start + identities.len())?;
                // A short loop, inlined: `==` on slices calls `memcmp`.
                if known.iter().zip(identities).all(|(a, b)| a == b) {
                    return Some(shape);
                }
            }
            i += 1;
        }
    }

    /// Add a shape, growing the table when it gets half full.
    fn insert(&mut self, shape: Shape) -> usize {
        let at = self.arena.len();
        self.arena.push(shape);
        if self.slots.len() < 2 * self.arena.len() {
            self.slots = vec![0; (2 * self.slots.len()).max(Self::MIN_SLOTS)];
            for n in 0..self.arena.len() {
                self.place(n);
            }
        } else {
            self.place(at);
        }
        at
    }

    fn place(&mut self, n: usize) {
        let mask = self.slots.len() - 1;
        let mut i = Self::slot(self.arena[n].hash);
        while self.slots[i & mask] != 0 {
            i += 1;
        }
        // Each shape comes from a distinct object of the input: never 2^32 of them.
        self.slots[i & mask] = u32::try_from(n + 1).unwrap_or(0);
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
    scratch: Vec<Member<'s, S>>,
    keys: KeyCache<'s>,
    shapes: Shapes<'s>,
    /// Members of the objects being written in canonical form, innermost last, and
    /// their keys' identities (kept apart, to compare shapes as plain slices).
    pairs: Vec<(<S::Object as Object<'s, S>>::Key, S)>,
    identities: Vec<usize>,
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
            shapes: Shapes::new(),
            pairs: Vec::new(),
            identities: Vec::new(),
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
            Read::Float(f) => self.floats.write(self.out.buf(), f),
            Read::Str(s) => write_json_string(self.out.buf(), &s),
            Read::Array(items) => {
                self.enter()?;
                self.array(items)?;
                self.depth -= 1;
            }
            Read::Object(object) => {
                self.enter()?;
                match self.mode {
                    Mode::Stringify { .. } => self.object_in_order(object)?,
                    Mode::Canonical => self.object_sorted(object)?,
                }
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
        items.for_each(|i, item| {
            self.separator(i);
            if nodes {
                self.out.capture_start();
            }
            self.value(item).map_err(|e| e.within(Seg::Index(i)))?;
            if nodes {
                self.out.capture_end(None);
            }
            self.out.flush_if_full();
            count = i + 1;
            Ok(())
        })?;
        self.close(count, b']');
        Ok(())
    }

    /// A member's key, read and escaped only on a cache miss. (Inlined: returned through
    /// memory, this struct's copies stalled store forwarding.)
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn key(&mut self, key: <S::Object as Object<'s, S>>::Key) -> Result<KeySlot<'s>, CoreError> {
        let identity = S::Object::key_identity(key);
        if let Some(slot) = self.keys.get(identity) {
            return Ok(slot);
        }
        self.key_miss(key, identity)
    }

    #[inline(never)]
    fn key_miss(&mut self, key: <S::Object as Object<'s, S>>::Key, identity: usize) -> Result<KeySlot<'s>, CoreError> {
        let text = S::Object::key_str(key)?;
        Ok(self.keys.put(identity, text))
    }

    fn write_key(&mut self, key: KeySlot<'_>) {
        let buf = self.out.buf();
        if key.len == 0 {
            write_json_string(buf, &key.key);
        } else {
            buf.extend_from_slice(self.keys.bytes(key));
        }
        buf.push(b':');
    }

    fn member(&mut self, n: usize, slot: KeySlot<'_>, value: Option<S>) -> Result<(), CoreError> {
        let key = &slot.key;
        self.separator(n);
        self.write_key(slot);
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
        if capture {
            self.out.capture_start();
        } else if self.capture && top && matches!(value.shape()?, Read::Array(_)) {
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
            self.out.capture_end(Some(key.as_bytes()));
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
            let slot = self.key(key)?;
            match slot.index() {
                Some(index) if named || last_index.is_some_and(|last| index < last) => {
                    return Err(ErrorKind::Reorder.into());
                }
                Some(index) => last_index = Some(index),
                None => named = true,
            }
            self.separator(count);
            self.write_key(slot);
            if pretty {
                self.out.buf().push(b' ');
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

    /// An object in canonical form: members in the order its shape (learned on first
    /// sight) prescribes, `__proto__` dropped.
    fn object_sorted(&mut self, object: S::Object) -> Result<(), CoreError> {
        let base = self.pairs.len();
        let mut hash = 0;
        let collected = object.for_each_keyed(|key, value| {
            let identity = S::Object::key_identity(key);
            hash = Shapes::mix(hash, identity);
            self.pairs.push((key, value));
            self.identities.push(identity);
            Ok(())
        });
        let written = collected.and_then(|()| {
            let (members, count, dropped_proto) = match self.shapes.find(hash, &self.identities[base..]) {
                Some(shape) => (shape.members as usize, shape.count as usize, shape.dropped_proto),
                None => self.learn_shape(base, hash)?,
            };
            if dropped_proto {
                self.out.dropped_proto();
            }
            if self.depth == 1 && (self.capture || self.zero_generated_at) {
                self.members_general(base, members, count)
            } else {
                self.members_fast(base, members, count)
            }
        });
        self.pairs.truncate(base);
        self.identities.truncate(base);
        written
    }

    /// Write the members of the object at `pairs[base..]` as its shape orders them, each
    /// after its prepared prefix.
    fn members_fast(&mut self, base: usize, members: usize, count: usize) -> Result<(), CoreError> {
        if count == 0 {
            self.out.buf().extend_from_slice(b"{}");
            return Ok(());
        }
        for n in members..members + count {
            let ShapeMember { position, start, len } = self.shapes.members[n];
            let buf = self.out.buf();
            let at = buf.len();
            let prefix = &self.shapes.prefixes[start as usize..];
            match prefix.first_chunk::<PAD>() {
                Some(block) if len as usize <= PAD => {
                    buf.extend_from_slice(block);
                    buf.truncate(at + len as usize);
                }
                _ => buf.extend_from_slice(&prefix[..len as usize]),
            }
            let (key, value) = self.pairs[base + position as usize];
            self.value(value).map_err(|e| within_key::<S>(e, key))?;
            self.out.flush_if_full();
        }
        self.out.buf().push(b'}');
        Ok(())
    }

    /// Like [`Writer::members_fast`], through [`Writer::member`]: the top level of
    /// checksums and of the tracker.
    fn members_general(&mut self, base: usize, members: usize, count: usize) -> Result<(), CoreError> {
        self.out.buf().push(b'{');
        for n in 0..count {
            let position = self.shapes.members[members + n].position;
            let key = self.shapes.keys[members + n];
            let (_, value) = self.pairs[base + position as usize];
            self.member(n, key, Some(value))?;
        }
        self.close(count, b'}');
        Ok(())
    }

    /// Sort the keys of the object at `pairs[base..]`, prepare their prefixes and
    /// remember the shape: its first member, member count and whether `__proto__` was
    /// dropped.
    #[cold]
    fn learn_shape(&mut self, base: usize, hash: u64) -> Result<(usize, usize, bool), CoreError> {
        let mut order = Vec::with_capacity(self.pairs.len() - base);
        let mut dropped_proto = false;
        for position in base..self.pairs.len() {
            let slot = self.key(self.pairs[position].0)?;
            // The reference's replacer assigns `sorted["__proto__"] = v`, which sets the
            // prototype instead of creating a property: the key vanishes.
            if slot.key.as_bytes() == b"__proto__" {
                dropped_proto = true;
            } else {
                order.push(((position - base) as u32, slot));
            }
        }
        order.sort_unstable_by(|(_, a), (_, b)| js_order(a, b).then_with(|| a.key.cmp_utf16(&b.key)));
        let too_large = || CoreError::from(ErrorKind::TooLarge { size: usize::MAX, limit: u32::MAX as usize });
        let shapes = &mut self.shapes;
        let members = shapes.members.len();
        let prefixes = &mut shapes.prefixes;
        prefixes.truncate(prefixes.len().saturating_sub(PAD));
        for (n, &(position, key)) in order.iter().enumerate() {
            let start = prefixes.len();
            prefixes.push(if n == 0 { b'{' } else { b',' });
            if key.len == 0 {
                write_json_string(prefixes, &key.key);
            } else {
                prefixes.extend_from_slice(self.keys.bytes(key));
            }
            prefixes.push(b':');
            let len = u32::try_from(prefixes.len() - start).map_err(|_| too_large())?;
            let start = u32::try_from(start).map_err(|_| too_large())?;
            shapes.members.push(ShapeMember { position, start, len });
            shapes.keys.push(key);
        }
        prefixes.resize(prefixes.len() + PAD, 0);
        let identities = shapes.identities.len();
        shapes.identities.extend_from_slice(&self.identities[base..]);
        let shape = Shape {
            hash,
            identities: u32::try_from(identities).map_err(|_| too_large())?,
            len: u32::try_from(self.identities.len() - base).map_err(|_| too_large())?,
            members: u32::try_from(members).map_err(|_| too_large())?,
            count: u32::try_from(order.len()).map_err(|_| too_large())?,
            dropped_proto,
        };
        shapes.insert(shape);
        Ok((members, order.len(), dropped_proto))
    }

    /// `JSON.stringify` order for an object whose array-index keys came out of order:
    /// collect the members, order them, and write them.
    fn object_collected(&mut self, object: S::Object) -> Result<(), CoreError> {
        let base = self.scratch.len();
        let mut position = 0;
        object.for_each_keyed(|key, value| {
            let slot = self.key(key)?;
            self.scratch.push(Member { key: slot, value: Some(value), position });
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
            let slot = self.key(key)?;
            match slot.key.as_bytes() {
                b"__proto__" => self.out.dropped_proto(),
                b"generatedAt" => {
                    has_generated_at = true;
                    self.scratch.push(Member { key: slot, value: None, position });
                }
                _ => self.scratch.push(Member { key: slot, value: Some(value), position }),
            }
            position += 1;
            Ok(())
        })?;
        if !has_generated_at {
            self.scratch.push(Member {
                key: KeySlot::uncached(JsStr::utf8("generatedAt")),
                value: None,
                position: usize::MAX,
            });
        }
        self.write_members(base)?;
        self.depth -= 1;
        Ok(())
    }

    /// Order `scratch[base..]` (JS property order; sorted by UTF-16 in canonical mode),
    /// write it as an object, and pop it.
    fn write_members(&mut self, base: usize) -> Result<(), CoreError> {
        let canonical = self.mode == Mode::Canonical;
        let by_order = |a: &Member<'s, S>, b: &Member<'s, S>| {
            js_order(&a.key, &b.key)
                .then_with(|| if canonical { a.key.key.cmp_utf16(&b.key.key) } else { a.position.cmp(&b.position) })
        };
        let members = &mut self.scratch[base..];
        if !members.is_sorted_by(|a, b| by_order(a, b) != Ordering::Greater) {
            members.sort_unstable_by(by_order);
        }
        let count = members.len();
        self.out.buf().push(b'{');
        for n in 0..count {
            let Member { key, value, .. } = self.scratch[base + n];
            self.member(n, key, value)?;
        }
        self.scratch.truncate(base);
        self.close(count, b'}');
        Ok(())
    }
}

/// JS property order between two keys: array indices first, ascending; any two other
/// keys are equal here (the caller breaks the tie: sorted, or in insertion order).
fn js_order(a: &KeySlot<'_>, b: &KeySlot<'_>) -> Ordering {
    match (a.index(), b.index()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
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
        String::from_utf8(stringify(v, false).unwrap_or_default()).unwrap_or_default()
    }

    fn pretty(v: &Value) -> String {
        String::from_utf8(stringify(v, true).unwrap_or_default()).unwrap_or_default()
    }

    fn canonical(v: &Value) -> String {
        let mut out = Vec::new();
        let ok = Writer::new(&mut out, Mode::Canonical).value(v).is_ok();
        assert!(ok);
        String::from_utf8(out).unwrap_or_default()
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
        assert!(stringify(&v, false).is_ok());
        let deeper = Value::object([("k", Value::Array(vec![v]))]);
        let err = stringify(&deeper, false).err().map(|e| e.to_string()).unwrap_or_default();
        let expected_path = format!("$.k{}", "[0]".repeat(MAX_DEPTH - 1));
        assert_eq!(err, format!("nesting depth exceeds {MAX_DEPTH} at {expected_path}"));
    }
}
