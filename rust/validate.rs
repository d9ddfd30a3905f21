//! The reference's `validateMessage`, `validateProtocolVersion` and `validateSessionId`.
//!
//! JavaScript semantics throughout: truthiness (`{}` and `[]` are truthy; `""`, `0`,
//! `false`, `null` are not), `typeof` (null and arrays are `"object"`), `${value}` string
//! conversion (arrays joined with `,`, objects as `[object Object]`, a `TypeError` for an
//! object with its own `toString` key), `Number()` parsing and UTF-16 string lengths.
//! Errors are WTF-8 byte strings: a message type may carry a lone surrogate.

use crate::canonical::number::js_to_string;
use crate::error::{CoreError, ErrorKind, MAX_DEPTH, Seg};
use crate::value::{Array, JsStr, Read, Source};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Undefined,
    Object,
    Boolean,
    Number,
    String,
}

/// `typeof value` and `!!value`.
fn describe<'s, S: Source<'s>>(value: Option<S>) -> Result<(Type, bool), CoreError> {
    let Some(value) = value else {
        return Ok((Type::Undefined, false));
    };
    Ok(match value.read()? {
        Read::Null => (Type::Object, false),
        Read::Bool(b) => (Type::Boolean, b),
        Read::Int(i) => (Type::Number, i != 0),
        Read::Float(f) => (Type::Number, f != 0.0 && !f.is_nan()),
        Read::Str(s) => (Type::String, !s.as_bytes().is_empty()),
        Read::Array(_) | Read::Object(_) => (Type::Object, true),
    })
}

/// The fields of one object, read lazily and each at most once.
struct Fields<S> {
    owner: Option<S>,
    /// Path segment of `owner` within the message, for error locations.
    at: Option<&'static str>,
}

impl<'s, S: Source<'s>> Fields<S> {
    fn get(&self, key: &'static str) -> Result<Option<S>, CoreError> {
        let Some(owner) = self.owner else {
            return Ok(None);
        };
        owner.get(key).map_err(|e| self.locate(e, key))
    }

    fn locate(&self, err: CoreError, key: &'static str) -> CoreError {
        let err = err.within(Seg::Key(key.as_bytes().to_vec()));
        match self.at {
            Some(at) => err.within(Seg::Key(at.as_bytes().to_vec())),
            None => err,
        }
    }

    fn describe(&self, key: &'static str) -> Result<(Type, bool), CoreError> {
        let value = self.get(key)?;
        describe(value).map_err(|e| self.locate(e, key))
    }

    /// `!obj[key] || typeof obj[key] !== 'string'` is false.
    fn is_truthy_string(&self, key: &'static str) -> Result<bool, CoreError> {
        Ok(self.describe(key)? == (Type::String, true))
    }

    fn is_type(&self, key: &'static str, ty: Type) -> Result<bool, CoreError> {
        Ok(self.describe(key)?.0 == ty)
    }

    /// `obj[key]` is one of `options` (an exact string match, as `includes` does).
    fn is_one_of(&self, key: &'static str, options: &[&str]) -> Result<bool, CoreError> {
        let value = self.get(key)?;
        let Some(value) = value else {
            return Ok(false);
        };
        match value.read().map_err(|e| self.locate(e, key))? {
            Read::Str(s) => Ok(options.iter().any(|o| s.as_bytes() == o.as_bytes())),
            _ => Ok(false),
        }
    }
}

const MESSAGE_TYPES: [&str; 8] = ["connect", "connected", "update", "reload", "error", "ping", "pong", "ack"];

