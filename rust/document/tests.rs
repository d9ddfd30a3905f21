use super::parse::{parse, parse_fast, parse_reference};
use super::*;
use crate::canonical::stringify;
use crate::checksum::checksum;
use crate::error::MAX_DEPTH;
use crate::parse::ValueBuilder;

fn same_document(text: &str) {
    let fast = parse_fast(text.as_bytes(), false, None).unwrap_or_else(|| panic!("fast parser gave up on {text:?}"));
    let reference = parse_reference(text.as_bytes(), false).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let value = crate::parse::parse(text.as_bytes(), false, &mut ValueBuilder).unwrap_or_else(|e| panic!("{e}"));
    let out = |doc: &Document| stringify(doc.root(), false).unwrap_or_else(|e| panic!("{e}"));
    let expected = stringify(&value, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out(&fast), expected, "fast: {text}");
    assert_eq!(out(&reference), expected, "reference: {text}");
}

#[test]
fn documents_stringify_like_values() {
    for text in [
        "null",
        "true",
        " [1, -0, 2.5, 1e21, 1E-7, -12345678901234567890, 123456789012345678, 0.1] ",
        r#"{"b": 1, "a": [true, false, null], "2": "x", "1": {"k": "v"}}"#,
        r#"{"a": 1, "b": 2, "a": 3}"#,
        r#"{"s": "plain \"quoted\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800 tail"}"#,
        r#""a long plain string of more than eight bytes, with é and 😀 in it""#,
        r#"{"nodes": [{"id": "1", "type": "View", "props": {}, "children": []}], "metadata": {"version": "1"}}"#,
        "[[[[[]]]], {}, [{}], \"\"]",
    ] {
        same_document(text);
    }
}

#[test]
fn duplicate_keys_keep_the_last_value_at_the_first_place() {
    let many = (0..40).fold(String::new(), |text, i| text + &format!("\"k{i}\": {i}, "));
    let text = format!("{{{many}\"k3\": \"last\", \"z\": 0}}");
    same_document(&text);
    let doc = parse(text.as_bytes(), false).unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(stringify(doc.root(), false).unwrap_or_default()).unwrap_or_default();
    assert!(out.starts_with(r#"{"k0":0,"k1":1,"k2":2,"k3":"last","k4":4"#), "{out}");
}

#[test]
fn errors_are_the_reference_parsers() {
    for text in ["", "[1,]", "{\"a\" 1}", "[1.]", "01", "\"\\x\"", "\"a\u{1}\"", "NaN", "[1] x", "\"open", "tru"] {
        assert!(parse_fast(text.as_bytes(), false, None).is_none(), "{text:?}");
        let ours = parse(text.as_bytes(), false).map(|_| ()).map_err(|e| e.to_string());
        let theirs =
            crate::parse::parse(text.as_bytes(), false, &mut ValueBuilder).map(|_| ()).map_err(|e| e.to_string());
        assert!(ours.is_err(), "{text:?}");
        assert_eq!(ours, theirs, "{text:?}");
    }
    let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert!(parse(deep.as_bytes(), false).is_err());
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse_fast(ok.as_bytes(), false, None).is_some());
}

#[test]
fn checksums_match_owned_values() {
    let text =
        r#"{"metadata": {"generatedAt": 5, "version": "2"}, "nodes": [{"id": 1, "props": {"b": 1.0, "a": "é"}}]}"#;
    let doc = parse(text.as_bytes(), false).unwrap_or_else(|e| panic!("{e}"));
    let value = crate::parse::parse(text.as_bytes(), false, &mut ValueBuilder).unwrap_or_else(|e| panic!("{e}"));
    for algorithm in [Algorithm::Sha256, Algorithm::Xxh3] {
        let expected = checksum(&value, algorithm).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.checksum(algorithm).unwrap_or_else(|e| panic!("{e}")), expected);
        assert_eq!(doc.checksum(algorithm).unwrap_or_else(|e| panic!("{e}")), expected, "cached");
    }
}

#[test]
fn big_integers_read_as_doubles() {
    let doc = parse(b"[12345678901234567890, -99999999999999999999]", false).unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8(stringify(doc.root(), false).unwrap_or_default()).unwrap_or_default();
    assert_eq!(out, "[12345678901234567000,-100000000000000000000]");
}
