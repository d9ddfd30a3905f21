//! `lumora_fast`'s native core: JS-compatible JSON, checksums, schema deltas and message
//! validation for the Lumora hot-reload protocol.
//!
//! The core is plain Rust over the [`value::Source`] trait; only `bindings` knows `PyO3`,
//! and only with the `python` feature (`cargo test --no-default-features` needs no
//! libpython).

#![cfg_attr(not(feature = "python"), allow(dead_code))]

mod canonical;
mod checksum;
mod delta;
mod document;
mod error;
mod frames;
mod parse;
mod patch;
mod tracker;
mod validate;
mod value;

#[cfg(feature = "python")]
mod bindings;
