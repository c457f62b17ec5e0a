//! Statistics only (means, variances, standard deviations per group and gene).

use super::{write_stats, Call, DenseIn, Options, Sparse, StatsOut};
use crate::matrix::{Compressed, Index, Value, CSC_AXES, CSR_AXES};
use crate::options::Flavor;
use crate::stats;
use crate::status::{fail, Result, *};

/// The statistics of a CSR cells x genes matrix, as the flavor computes them.
pub fn stats_csr<I: Index, V: Value>(x: &Sparse<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    stats_sparse(x, opts, stats_out, true)
}

/// The statistics of a CSC cells x genes matrix (Scanpy flavors).
pub fn stats_csc<I: Index, V: Value>(x: &Sparse<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    stats_sparse(x, opts, stats_out, false)
}

fn stats_sparse<I: Index, V: Value>(x: &Sparse<I, V>, opts: &Options, mut stats_out: StatsOut, csr: bool) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    call.no_given("a statistics-only call")?;
    if call.params.flavor == Flavor::Seurat && !csr {
        fail!(SC_STATUS_UNSUPPORTED, "the Seurat flavor reads CSR cells x genes (dgCMatrix genes x cells): use sc_stats_csr");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    let (n_major, n_minor, axes) = if csr { (x.n_rows, x.n_cols, CSR_AXES) } else { (x.n_cols, x.n_rows, CSC_AXES) };
    let m = exec.install(|| Compressed::new(n_major, n_minor, x.indptr, x.indices, x.data, x.index_base, axes))?;
    let groups = call.groups(x.n_rows)?;
    call.check_stats_lengths(x.n_cols, &stats_out)?;
    let (params, threads) = (call.params, exec.threads);
    let st = exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr));
    write_stats(&st, &mut stats_out);
    Ok(())
}

/// The statistics of a C-ordered dense matrix (Scanpy flavors).
pub fn stats_dense<V: Value>(x: &DenseIn<V>, opts: &Options, mut stats_out: StatsOut) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    call.no_given("a statistics-only call")?;
    let (exec, m, groups) = call.dense_sums(x)?;
    call.check_stats_lengths(m.n_cols, &stats_out)?;
    let threads = exec.threads;
    let st = exec.install(|| stats::dense_stats(&m, &groups, threads));
    write_stats(&st, &mut stats_out);
    Ok(())
}
