//! `JSON.parse`'s grammar: RFC 8259, strictly.
//!
//! No BOM, only space/tab/LF/CR as whitespace, no `NaN`/`Infinity`, no trailing data, no
//! raw control characters in strings. Escapes may produce lone surrogates (kept, as JS
//! keeps them); an escaped high/low pair becomes one astral character. Values are handed
//! to a [`Builder`], so the same parser makes Python objects or owned test values.

use crate::error::{CoreError, ErrorKind, MAX_DEPTH};
use crate::value::{JsStr, has_surrogate};

/// Receives parsed values. Objects get their entries in source order, duplicates
/// included: a builder applies JS semantics (last value wins at the first key's place).
pub(crate) trait Builder {
    type Value;
    type Key;

    fn null(&mut self) -> Result<Self::Value, CoreError>;
    fn boolean(&mut self, value: bool) -> Result<Self::Value, CoreError>;
    /// An integer literal (optional `-`, digits; no fraction or exponent), of any length.
    fn integer(&mut self, literal: &str) -> Result<Self::Value, CoreError>;
    fn float(&mut self, value: f64) -> Result<Self::Value, CoreError>;
    fn string(&mut self, value: JsStr<'_>) -> Result<Self::Value, CoreError>;
    fn key(&mut self, value: JsStr<'_>) -> Result<Self::Key, CoreError>;
    fn array(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, CoreError>;
    fn object(&mut self, entries: Vec<(Self::Key, Self::Value)>) -> Result<Self::Value, CoreError>;
}

struct Parser<'a, B: Builder> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
    /// The input itself may hold surrogate code points (a Python str encoded with
    /// `surrogatepass`), so every string slice must be treated as WTF-8.
    input_wtf8: bool,
    /// Decoded content of the current string when it has escapes.
    scratch: Vec<u8>,
    builder: &'a mut B,
}

/// Parse `input` (UTF-8, or WTF-8 when `input_wtf8`) as one JSON text.
pub(crate) fn parse<B: Builder>(input: &[u8], input_wtf8: bool, builder: &mut B) -> Result<B::Value, CoreError> {
    let mut p = Parser { input, pos: 0, depth: 0, input_wtf8, scratch: Vec::new(), builder };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos < p.input.len() {
        return Err(p.error("Extra data"));
    }
    Ok(value)
}

impl<B: Builder> Parser<'_, B> {
    #[cold]
    #[allow(clippy::naive_bytecount)] // error path only
    fn error_at(&self, message: &'static str, offset: usize) -> CoreError {
        let before = &self.input[..offset.min(self.input.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let chars = |bytes: &[u8]| bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        ErrorKind::Syntax { message, offset: chars(before), line, column: 1 + chars(&before[line_start..]) }.into()
    }

    fn error(&self, message: &'static str) -> CoreError {
        self.error_at(message, self.pos)
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), CoreError> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("Expecting value"))
        }
    }

    fn value(&mut self) -> Result<B::Value, CoreError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let text = self.string()?;
                let s = match text.span {
                    Some((start, end)) => JsStr::with_flag(&self.input[start..end], text.wtf8),
                    None => JsStr::with_flag(&self.scratch, text.wtf8),
                };
                self.builder.string(s)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => {
                self.literal(b"true")?;
                self.builder.boolean(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.builder.boolean(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                self.builder.null()
            }
            _ => Err(self.error("Expecting value")),
        }
    }

