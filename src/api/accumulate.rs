//! Chunked statistics: a caller-owned accumulator of doubles folded chunk by chunk, for matrices
//! that do not fit in memory (Dask, backed AnnData). Chunks folded in row order give exactly the
//! in-memory statistics.

use super::{write_stats, Call, DenseIn, Options, Sparse, StatsOut};
use crate::matrix::{Compressed, Index, Value, CSR_AXES};
use crate::options::Params;
use crate::partials::{Layout, Partials};
use crate::status::{fail, Result, *};

fn layout(opts: &Options, n_genes: usize) -> Result<(Layout, Params)> {
    let call = Call::new(opts, &StatsOut::default())?;
    call.no_given("an accumulator")?;
    call.check_scratch(0, n_genes, 0)?;
    Ok((Layout::new(&call.params, call.n_groups, n_genes), call.params))
}

/// The number of doubles an accumulator needs for `n_genes` genes with these options (flavor,
/// `n_partitions`, `n_groups` when `groups` is set, `center`, `scale`).
pub fn accumulator_len(opts: &Options, n_genes: usize) -> Result<usize> {
    let (layout, _) = layout(opts, n_genes)?;
    let Some(n) = layout.total_len() else { fail!(SC_STATUS_SIZE_OVERFLOW, "an accumulator for {n_genes} genes overflows") };
    Ok(n)
}

/// Initialises an accumulator of [`accumulator_len`] doubles.
pub fn accumulator_init(opts: &Options, n_genes: usize, acc: &mut [f64]) -> Result<()> {
    let (layout, _) = layout(opts, n_genes)?;
    Partials::init(layout, acc).map(|_| ())
}

/// Folds a CSR chunk of cells into the accumulator. `opts.groups` labels the chunk's own rows.
/// Seurat needs two passes over all chunks, separated by [`accumulator_next_pass`].
pub fn accumulate_csr<I: Index, V: Value>(x: &Sparse<I, V>, opts: &Options, acc: &mut [f64]) -> Result<()> {
    let call = Call::new(opts, &StatsOut::default())?;
    call.no_given("an accumulator")?;
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    let m = exec.install(|| Compressed::new(x.n_rows, x.n_cols, x.indptr, x.indices, x.data, x.index_base, CSR_AXES))?;
    let groups = call.groups(m.p.n_major)?;
    let layout = Layout::new(&call.params, call.n_groups, m.p.n_minor);
    let mut partials = Partials::open(layout, acc)?;
    let threads = exec.threads;
    exec.install(|| partials.accumulate_csr(&m, &groups, threads))
}

/// Folds a C-ordered dense chunk of cells into the accumulator (Scanpy flavors). numpy's dense
/// sums run over the rows in order whatever the thread count, so every row goes to partition 0.
/// Do not fold CSR and dense chunks into one accumulator: the sums would follow neither of
/// Scanpy's paths.
pub fn accumulate_dense<V: Value>(x: &DenseIn<V>, opts: &Options, acc: &mut [f64]) -> Result<()> {
    let call = Call::new(opts, &StatsOut::default())?;
    call.no_given("an accumulator")?;
    let (exec, m, groups) = call.dense_sums(x)?;
    let layout = Layout::new(&call.params, call.n_groups, m.n_cols);
    let mut partials = Partials::open(layout, acc)?;
    let threads = exec.threads;
    exec.install(|| partials.accumulate_dense(&m, &groups, threads))
}

/// Seurat: ends pass 1 (sums) and starts pass 2 (squared deviations from the means).
pub fn accumulator_next_pass(opts: &Options, n_genes: usize, acc: &mut [f64]) -> Result<()> {
    let (layout, _) = layout(opts, n_genes)?;
    Partials::open(layout, acc)?.next_pass()
}

/// Adds `other` (the accumulator of rows that come after `acc`'s rows) into `acc`: for trees of
/// chunks. Deterministic for a fixed tree; not bit-identical to folding.
pub fn accumulator_merge(opts: &Options, n_genes: usize, acc: &mut [f64], other: &[f64]) -> Result<()> {
    let (layout, _) = layout(opts, n_genes)?;
    Partials::open(layout, acc)?.merge(other)
}

/// Writes the statistics of a complete accumulator; pass them as `given` to scale each chunk.
pub fn accumulator_finalize(opts: &Options, n_genes: usize, acc: &[f64], mut stats_out: StatsOut) -> Result<()> {
    let (layout, params) = layout(opts, n_genes)?;
    let call = Call::new(opts, &stats_out)?;
    call.check_stats_lengths(layout.n_genes, &stats_out)?;
    // Opening needs a mutable buffer; a private copy keeps `acc` read-only.
    let mut copy = acc.to_vec();
    let st = Partials::open(layout, &mut copy)?.finalize(&params)?;
    write_stats(&st, &mut stats_out);
    Ok(())
}
