//! `SchemaDocument`: an immutable JSON document owned by the core.
//!
//! A server reads a schema file and writes update frames; it never needs the schema as
//! Python objects (architecture.md, "The save pipeline"). A [`Document`] holds the
//! parsed value in a few flat arrays (no allocation per value), and [`DocRef`] views it
//! as a [`Source`], so the canonical writer, checksums, the delta, the patch diff and
//! the tracker run on it exactly as they run on Python objects: same bytes, same
//! checksums, same errors.
//!
//! # Layout
//!
//! - `nodes`: every value, 16 bytes each. A container's node holds the range of its
//!   children in `items` (arrays) or `members` (objects); a string's node, the range of
//!   its bytes in `text`.
//! - `members`: an object's members in the order a Python dict built by `json.loads`
//!   would hold them (duplicate keys: the last value, at the first key's place). Keys
//!   are interned: each distinct key text is one [`KeyText`], so comparing two keys of
//!   one document is comparing two pointers, and a key's identity is its address.
//! - `text`: the bytes of every string value (WTF-8: an escape may produce a lone
//!   surrogate).
//!
//! Identities ([`Source::identity`]) are node addresses: stable for the document's life,
//! distinct between documents, which is what the tracker's hash cache needs.

pub(crate) mod parse;
pub(crate) mod runs;

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use crate::checksum::Algorithm;
use crate::error::CoreError;
use crate::tracker::TrackerState;
use crate::value::{Array, JsStr, Object, Read, Source};
use runs::Same;

/// One value. 16 bytes: offsets are `u32` (documents are limited to far below 4 GiB).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// An integer literal that fits `i64`.
    Int(i64),
    Float(f64),
    /// An integer literal beyond `i64`: its digits in `text` (for `to_python`, which makes
    /// a Python `int` of it as `json.loads` does); read as the nearest double.
    BigInt {
        at: u32,
        len: u32,
    },
    Str {
        at: u32,
        len: u32,
        wtf8: bool,
    },
    Array {
        first: u32,
        len: u32,
    },
    Object {
        first: u32,
        len: u32,
    },
}

/// One object member: an interned key and the value's node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub(crate) key: u32,
    pub(crate) value: u32,
}

/// An interned key's text.
#[derive(Debug)]
pub(crate) struct KeyText {
    pub(crate) bytes: Vec<u8>,
    pub(crate) wtf8: bool,
}

/// An immutable parsed JSON document (module docs).
pub(crate) struct Document {
    pub(crate) nodes: Vec<Node>,
    pub(crate) items: Vec<u32>,
    pub(crate) members: Vec<Member>,
    pub(crate) keys: Vec<KeyText>,
    pub(crate) text: Vec<u8>,
    pub(crate) root: u32,
    /// Checksums by algorithm, computed on first use.
    checksums: [OnceLock<String>; 2],
    /// What the tracker computed of this document (its checksum and per-part hashes),
    /// by algorithm: the next update diffs against it without walking this document
    /// again.
    tracked: [OnceLock<TrackerState>; 2],
    /// Where each array item that is an object lies in the text, in pre-order (so in
    /// ascending order of node and of start), for items of at least 256 bytes of text.
    /// Made by the fast parser only: empty when the reference parser built the document.
    pub(crate) elements: Vec<ElementSpan>,
    /// The text the document was parsed from, when its owner lends it (the binding: the
    /// Python `bytes` object, without a copy). With `elements`, it lets the tracker find
    /// the parts of the next version whose text did not change ([`Origin`]).
    raw: Option<Box<dyn AsRef<[u8]> + Send + Sync>>,
}

/// An array item that is an object: its node, its text `start..end` in the input, and
/// what parsing it added to the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ElementSpan {
    pub(crate) node: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) built: Built,
}

/// What parsing an array item added to a document: its nodes (`node..nodes_end`, its own
/// first, in pre-order), ranges of `items`, `members` and `text` (the item's containers
/// close, and its strings are stored, while it is parsed), and the depth of the item's
/// object. The next version's parse copies all of it for an item whose text did not
/// change (`parse::Copier`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Built {
    pub(crate) nodes_end: u32,
    pub(crate) items: [u32; 2],
    pub(crate) members: [u32; 2],
    pub(crate) text: [u32; 2],
    pub(crate) depth: u32,
}

