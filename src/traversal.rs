//! How workers walk a compressed matrix: genes split into blocks, each block's part of a row,
//! and the prefetches that keep a worker that skips other blocks' entries fed.

use crate::matrix::{Compressed, Index, Pattern, Value};
use std::ops::Range;

/// Genes split into `n_blocks` contiguous blocks (fewer when there are few genes). One block per
/// worker: every block reads every row, so more blocks mean more memory traffic.
pub(crate) fn column_blocks(n_cols: usize, n_blocks: usize) -> Vec<Range<usize>> {
    if n_cols == 0 {
        return vec![];
    }
    let n_blocks = n_blocks.min(n_cols.div_ceil(32)).max(1);
    let w = n_cols.div_ceil(n_blocks);
    (0..n_cols).step_by(w).map(|s| s..(s + w).min(n_cols)).collect()
}

/// Rows ahead a worker prefetches its part of.
const PREFETCH_ROWS_AHEAD: usize = 4;

/// Asks for every cache line of stored entries `entries` (indices and values).
#[inline(always)]
fn prefetch_entries<I: Index, V: Value>(m: &Compressed<I, V>, entries: Range<usize>) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (m, entries);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching never faults; wrapping_add makes no claim about the address.
        unsafe {
            for j in entries.clone().step_by(64 / std::mem::size_of::<I>()) {
                _mm_prefetch::<_MM_HINT_T0>(m.p.indices.as_ptr().wrapping_add(j) as *const i8);
            }
            for j in entries.step_by(64 / std::mem::size_of::<V>()) {
                _mm_prefetch::<_MM_HINT_T0>(m.data.as_ptr().wrapping_add(j) as *const i8);
            }
        }
    }
}

/// Asks for every cache line of row `r` (nothing past the last row).
#[inline(always)]
pub(crate) fn prefetch_row<I: Index, V: Value>(m: &Compressed<I, V>, r: usize) {
    if r < m.p.n_major {
        prefetch_entries(m, m.p.slice(r));
    }
}

/// Asks for `block`'s part of row `r`, where an even spread of the row's genes puts it: a
/// worker that skips the other blocks' parts of each row leaves gaps the hardware prefetcher
/// does not bridge, so each row would start with a miss.
#[inline(always)]
fn prefetch_block_part<I: Index, V: Value>(m: &Compressed<I, V>, r: usize, block: &Range<usize>) {
    if r < m.p.n_major {
        let range = m.p.slice(r);
        let at = |c: usize| range.start + m.p.even_spread(range.len(), c);
        prefetch_entries(m, at(block.start)..at(block.end));
    }
}

/// Calls `f(gene, value)` for the stored entries of row `r` whose gene is in `block`, in stored order.
#[inline(always)]
pub(crate) fn for_entries_in<I: Index, V: Value>(
    m: &Compressed<I, V>,
    r: usize,
    block: &Range<usize>,
    whole: bool,
    mut f: impl FnMut(usize, V),
) {
    // A local copy: the callers' stores could otherwise alias it and force a reload per entry.
    let p: Pattern<I> = m.p;
    if !whole && p.sorted {
        prefetch_block_part(m, r + PREFETCH_ROWS_AHEAD, block);
    }
    let range = if whole || !p.sorted { p.slice(r) } else { p.slice_within(r, block) };
    let (indices, values) = (&p.indices[range.clone()], &m.data[range]);
    if whole || p.sorted {
        for (&i, &v) in indices.iter().zip(values) {
            f(p.minor_of(i), v);
        }
    } else {
        for (&i, &v) in indices.iter().zip(values) {
            let c = p.minor_of(i);
            if block.contains(&c) {
                f(c, v);
            }
        }
    }
}
