//! Schema patches: RFC 6902 JSON Patch ops between two JSON values, with RFC 6901
//! pointers (DESIGN.md "Patch updates"). `lumora_fast.pure.patch` defines the algorithm;
//! this produces the same ops, op for op, and the same error texts.

pub(crate) mod diff;
pub(crate) mod pointer;