/// A document's text and where its array-item objects lie in it ([`Source::origin`]).
/// Two documents whose texts hold the same bytes for an item hold equal values there,
/// with the same structure below it: the tracker reuses what it wrote of the previous
/// version's item instead of writing it again (`tracker::reuse`).
#[derive(Clone, Copy)]
pub(crate) struct Origin<'d> {
    pub(crate) raw: &'d [u8],
    pub(crate) elements: &'d [ElementSpan],
    nodes: &'d [Node],
}

impl Origin<'_> {
    /// The ordinal (index in `elements`) of the array-item object with this identity;
    /// `hint` is where it probably is (walks meet the items in order).
    pub(crate) fn ordinal_of(&self, identity: usize, hint: usize) -> Option<usize> {
        let base = self.nodes.as_ptr() as usize;
        let offset = identity.checked_sub(base)?;
        if offset % size_of::<Node>() != 0 {
            return None;
        }
        let node = u32::try_from(offset / size_of::<Node>()).ok()?;
        if self.elements.get(hint).is_some_and(|e| e.node == node) {
            return Some(hint);
        }
        self.elements.binary_search_by_key(&node, |e| e.node).ok()
    }

    /// The identity of the array-item object with this ordinal.
    pub(crate) fn identity_of(&self, ordinal: usize) -> Option<usize> {
        let span = self.elements.get(ordinal)?;
        self.nodes.get(span.node as usize).map(|node| std::ptr::from_ref(node) as usize)
    }

    /// The ordinal of this (previous) version's array-item object whose text is the
    /// same bytes as the next version's item that starts at `start`, if there is one:
    /// an item here at the offset `runs` (the runs of bytes the two texts share, see
    /// [`runs::same_text`]) gives for `start`, all of whose text lies in that run. Same
    /// bytes are the same value, with the same items inside. `hint` is where the item
    /// probably is (walks meet the items in order).
    pub(crate) fn same_item(&self, runs: &[Same], start: u32, hint: usize) -> Option<usize> {
        let old_start = runs::old_offset(runs, start, start.checked_add(1)?)?;
        let ordinal = if self.elements.get(hint).is_some_and(|e| e.start == old_start) {
            hint
        } else {
            self.elements.binary_search_by_key(&old_start, |e| e.start).ok()?
        };
        let span = self.elements.get(ordinal)?;
        let len = span.end.checked_sub(span.start)?;
        (runs::old_offset(runs, start, start.checked_add(len)?) == Some(old_start)).then_some(ordinal)
    }

    /// The ordinal after the last array-item object inside the one with this ordinal
    /// (pre-order: the ones inside it are the ordinals between). Searched from the item
    /// outwards (most items hold few others), in steps that double, then by halves.
    pub(crate) fn subtree_end(&self, ordinal: usize) -> usize {
        let Some(span) = self.elements.get(ordinal) else { return ordinal };
        let rest = self.elements.get(ordinal + 1..).unwrap_or_default();
        let inside = |e: &ElementSpan| e.start < span.end;
        let mut bound = 1;
        while bound <= rest.len() && rest.get(bound - 1).is_some_and(inside) {
            bound *= 2;
        }
        let low = bound / 2;
        let high = bound.min(rest.len());
        ordinal + 1 + low + rest.get(low..high).unwrap_or_default().partition_point(inside)
    }
}

