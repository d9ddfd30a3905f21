//! Reusing the previous version's canonical bytes for the parts whose text did not change.
//!
//! A save usually changes a few bytes of a schema file. Both versions are documents
//! parsed from their files' bytes ([`Origin`]): an array-item object whose text is the
//! same bytes in both files holds the same value, with the same structure below it, so
//! its canonical JSON, its part hash and those of every array item inside it are the
//! previous walk's. The tracker copies them ([`Reuse`]) instead of writing and hashing
//! the item again: a one-property edit rewrites the path to the edit, not the schema.
//!
//! Which items have the same text is read off the runs of bytes the two files share
//! (`document::runs::same_text`: the common prefix and suffix, and runs found between
//! them; `Origin::same_item`): an item
//! that lies within a run is in the previous file at the run's offset. The previous
//! document must have an array-item object with exactly that span (then its bytes are
//! the same, and so is its value: a JSON value is a function of its text alone), and
//! the same number of array-item objects inside it; anything else is written afresh.

use super::PartHash;
use crate::document::Origin;
use crate::document::runs::Same;

/// What a walk wrote for one array-item object, by ordinal (see [`Origin`]).
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Record {
    /// Where its canonical bytes are in the walk's output.
    pub(super) start: u64,
    pub(super) len: u64,
    /// Its part hash, as two words (a `u128` would align the record to 16 bytes).
    pub(super) hash: [u64; 2],
    pub(super) exact: bool,
    /// The walk left it out of the patch diff's map (see `tracker::SMALL`).
    pub(super) small: bool,
    /// The walk wrote it (an item of a value a duplicate key replaced is never written).
    pub(super) written: bool,
}

impl Record {
    pub(super) fn new(start: usize, len: usize, part: PartHash, small: bool) -> Self {
        Record {
            start: start as u64,
            len: len as u64,
            hash: [part.hash as u64, (part.hash >> 64) as u64],
            exact: part.exact,
            small,
            written: true,
        }
    }

    pub(super) fn part(&self) -> PartHash {
        PartHash { hash: u128::from(self.hash[0]) | (u128::from(self.hash[1]) << 64), exact: self.exact }
    }
}

/// A walk's canonical output and its records: what the next update reuses.
pub(crate) struct Kept {
    chunks: Vec<Vec<u8>>,
    /// Where each chunk starts in the output.
    starts: Vec<u64>,
    pub(super) records: Vec<Record>,
}

impl Kept {
    pub(super) fn new(chunks: Vec<Vec<u8>>, records: Vec<Record>) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut at = 0u64;
        for chunk in &chunks {
            starts.push(at);
            at += chunk.len() as u64;
        }
        Kept { chunks, starts, records }
    }

    fn total(&self) -> u64 {
        self.starts.last().zip(self.chunks.last()).map_or(0, |(start, chunk)| start + chunk.len() as u64)
    }

    /// Append the output's bytes `start..start + len` to `out`; false (and nothing
    /// appended) if the output does not have them.
    pub(super) fn copy(&self, start: u64, len: u64, out: &mut Vec<u8>) -> bool {
        let Some(end) = start.checked_add(len).filter(|&end| end <= self.total()) else {
            return false;
        };
        out.reserve(usize::try_from(len).unwrap_or(0));
        let mut at = start;
        let mut chunk = self.starts.partition_point(|&s| s <= start).saturating_sub(1);
        while at < end {
            let (Some(&first), Some(bytes)) = (self.starts.get(chunk), self.chunks.get(chunk)) else {
                return false;
            };
            let from = (at - first) as usize;
            let to = ((end - first) as usize).min(bytes.len());
            out.extend_from_slice(bytes.get(from..to).unwrap_or_default());
            at = first + to as u64;
            chunk += 1;
        }
        true
    }
}

/// The previous version as the new walk reuses it.
#[derive(Clone, Copy)]
pub(super) struct Reuse<'a> {
    pub(super) old: Origin<'a>,
    pub(super) kept: &'a Kept,
    /// Where the two texts hold the same bytes (`document::runs::same_text`).
    same: &'a [Same],
}

impl<'a> Reuse<'a> {
    pub(super) fn new(old: Origin<'a>, kept: &'a Kept, same: &'a [Same]) -> Self {
        Reuse { old, kept, same }
    }

    /// The previous version's ordinal of the new item `start..end` if it has the same
    /// text there (module docs; `Origin::same_item`, with the length checked too).
    pub(super) fn counterpart(&self, start: u32, end: u32, hint: usize) -> Option<usize> {
        let ordinal = self.old.same_item(self.same, start, hint)?;
        let span = self.old.elements.get(ordinal)?;
        (span.end - span.start == end - start).then_some(ordinal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_across_chunks() {
        let kept = Kept::new(vec![b"abc".to_vec(), b"defg".to_vec(), b"h".to_vec()], Vec::new());
        let mut out = Vec::new();
        assert!(kept.copy(1, 6, &mut out));
        assert_eq!(out, b"bcdefg");
        assert!(kept.copy(1, 7, &mut out));
        assert_eq!(out, b"bcdefgbcdefgh");
        out.clear();
        assert!(kept.copy(3, 4, &mut out));
        assert_eq!(out, b"defg");
        assert!(!kept.copy(5, 4, &mut out));
        assert_eq!(out, b"defg");
        assert!(kept.copy(8, 0, &mut out));
    }
}
