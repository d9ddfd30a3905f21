//! The reference's `calculateChecksum`: SHA-256 over the canonical JSON of the schema with
//! `metadata.generatedAt` forced to 0, plus XXH3-128 over the same bytes.
//!
//! The canonical writer streams into the hasher through a small buffer: no intermediate
//! string and no full canonical copy in memory.

use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::canonical::{Output, Writer};
use crate::error::{CoreError, ErrorKind};
use crate::value::{Read, Source, is_dict};

/// What a keeping sink wrote, in the pieces it hashed them in.
pub(crate) type Chunks = Vec<Vec<u8>>;

/// Bytes buffered before the hasher consumes them.
const CHUNK: usize = 64 * 1024;

/// Bytes handed to the hashing thread at a time: large enough that waking it is rare.
const THREAD_CHUNK: usize = 256 * 1024;

/// Chunks waiting for the hashing thread at most (2 MB).
const QUEUED_CHUNKS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha256,
    Xxh3,
}

impl Algorithm {
    pub(crate) fn from_name(name: &str) -> Result<Self, CoreError> {
        match name {
            "sha256" => Ok(Algorithm::Sha256),
            "xxh3" => Ok(Algorithm::Xxh3),
            _ => Err(ErrorKind::UnknownAlgorithm { name: name.to_owned() }.into()),
        }
    }
}

pub(crate) enum Hasher {
    Sha256(Sha256),
    Xxh3(Box<Xxh3>),
}

impl Hasher {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Xxh3 => Hasher::Xxh3(Box::new(Xxh3::new())),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Xxh3(h) => h.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Xxh3(h) => format!("xxh3:{:032x}", h.digest128()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
    s
}

/// Where canonical bytes go to be hashed: the hasher itself, fed in [`CHUNK`]-sized
/// pieces (XXH3, which runs at memory speed: a thread would cost more than it hides), or
/// a second thread once the canonical form outgrows one [`THREAD_CHUNK`] (SHA-256 costs
/// a fifth of canonicalization, and overlapping the two hides it; small schemas never
/// start the thread).
pub(crate) struct HashSink<'scope, 'env> {
    pub(crate) buf: Vec<u8>,
    /// Bytes handed to the hasher so far (the rest are in `buf`).
    pub(crate) hashed: usize,
    scope: Option<&'scope std::thread::Scope<'scope, 'env>>,
    hasher: Option<Hasher>,
    worker: Option<Worker<'scope>>,
    limit: usize,
    /// Every byte written, in the chunks it was hashed in, when the sink keeps them (the
    /// tracker's next update copies unchanged parts from them: `tracker::reuse`).
    kept: Option<Chunks>,
}

struct Worker<'scope> {
    /// Full chunks to hash. Bounded, so the writer waits rather than buffering the schema,
    /// but loosely ([`QUEUED_CHUNKS`]): on a busy machine the hashing thread may not run
    /// for a while, and the writer should not stop for it.
    chunks: SyncSender<Vec<u8>>,
    /// Hashed chunks, cleared, for reuse.
    spare: Receiver<Vec<u8>>,
    handle: std::thread::ScopedJoinHandle<'scope, Hasher>,
}

impl<'scope, 'env> HashSink<'scope, 'env> {
    /// A sink for `algorithm`; SHA-256 hashes on a thread of `scope` once it has more
    /// than one chunk.
    pub(crate) fn new(algorithm: Algorithm, scope: &'scope std::thread::Scope<'scope, 'env>) -> Self {
        let threaded = algorithm == Algorithm::Sha256;
        HashSink {
            buf: Vec::with_capacity(if threaded { 4096 } else { CHUNK + 4096 }),
            hashed: 0,
            scope: threaded.then_some(scope),
            hasher: Some(Hasher::new(algorithm)),
            worker: None,
            limit: if threaded { THREAD_CHUNK } else { CHUNK },
            kept: None,
        }
    }