/// The reference's `validateMessage(message).errors`.
pub(crate) fn validate_message<'s, S: Source<'s>>(message: S) -> Result<Vec<Vec<u8>>, CoreError> {
    let mut errors = Errors::default();
    if describe(Some(message))? != (Type::Object, true) {
        errors.push("Message must be an object");
        return Ok(errors.0);
    }
    let m = Fields { owner: Some(message), at: None };
    errors.check(m.is_truthy_string("type")?, "Message must have a type field");
    errors.check(m.is_truthy_string("sessionId")?, "Message must have a sessionId field");
    errors.check(m.is_type("timestamp", Type::Number)?, "Message must have a timestamp field");
    errors.check(m.is_truthy_string("version")?, "Message must have a version field");
    let kind = m.get("type")?;
    let kind_name = match kind {
        Some(k) => match k.read().map_err(|e| m.locate(e, "type"))? {
            Read::Str(s) => MESSAGE_TYPES.iter().copied().find(|t| s.as_bytes() == t.as_bytes()),
            _ => None,
        },
        None => None,
    };
    let Some(kind_name) = kind_name else {
        let mut text = b"Invalid message type: ".to_vec();
        // The message itself is the depth-1 container; an array under `type` is depth 2.
        js_string(kind, &mut text, 1).map_err(|e| m.locate(e, "type"))?;
        errors.0.push(text);
        return Ok(errors.0);
    };
    let title = match kind_name {
        "connect" => "Connect",
        "connected" => "Connected",
        "update" => "Update",
        "reload" => "Reload",
        "error" => "Error",
        "ack" => "Ack",
        // ping and pong have no required payload fields.
        _ => return Ok(errors.0),
    };
    let payload = m.get("payload")?;
    if !describe(payload).map_err(|e| m.locate(e, "payload"))?.1 {
        errors.0.push(format!("{title} message must have payload").into_bytes());
        return Ok(errors.0);
    }
    let p = Fields { owner: payload, at: Some("payload") };
    match kind_name {
        "connect" => {
            errors.check(p.is_truthy_string("deviceId")?, "Connect payload must have deviceId");
            errors.check(p.is_truthy_string("platform")?, "Connect payload must have platform");
            errors.check(p.is_truthy_string("clientVersion")?, "Connect payload must have clientVersion");
        }
        "connected" => {
            errors.check(p.is_truthy_string("connectionId")?, "Connected payload must have connectionId");
            errors
                .check(p.describe("capabilities")? == (Type::Object, true), "Connected payload must have capabilities");
        }
        "update" => {
            errors.check(
                p.is_one_of("type", &["full", "incremental"])?,
                "Update payload must have type (full or incremental)",
            );
            if p.is_one_of("type", &["full"])? {
                errors.check(p.describe("schema")?.1, "Full update must have schema");
            }
            if p.is_one_of("type", &["incremental"])? {
                errors.check(p.describe("delta")?.1, "Incremental update must have delta");
            }
            errors.check(p.is_type("preserveState", Type::Boolean)?, "Update payload must have preserveState boolean");
            errors.check(p.is_type("sequenceNumber", Type::Number)?, "Update payload must have sequenceNumber");
        }
        "reload" => errors.check(
            p.is_one_of("reason", &["error", "manual", "incompatible"])?,
            "Reload payload must have reason (error, manual, or incompatible)",
        ),
        "error" => {
            errors.check(p.is_truthy_string("code")?, "Error payload must have code");
            errors.check(p.is_truthy_string("message")?, "Error payload must have message");
            errors.check(
                p.is_one_of("severity", &["warning", "error", "fatal"])?,
                "Error payload must have severity (warning, error, or fatal)",
            );
            errors.check(p.is_type("recoverable", Type::Boolean)?, "Error payload must have recoverable boolean");
        }
        _ => {
            errors.check(p.is_type("sequenceNumber", Type::Number)?, "Ack payload must have sequenceNumber");
            errors.check(p.is_type("success", Type::Boolean)?, "Ack payload must have success boolean");
        }
    }
    Ok(errors.0)
}

#[derive(Default)]
struct Errors(Vec<Vec<u8>>);

impl Errors {
    fn push(&mut self, text: &str) {
        self.0.push(text.as_bytes().to_vec());
    }

    /// Record `text` unless the check passed.
    fn check(&mut self, passed: bool, text: &str) {
        if !passed {
            self.push(text);
        }
    }
}

