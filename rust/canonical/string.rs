//! JSON.stringify string escaping (ECMAScript `QuoteJSONString`).
//!
//! `"` and `\` are escaped, `\b \f \n \r \t` get their short forms, other code units
//! below U+0020 become `\u00xx`, and a surrogate that is not half of a pair becomes
//! `\udxxx` (lowercase hex). Everything else, `/`, DEL and U+2028/U+2029 included, is
//! written raw.

use crate::value::JsStr;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Per byte: 0 = copy as is; `u` = `\u00xx`; a letter = that short escape; `S` = the lead
/// byte of a possible surrogate in WTF-8 input.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0xED] = b'S';
    table
};

fn push_unit_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((unit >> shift) & 0xF) as usize]);
    }
}

/// The surrogate code unit encoded at `bytes[i..i + 3]`, if there is one.
fn surrogate_at(bytes: &[u8], i: usize) -> Option<u32> {
    match bytes.get(i..i + 3) {
        Some(&[0xED, b1 @ 0xA0..=0xBF, b2]) => Some(0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F)),
        _ => None,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// True if some byte of `word` is zero (exact, SWAR).
#[inline]
fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGH != 0
}

/// True if no byte of the 8 at `bytes[i..]` needs escaping (or a surrogate check).
#[inline]
fn clean_word(bytes: &[u8], i: usize, wtf8: bool) -> bool {
    bytes.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()).is_some_and(|word| clean(word, wtf8))
}

/// True if none of the 8 bytes needs escaping (or a surrogate check).
#[inline]
fn clean(word: [u8; 8], wtf8: bool) -> bool {
    let word = u64::from_le_bytes(word);
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let special = has_zero_byte(word ^ (ONES * u64::from(b'"')))
        || has_zero_byte(word ^ (ONES * u64::from(b'\\')))
        || (wtf8 && has_zero_byte(word ^ (ONES * 0xED)));
    control == 0 && !special
}

/// Append `s` as a JSON string literal, quotes included.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &JsStr<'_>) {
    let bytes = s.as_bytes();
    let wtf8 = s.is_wtf8();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Strings with nothing to escape (nearly all) are copied in 8-byte blocks, inlined:
    // the last block overlaps the one before, and a short string is padded.
    let len = bytes.len();
    let mut i = 0;
    if len < 8 {
        let mut word = [b'a'; 8];
        for (dest, &b) in word.iter_mut().zip(bytes) {
            *dest = b;
        }
        if clean(word, wtf8) {
            super::number::push_block(out, &word, len);
            out.push(b'"');
            return;
        }
    } else {
        while let Some(word) = bytes.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok())
            && clean(word, wtf8)
        {
            out.extend_from_slice(&word);
            i += 8;
        }
        if i == len {
            out.push(b'"');
            return;
        }
        if i + 8 > len
            && let Some(last) = bytes.get(len - 8..).and_then(|c| <[u8; 8]>::try_from(c).ok())
            && clean(last, wtf8)
        {
            out.truncate(out.len() - (8 - (len - i)));
            out.extend_from_slice(&last);
            out.push(b'"');
            return;
        }
    }
    let mut start = i;
    while i < bytes.len() {
        if clean_word(bytes, i, wtf8) {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        let kind = ESCAPE[byte as usize];
        if kind == 0 || (kind == b'S' && !wtf8) {
            i += 1;
            continue;
        }
        if kind == b'S' {
            let Some(unit) = surrogate_at(bytes, i) else {
                i += 1;
                continue;
            };
            out.extend_from_slice(&bytes[start..i]);
            let low = surrogate_at(bytes, i + 3).filter(|&u| u >= 0xDC00);
            match low {
                Some(lo) if unit < 0xDC00 => {
                    // A high surrogate followed by a low one is one astral character.
                    let cp = 0x1_0000 + ((unit - 0xD800) << 10) + (lo - 0xDC00);
                    let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                }
                _ => {
                    push_unit_escape(out, unit);
                    i += 3;
                }
            }
            start = i;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if kind == b'u' {
            push_unit_escape(out, u32::from(byte));
        } else {
            out.push(b'\\');
            out.push(kind);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(s: &JsStr<'_>) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_json_stringify() {
        assert_eq!(quote(&JsStr::utf8("plain")), r#""plain""#);
        assert_eq!(quote(&JsStr::utf8("a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(quote(&JsStr::utf8("\u{8}\u{c}\n\r\t")), r#""\b\f\n\r\t""#);
        assert_eq!(quote(&JsStr::utf8("\u{0}\u{1f}\u{7f}")), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(quote(&JsStr::utf8("/\u{2028}\u{2029}é😀")), "\"/\u{2028}\u{2029}é😀\"");
        // U+D7FF starts with 0xED but is not a surrogate.
        assert_eq!(quote(&JsStr::utf8("\u{d7ff}")), "\"\u{d7ff}\"");
    }

    #[test]
    fn long_strings_take_the_word_path() {
        let long = "abcdefgh".repeat(5) + "\"" + &"ijklmnop".repeat(3) + "\u{1}" + "é€😀xyz";
        let expected = format!("\"{}\\\"{}\\u0001é€😀xyz\"", "abcdefgh".repeat(5), "ijklmnop".repeat(3));
        assert_eq!(quote(&JsStr::utf8(&long)), expected);
        let surrogate = [b"0123456789".as_slice(), b"\xED\xA0\x80", b"0123456789"].concat();
        assert_eq!(quote(&JsStr::wtf8(&surrogate)), "\"0123456789\\ud8000123456789\"");
        assert_eq!(quote(&JsStr::utf8("\u{d7ff}\u{d7ff}\u{d7ff}\u{d7ff}")), "\"\u{d7ff}\u{d7ff}\u{d7ff}\u{d7ff}\"");
    }

    /// The escaping rules, one character at a time.
    fn naive(s: &str) -> String {
        use std::fmt::Write;
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    write!(out, "\\u{:04x}", c as u32).unwrap();
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn every_length_and_escape_position_takes_the_right_path() {
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "😀", "\u{d7ff}", "\u{7f}"];
        for len in 0..40 {
            let plain: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert_eq!(quote(&JsStr::utf8(&plain)), naive(&plain));
            for special in specials {
                for at in 0..=len {
                    let text = format!("{}{special}{}", &plain[..at], &plain[at..]);
                    assert_eq!(quote(&JsStr::utf8(&text)), naive(&text), "{text:?}");
                    assert_eq!(quote(&JsStr::wtf8(text.as_bytes())), naive(&text), "{text:?}");
                }
            }
        }
        let mut out = b"prefix".to_vec();
        write_json_string(&mut out, &JsStr::utf8("0123456789"));
        assert_eq!(out, b"prefix\"0123456789\"");
    }

    #[test]
    fn lone_surrogates_are_escaped_and_pairs_joined() {
        assert_eq!(quote(&JsStr::wtf8(b"a\xED\xA0\x80b")), r#""a\ud800b""#);
        assert_eq!(quote(&JsStr::wtf8(b"\xED\xBF\xBF")), r#""\udfff""#);
        // Low then high is not a pair.
        assert_eq!(quote(&JsStr::wtf8(b"\xED\xB0\x80\xED\xA0\x80")), r#""\udc00\ud800""#);
        // High then low is the astral character.
        assert_eq!(quote(&JsStr::wtf8(b"\xED\xA0\xBD\xED\xB8\x80")), "\"😀\"");
        assert_eq!(quote(&JsStr::wtf8(b"\xED\x9F\xBF\xED\xA0\x80")), "\"\u{d7ff}\\ud800\"");
    }
}
