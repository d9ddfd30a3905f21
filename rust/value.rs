//! JSON values with JavaScript semantics, and the `Source` trait every walker reads through.
//!
//! The canonical writer, validation and the delta never see Python: they read values
//! through [`Source`], implemented for Python objects in `bindings::view` (the hot
//! path, no intermediate tree) and for the owned [`Value`] here (cargo tests). `Source`
//! only reads; a faster comparison of a source's own values is the delta's business
//! (`delta::Comparator`, architecture.md, "The native boundary").

use std::cmp::Ordering;

use crate::error::CoreError;

/// A JavaScript string as WTF-8 bytes.
///
/// UTF-8, except that when `wtf8` is set the bytes may also hold surrogate code points
/// (`ED A0..BF xx`), which Python strings can contain and JSON escapes can produce. A
/// high surrogate followed by a low one is the same JS string as the astral character
/// they encode; comparisons and output treat them so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsStr<'a> {
    bytes: &'a [u8],
    /// 1 when the bytes may hold surrogates. A whole word, not a `bool`: a `bool` gives
    /// enclosing `Option`s and `Result`s a niche in a single byte, and copies of those
    /// then stall store forwarding on the hot path.
    wtf8: usize,
}

impl<'a> JsStr<'a> {
    pub(crate) fn utf8(s: &'a str) -> Self {
        JsStr { bytes: s.as_bytes(), wtf8: 0 }
    }

    /// Bytes that may hold surrogate code points.
    pub(crate) fn wtf8(bytes: &'a [u8]) -> Self {
        JsStr { bytes, wtf8: usize::from(has_surrogate(bytes)) }
    }

    /// Bytes whose surrogate content the caller already knows.
    pub(crate) fn with_flag(bytes: &'a [u8], wtf8: bool) -> Self {
        JsStr { bytes, wtf8: usize::from(wtf8) }
    }

    pub(crate) fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// True when the bytes may hold surrogate code points (otherwise valid UTF-8).
    pub(crate) fn is_wtf8(&self) -> bool {
        self.wtf8 != 0
    }

    /// The UTF-16 code units of the string.
    pub(crate) fn units(&self) -> Utf16Units<'_> {
        Utf16Units { bytes: self.bytes, pos: 0, pending: None }
    }

    /// `string.length` in JavaScript.
    pub(crate) fn utf16_len(&self) -> usize {
        // Every 4-byte sequence is two units; every other character is one.
        self.bytes
            .iter()
            .map(|&b| match b {
                0x80..=0xBF => 0,
                0xF0..=0xFF => 2,
                _ => 1,
            })
            .sum()
    }

    /// JS `===` on strings: equal UTF-16 code unit sequences.
    pub(crate) fn js_eq(&self, other: &JsStr<'_>) -> bool {
        if !self.is_wtf8() && !other.is_wtf8() {
            return self.bytes == other.bytes;
        }
        self.units().eq(other.units())
    }

    /// JS default `sort()` order: UTF-16 code units, not code points.
    pub(crate) fn cmp_utf16(&self, other: &JsStr<'_>) -> Ordering {
        let (left, right) = (self.as_bytes(), other.as_bytes());
        let same = left.iter().zip(right).take_while(|(l, r)| l == r).count();
        if same == left.len() || same == right.len() {
            return left.len().cmp(&right.len());
        }
        // Below 0xED the differing bytes are ASCII, 2-byte or low 3-byte leads, or
        // continuation bytes of same-length characters: byte order is UTF-16 order.
        // From 0xED up (high BMP, surrogates, astral) the orders can disagree.
        if left[same] < 0xED && right[same] < 0xED {
            return left[same].cmp(&right[same]);
        }
        let mut ua = Utf16Units { bytes: &left[same..], pos: 0, pending: None };
        let mut ub = Utf16Units { bytes: &right[same..], pos: 0, pending: None };
        loop {
            match (ua.next(), ub.next()) {
                (Some(x), Some(y)) if x == y => {}
                (Some(x), Some(y)) => return x.cmp(&y),
                (x, y) => return x.is_some().cmp(&y.is_some()),
            }
        }
    }
}