/// JS `String(value)` (template-literal conversion), appended to `out`. `depth` is the
/// nesting depth of the container holding `value`.
fn js_string<'s, S: Source<'s>>(value: Option<S>, out: &mut Vec<u8>, depth: usize) -> Result<(), CoreError> {
    let Some(value) = value else {
        out.extend_from_slice(b"undefined");
        return Ok(());
    };
    match value.read()? {
        Read::Null => out.extend_from_slice(b"null"),
        Read::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Read::Int(i) => {
            let mut buf = Vec::new();
            crate::canonical::number::write_i64(&mut buf, i);
            out.extend_from_slice(&buf);
        }
        Read::Float(f) => out.extend_from_slice(js_to_string(f).as_bytes()),
        Read::Str(s) => out.extend_from_slice(s.as_bytes()),
        Read::Array(items) => {
            // Array.prototype.join: null and undefined elements become "".
            if depth + 1 > MAX_DEPTH {
                return Err(CoreError::too_deep());
            }
            items.for_each(|i, item| {
                if i > 0 {
                    out.push(b',');
                }
                let is_null = matches!(item.read().map_err(|e| e.within(Seg::Index(i)))?, Read::Null);
                if !is_null {
                    js_string(Some(item), out, depth + 1).map_err(|e| e.within(Seg::Index(i)))?;
                }
                Ok(())
            })?;
        }
        Read::Object(_) => {
            // An own `toString` data property shadows Object.prototype.toString and is not
            // callable; `valueOf` then returns the object itself: TypeError.
            if value.get("toString")?.is_some() {
                return Err(ErrorKind::ToPrimitive.into());
            }
            out.extend_from_slice(b"[object Object]");
        }
    }
    Ok(())
}

/// The reference's `validateProtocolVersion(client, server).errors`.
pub(crate) fn validate_protocol_version(client: &JsStr<'_>, server: &JsStr<'_>) -> Vec<Vec<u8>> {
    let (client_major, client_minor) = major_minor(client);
    let (server_major, server_minor) = major_minor(server);
    let mut errors = Vec::new();
    let describe_pair = |prefix: &str, suffix: &str| {
        let mut text = prefix.as_bytes().to_vec();
        text.extend_from_slice(b"client ");
        text.extend_from_slice(client.as_bytes());
        text.extend_from_slice(b", server ");
        text.extend_from_slice(server.as_bytes());
        text.extend_from_slice(suffix.as_bytes());
        text
    };
    #[allow(clippy::float_cmp)] // JS `!==` on numbers
    if client_major != server_major {
        errors.push(describe_pair("Incompatible protocol versions: ", ""));
    }
    #[allow(clippy::float_cmp)]
    if client_minor != server_minor {
        errors.push(describe_pair("Protocol minor version mismatch: ", " (may have limited features)"));
    }
    errors
}

/// `version.split('.').map(Number)`, then `parts[i] || 0` for major and minor.
fn major_minor(version: &JsStr<'_>) -> (f64, f64) {
    let mut parts = version.as_bytes().split(|&b| b == b'.').map(js_number);
    let mut next = || parts.next().map_or(0.0, |n| if n.is_nan() || n == 0.0 { 0.0 } else { n });
    let major = next();
    (major, next())
}

/// `StrWhiteSpaceChar`: what `Number()` trims.
fn is_js_whitespace(c: u32) -> bool {
    matches!(
        c,
        0x09..=0x0D | 0x20 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 | 0xFEFF
    )
}

/// Code points of WTF-8 bytes (surrogates as themselves).
fn code_points(bytes: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        let (len, init) = match lead {
            0x00..=0x7F => (1, u32::from(lead)),
            0xC0..=0xDF => (2, u32::from(lead & 0x1F)),
            0xE0..=0xEF => (3, u32::from(lead & 0x0F)),
            0xF0..=0xF7 => (4, u32::from(lead & 0x07)),
            _ => (1, 0xFFFD),
        };
        let cp = bytes
            .get(i + 1..i + len)
            .map_or(0xFFFD, |rest| rest.iter().fold(init, |acc, &b| (acc << 6) | u32::from(b & 0x3F)));
        out.push(cp);
        i += len;
    }
    out
}