    /// Like [`HashSink::new`], keeping every byte written: [`HashSink::finish`] gives
    /// them back.
    pub(crate) fn keeping(algorithm: Algorithm, scope: &'scope std::thread::Scope<'scope, 'env>) -> Self {
        HashSink { kept: Some(Vec::new()), ..HashSink::new(algorithm, scope) }
    }

    /// Bytes written so far.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.hashed + self.buf.len()
    }

    /// Whether the buffer should be handed over ([`HashSink::flush`]) between values.
    #[inline]
    pub(crate) fn full(&self) -> bool {
        self.buf.len() >= self.limit
    }

    /// Hash the buffer (inline, or on the thread, started on first use) and empty it.
    #[cold]
    #[inline(never)]
    pub(crate) fn flush(&mut self) {
        self.hashed += self.buf.len();
        let Some(scope) = self.scope else {
            if let Some(hasher) = self.hasher.as_mut() {
                hasher.update(&self.buf);
            }
            match self.kept.as_mut() {
                Some(kept) => kept.push(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096))),
                None => self.buf.clear(),
            }
            return;
        };
        if self.worker.is_none() {
            self.worker = self.start(scope);
        }
        let Some(worker) = &self.worker else { return };
        let next = match self.kept.as_mut() {
            // Hashed chunks come back in order; they are kept, not reused.
            Some(kept) => {
                kept.extend(worker.spare.try_iter());
                Vec::with_capacity(THREAD_CHUNK + 4096)
            }
            None => worker.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(THREAD_CHUNK + 4096)),
        };
        let full = std::mem::replace(&mut self.buf, next);
        // A send fails only if the worker died; `finish` reports it.
        let _ = worker.chunks.send(full);
    }

    /// The hasher with every byte written so far, and the bytes if the sink keeps them
    /// ([`HashSink::keeping`]), in order.
    pub(crate) fn finish(mut self) -> Result<(Hasher, Option<Chunks>), CoreError> {
        let Some(worker) = self.worker.take() else {
            let mut hasher = self.hasher.take().ok_or_else(CoreError::hasher_lost)?;
            hasher.update(&self.buf);
            if let Some(kept) = self.kept.as_mut() {
                kept.push(std::mem::take(&mut self.buf));
            }
            return Ok((hasher, self.kept));
        };
        let Worker { chunks, spare, handle } = worker;
        let sent = chunks.send(std::mem::take(&mut self.buf));
        drop(chunks);
        let hasher = handle.join().map_err(|_| CoreError::hasher_lost())?;
        sent.map_err(|_| CoreError::hasher_lost())?;
        if let Some(kept) = self.kept.as_mut() {
            kept.extend(spare.try_iter());
        }
        Ok((hasher, self.kept))
    }

    fn start(&mut self, scope: &'scope std::thread::Scope<'scope, 'env>) -> Option<Worker<'scope>> {
        let mut hasher = self.hasher.take()?;
        let (chunks, queue) = sync_channel::<Vec<u8>>(QUEUED_CHUNKS);
        let (recycle, spare) = channel::<Vec<u8>>();
        let keep = self.kept.is_some();
        let handle = scope.spawn(move || {
            for mut chunk in queue {
                hasher.update(&chunk);
                if !keep {
                    chunk.clear();
                }
                // The writer may be gone (an error, or the end): the chunk is dropped.
                let _ = recycle.send(chunk);
            }
            hasher
        });
        Some(Worker { chunks, spare, handle })
    }
}

impl Output for HashSink<'_, '_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    #[inline]
    fn flush_if_full(&mut self) {
        if self.full() {
            self.flush();
        }
    }
}