    fn enter(&mut self) -> Result<(), CoreError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ErrorKind::TooDeepInText.into());
        }
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<B::Value, CoreError> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                items.push(self.value()?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("Expecting ',' delimiter")),
                }
            }
        }
        self.depth -= 1;
        self.builder.array(items)
    }

    fn object(&mut self) -> Result<B::Value, CoreError> {
        self.enter()?;
        let mut entries = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.error("Expecting property name enclosed in double quotes"));
                }
                let text = self.string()?;
                let key = match text.span {
                    Some((start, end)) => JsStr::with_flag(&self.input[start..end], text.wtf8),
                    None => JsStr::with_flag(&self.scratch, text.wtf8),
                };
                let key = self.builder.key(key)?;
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.error("Expecting ':' delimiter"));
                }
                self.pos += 1;
                self.skip_ws();
                let value = self.value()?;
                entries.push((key, value));
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("Expecting ',' delimiter")),
                }
            }
        }
        self.depth -= 1;
        self.builder.object(entries)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<B::Value, CoreError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error_at("Expecting value", start)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') && matches!(self.input.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let mark = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                // `1e` is not a number; leave `e` for the caller to reject as extra data.
                self.pos = mark;
            } else {
                integer = false;
            }
        }
        // The span is ASCII digits, sign, '.', 'e': always valid UTF-8.
        let text =
            std::str::from_utf8(&self.input[start..self.pos]).map_err(|_| self.error_at("Expecting value", start))?;
        if integer {
            self.builder.integer(text)
        } else {
            let value = text.parse::<f64>().map_err(|_| self.error_at("Expecting value", start))?;
            self.builder.float(value)
        }
    }

    /// Scan the string literal at the opening quote. Its content is
    /// `input[start..end]` when it has no escapes, else the decoded `scratch`.
    fn string(&mut self) -> Result<Text, CoreError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error_at("Unterminated string", open)),
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    let wtf8 = self.input_wtf8 && has_surrogate(&self.input[start..end]);
                    return Ok(Text { span: Some((start, end)), wtf8 });
                }
                Some(b'\\') => break,
                Some(0x00..=0x1F) => return Err(self.error("Invalid control character")),
                Some(_) => self.pos += 1,
            }
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.input[start..self.pos]);
        let mut wtf8 = false;
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error_at("Unterminated string", open)),
                Some(b'"') => {
                    self.scratch.extend_from_slice(&self.input[run..self.pos]);
                    self.pos += 1;
                    let wtf8 = wtf8 || (self.input_wtf8 && has_surrogate(&self.scratch));
                    return Ok(Text { span: None, wtf8 });
                }
                Some(b'\\') => {
                    self.scratch.extend_from_slice(&self.input[run..self.pos]);
                    wtf8 |= self.escape()?;
                    run = self.pos;
                }
                Some(0x00..=0x1F) => return Err(self.error("Invalid control character")),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Decode the escape at `self.pos` into `scratch`; true if it made a lone surrogate.
    fn escape(&mut self) -> Result<bool, CoreError> {
        let out = &mut self.scratch;
        let simple = match self.input.get(self.pos + 1) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => 0,
            _ => return Err(self.error("Invalid \\escape")),
        };
        if simple != 0 {
            out.push(simple);
            self.pos += 2;
            return Ok(false);
        }
        let Some(unit) = hex4(self.input, self.pos + 2) else {
            return Err(self.error("Invalid \\uXXXX escape"));
        };
        self.pos += 6;
        if (0xD800..0xDC00).contains(&unit)
            && self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
            && let Some(low @ 0xDC00..=0xDFFF) = hex4(self.input, self.pos + 2)
        {
            self.pos += 6;
            let cp = 0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
            push_code_point(&mut self.scratch, cp);
            return Ok(false);
        }
        push_code_point(&mut self.scratch, unit);
        Ok((0xD800..0xE000).contains(&unit))
    }
}

pub(crate) fn hex4(input: &[u8], at: usize) -> Option<u32> {
    let digits = input.get(at..at + 4)?;
    let mut value = 0;
    for &d in digits {
        value = value * 16 + char::from(d).to_digit(16)?;
    }
    Some(value)
}

/// Where a scanned string's content is.
struct Text {
    /// `input[start..end]`, or `None` for the decoded `scratch` buffer.
    span: Option<(usize, usize)>,
    wtf8: bool,
}