fn slot(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::Sha256 => 0,
        Algorithm::Xxh3 => 1,
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.nodes.len())
            .field("text", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl Document {
    /// The root value.
    pub(crate) fn root(&self) -> DocRef<'_> {
        self.at(self.root)
    }

    fn at(&self, index: u32) -> DocRef<'_> {
        DocRef { doc: self, node: self.nodes.get(index as usize).unwrap_or(&Node::Null) }
    }

    /// The checksum with `algorithm`, computed once.
    pub(crate) fn checksum(&self, algorithm: Algorithm) -> Result<String, CoreError> {
        let cell = &self.checksums[slot(algorithm)];
        if let Some(sum) = cell.get() {
            return Ok(sum.clone());
        }
        let sum = crate::checksum::checksum(self.root(), algorithm)?;
        Ok(cell.get_or_init(|| sum).clone())
    }

    /// Keep the text the document was parsed from (it must be that text: the parser's
    /// input, unchanged), so that the tracker can reuse parts of this version.
    pub(crate) fn lend_text(&mut self, raw: Box<dyn AsRef<[u8]> + Send + Sync>) {
        self.raw = Some(raw);
    }

    /// The document's text and the spans of its array-item objects, if it kept them.
    pub(crate) fn origin(&self) -> Option<Origin<'_>> {
        let raw = self.raw.as_deref()?.as_ref();
        (!self.elements.is_empty()).then_some(Origin { raw, elements: &self.elements, nodes: &self.nodes })
    }

    /// The tracker's state of this document for `algorithm`, if it was tracked.
    pub(crate) fn tracked(&self, algorithm: Algorithm) -> Option<&TrackerState> {
        self.tracked[slot(algorithm)].get()
    }

    /// Keep the tracker's state of this document (and its checksum); a state kept before
    /// stays (both describe the same immutable content).
    pub(crate) fn keep_tracked(&self, algorithm: Algorithm, state: TrackerState) {
        let _ = self.checksums[slot(algorithm)].set(state.checksum.clone());
        let _ = self.tracked[slot(algorithm)].set(state);
    }

    /// Heap bytes held by the document (not counting the caches).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>()
            + self.items.capacity() * size_of::<u32>()
            + self.members.capacity() * size_of::<Member>()
            + self.keys.iter().map(|k| k.bytes.len() + size_of::<KeyText>()).sum::<usize>()
            + self.text.capacity()
            + self.elements.capacity() * size_of::<ElementSpan>()
    }
}

/// A view of one value of a [`Document`].
#[derive(Clone, Copy)]
pub(crate) struct DocRef<'d> {
    doc: &'d Document,
    node: &'d Node,
}

impl<'d> DocRef<'d> {
    pub(crate) fn node(self) -> &'d Node {
        self.node
    }

    pub(crate) fn document(self) -> &'d Document {
        self.doc
    }

    fn text(self, at: u32, len: u32) -> &'d [u8] {
        self.doc.text.get(at as usize..at as usize + len as usize).unwrap_or_default()
    }
}

/// The nearest double to an integer literal too large for `i64`, as `JSON.parse` reads it
/// (beyond the double range: infinity with the literal's sign).
pub(crate) fn big_int_value(literal: &[u8]) -> f64 {
    let text = std::str::from_utf8(literal).unwrap_or("0");
    text.parse::<f64>().unwrap_or(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY })
}

/// An array of a document.
#[derive(Clone, Copy)]
pub(crate) struct DocArray<'d> {
    doc: &'d Document,
    items: &'d [u32],
}

/// An object of a document.
#[derive(Clone, Copy)]
pub(crate) struct DocObject<'d> {
    doc: &'d Document,
    members: &'d [Member],
}

impl<'d> DocObject<'d> {
    fn key(self, member: Member) -> &'d KeyText {
        // Interned keys are all in `keys` (the parser made them); an out-of-range index
        // cannot occur, and reads as the empty key rather than panicking.
        static EMPTY: KeyText = KeyText { bytes: Vec::new(), wtf8: false };
        self.doc.keys.get(member.key as usize).unwrap_or(&EMPTY)
    }
}

impl<'d> Array<'d, DocRef<'d>> for DocArray<'d> {
    #[inline]
    fn len(self) -> usize {
        self.items.len()
    }

    #[inline]
    fn get(self, index: usize) -> Result<Option<DocRef<'d>>, CoreError> {
        Ok(self.items.get(index).map(|&i| self.doc.at(i)))
    }

    #[inline]
    fn for_each(self, mut f: impl FnMut(usize, DocRef<'d>) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.items.iter().enumerate().try_for_each(|(i, &item)| f(i, self.doc.at(item)))
    }
}

impl<'d> Object<'d, DocRef<'d>> for DocObject<'d> {
    type Key = &'d KeyText;

    #[inline]
    fn len(self) -> usize {
        self.members.len()
    }

    #[inline]
    fn for_each(self, mut f: impl FnMut(JsStr<'d>, DocRef<'d>) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.members.iter().try_for_each(|&m| {
            let key = self.key(m);
            f(JsStr::with_flag(&key.bytes, key.wtf8), self.doc.at(m.value))
        })
    }

