//! Where two versions of a file hold the same bytes.
//!
//! A save usually changes a few bytes of a schema file. The parser copies what it built
//! for the previous version's array items whose text did not change, and the tracker
//! what it wrote for them (`tracker::reuse`): both find them through the runs of bytes
//! the two texts share ([`same_text`]).

/// A run of bytes the two texts share: `new[new_start..new_end]` is
/// `old[old_start..old_start + (new_end - new_start)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Same {
    new_start: u32,
    new_end: u32,
    old_start: u32,
}

/// Bytes of a changed region below which no shared run is looked for in it.
const SEARCH_BELOW: usize = 4096;

/// Bytes of the new text searched for in the old one to find a shared run.
const PROBE: usize = 64;

/// Changed regions searched at most, per update: a bound on the work for texts that
/// share little.
const SEARCHES: usize = 64;

/// The runs of bytes the two texts share, in order, found as a save changes a file: a
/// common prefix and suffix, then in what lies between, recursively, a run around a
/// probe of the new text found in the old near where it would be. Every run is checked
/// byte for byte; the runs need not be the longest possible (what they miss is written
/// afresh).
pub(crate) fn same_text(old: &[u8], new: &[u8]) -> Vec<Same> {
    let (Ok(_), Ok(_)) = (u32::try_from(old.len()), u32::try_from(new.len())) else { return Vec::new() };
    let mut runs = Vec::new();
    let mut searches = 0;
    shared_between(old, new, (0, old.len()), (0, new.len()), &mut runs, &mut searches);
    runs.sort_unstable_by_key(|r| r.new_start);
    runs
}

fn push_run(runs: &mut Vec<Same>, old_start: usize, new_start: usize, len: usize) {
    if len > 0 {
        // Offsets fit u32: `same_text` checked the lengths.
        runs.push(Same { new_start: new_start as u32, new_end: (new_start + len) as u32, old_start: old_start as u32 });
    }
}

fn shared_between(
    old: &[u8],
    new: &[u8],
    (o1, o2): (usize, usize),
    (n1, n2): (usize, usize),
    runs: &mut Vec<Same>,
    searches: &mut usize,
) {
    let (a, b) = (old.get(o1..o2).unwrap_or_default(), new.get(n1..n2).unwrap_or_default());
    let prefix = common_prefix(a, b);
    let room = a.len().min(b.len()) - prefix;
    let suffix =
        common_suffix(a.get(a.len() - room..).unwrap_or_default(), b.get(b.len() - room..).unwrap_or_default());
    push_run(runs, o1, n1, prefix);
    push_run(runs, o2 - suffix, n2 - suffix, suffix);
    let (o1, o2, n1, n2) = (o1 + prefix, o2 - suffix, n1 + prefix, n2 - suffix);
    if o2 - o1 < SEARCH_BELOW || n2 - n1 < SEARCH_BELOW || *searches >= SEARCHES {
        return;
    }
    *searches += 1;
    // A probe from the middle of the new region, looked for in the old region nearest
    // where it would be if the region only had changes of equal length.
    let probe_at = n1 + (n2 - n1) / 2 - PROBE / 2;
    let Some(probe) = new.get(probe_at..probe_at + PROBE) else { return };
    let expected = o1 + (probe_at - n1).min(o2 - o1 - PROBE);
    let Some(found) = find_near(old.get(o1..o2).unwrap_or_default(), probe, expected - o1).map(|at| o1 + at) else {
        return;
    };
    // Grow the run both ways from the probe.
    let back = common_suffix(old.get(o1..found).unwrap_or_default(), new.get(n1..probe_at).unwrap_or_default());
    let ahead = common_prefix(old.get(found..o2).unwrap_or_default(), new.get(probe_at..n2).unwrap_or_default());
    push_run(runs, found - back, probe_at - back, back + ahead);
    shared_between(old, new, (o1, found - back), (n1, probe_at - back), runs, searches);
    shared_between(old, new, (found + ahead, o2), (probe_at + ahead, n2), runs, searches);
}