/// JavaScript `Number(string)` (ECMAScript `StringToNumber`).
pub(crate) fn js_number(text: &[u8]) -> f64 {
    let cps = code_points(text);
    let start = cps.iter().position(|&c| !is_js_whitespace(c)).unwrap_or(cps.len());
    let end = cps.iter().rposition(|&c| !is_js_whitespace(c)).map_or(start, |i| i + 1);
    let trimmed = &cps[start..end];
    if trimmed.is_empty() {
        return 0.0;
    }
    if trimmed.iter().any(|&c| c > 0x7F) {
        return f64::NAN;
    }
    let s: Vec<u8> = trimmed.iter().map(|&c| c as u8).collect();
    let radix_bits = match s.get(..2) {
        Some(b"0x" | b"0X") => Some(4),
        Some(b"0o" | b"0O") => Some(3),
        Some(b"0b" | b"0B") => Some(1),
        _ => None,
    };
    if let Some(bits) = radix_bits {
        return radix_to_f64(&s[2..], bits).unwrap_or(f64::NAN);
    }
    match &s[..] {
        b"Infinity" | b"+Infinity" => return f64::INFINITY,
        b"-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    if !is_decimal_literal(&s) {
        return f64::NAN;
    }
    std::str::from_utf8(&s).ok().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN)
}