    #[inline]
    fn for_each_keyed(
        self,
        mut f: impl FnMut(&'d KeyText, DocRef<'d>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        self.members.iter().try_for_each(|&m| f(self.key(m), self.doc.at(m.value)))
    }

    #[inline]
    fn key_str(key: &'d KeyText) -> Result<JsStr<'d>, CoreError> {
        Ok(JsStr::with_flag(&key.bytes, key.wtf8))
    }

    #[inline]
    fn key_identity(key: &'d KeyText) -> usize {
        std::ptr::from_ref(key) as usize
    }

    fn lookup(self, key: &'d KeyText) -> Result<Option<DocRef<'d>>, CoreError> {
        // A key of this document matches by address; one of another document by text
        // (interned keys are distinct texts: Python dicts and JS objects alike compare
        // keys by their code units, which decoded escapes make one byte form).
        let found = self.members.iter().find(|&&m| {
            let own = self.key(m);
            std::ptr::eq(own, key) || own.bytes == key.bytes
        });
        Ok(found.map(|&m| self.doc.at(m.value)))
    }

    #[inline]
    fn next_member(self, cursor: &mut usize) -> Result<Option<(&'d KeyText, DocRef<'d>)>, CoreError> {
        let member = self.members.get(*cursor).map(|&m| (self.key(m), self.doc.at(m.value)));
        *cursor += 1;
        Ok(member)
    }

    #[inline]
    fn key_eq(a: &'d KeyText, b: &'d KeyText) -> Result<bool, CoreError> {
        Ok(std::ptr::eq(a, b) || a.bytes == b.bytes)
    }
}

impl<'d> Source<'d> for DocRef<'d> {
    type Array = DocArray<'d>;
    type Object = DocObject<'d>;

    // Every walk reads through this; inlined, the read is a load and a jump table.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read(self) -> Result<Read<'d, Self>, CoreError> {
        let doc = self.doc;
        Ok(match *self.node {
            Node::Null => Read::Null,
            Node::Bool(b) => Read::Bool(b),
            Node::Int(i) => Read::Int(i),
            Node::Float(f) => Read::Float(f),
            Node::BigInt { at, len } => Read::Float(big_int_value(self.text(at, len))),
            Node::Str { at, len, wtf8 } => Read::Str(JsStr::with_flag(self.text(at, len), wtf8)),
            Node::Array { first, len } => Read::Array(DocArray {
                doc,
                items: doc.items.get(first as usize..first as usize + len as usize).unwrap_or_default(),
            }),
            Node::Object { first, len } => Read::Object(DocObject {
                doc,
                members: doc.members.get(first as usize..first as usize + len as usize).unwrap_or_default(),
            }),
        })
    }

    fn get(self, key: &'static str) -> Result<Option<Self>, CoreError> {
        match self.read()? {
            Read::Object(object) => {
                let found = object.members.iter().find(|&&m| &*object.key(m).bytes == key.as_bytes());
                Ok(found.map(|&m| self.doc.at(m.value)))
            }
            _ => Ok(None),
        }
    }

    fn type_name(self) -> String {
        match self.node {
            Node::Null => "NoneType",
            Node::Bool(_) => "bool",
            Node::Int(_) | Node::BigInt { .. } => "int",
            Node::Float(_) => "float",
            Node::Str { .. } => "str",
            Node::Array { .. } => "list",
            Node::Object { .. } => "dict",
        }
        .to_owned()
    }

    #[inline]
    fn identity(self) -> usize {
        std::ptr::from_ref(self.node) as usize
    }

    #[inline]
    fn is_scalar(self) -> bool {
        !matches!(self.node, Node::Array { .. } | Node::Object { .. })
    }

    fn origin(self) -> Option<Origin<'d>> {
        self.doc.origin()
    }
}

/// Builds a [`Document`]: the parser's sink, and the interning of keys.
pub(crate) struct DocBuilder {
    doc: Document,
    /// Key text -> index in `keys`, for keys longer than [`SHORT_KEY`] bytes.
    interned: FxHashMap<Box<[u8]>, u32>,
    /// Short keys (most are: `id`, `type`, `props`...), direct-mapped by their bytes: a
    /// hit compares two words, with no hashing of the key and no `memcmp` call.
    short: Box<[ShortKey]>,
}

