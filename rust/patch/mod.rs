//! Schema patches: RFC 6902 JSON Patch ops between two JSON values, with RFC 6901
//! pointers (docs/architecture.md, "Extensions"). `lumora_fast.pure.patch` defines the algorithm;
//! this produces the same ops, op for op, and the same error texts.

pub(crate) mod diff;
pub(crate) mod pointer;