/// Append a code point as (generalized) UTF-8; surrogates get their 3-byte WTF-8 form.
pub(crate) fn push_code_point(out: &mut Vec<u8>, cp: u32) {
    match cp {
        0..=0x7F => out.push(cp as u8),
        0x80..=0x7FF => out.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]),
        0x800..=0xFFFF => {
            out.extend_from_slice(&[
                0xE0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3F) as u8,
                0x80 | (cp & 0x3F) as u8,
            ]);
        }
        _ => out.extend_from_slice(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]),
    }
}

/// Builds owned [`Value`]s (cargo tests).
#[cfg(test)]
pub(crate) struct ValueBuilder;

#[cfg(test)]
impl Builder for ValueBuilder {
    type Value = crate::value::Value;
    type Key = Vec<u8>;

    fn null(&mut self) -> Result<Self::Value, CoreError> {
        Ok(crate::value::Value::Null)
    }
    fn boolean(&mut self, value: bool) -> Result<Self::Value, CoreError> {
        Ok(crate::value::Value::Bool(value))
    }
    fn integer(&mut self, literal: &str) -> Result<Self::Value, CoreError> {
        Ok(literal
            .parse::<i64>()
            .map_or_else(|_| crate::value::Value::Float(literal.parse().unwrap_or(f64::NAN)), crate::value::Value::Int))
    }
    fn float(&mut self, value: f64) -> Result<Self::Value, CoreError> {
        Ok(crate::value::Value::Float(value))
    }
    fn string(&mut self, value: JsStr<'_>) -> Result<Self::Value, CoreError> {
        Ok(crate::value::Value::Str(value.as_bytes().to_vec()))
    }
    fn key(&mut self, value: JsStr<'_>) -> Result<Self::Key, CoreError> {
        Ok(value.as_bytes().to_vec())
    }
    fn array(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, CoreError> {
        Ok(crate::value::Value::Array(items))
    }
    fn object(&mut self, entries: Vec<(Self::Key, Self::Value)>) -> Result<Self::Value, CoreError> {
        let mut out: Vec<(Vec<u8>, crate::value::Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.iter_mut().find(|(existing, _)| *existing == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Ok(crate::value::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn p(text: &str) -> Result<Value, String> {
        parse(text.as_bytes(), false, &mut ValueBuilder).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_json() {
        assert_eq!(
            p(" [1, -0, 2.5, 1e400, \"a\\n\", true, null, {}] "),
            Ok(Value::Array(vec![
                Value::Int(1),
                Value::Int(0),
                Value::Float(2.5),
                Value::Float(f64::INFINITY),
                Value::str("a\n"),
                Value::Bool(true),
                Value::Null,
                Value::Object(vec![]),
            ]))
        );
        assert_eq!(p(r#"{"a":1,"b":2,"a":3}"#), Ok(Value::object([("a", Value::Int(3)), ("b", Value::Int(2))])));
    }

    #[test]
    fn surrogate_escapes() {
        assert_eq!(p(r#""\ud83d\ude00""#), Ok(Value::str("😀")));
        assert_eq!(p(r#""\ud800x""#), Ok(Value::Str(b"\xED\xA0\x80x".to_vec())));
        assert_eq!(p(r#""\udc00\ud800""#), Ok(Value::Str(b"\xED\xB0\x80\xED\xA0\x80".to_vec())));
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for bad in [
            "",
            " ",
            "\u{feff}{}",
            "NaN",
            "Infinity",
            "-Infinity",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "[1] x",
            "\"a\tb\"",
            "\"\\x\"",
            "\"\\u12\"",
            "{'a':1}",
            "\u{a0}1",
            "\u{b}1",
            "[",
            "\"abc",
            "1e",
            "-",
            "tru",
            "nul",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            p("[1, 2 3]").err(),
            Some("invalid JSON: Expecting ',' delimiter at line 1 column 7 (char 6)".to_owned())
        );
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        p(&ok).unwrap();
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(p(&deep).err(), Some(format!("nesting depth exceeds {MAX_DEPTH}")));
        // Far deeper input fails the same way, without exhausting the stack.
        assert!(p(&"[".repeat(1_000_000)).is_err());
    }
}