/// Keys up to this long are interned through [`DocBuilder::short`].
const SHORT_KEY: usize = 16;
const SHORT_SLOTS: usize = 1024;

/// A short key's bytes as two words (zero-padded) and its length, and its index in
/// `keys` (`u32::MAX`: an empty slot).
#[derive(Clone, Copy)]
struct ShortKey {
    words: [u64; 2],
    len: u32,
    key: u32,
}

impl ShortKey {
    const EMPTY: ShortKey = ShortKey { words: [0; 2], len: 0, key: u32::MAX };

    /// Two words that, with the length, tell apart every key of at most [`SHORT_KEY`]
    /// bytes: read straight from the bytes (overlapping reads, no copy).
    #[inline]
    fn words(bytes: &[u8]) -> [u64; 2] {
        let n = bytes.len();
        let word8 = |at: usize| {
            let mut w = [0u8; 8];
            if let Some(src) = bytes.get(at..at + 8) {
                w.copy_from_slice(src);
            }
            u64::from_le_bytes(w)
        };
        let word4 = |at: usize| {
            let mut w = [0u8; 4];
            if let Some(src) = bytes.get(at..at + 4) {
                w.copy_from_slice(src);
            }
            u64::from(u32::from_le_bytes(w))
        };
        let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0));
        match n {
            8.. => [word8(0), word8(n - 8)],
            4..=7 => [word4(0) | (word4(n - 4) << 32), 0],
            1..=3 => [byte(0) | (byte(n / 2) << 8) | (byte(n - 1) << 16), 0],
            0 => [0, 0],
        }
    }

    #[inline]
    fn slot(words: [u64; 2], len: usize) -> usize {
        let mixed = (words[0] ^ words[1].rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHORT_SLOTS.trailing_zeros())) as usize
    }
}

