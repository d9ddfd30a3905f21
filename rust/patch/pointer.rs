//! RFC 6901 pointers: escaping, parsing, array indices, and the texts of patch errors.

use crate::canonical::string::write_json_string;
use crate::error::{CoreError, ErrorKind};
use crate::value::JsStr;

/// Append `/` and the escaped `key` (`~` as `~0`, `/` as `~1`) to a pointer.
pub(crate) fn push_token(pointer: &mut Vec<u8>, key: &[u8]) {
    pointer.push(b'/');
    for &b in key {
        match b {
            b'~' => pointer.extend_from_slice(b"~0"),
            b'/' => pointer.extend_from_slice(b"~1"),
            _ => pointer.push(b),
        }
    }
}

/// Append `/` and an array index to a pointer.
pub(crate) fn push_index(pointer: &mut Vec<u8>, index: usize) {
    pointer.push(b'/');
    pointer.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
}

/// `JSON.stringify(text)` for WTF-8 bytes, as the error texts quote pointers.
pub(crate) fn quote(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_json_string(&mut out, &JsStr::wtf8(text));
    // JSON escaping leaves only valid UTF-8 (lone surrogates become \udxxx).
    String::from_utf8_lossy(&out).into_owned()
}

/// The error of op `index`: `patch op <index>: <reason>`.
#[cold]
pub(crate) fn fault(index: usize, reason: &str) -> CoreError {
    ErrorKind::Patch { message: format!("patch op {index}: {reason}") }.into()
}

/// The unescaped tokens of a pointer (WTF-8), or op `index`'s error for a pointer that
/// is neither empty nor starts with `/`, or holds a `~` not followed by `0` or `1`.
pub(crate) fn parse(pointer: &[u8], index: usize) -> Result<Vec<Vec<u8>>, CoreError> {
    let Some(rest) = pointer.strip_prefix(b"/") else {
        if pointer.is_empty() {
            return Ok(Vec::new());
        }
        return Err(fault(index, &format!("invalid pointer {}", quote(pointer))));
    };
    let bad = pointer.iter().enumerate().any(|(i, &b)| b == b'~' && !matches!(pointer.get(i + 1), Some(b'0' | b'1')));
    if bad {
        return Err(fault(index, &format!("invalid pointer {}", quote(pointer))));
    }
    Ok(rest
        .split(|&b| b == b'/')
        .map(|token| {
            let mut out = Vec::with_capacity(token.len());
            let mut i = 0;
            while i < token.len() {
                if token[i] == b'~' {
                    out.push(if token.get(i + 1) == Some(&b'1') { b'/' } else { b'~' });
                    i += 2;
                } else {
                    out.push(token[i]);
                    i += 1;
                }
            }
            out
        })
        .collect())
}

/// The position `token` names in an array of `size` items; with `end` (where `add`
/// inserts), `-` and `size` itself are allowed. Op `index`'s error otherwise.
pub(crate) fn array_index(
    token: &[u8],
    size: usize,
    end: bool,
    pointer: &[u8],
    index: usize,
) -> Result<usize, CoreError> {
    if end && token == b"-" {
        return Ok(size);
    }
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) || (token.len() > 1 && token[0] == b'0') {
        return Err(fault(index, &format!("invalid array index {} in {}", quote(token), quote(pointer))));
    }
    // Digits only: not a number only when too large for any array.
    let position = std::str::from_utf8(token).ok().and_then(|t| t.parse::<usize>().ok()).unwrap_or(usize::MAX);
    if position > size || (position == size && !end) {
        let digits = String::from_utf8_lossy(token);
        return Err(fault(index, &format!("index {digits} out of range in {}", quote(pointer))));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_parses() {
        let mut p = Vec::new();
        push_token(&mut p, b"a/b~c");
        push_token(&mut p, b"");
        push_index(&mut p, 12);
        assert_eq!(p, b"/a~1b~0c//12");
        assert_eq!(parse(&p, 0).unwrap(), [b"a/b~c".to_vec(), Vec::new(), b"12".to_vec()]);
        assert_eq!(parse(b"", 0).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(parse(b"/~01", 0).unwrap(), [b"~1".to_vec()]);
        let err = |r: Result<Vec<Vec<u8>>, CoreError>| r.err().map(|e| e.to_string());
        assert_eq!(err(parse(b"a", 3)).as_deref(), Some("patch op 3: invalid pointer \"a\""));
        assert_eq!(err(parse(b"/a~2", 0)).as_deref(), Some("patch op 0: invalid pointer \"/a~2\""));
        assert_eq!(err(parse(b"/a~", 0)).as_deref(), Some("patch op 0: invalid pointer \"/a~\""));
    }

    #[test]
    fn array_indices() {
        assert_eq!(array_index(b"0", 1, false, b"/0", 0).ok(), Some(0));
        assert_eq!(array_index(b"-", 4, true, b"/-", 0).ok(), Some(4));
        assert_eq!(array_index(b"4", 4, true, b"/4", 0).ok(), Some(4));
        let err = |t: &[u8], size, end| array_index(t, size, end, b"/p", 1).err().map(|e| e.to_string());
        assert_eq!(err(b"4", 4, false).as_deref(), Some("patch op 1: index 4 out of range in \"/p\""));
        assert_eq!(err(b"01", 4, false).as_deref(), Some("patch op 1: invalid array index \"01\" in \"/p\""));
        assert_eq!(err(b"-", 4, false).as_deref(), Some("patch op 1: invalid array index \"-\" in \"/p\""));
        assert_eq!(err(b"", 4, true).as_deref(), Some("patch op 1: invalid array index \"\" in \"/p\""));
        assert_eq!(
            err(b"99999999999999999999999", 4, true).as_deref(),
            Some("patch op 1: index 99999999999999999999999 out of range in \"/p\"")
        );
    }
}
