//! JSON text to a [`Document`], with `JSON.parse`'s grammar and `json.loads`'s values.
//!
//! Two parsers share the work. The fast one builds the document's flat arrays directly
//! (no allocation per value: children collect on two shared stacks and are copied out
//! when their container closes; string scanning takes 8 bytes at a time). It does not
//! explain failures: at its first doubt it gives up, and the reference parser
//! (`crate::parse`, which `loads` uses) parses the text again into the same document,
//! producing the exact error `loads` raises (message, line, column) or, should the fast
//! one ever give up on valid text, the document. The fuzz target `document` checks that
//! the two agree on every input.

use crate::error::{CoreError, MAX_DEPTH};
use crate::parse::{Builder, hex4, push_code_point};
use crate::value::{JsStr, has_surrogate};

use super::runs::{Same, same_text};
use super::{Built, DocBuilder, Document, ElementSpan, Member, Node, Origin};

/// Python refuses to convert integers of more than 4300 digits from text; `json.loads`
/// (and so `loads`) reads them as doubles (see `bindings::build`).
const INT_MAX_STR_DIGITS: usize = 4300;

/// Parse `input` (UTF-8, or WTF-8 when `input_wtf8`: a Python `str` with lone
/// surrogates) as one JSON text.
pub(crate) fn parse(input: &[u8], input_wtf8: bool) -> Result<Document, CoreError> {
    parse_after(input, input_wtf8, None)
}

/// [`parse`], given the document of the file's previous version: what was built for its
/// array items whose text did not change is copied rather than parsed again (the same
/// document results).
pub(crate) fn parse_after(input: &[u8], input_wtf8: bool, previous: Option<&Document>) -> Result<Document, CoreError> {
    if let Some(doc) = parse_fast(input, input_wtf8, previous) {
        return Ok(doc);
    }
    parse_reference(input, input_wtf8)
}

/// The reference parser's document (or its error).
pub(crate) fn parse_reference(input: &[u8], input_wtf8: bool) -> Result<Document, CoreError> {
    let mut builder = Reference(DocBuilder::with_capacity(input.len()));
    let root = crate::parse::parse(input, input_wtf8, &mut builder)?;
    Ok(builder.0.finish(root))
}

/// The fast parser's document; `None` where it gives up (any error).
pub(crate) fn parse_fast(input: &[u8], input_wtf8: bool, previous: Option<&Document>) -> Option<Document> {
    // The previous version's text is UTF-8 (a document keeps only `bytes` it parsed);
    // WTF-8 input is not compared with it.
    let copier = previous.filter(|_| !input_wtf8).and_then(|doc| doc.origin().map(|origin| (doc, origin))).map(
        |(doc, origin)| Copier {
            doc,
            old: origin,
            runs: same_text(origin.raw, input),
            keys: vec![u32::MAX; doc.keys.len()],
            next: 0,
        },
    );
    let mut p = Fast {
        copier,
        input,
        pos: 0,
        depth: 0,
        wtf8: input_wtf8,
        b: DocBuilder::with_capacity(input.len()),
        items: Vec::with_capacity(64),
        members: Vec::with_capacity(64),
        scratch: Vec::new(),
    };
    p.skip_ws();
    let root = p.value().ok()?;
    p.skip_ws();
    if p.pos != input.len() {
        return None;
    }
    Some(p.b.finish(root))
}

/// Array items whose text is shorter than this are not recorded in
/// `Document::elements` (nor copied or reused on their own, only inside a longer item).
const SPAN_AT_LEAST: u32 = 256;

/// The fast parser gave up.
struct GiveUp;

type Res<T> = Result<T, GiveUp>;