impl DocBuilder {
    pub(crate) fn with_capacity(input_len: usize) -> Self {
        // Room for compact schema JSON, which has a value about every 15 bytes and a
        // member every 17: reserved, not touched, so generous estimates cost no memory,
        // and `finish` gives back what is left.
        DocBuilder {
            doc: Document {
                nodes: Vec::with_capacity(input_len / 10 + 16),
                items: Vec::with_capacity(input_len / 40 + 16),
                members: Vec::with_capacity(input_len / 12 + 16),
                keys: Vec::new(),
                text: Vec::with_capacity(input_len / 3 + 16),
                root: 0,
                checksums: [OnceLock::new(), OnceLock::new()],
                tracked: [OnceLock::new(), OnceLock::new()],
                elements: Vec::new(),
                raw: None,
            },
            interned: FxHashMap::default(),
            short: vec![ShortKey::EMPTY; SHORT_SLOTS].into_boxed_slice(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, node: Node) -> u32 {
        let at = self.doc.nodes.len() as u32;
        self.doc.nodes.push(node);
        at
    }

    #[inline]
    pub(crate) fn set(&mut self, at: u32, node: Node) {
        if let Some(slot) = self.doc.nodes.get_mut(at as usize) {
            *slot = node;
        }
    }

    /// Store string bytes; their `(at, len)` in `text`.
    #[inline]
    pub(crate) fn text(&mut self, bytes: &[u8]) -> (u32, u32) {
        let at = self.doc.text.len() as u32;
        self.doc.text.extend_from_slice(bytes);
        (at, bytes.len() as u32)
    }

    #[inline]
    pub(crate) fn string(&mut self, bytes: &[u8], wtf8: bool) -> u32 {
        let (at, len) = self.text(bytes);
        self.push(Node::Str { at, len, wtf8 })
    }

    /// The interned index of a key.
    #[inline]
    pub(crate) fn key(&mut self, bytes: &[u8], wtf8: bool) -> u32 {
        if bytes.len() > SHORT_KEY {
            return self.long_key(bytes, wtf8);
        }
        let words = ShortKey::words(bytes);
        let slot = ShortKey::slot(words, bytes.len());
        if let Some(entry) = self.short.get(slot)
            && entry.key != u32::MAX
            && entry.words == words
            && entry.len as usize == bytes.len()
        {
            return entry.key;
        }
        let key = self.long_key(bytes, wtf8);
        if let Some(entry) = self.short.get_mut(slot) {
            *entry = ShortKey { words, len: bytes.len() as u32, key };
        }
        key
    }

    #[cold]
    fn long_key(&mut self, bytes: &[u8], wtf8: bool) -> u32 {
        if let Some(&k) = self.interned.get(bytes) {
            return k;
        }
        let k = self.doc.keys.len() as u32;
        self.doc.keys.push(KeyText { bytes: bytes.to_vec(), wtf8 });
        self.interned.insert(bytes.into(), k);
        k
    }

    /// Close an array whose item nodes are `items`.
    #[inline]
    pub(crate) fn array_items(&mut self, items: &[u32]) -> Node {
        let first = self.doc.items.len() as u32;
        self.doc.items.extend_from_slice(items);
        Node::Array { first, len: items.len() as u32 }
    }

    /// Close an object whose members are `members` in source order, duplicates
    /// included: JS and Python keep the last value at the first key's place.
    #[inline]
    pub(crate) fn object_members(&mut self, members: &[Member]) -> Node {
        let first = self.doc.members.len() as u32;
        if has_duplicates(members) {
            let mut place: FxHashMap<u32, usize> = FxHashMap::default();
            for &member in members {
                let at = self.doc.members.len() - first as usize;
                if let Some(&earlier) = place.get(&member.key) {
                    if let Some(slot) = self.doc.members.get_mut(first as usize + earlier) {
                        slot.value = member.value;
                    }
                } else {
                    place.insert(member.key, at);
                    self.doc.members.push(member);
                }
            }
        } else {
            self.doc.members.extend_from_slice(members);
        }
        Node::Object { first, len: self.doc.members.len() as u32 - first }
    }

    pub(crate) fn finish(mut self, root: u32) -> Document {
        self.doc.root = root;
        self.doc.nodes.shrink_to_fit();
        self.doc.items.shrink_to_fit();
        self.doc.members.shrink_to_fit();
        self.doc.text.shrink_to_fit();
        self.doc.elements.shrink_to_fit();
        self.doc
    }
}

/// True if two members share a key.
#[inline]
fn has_duplicates(members: &[Member]) -> bool {
    if members.len() <= 16 {
        return members.iter().enumerate().any(|(i, m)| members[..i].iter().any(|n| n.key == m.key));
    }
    let mut seen = rustc_hash::FxHashSet::default();
    !members.iter().all(|m| seen.insert(m.key))
}

#[cfg(test)]
mod tests;

/// Why a parsed JSON value is not a usable Lumora schema, or `None`: the top level must
/// be an object with a `metadata` object (the checksum needs it) and a `nodes` array of
/// objects (the delta needs it). The texts are `lumora_fast.pure.shape`'s.
pub(crate) fn schema_problem<'s, S: Source<'s>>(schema: S) -> Result<Option<String>, CoreError> {
    fn json_type<'s, S: Source<'s>>(value: S) -> Result<&'static str, CoreError> {
        Ok(match value.read()? {
            Read::Null => "null",
            Read::Bool(_) => "boolean",
            Read::Int(_) | Read::Float(_) => "number",
            Read::Str(_) => "string",
            Read::Array(_) => "array",
            Read::Object(_) => "object",
        })
    }
    if !matches!(schema.read()?, Read::Object(_)) {
        return Ok(Some(format!("the top level is a JSON {}, not an object", json_type(schema)?)));
    }
    if !matches!(schema.get("metadata")?.map(Source::read).transpose()?, Some(Read::Object(_))) {
        return Ok(Some("'metadata' must be an object".to_owned()));
    }
    let Some(Read::Array(nodes)) = schema.get("nodes")?.map(Source::read).transpose()? else {
        return Ok(Some("'nodes' must be an array".to_owned()));
    };
    let mut problem = None;
    nodes.for_each(|index, node| {
        if problem.is_none() && !matches!(node.read()?, Read::Object(_)) {
            problem = Some(format!("nodes[{index}] is a JSON {}, not an object", json_type(node)?));
        }
        Ok(())
    })?;
    Ok(problem)
}
