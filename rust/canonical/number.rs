//! JS `Number.prototype.toString` for doubles and integers, as JSON.stringify uses it.
//!
//! Shortest round-trip digits (ryu-js implements the ECMAScript algorithm); integers up
//! to 2^53 are written exactly, larger ones as the nearest double, as `JSON.parse` would
//! have rounded them.

/// Largest integer magnitude a double holds exactly.
const MAX_SAFE: u64 = 1 << 53;

/// Append `block[..len]`: a fixed-size copy (inlined, no `memcpy` call), then a trim.
#[inline]
pub(crate) fn push_block<const N: usize>(out: &mut Vec<u8>, block: &[u8; N], len: usize) {
    let at = out.len();
    out.extend_from_slice(block);
    out.truncate(at + len.min(N));
}

/// Two decimal digits per entry, `00` to `99`.
static PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

/// Append an integer of magnitude at most 2^53 in decimal.
fn write_safe_int(out: &mut Vec<u8>, value: i64) {
    // Most integers in a schema are small (sizes, counts, flags).
    if let Ok(small @ 0..100) = u8::try_from(value) {
        let pair = usize::from(small) * 2;
        let skip = usize::from(small < 10);
        out.extend_from_slice(&PAIRS[pair + skip..pair + 2]);
        return;
    }
    let mut block = [0u8; 24];
    let negative = value < 0;
    let mut rest = value.unsigned_abs();
    let len = usize::from(negative) + rest.checked_ilog10().unwrap_or(0) as usize + 1;
    block[0] = b'-';
    let mut end = len;
    while rest >= 100 {
        let pair = (rest % 100) as usize * 2;
        rest /= 100;
        end -= 2;
        block[end..end + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if rest >= 10 {
        let pair = rest as usize * 2;
        block[end - 2..end].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        block[end - 1] = b'0' + rest as u8;
    }
    push_block(out, &block, len);
}

/// Append a double as JSON: non-finite values are `null`, `-0` is `0`.
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    if !write_integral(out, value) {
        write_fraction(out, value);
    }
}

/// Integral doubles (16.0, 1.0) are common in schemas: the integer path is faster and
/// prints the same digits. False if `value` is not one.
#[inline]
fn write_integral(out: &mut Vec<u8>, value: f64) -> bool {
    #[allow(clippy::float_cmp)]
    let integral = value.trunc() == value && value.abs() <= MAX_SAFE as f64;
    if integral {
        write_safe_int(out, value as i64);
    }
    integral
}

fn write_fraction(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Append an integer as JSON (exact within 2^53, else the nearest double).
pub(crate) fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value.unsigned_abs() <= MAX_SAFE {
        write_safe_int(out, value);
    } else {
        write_f64(out, value as f64);
    }
}

/// Recently formatted doubles by bit pattern. A schema's fractional numbers are a few
/// design values (`0.5`, `1.25`, `0.75`) repeated thousands of times; formatting each once
/// per walk is enough.
pub(crate) struct FloatCache {
    slots: Vec<FloatSlot>,
}

#[derive(Clone, Copy)]
struct FloatSlot {
    /// `u64::MAX` (a NaN, never cached) marks an empty slot.
    bits: u64,
    len: u8,
    text: [u8; 31],
}

impl FloatCache {
    const SLOTS: usize = 64;

    pub(crate) const fn new() -> Self {
        FloatCache { slots: Vec::new() }
    }

    /// Like [`write_f64`].
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, value: f64) {
        if write_integral(out, value) {
            return;
        }
        if !value.is_finite() {
            write_fraction(out, value);
            return;
        }
        let bits = value.to_bits();
        let at = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        if let Some(slot) = self.slots.get(at)
            && slot.bits == bits
        {
            push_block(out, &slot.text, usize::from(slot.len));
            return;
        }
        let mut buffer = ryu_js::Buffer::new();
        let text = buffer.format_finite(value).as_bytes();
        out.extend_from_slice(text);
        if self.slots.is_empty() {
            self.slots = vec![FloatSlot { bits: u64::MAX, len: 0, text: [0; 31] }; Self::SLOTS];
        }
        if let (Some(slot), Ok(len)) = (self.slots.get_mut(at), u8::try_from(text.len()))
            && let Some(dest) = slot.text.get_mut(..text.len())
        {
            dest.copy_from_slice(text);
            slot.len = len;
            slot.bits = bits;
        }
    }
}

/// JS `String(value)`: like JSON, but `Infinity`, `-Infinity` and `NaN` are spelled out.
pub(crate) fn js_to_string(value: f64) -> String {
    ryu_js::Buffer::new().format(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_like_javascript() {
        // Expected strings are what Node 20 prints for String(x).
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (100.0, "100"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.1"),
            (0.000_001, "0.000001"),
            (0.000_000_1, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1.797_693_134_862_315_7e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (1.777_777_777_777_777_7, "1.7777777777777777"),
            (9_007_199_254_740_993.0, "9007199254740992"),
            (0.333, "0.333"),
            (1e16, "10000000000000000"),
            (-1e-7, "-1e-7"),
            (2.5e-5, "0.000025"),
        ];
        for &(v, want) in cases {
            assert_eq!(json(v), want, "{v:e}");
        }
        assert_eq!(json(f64::INFINITY), "null");
        assert_eq!(json(f64::NAN), "null");
        assert_eq!(js_to_string(f64::INFINITY), "Infinity");
        assert_eq!(js_to_string(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(js_to_string(f64::NAN), "NaN");
        assert_eq!(js_to_string(-0.0), "0");
    }

    #[test]
    fn integers_and_the_float_cache_print_like_the_plain_path() {
        let mut cache = FloatCache::new();
        let ints = [0, 1, -1, 9, 10, -10, 99, 100, 101, 999, 1000, 12_345, -987_654_321, 1 << 53, -(1 << 53)];
        for &i in &ints {
            let mut out = Vec::new();
            write_i64(&mut out, i);
            assert_eq!(out, i.to_string().as_bytes());
        }
        for v in [0.5, 0.25, 1.0, -2.0, 0.1, 1e-7, 1e21, 5e-324, f64::NAN, -0.0, 0.5, 0.25, 123.456, 0.1] {
            let (mut cached, mut plain) = (Vec::new(), Vec::new());
            cache.write(&mut cached, v);
            cache.write(&mut cached, v);
            write_f64(&mut plain, v);
            assert_eq!(cached, [plain.clone(), plain].concat(), "{v:e}");
        }
    }

    #[test]
    fn integers_beyond_2_pow_53_round_to_double() {
        let mut out = Vec::new();
        write_i64(&mut out, 9_007_199_254_740_993);
        assert_eq!(out, b"9007199254740992");
        out.clear();
        write_i64(&mut out, -9_007_199_254_740_992);
        assert_eq!(out, b"-9007199254740992");
        out.clear();
        write_i64(&mut out, i64::MAX);
        assert_eq!(out, b"9223372036854776000");
    }
}