struct Fast<'a> {
    /// Copies the previous version's items whose text did not change.
    copier: Option<Copier<'a>>,
    input: &'a [u8],
    pos: usize,
    depth: usize,
    /// The input may hold surrogate code points (see `crate::parse`).
    wtf8: bool,
    b: DocBuilder,
    /// Item nodes of the open arrays, innermost last.
    items: Vec<u32>,
    /// Members of the open objects, innermost last.
    members: Vec<Member>,
    /// Decoded content of a string with escapes.
    scratch: Vec<u8>,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The lowest byte of `word` that ends a plain run of string content (`"`, `\` or a
/// control character), as a bit mask whose lowest set bit is exact (higher ones may be
/// false hits after a real one, from borrows).
#[inline]
fn specials(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    zero_in(quote) | zero_in(backslash) | (word.wrapping_sub(ONES * 0x20) & !word & HIGH)
}

impl Fast<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Res<u32> {
        match self.peek() {
            Some(b'"') => self.string_value(),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Node::Bool(true)),
            Some(b'f') => self.literal(b"false", Node::Bool(false)),
            Some(b'n') => self.literal(b"null", Node::Null),
            _ => Err(GiveUp),
        }
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Res<u32> {
        if self.input.get(self.pos..self.pos + word.len()) != Some(word) {
            return Err(GiveUp);
        }
        self.pos += word.len();
        Ok(self.b.push(node))
    }

    #[inline]
    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(GiveUp);
        }
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Res<u32> {
        self.enter()?;
        // The container's node comes before its children's (pre-order: the order the
        // writers read them in, which keeps their reads sequential).
        let me = self.b.push(Node::Null);
        let mark = self.items.len();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let item = if self.peek() == Some(b'{') { self.element()? } else { self.value()? };
                self.items.push(item);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(GiveUp),
                }
            }
        }
        let node = self.b.array_items(self.items.get(mark..).unwrap_or_default());
        self.items.truncate(mark);
        self.b.set(me, node);
        self.depth -= 1;
        Ok(me)
    }

    /// An array item that is an object, with its span (see `Document::elements`).
    fn element(&mut self) -> Res<u32> {
        let start = u32::try_from(self.pos).map_err(|_| GiveUp)?;
        let depth = self.depth as u32 + 1;
        if let Some(copier) = self.copier.as_mut()
            && let Some((node, len)) = copier.copy(&mut self.b, start, depth)
        {
            self.pos += len as usize;
            return Ok(node);
        }
        let doc = &mut self.b.doc;
        let at = doc.elements.len();
        // Pushed before the object is parsed, so that spans come in pre-order.
        let built = Built {
            nodes_end: 0,
            items: [doc.items.len() as u32; 2],
            members: [doc.members.len() as u32; 2],
            text: [doc.text.len() as u32; 2],
            depth,
        };
        doc.elements.push(ElementSpan { node: doc.nodes.len() as u32, start, end: start, built });
        let node = self.object()?;
        let end = u32::try_from(self.pos).map_err(|_| GiveUp)?;
        let doc = &mut self.b.doc;
        // A short item is not recorded: parsing or writing it again costs less than its
        // record. Any item inside it is shorter still, so it is the last one recorded.
        if end - start < SPAN_AT_LEAST && doc.elements.len() == at + 1 {
            doc.elements.pop();
            return Ok(node);
        }
        let (nodes, items, members, text) =
            (doc.nodes.len() as u32, doc.items.len() as u32, doc.members.len() as u32, doc.text.len() as u32);
        if let Some(span) = doc.elements.get_mut(at) {
            span.end = end;
            span.built.nodes_end = nodes;
            span.built.items[1] = items;
            span.built.members[1] = members;
            span.built.text[1] = text;
        }
        Ok(node)
    }

    fn object(&mut self) -> Res<u32> {
        self.enter()?;
        let me = self.b.push(Node::Null);
        let mark = self.members.len();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(GiveUp);
                }
                let key = self.key()?;
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(GiveUp);
                }
                self.pos += 1;
                self.skip_ws();
                let value = self.value()?;
                self.members.push(Member { key, value });
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(GiveUp),
                }
            }
        }
        let node = self.b.object_members(self.members.get(mark..).unwrap_or_default());
        self.members.truncate(mark);
        self.b.set(me, node);
        self.depth -= 1;
        Ok(me)
    }

    /// Scan the string at the opening quote: `Ok(Some((start, end)))` when its content
    /// is `input[start..end]` (no escapes), `Ok(None)` when it is decoded in `scratch`;
    /// and whether it may hold surrogates.
    #[inline]
    fn scan_string(&mut self) -> Res<(Option<(usize, usize)>, bool)> {
        let input = self.input;
        self.pos += 1;
        let start = self.pos;
        let mut i = start;
        while let Some(chunk) = input.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let hits = specials(u64::from_le_bytes(word));
            if hits == 0 {
                i += 8;
            } else {
                i += (hits.trailing_zeros() / 8) as usize;
                break;
            }
        }
        loop {
            match input.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    let wtf8 = self.wtf8 && has_surrogate(input.get(start..i).unwrap_or_default());
                    return Ok((Some((start, i)), wtf8));
                }
                Some(b'\\') => break,
                Some(0x00..=0x1F) | None => return Err(GiveUp),
                Some(_) => i += 1,
            }
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(input.get(start..i).unwrap_or_default());
        let mut surrogate = false;
        let mut run = i;
        loop {
            match input.get(i) {
                Some(b'"') => {
                    self.scratch.extend_from_slice(input.get(run..i).unwrap_or_default());
                    self.pos = i + 1;
                    let wtf8 = surrogate || (self.wtf8 && has_surrogate(&self.scratch));
                    return Ok((None, wtf8));
                }
                Some(b'\\') => {
                    self.scratch.extend_from_slice(input.get(run..i).unwrap_or_default());
                    let (next, lone) = escape(input, i, &mut self.scratch)?;
                    surrogate |= lone;
                    i = next;
                    run = i;
                }
                Some(0x00..=0x1F) | None => return Err(GiveUp),
                Some(_) => i += 1,
            }
        }
    }

    fn string_value(&mut self) -> Res<u32> {
        let (span, wtf8) = self.scan_string()?;
        Ok(match span {
            Some((start, end)) => self.b.string(self.input.get(start..end).unwrap_or_default(), wtf8),
            None => self.b.string(&self.scratch, wtf8),
        })
    }

    fn key(&mut self) -> Res<u32> {
        let (span, wtf8) = self.scan_string()?;
        Ok(match span {
            Some((start, end)) => self.b.key(self.input.get(start..end).unwrap_or_default(), wtf8),
            None => self.b.key(&self.scratch, wtf8),
        })
    }

    fn number(&mut self) -> Res<u32> {
        let input = self.input;
        let start = self.pos;
        let digit = |i: usize| matches!(input.get(i), Some(b'0'..=b'9'));
        let mut i = start;
        let negative = input.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let int_start = i;
        let mut value: u64 = 0;
        match input.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&d @ b'0'..=b'9') = input.get(i) {
                    value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    i += 1;
                }
            }
            _ => return Err(GiveUp),
        }
        let int_digits = i - int_start;
        let mut integer = true;
        if input.get(i) == Some(&b'.') && digit(i + 1) {
            i += 2;
            while digit(i) {
                i += 1;
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = input.get(i) {
            let mut j = i + 1;
            if let Some(b'+' | b'-') = input.get(j) {
                j += 1;
            }
            let exp_start = j;
            while digit(j) {
                j += 1;
            }
            if j > exp_start {
                i = j;
                integer = false;
            }
        }
        self.pos = i;
        let literal = input.get(start..i).unwrap_or_default();
        if integer && int_digits <= 18 {
            // At most 18 digits: `value` is exact and fits i64.
            let v = value as i64;
            return Ok(self.b.push(Node::Int(if negative { -v } else { v })));
        }
        let text = std::str::from_utf8(literal).map_err(|_| GiveUp)?;
        if integer {
            if let Ok(v) = text.parse::<i64>() {
                return Ok(self.b.push(Node::Int(v)));
            }
            if int_digits > INT_MAX_STR_DIGITS {
                return Ok(self.b.push(Node::Float(super::big_int_value(literal))));
            }
            let (at, len) = self.b.text(literal);
            return Ok(self.b.push(Node::BigInt { at, len }));
        }
        let v = text.parse::<f64>().map_err(|_| GiveUp)?;
        Ok(self.b.push(Node::Float(v)))
    }
}

/// Decode the escape at `input[at]` (a backslash) into `out`: the position after it, and
/// whether it made a lone surrogate. The same rules as `crate::parse` (an escaped
/// high/low pair is one astral character).
#[inline]
fn escape(input: &[u8], at: usize, out: &mut Vec<u8>) -> Res<(usize, bool)> {
    let simple = match input.get(at + 1) {
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'/') => b'/',
        Some(b'b') => 0x08,
        Some(b'f') => 0x0C,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'u') => 0,
        _ => return Err(GiveUp),
    };
    if simple != 0 {
        out.push(simple);
        return Ok((at + 2, false));
    }
    let unit = hex4(input, at + 2).ok_or(GiveUp)?;
    let next = at + 6;
    if (0xD800..0xDC00).contains(&unit)
        && input.get(next..next + 2) == Some(b"\\u")
        && let Some(low @ 0xDC00..=0xDFFF) = hex4(input, next + 2)
    {
        push_code_point(out, 0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
        return Ok((next + 6, false));
    }
    push_code_point(out, unit);
    Ok((next, (0xD800..0xE000).contains(&unit)))
}

/// Copies what the previous version's parse built for an array item into the document
/// being built, when the item's text is the same bytes (then its value is the same: a
/// JSON value is a function of its text), moved to where it goes.
struct Copier<'a> {
    doc: &'a Document,
    /// Its text and items.
    old: Origin<'a>,
    /// The runs of bytes the two texts share.
    runs: Vec<Same>,
    /// The new document's index of each of the previous one's keys (`u32::MAX`: not
    /// interned yet).
    keys: Vec<u32>,
    /// The previous document's item after the last one copied: probably the next one.
    next: usize,
}

impl Copier<'_> {
    /// Copy the previous version's item with the same text as the array item that starts
    /// at `start`, to be an object at `depth`: its node and the length of its text.
    fn copy(&mut self, b: &mut DocBuilder, start: u32, depth: u32) -> Option<(u32, u32)> {
        let old = self.doc;
        let first = self.old.same_item(&self.runs, start, self.next)?;
        let span = *old.elements.get(first)?;
        let len = span.end.checked_sub(span.start)?;
        // The depth limit must hold: it did at the same depth or deeper.
        if depth > span.built.depth {
            return None;
        }
        let after = self.old.subtree_end(first);
        let built = span.built;
        let nodes = old.nodes.get(span.node as usize..built.nodes_end as usize)?;
        let items = old.items.get(built.items[0] as usize..built.items[1] as usize)?;
        let members = old.members.get(built.members[0] as usize..built.members[1] as usize)?;
        let text = old.text.get(built.text[0] as usize..built.text[1] as usize)?;
        let elements = old.elements.get(first..after)?;
        // The keys first: nothing is added to the document but keys unless all is there.
        for member in members {
            let slot = self.keys.get_mut(member.key as usize)?;
            if *slot == u32::MAX {
                let text = old.keys.get(member.key as usize)?;
                *slot = b.key(&text.bytes, text.wtf8);
            }
        }
        let doc = &mut b.doc;
        // What to add to each kind of index to move it (wrapping: the differences may be
        // negative, the results are in range).
        let node_shift = (doc.nodes.len() as u32).wrapping_sub(span.node);
        let item_shift = (doc.items.len() as u32).wrapping_sub(built.items[0]);
        let member_shift = (doc.members.len() as u32).wrapping_sub(built.members[0]);
        let text_shift = (doc.text.len() as u32).wrapping_sub(built.text[0]);
        let place_shift = start.wrapping_sub(span.start);
        let depth_shift = depth.wrapping_sub(span.built.depth);
        doc.nodes.extend(nodes.iter().map(|&node| match node {
            Node::Array { first, len } => Node::Array { first: first.wrapping_add(item_shift), len },
            Node::Object { first, len } => Node::Object { first: first.wrapping_add(member_shift), len },
            Node::Str { at, len, wtf8 } => Node::Str { at: at.wrapping_add(text_shift), len, wtf8 },
            Node::BigInt { at, len } => Node::BigInt { at: at.wrapping_add(text_shift), len },
            scalar => scalar,
        }));
        doc.items.extend(items.iter().map(|&item| item.wrapping_add(node_shift)));
        doc.text.extend_from_slice(text);
        doc.elements.extend(elements.iter().map(|e| ElementSpan {
            node: e.node.wrapping_add(node_shift),
            start: e.start.wrapping_add(place_shift),
            end: e.end.wrapping_add(place_shift),
            built: Built {
                nodes_end: e.built.nodes_end.wrapping_add(node_shift),
                items: e.built.items.map(|i| i.wrapping_add(item_shift)),
                members: e.built.members.map(|m| m.wrapping_add(member_shift)),
                text: e.built.text.map(|t| t.wrapping_add(text_shift)),
                depth: e.built.depth.wrapping_add(depth_shift),
            },
        }));
        let keys = &self.keys;
        doc.members.extend(members.iter().map(|m| Member {
            key: keys.get(m.key as usize).copied().unwrap_or(u32::MAX),
            value: m.value.wrapping_add(node_shift),
        }));
        self.next = after;
        Some((span.node.wrapping_add(node_shift), len))
    }
}

/// The reference parser's sink: builds the same document, one container at a time.
struct Reference(DocBuilder);

impl Builder for Reference {
    type Value = u32;
    type Key = u32;

    fn null(&mut self) -> Result<u32, CoreError> {
        Ok(self.0.push(Node::Null))
    }

    fn boolean(&mut self, value: bool) -> Result<u32, CoreError> {
        Ok(self.0.push(Node::Bool(value)))
    }

    fn integer(&mut self, literal: &str) -> Result<u32, CoreError> {
        if let Ok(v) = literal.parse::<i64>() {
            return Ok(self.0.push(Node::Int(v)));
        }
        if literal.trim_start_matches('-').len() > INT_MAX_STR_DIGITS {
            return Ok(self.0.push(Node::Float(super::big_int_value(literal.as_bytes()))));
        }
        let (at, len) = self.0.text(literal.as_bytes());
        Ok(self.0.push(Node::BigInt { at, len }))
    }

    fn float(&mut self, value: f64) -> Result<u32, CoreError> {
        Ok(self.0.push(Node::Float(value)))
    }

    fn string(&mut self, value: JsStr<'_>) -> Result<u32, CoreError> {
        Ok(self.0.string(value.as_bytes(), value.is_wtf8()))
    }

    fn key(&mut self, value: JsStr<'_>) -> Result<u32, CoreError> {
        Ok(self.0.key(value.as_bytes(), value.is_wtf8()))
    }

    fn array(&mut self, items: Vec<u32>) -> Result<u32, CoreError> {
        let node = self.0.array_items(&items);
        Ok(self.0.push(node))
    }

    fn object(&mut self, entries: Vec<(u32, u32)>) -> Result<u32, CoreError> {
        let members: Vec<Member> = entries.into_iter().map(|(key, value)| Member { key, value }).collect();
        let node = self.0.object_members(&members);
        Ok(self.0.push(node))
    }
}
