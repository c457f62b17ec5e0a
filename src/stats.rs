//! Per-gene statistics, in exactly the order and precision of each reference tool
//! (see `../shared/spec/`). Workers split the genes (or Scanpy's T partitions, each its own
//! sum), never one sum, so the bits do not depend on the thread count.

use crate::matrix::{Compressed, Dense, Index, Pattern, Value};
use crate::options::{Flavor, Groups, Params};
use crate::partials::{Layout, Partials};
use rayon::prelude::*;
use std::ops::Range;

/// Statistics per group and gene, indexed `group * n_cols + gene`.
/// `mean` and `std` are what the transform uses (Seurat: 0 when not centering, 1 when not scaling;
/// Scanpy: std 0 replaced by 1, NaN kept); `var` is the variance `std` came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub n_groups: usize,
    pub n_cols: usize,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub std: Vec<f64>,
}

impl Stats {
    pub(crate) fn new(n_groups: usize, n_cols: usize) -> Self {
        let n = n_groups * n_cols;
        Stats { n_groups, n_cols, mean: vec![0.0; n], var: vec![0.0; n], std: vec![0.0; n] }
    }
}

/// Scanpy (fast_array_utils `mean_var`, correction=1, then `std[std == 0] = 1`) from the sums.
#[inline]
pub fn scanpy_moments(sum: f64, sum_sq: f64, n: usize) -> [f64; 3] {
    let nf = n as f64;
    let mean = sum / nf;
    let mut var = sum_sq / nf - mean * mean;
    if n != 1 {
        var *= nf / (nf - 1.0);
    }
    let mut std = var.sqrt();
    if std == 0.0 {
        std = 1.0;
    }
    [mean, var, std]
}

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
            f(p.to_minor(i), v);
        }
    } else {
        for (&i, &v) in indices.iter().zip(values) {
            let c = p.to_minor(i);
            if block.contains(&c) {
                f(c, v);
            }
        }
    }
}

/// Statistics of a CSR cells x genes matrix for the given flavor: one chunk folded into a fresh
/// accumulator (see `partials`), so the chunked API gives the same bits by construction.
pub fn csr_stats<I: Index, V: Value>(m: &Compressed<I, V>, groups: &Groups, params: &Params, threads: usize) -> Stats {
    const CONSISTENT: &str = "an accumulator made for this matrix accepts it";
    let layout = Layout::new(params, groups.n_groups, m.p.n_minor);
    let mut buf = vec![0.0f64; layout.total_len().expect("sizes were checked by the caller")];
    let mut acc = Partials::init(layout, &mut buf).expect(CONSISTENT);
    acc.accumulate_csr(m, groups, threads).expect(CONSISTENT);
    if params.flavor == Flavor::Seurat {
        acc.next_pass().expect(CONSISTENT);
        acc.accumulate_csr(m, groups, threads).expect(CONSISTENT);
    }
    acc.finalize(params).expect(CONSISTENT)
}

/// Seurat's divisor from the stored-entry sum of squares; returns the `[mean, var, sd]` it uses.
#[inline]
pub(crate) fn seurat_moments(mean: f64, mut ss: f64, nnz: i64, n: i64, params: &Params) -> [f64; 3] {
    let (var, sd) = if params.scale {
        if params.center {
            ss += (mean * mean) * (n - nnz) as f64;
        }
        let var = ss / (n - 1) as f64;
        (var, var.sqrt())
    } else {
        (1.0, 1.0)
    };
    [if params.center { mean } else { 0.0 }, var, sd]
}

/// Statistics of a sparse cells x genes matrix compressed over rows (`csr`) or genes.
pub fn sparse_stats<I: Index, V: Value>(m: &Compressed<I, V>, groups: &Groups, params: &Params, threads: usize, csr: bool) -> Stats {
    if csr {
        csr_stats(m, groups, params, threads)
    } else {
        csc_stats(m, groups)
    }
}

/// Statistics of a CSC cells x genes matrix: Scanpy 2b (per column, squares in f64,
/// independent of T). Seurat has no CSC path; the caller rejects it.
pub fn csc_stats<I: Index, V: Value>(m: &Compressed<I, V>, groups: &Groups) -> Stats {
    let n_cols = m.p.n_major;
    let g_n = groups.n_groups;
    let per_col: Vec<Vec<[f64; 3]>> = (0..n_cols)
        .into_par_iter()
        .with_min_len(8)
        .map(|c| {
            let mut acc = vec![(0.0f64, 0.0f64); g_n];
            for j in m.p.slice(c) {
                if let Some(g) = groups.of(m.p.minor(j)) {
                    let w = m.data[j].to_f64();
                    acc[g].0 += w;
                    acc[g].1 += w * w;
                }
            }
            acc.iter().enumerate().map(|(g, &(s, q))| scanpy_moments(s, q, groups.sizes[g])).collect()
        })
        .collect();
    let mut stats = Stats::new(g_n, n_cols);
    for (c, t) in per_col.iter().enumerate() {
        for (g, &[mean, var, std]) in t.iter().enumerate() {
            let k = g * n_cols + c;
            (stats.mean[k], stats.var[k], stats.std[k]) = (mean, var, std);
        }
    }
    stats
}

/// Statistics of a C-ordered dense matrix: Scanpy 2c (sequential over rows, squares in the input
/// dtype, sums in f64), as one chunk folded into a fresh accumulator so that
/// `sc_accumulate_dense` gives the same bits by construction.
pub fn dense_stats<V: Value>(m: &Dense<V>, groups: &Groups, threads: usize) -> Stats {
    const CONSISTENT: &str = "an accumulator made for this matrix accepts it";
    let layout = Layout::dense(groups.n_groups, m.n_cols);
    let mut buf = vec![0.0f64; layout.total_len().expect("sizes were checked by the caller")];
    let mut acc = Partials::init(layout, &mut buf).expect(CONSISTENT);
    acc.accumulate_dense(m, groups, threads).expect(CONSISTENT);
    let params = Params::new(Flavor::Scanpy, true, true, false, f64::INFINITY, 1).expect(CONSISTENT);
    acc.finalize(&params).expect(CONSISTENT)
}
