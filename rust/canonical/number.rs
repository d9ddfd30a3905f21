//! JS `Number.prototype.toString` for doubles and integers, as JSON.stringify uses it.
//!
//! Shortest round-trip digits (ryu-js implements the ECMAScript algorithm); integers up
//! to 2^53 are written exactly, larger ones as the nearest double, as `JSON.parse` would
//! have rounded them.

/// Largest integer magnitude a double holds exactly.
const MAX_SAFE: u64 = 1 << 53;

/// Append a double as JSON: non-finite values are `null`, `-0` is `0`.
pub(crate) fn write_f64(out: &mut Vec<u8>, value: f64) {
    // Integral doubles (16.0, 1.0) are common in schemas: the integer path is faster
    // and prints the same digits.
    #[allow(clippy::float_cmp)]
    if value.trunc() == value && value.abs() <= MAX_SAFE as f64 {
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
        return;
    }
    if value.is_finite() {
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Append an integer as JSON (exact within 2^53, else the nearest double).
pub(crate) fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value.unsigned_abs() <= MAX_SAFE {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    } else {
        write_f64(out, value as f64);
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
        String::from_utf8(out).unwrap_or_default()
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
