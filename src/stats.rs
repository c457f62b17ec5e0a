//! Per-gene statistics, in exactly the order and precision of each reference tool
//! (see `../shared/spec/`). Workers split the genes (or Scanpy's T partitions, each its own
//! sum), never one sum, so the bits do not depend on the thread count.

use crate::matrix::{Compressed, Dense, Index, Value};
use crate::moments::scanpy_moments;
pub use crate::moments::Stats;
use crate::options::{Flavor, Groups, Params};
use crate::partials::{Layout, Partials};
use rayon::prelude::*;

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