/// Refuse what the reference throws on: a schema that is not an object, a missing
/// `metadata`, or a `metadata` that is neither an object nor an array.
pub(crate) fn check_schema<'s, S: Source<'s>>(schema: S) -> Result<(), CoreError> {
    if !is_dict(schema)? {
        return Err(ErrorKind::SchemaNotObject { type_name: schema.type_name() }.into());
    }
    let Some(metadata) = schema.get("metadata")? else {
        return Err(ErrorKind::NoMetadata.into());
    };
    if is_dict(metadata)? || matches!(metadata.read(), Ok(Read::Array(_))) {
        return Ok(());
    }
    Err(ErrorKind::MetadataNotObject { type_name: metadata.type_name() }.into())
}

/// Write the canonical JSON of `schema` (the exact bytes the checksum hashes).
pub(crate) fn write_canonical<'s, S: Source<'s>, O: Output>(schema: S, out: &mut O) -> Result<(), CoreError> {
    check_schema(schema)?;
    Writer::for_checksum(out).value(schema)
}

/// The canonical JSON of `schema` as one byte vector.
pub(crate) fn canonical_json<'s, S: Source<'s>>(schema: S) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    write_canonical(schema, &mut out)?;
    Ok(out)
}

/// The checksum of `schema`: 64 hex digits for SHA-256, `xxh3:` + 32 for XXH3-128.
pub(crate) fn checksum<'s, S: Source<'s>>(schema: S, algorithm: Algorithm) -> Result<String, CoreError> {
    std::thread::scope(|scope| {
        let mut out = HashSink::new(algorithm, scope);
        let written = write_canonical(schema, &mut out);
        let finished = out.finish();
        written?;
        Ok(finished?.0.finish())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn schema(metadata: Value) -> Value {
        Value::object([("version", Value::str("1.0.0")), ("metadata", metadata), ("nodes", Value::Array(vec![]))])
    }

    #[test]
    fn generated_at_is_zeroed_or_added() {
        let with = schema(Value::object([("generatedAt", Value::Int(123)), ("a", Value::Int(1))]));
        let without = schema(Value::object([("a", Value::Int(1))]));
        let expected = r#"{"metadata":{"a":1,"generatedAt":0},"nodes":[],"version":"1.0.0"}"#;
        for s in [&with, &without] {
            assert_eq!(String::from_utf8(canonical_json(s).unwrap()).unwrap(), expected);
        }
        let a = checksum(&with, Algorithm::Sha256).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(a, checksum(&without, Algorithm::Sha256).unwrap());
        // Known digest of the canonical text above (sha256sum of the same bytes).
        assert_eq!(a, hex(&Sha256::digest(expected.as_bytes())));
    }

    #[test]
    fn metadata_array_is_kept_and_errors_match_the_reference() {
        let arr = schema(Value::Array(vec![Value::Int(1)]));
        assert_eq!(
            String::from_utf8(canonical_json(&arr).unwrap()).unwrap(),
            r#"{"metadata":[1],"nodes":[],"version":"1.0.0"}"#
        );
        let msg = |v: &Value| canonical_json(v).expect_err("an error").to_string();
        assert_eq!(msg(&Value::Array(vec![])), "schema must be a JSON object, got list");
        assert_eq!(msg(&Value::object([("nodes", Value::Null)])), "schema has no 'metadata' object");
        assert_eq!(msg(&schema(Value::Null)), "schema 'metadata' must be an object, got NoneType");
        assert_eq!(msg(&schema(Value::str("x"))), "schema 'metadata' must be an object, got str");
    }

    #[test]
    fn xxh3_and_streaming_agree_with_one_shot_hashing() {
        let big = schema(Value::Array((0..50_000).map(|i| Value::str(&format!("entry number {i}"))).collect()));
        let text = canonical_json(&big).unwrap();
        assert!(text.len() > 3 * CHUNK);
        assert_eq!(checksum(&big, Algorithm::Sha256).unwrap(), hex(&Sha256::digest(&text)));
        let x = checksum(&big, Algorithm::Xxh3).unwrap();
        assert_eq!(x, format!("xxh3:{:032x}", xxhash_rust::xxh3::xxh3_128(&text)));
    }
}