/// `StrDecimalLiteral` without `Infinity`: `[+-]? (D+ (. D*)? | . D+) ([eE] [+-]? D+)?`.
fn is_decimal_literal(s: &[u8]) -> bool {
    let mut i = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    let count = |i: &mut usize| {
        let start = *i;
        while s.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = count(&mut i);
    if s.get(i) == Some(&b'.') {
        i += 1;
        mantissa += count(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if count(&mut i) == 0 {
            return false;
        }
    }
    i == s.len()
}

/// An unsigned integer in a power-of-two radix, correctly rounded to a double.
fn radix_to_f64(digits: &[u8], bits: u32) -> Option<f64> {
    let radix = 1u32 << bits;
    let values: Vec<u32> = digits.iter().map(|&d| char::from(d).to_digit(radix)).collect::<Option<_>>()?;
    if values.is_empty() {
        return None;
    }
    // Accumulate the first 64 significant bits; remember whether any later bit is set.
    let mut mantissa: u64 = 0;
    let mut used = 0u32;
    let mut dropped = 0i32;
    let mut sticky = false;
    for v in values.into_iter().skip_while(|&v| v == 0) {
        let width = if used == 0 { 32 - v.leading_zeros() } else { bits };
        if used + width <= 64 {
            mantissa = (mantissa << width) | u64::from(v);
            used += width;
        } else {
            let room = 64 - used;
            let keep = v >> (width - room);
            mantissa = if room == 0 { mantissa } else { (mantissa << room) | u64::from(keep) };
            used = 64;
            sticky |= v & ((1 << (width - room)) - 1) != 0;
            dropped += (width - room) as i32;
        }
    }
    if sticky {
        // Below the 64 kept bits: only breaks ties, as any nonzero tail would.
        mantissa |= 1;
    }
    Some(mantissa as f64 * 2f64.powi(dropped))
}

/// The reference's `validateSessionId(value).errors`. Anything but a non-empty string,
/// including a value that is not JSON, "must be a string".
pub(crate) fn validate_session_id<'s, S: Source<'s>>(value: S) -> Result<Vec<Vec<u8>>, CoreError> {
    let text = match value.read() {
        Ok(Read::Str(s)) if !s.as_bytes().is_empty() => match s.utf16_len() {
            n if n < 8 => Some("Session ID too short"),
            n if n > 128 => Some("Session ID too long"),
            _ => None,
        },
        Ok(_) => Some("Session ID must be a string"),
        Err(e) if matches!(e.kind(), ErrorKind::Unsupported { .. }) => Some("Session ID must be a string"),
        Err(e) => return Err(e),
    };
    Ok(text.map(|t| t.as_bytes().to_vec()).into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn errors(v: &Value) -> Vec<String> {
        validate_message(v).unwrap().into_iter().map(|e| String::from_utf8(e).unwrap()).collect()
    }

    fn message(kind: Value, payload: Value) -> Value {
        Value::object([
            ("type", kind),
            ("sessionId", Value::str("session-1")),
            ("timestamp", Value::Int(1)),
            ("version", Value::str("1.0.0")),
            ("payload", payload),
        ])
    }

    #[test]
    fn valid_and_invalid_messages() {
        let ack = Value::object([("sequenceNumber", Value::Int(1)), ("success", Value::Bool(true))]);
        assert!(errors(&message(Value::str("ack"), ack)).is_empty());
        assert_eq!(errors(&Value::Null), ["Message must be an object"]);
        assert_eq!(
            errors(&message(Value::str("ack"), Value::Array(vec![]))),
            ["Ack payload must have sequenceNumber", "Ack payload must have success boolean"]
        );
        assert_eq!(errors(&message(Value::str("ack"), Value::Int(0))), ["Ack message must have payload"]);
        assert_eq!(
            errors(&message(
                Value::Array(vec![Value::Array(vec![Value::Int(1), Value::Null]), Value::Float(1.5)]),
                Value::Null
            )),
            ["Message must have a type field", "Invalid message type: 1,,1.5"]
        );
        let bad = Value::object([("toString", Value::Int(1))]);
        assert!(
            matches!(validate_message(&message(Value::Array(vec![bad]), Value::Null)), Err(e) if matches!(e.kind(), ErrorKind::ToPrimitive))
        );
        assert_eq!(
            errors(&message(Value::object([("valueOf", Value::Int(1))]), Value::Null)),
            ["Message must have a type field", "Invalid message type: [object Object]"]
        );
    }

    #[test]
    fn number_parsing_follows_javascript() {
        let n = |s: &str| js_number(s.as_bytes());
        assert!(n("").eq(&0.0) && n(" \u{3000}\t").eq(&0.0));
        assert!(n("12").eq(&12.0) && n(" 1.5e1 ").eq(&15.0) && n(".5").eq(&0.5) && n("5.").eq(&5.0));
        assert!(n("0x1F").eq(&31.0) && n("0b101").eq(&5.0) && n("0o17").eq(&15.0));
        assert!(n("Infinity").is_infinite() && n("-Infinity") < 0.0);
        for nan in ["-0x1", "0x", "1_0", "abc", "infinity", "1e", "\u{0661}", "+-1", "0x1g", "\u{200b}1"] {
            assert!(n(nan).is_nan(), "{nan:?}");
        }
        // 2^64 + 1 is not representable; correctly rounded it is 2^64.
        assert!(n("0x10000000000000001").eq(&18_446_744_073_709_551_616.0));
        // Halfway between two doubles with a nonzero tail rounds up.
        assert!(n("0x20000000000001001").eq(&36_893_488_147_419_111_424.0));
    }

    #[test]
    fn version_and_session_checks() {
        let v = |c: &str, s: &str| {
            validate_protocol_version(&JsStr::utf8(c), &JsStr::utf8(s))
                .into_iter()
                .map(|e| String::from_utf8(e).unwrap())
                .collect::<Vec<_>>()
        };
        assert!(v("1.0.0", "1.0.5").is_empty());
        assert_eq!(
            v("2.1", "1.0.0"),
            [
                "Incompatible protocol versions: client 2.1, server 1.0.0",
                "Protocol minor version mismatch: client 2.1, server 1.0.0 (may have limited features)"
            ]
        );
        assert!(v("x.0", "0.0").is_empty());
        let sid = |v: &Value| validate_session_id(v).unwrap().len();
        assert_eq!(sid(&Value::str("12345678")), 0);
        assert_eq!(sid(&Value::str("1234567")), 1);
        assert_eq!(sid(&Value::str("😀😀😀😀")), 0);
        assert_eq!(sid(&Value::Int(12_345_678)), 1);
    }
}