/// How far from where it would be a probe is looked for: text moved further is written
/// afresh.
const FARTHEST: usize = 1 << 20;

/// The occurrence of `needle` in `haystack` nearest `expected`, looked for in windows
/// that grow around it up to [`FARTHEST`].
fn find_near(haystack: &[u8], needle: &[u8], expected: usize) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(needle);
    let mut radius = 4 * PROBE;
    loop {
        let lo = expected.saturating_sub(radius);
        let hi = (expected + radius + needle.len()).min(haystack.len());
        let window = haystack.get(lo..hi).unwrap_or_default();
        let nearest = finder.find_iter(window).map(|at| lo + at).min_by_key(|&at| at.abs_diff(expected));
        if nearest.is_some() || (lo == 0 && hi == haystack.len()) || radius >= FARTHEST {
            return nearest;
        }
        radius *= 4;
    }
}

/// Compared a block at a time (`memcmp`), then byte by byte within the first block that
/// differs.
const BLOCK: usize = 4096;

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a.get(i..i + BLOCK) == b.get(i..i + BLOCK) {
        i += BLOCK;
    }
    while i < n && a.get(i) == b.get(i) {
        i += 1;
    }
    i
}

fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(a.len() - n..).unwrap_or_default(), b.get(b.len() - n..).unwrap_or_default());
    let mut i = 0;
    while i + BLOCK <= n && a.get(n - i - BLOCK..n - i) == b.get(n - i - BLOCK..n - i) {
        i += BLOCK;
    }
    while i < n && a.get(n - i - 1) == b.get(n - i - 1) {
        i += 1;
    }
    i
}

/// Where in the old text the new text's `start..end` is, if it lies within one run of
/// `runs` (sorted by new offset, as [`same_text`] gives them).
pub(crate) fn old_offset(runs: &[Same], start: u32, end: u32) -> Option<u32> {
    let at = runs.partition_point(|s| s.new_end <= start);
    let run = runs.get(at).filter(|s| s.new_start <= start && end <= s.new_end)?;
    Some(start - run.new_start + run.old_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ends() {
        let a: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        b[6000] ^= 1;
        assert_eq!(common_prefix(&a, &b), 6000);
        assert_eq!(common_suffix(&a, &b), 10_000 - 6001);
        assert_eq!(common_prefix(&a, &a[..5000]), 5000);
        assert_eq!(common_suffix(b"xabc", b"abc"), 3);
        assert_eq!(common_prefix(b"", b"abc"), 0);
    }

    /// Every run is shared bytes; with two separate edits, the text between them is found.
    #[test]
    fn runs_between_two_edits() {
        let old: Vec<u8> = (0..200_000u32).flat_map(u32::to_le_bytes).collect();
        let mut new = old.clone();
        new.splice(100..104, *b"longer text");
        new.splice(500_000..500_010, *b"x");
        let runs = same_text(&old, &new);
        for r in &runs {
            let (n, o) = (r.new_start as usize, r.old_start as usize);
            let len = (r.new_end - r.new_start) as usize;
            assert_eq!(new[n..n + len], old[o..o + len]);
        }
        let shared: u32 = runs.iter().map(|r| r.new_end - r.new_start).sum();
        assert!(shared as usize > new.len() - 100, "{runs:?}");
        assert!(same_text(b"", b"abc").is_empty());
        assert_eq!(same_text(b"abc", b"abc").len(), 1);
    }

    #[test]
    fn offsets_within_runs() {
        let runs =
            [Same { new_start: 0, new_end: 10, old_start: 0 }, Same { new_start: 12, new_end: 30, old_start: 15 }];
        assert_eq!(old_offset(&runs, 2, 10), Some(2));
        assert_eq!(old_offset(&runs, 2, 11), None);
        assert_eq!(old_offset(&runs, 12, 20), Some(15));
        assert_eq!(old_offset(&runs, 29, 30), Some(32));
        assert_eq!(old_offset(&runs, 30, 31), None);
    }
}