/// `bytes` with every high/low surrogate pair joined into its astral character (the
/// UTF-8 form), so that a JS string has one Python representation.
pub(crate) fn join_surrogate_pairs(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !has_surrogate(bytes) {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = match (bytes.get(i..i + 3), bytes.get(i + 3..i + 6)) {
            (Some(&[0xED, h1 @ 0xA0..=0xAF, h2]), Some(&[0xED, l1 @ 0xB0..=0xBF, l2])) => {
                let high = 0xD000 | (u32::from(h1 & 0x3F) << 6) | u32::from(h2 & 0x3F);
                let low = 0xD000 | (u32::from(l1 & 0x3F) << 6) | u32::from(l2 & 0x3F);
                char::from_u32(0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            }
            _ => None,
        };
        if let Some(ch) = pair {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            i += 6;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}

/// True if WTF-8 `bytes` hold a surrogate code point.
pub(crate) fn has_surrogate(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] == 0xED && w[1] >= 0xA0)
}

/// Decodes WTF-8 into UTF-16 code units.
pub(crate) struct Utf16Units<'a> {
    bytes: &'a [u8],
    pos: usize,
    pending: Option<u16>,
}

impl Iterator for Utf16Units<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if let Some(unit) = self.pending.take() {
            return Some(unit);
        }
        let b = self.bytes;
        let i = self.pos;
        let lead = *b.get(i)?;
        let cont = |k: usize| u32::from(b.get(i + k).copied().unwrap_or(0x80) & 0x3F);
        let (cp, len) = match lead {
            0x00..=0x7F => (u32::from(lead), 1),
            0xC0..=0xDF => ((u32::from(lead & 0x1F) << 6) | cont(1), 2),
            0xE0..=0xEF => ((u32::from(lead & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3),
            0xF0..=0xF7 => ((u32::from(lead & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4),
            // A stray continuation byte cannot occur in WTF-8; step over it.
            _ => (0xFFFD, 1),
        };
        self.pos = i + len;
        if cp >= 0x1_0000 {
            let c = cp - 0x1_0000;
            self.pending = Some(0xDC00 | (c & 0x3FF) as u16);
            Some(0xD800 | (c >> 10) as u16)
        } else {
            Some(cp as u16)
        }
    }
}

/// What a value is, as JavaScript sees parsed JSON. Strings borrow from the tree (`'s`).
/// (`repr(C, usize)`: a plain word-sized tag; niche-packed layouts made the compiler
/// copy these in overlapping pieces, which stalls store forwarding on the hot path.)
#[repr(C, usize)]
pub(crate) enum Read<'s, S: Source<'s>> {
    Null,
    Bool(bool),
    /// An integer that fits `i64` exactly (JS rounds it to a double when used as one).
    Int(i64),
    Float(f64),
    Str(JsStr<'s>),
    Array(S::Array),
    Object(S::Object),
}

/// A borrowed view of a tree of JSON values (lifetime `'s`) that the core walks without
/// converting it first. Views are `Copy`: they point into the tree. Containers are
/// iterated internally (`for_each`), which keeps the hot loops tight.
pub(crate) trait Source<'s>: Copy + 's {
    type Array: Array<'s, Self>;
    type Object: Object<'s, Self>;

    fn read(self) -> Result<Read<'s, Self>, CoreError>;

    /// `obj[key]` for an object; `None` (JS `undefined`) when absent or not an object.
    fn get(self, key: &'static str) -> Result<Option<Self>, CoreError>;

    /// The value's type name, for error messages.
    fn type_name(self) -> String;

    /// True for a plain mapping (a Python `dict`), false for other objects (a Struct):
    /// a schema must be plain data.
    fn is_dict(self) -> bool {
        true
    }

    /// The value's identity (JS `===` on objects and arrays compares identities).
    fn identity(self) -> usize;

    /// Like `read`, for walks that only need to know where the containers are: every
    /// scalar may come back as `Read::Null`, without its data being read.
    fn shape(self) -> Result<Read<'s, Self>, CoreError> {
        self.read()
    }

    /// The text and array-item spans of the parsed document this value belongs to, when
    /// it kept them: the tracker reuses the parts of the previous version whose text did
    /// not change (`tracker::reuse`). Other sources have none.
    fn origin(self) -> Option<crate::document::Origin<'s>> {
        None
    }

    /// A hint that the value will be read soon: a source whose values live scattered in
    /// memory (Python objects) starts loading it, so that walks overlap their cache
    /// misses instead of waiting on each in turn.
    #[inline]
    fn prefetch(self) {}

    /// True if the value is a JSON scalar (string, number, boolean or null), found
    /// without reading it.
    #[inline]
    fn is_scalar(self) -> bool {
        matches!(self.shape(), Ok(Read::Null | Read::Bool(_) | Read::Int(_) | Read::Float(_) | Read::Str(_)))
    }
}

/// A plain object (a dict, not a Struct); a value that is not JSON is not one either.
pub(crate) fn is_dict<'s, S: Source<'s>>(value: S) -> Result<bool, CoreError> {
    match value.read() {
        Ok(Read::Object(_)) => Ok(value.is_dict()),
        Ok(_) => Ok(false),
        Err(e) if matches!(e.kind(), crate::error::ErrorKind::Unsupported { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) trait Array<'s, S>: Copy {
    fn len(self) -> usize;

    /// The item at `index`, if there is one.
    fn get(self, index: usize) -> Result<Option<S>, CoreError>;

    /// Call `f` with each item in order, stopping at the first error.
    fn for_each(self, f: impl FnMut(usize, S) -> Result<(), CoreError>) -> Result<(), CoreError>;
}

pub(crate) trait Object<'s, S>: Copy {
    /// A member's key as the source holds it (for Python, the key object itself).
    type Key: Copy;

    fn len(self) -> usize;

    /// Call `f` with each member in the object's own order, stopping at the first error.
    /// A key that is not a string is an error (`NonStrKey`).
    fn for_each(self, f: impl FnMut(JsStr<'s>, S) -> Result<(), CoreError>) -> Result<(), CoreError>;

    /// Like `for_each`, with keys left as they are (checked to be strings, not decoded).
    fn for_each_keyed(self, f: impl FnMut(Self::Key, S) -> Result<(), CoreError>) -> Result<(), CoreError>;

    /// The key as a JS string.
    fn key_str(key: Self::Key) -> Result<JsStr<'s>, CoreError>;

    /// The key's identity: equal identities mean the same key text (within one walk).
    fn key_identity(key: Self::Key) -> usize;

    /// `self[key]` for a key taken from another object of the same source.
    fn lookup(self, key: Self::Key) -> Result<Option<S>, CoreError>;

    /// The member after `cursor` (which starts at 0), advancing it: an external
    /// iterator, for walking two objects side by side.
    fn next_member(self, cursor: &mut usize) -> Result<Option<(Self::Key, S)>, CoreError>;

    /// JS string equality of two keys.
    fn key_eq(a: Self::Key, b: Self::Key) -> Result<bool, CoreError>;

    /// False for a key whose lookups could behave unlike its text (a Python `str`
    /// subclass): `get` on its object is then the only safe way to find a member.
    #[inline]
    fn key_plain(_key: Self::Key) -> bool {
        true
    }
}

/// An owned JSON value (insertion-ordered objects), used by cargo tests.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// WTF-8 bytes.
    Str(Vec<u8>),
    Array(Vec<Value>),
    Object(Vec<(Vec<u8>, Value)>),
}

#[cfg(test)]
impl Value {
    pub(crate) fn str(s: &str) -> Value {
        Value::Str(s.as_bytes().to_vec())
    }

    pub(crate) fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Object(entries.into_iter().map(|(k, v)| (k.as_bytes().to_vec(), v)).collect())
    }
}

#[cfg(test)]
impl<'v> Array<'v, &'v Value> for &'v [Value] {
    fn len(self) -> usize {
        <[Value]>::len(self)
    }

    fn get(self, index: usize) -> Result<Option<&'v Value>, CoreError> {
        Ok(<[Value]>::get(self, index))
    }

    fn for_each(self, mut f: impl FnMut(usize, &'v Value) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.iter().enumerate().try_for_each(|(i, v)| f(i, v))
    }
}

#[cfg(test)]
impl<'v> Object<'v, &'v Value> for &'v [(Vec<u8>, Value)] {
    type Key = &'v [u8];

    fn len(self) -> usize {
        <[(Vec<u8>, Value)]>::len(self)
    }

    fn for_each(self, mut f: impl FnMut(JsStr<'v>, &'v Value) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.iter().try_for_each(|(k, v)| f(JsStr::wtf8(k), v))
    }

    fn for_each_keyed(self, mut f: impl FnMut(&'v [u8], &'v Value) -> Result<(), CoreError>) -> Result<(), CoreError> {
        self.iter().try_for_each(|(k, v)| f(k, v))
    }

    fn key_str(key: &'v [u8]) -> Result<JsStr<'v>, CoreError> {
        Ok(JsStr::wtf8(key))
    }

    fn key_identity(key: &'v [u8]) -> usize {
        key.as_ptr() as usize
    }

    fn lookup(self, key: &'v [u8]) -> Result<Option<&'v Value>, CoreError> {
        Ok(self.iter().find(|(k, _)| k == key).map(|(_, v)| v))
    }

    fn next_member(self, cursor: &mut usize) -> Result<Option<(&'v [u8], &'v Value)>, CoreError> {
        let member = self.get(*cursor).map(|(k, v)| (k.as_slice(), v));
        *cursor += 1;
        Ok(member)
    }

    fn key_eq(a: &'v [u8], b: &'v [u8]) -> Result<bool, CoreError> {
        Ok(JsStr::wtf8(a).js_eq(&JsStr::wtf8(b)))
    }
}

#[cfg(test)]
impl<'v> Source<'v> for &'v Value {
    type Array = &'v [Value];
    type Object = &'v [(Vec<u8>, Value)];

    fn read(self) -> Result<Read<'v, Self>, CoreError> {
        Ok(match self {
            Value::Null => Read::Null,
            Value::Bool(b) => Read::Bool(*b),
            Value::Int(i) => Read::Int(*i),
            Value::Float(f) => Read::Float(*f),
            Value::Str(s) => Read::Str(JsStr::wtf8(s)),
            Value::Array(items) => Read::Array(items.as_slice()),
            Value::Object(entries) => Read::Object(entries.as_slice()),
        })
    }

    fn get(self, key: &'static str) -> Result<Option<Self>, CoreError> {
        Ok(match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        })
    }

    fn type_name(self) -> String {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Array(_) => "list",
            Value::Object(_) => "dict",
        }
        .to_owned()
    }

    fn identity(self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> JsStr<'_> {
        JsStr::utf8(x)
    }

    #[test]
    fn utf16_length_counts_astral_as_two() {
        assert_eq!(s("abc").utf16_len(), 3);
        assert_eq!(s("é😀").utf16_len(), 3);
        assert_eq!(JsStr::wtf8(b"a\xED\xA0\x80").utf16_len(), 2);
    }

    #[test]
    fn utf16_order_puts_astral_before_high_bmp() {
        // U+1F600 is D83D DE00 in UTF-16: before U+E000..U+FFFF, unlike code point order.
        assert_eq!(s("😀").cmp_utf16(&s("\u{FF21}")), Ordering::Less);
        assert_eq!(s("\u{FF21}").cmp_utf16(&s("😀")), Ordering::Greater);
        assert_eq!(s("a").cmp_utf16(&s("b")), Ordering::Less);
        assert_eq!(s("ab").cmp_utf16(&s("a")), Ordering::Greater);
        assert_eq!(s("é").cmp_utf16(&s("è")), Ordering::Greater);
        // A lone low surrogate DC00 sorts after the high surrogate D83D of an emoji.
        assert_eq!(JsStr::wtf8(b"\xED\xB0\x80").cmp_utf16(&s("😀")), Ordering::Greater);
    }

    #[test]
    fn joins_pairs_only() {
        assert_eq!(&*join_surrogate_pairs(b"a\xED\xA0\xBD\xED\xB8\x80b"), "a😀b".as_bytes());
        assert_eq!(&*join_surrogate_pairs(b"\xED\xB8\x80\xED\xA0\xBD"), b"\xED\xB8\x80\xED\xA0\xBD");
        assert_eq!(&*join_surrogate_pairs(b"plain"), b"plain");
    }

    #[test]
    fn split_surrogate_pair_equals_astral_char() {
        let pair = JsStr::wtf8(b"\xED\xA0\xBD\xED\xB8\x80");
        assert!(pair.is_wtf8());
        assert!(pair.js_eq(&s("😀")));
        assert_eq!(pair.cmp_utf16(&s("😀")), Ordering::Equal);
        assert!(!s("abc").is_wtf8());
    }
}
