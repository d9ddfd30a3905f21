//! JS property order: array-index keys first in numeric order, then the rest.
//!
//! An array index is a canonical decimal string for 0..=2^32-2 (`"0"`, `"10"`; not `"01"`,
//! `"-1"`, `"1.5"` or `"4294967295"`). JS objects enumerate those keys first, ascending,
//! whatever order they were created in.

/// The numeric value of `key` if JavaScript treats it as an array index.
pub(crate) fn array_index(key: &[u8]) -> Option<u32> {
    match key {
        [b'0'] => Some(0),
        [] | [b'0', ..] => None,
        _ if key.len() > 10 => None,
        _ => {
            let mut value: u64 = 0;
            for &b in key {
                if !b.is_ascii_digit() {
                    return None;
                }
                value = value * 10 + u64::from(b - b'0');
            }
            u32::try_from(value).ok().filter(|&v| v != u32::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_canonical_indices_only() {
        assert_eq!(array_index(b"0"), Some(0));
        assert_eq!(array_index(b"10"), Some(10));
        assert_eq!(array_index(b"4294967294"), Some(4_294_967_294));
        for k in [&b""[..], b"01", b"-1", b"1.5", b"4294967295", b"99999999999", b"1a", b" 1"] {
            assert_eq!(array_index(k), None, "{k:?}");
        }
    }
}
