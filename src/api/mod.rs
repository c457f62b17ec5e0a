//! The safe Rust API. Every rule of which flavor, layout and option go together lives here (and
//! below it); the C ABI ([`crate::ffi`]) only turns C structs into these types and errors into
//! status codes, and the R binding calls these functions directly.
//!
//! Inputs are borrowed as they are: the matrices are validated inside each call, on the call's
//! own thread pool, into private views that safe code cannot alter afterwards.
//!
//! ```
//! use scscale::api::{self, DenseOut, Flavor, Options, Sparse, StatsOut};
//! // 2 cells x 3 genes, CSR.
//! let (indptr, indices, data) = ([0i32, 2, 3], [0i32, 2, 1], [1.0f64, 4.0, 2.0]);
//! let x = Sparse::new(2, 3, &indptr, &indices, &data);
//! let mut out = vec![0.0f64; 6];
//! let mut mean = vec![0.0; 3];
//! let stats = StatsOut { mean: Some(&mut mean), ..StatsOut::default() };
//! api::scale_csr(&x, &Options::new(Flavor::Seurat), DenseOut::new(&mut out, 3), stats)?;
//! assert_eq!(mean, [0.5, 1.0, 2.0]);
//! assert_eq!(out[0], 0.7071067811865475); // (1 - 0.5) / sd(c(1, 0))
//! # Ok::<(), scscale::Error>(())
//! ```

mod accumulate;
mod scale;
mod seurat;
mod stats;

pub use crate::matrix::{Index, Value};
pub use crate::status::{sc_status, Error, Result};
pub use accumulate::{
    accumulate_csr, accumulate_dense, accumulator_finalize, accumulator_init, accumulator_len, accumulator_merge, accumulator_next_pass,
};
pub use scale::{
    scale_csc, scale_csc_column_major, scale_csc_values, scale_csc_values_in_place, scale_csr, scale_csr_values, scale_csr_values_in_place,
    scale_dense, scale_dense_in_place,
};
pub use seurat::{scale_csr_regressed, Regression};
pub use stats::{stats_csc, stats_csr, stats_dense};

use crate::exec::Exec;
use crate::matrix::Dense;
use crate::moments::Stats;
use crate::options::{Groups, Params};
use crate::status::{fail, *};

/// Whose arithmetic to reproduce, bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Scanpy 1.11 to 1.13 `sc.pp.scale`.
    Scanpy,
    /// Scanpy 1.10 `sc.pp.scale` (differs from [`Flavor::Scanpy`] on masked CSR `zero_center=False`).
    Scanpy1_10,
    /// Seurat `ScaleData` (4.3 and 5.x; `FastSparseRowScale` for sparse input), with
    /// matrixStats before 1.0.0 for dense input (`rowMeans2` in one pass).
    Seurat,
    /// [`Flavor::Seurat`] with matrixStats 1.0.0 or later, whose `rowMeans2` refines the mean with
    /// a second pass: differs only for dense input (Seurat 5.5.1 on Debian has matrixStats 1.5.0).
    SeuratMatrixStats1,
}

/// Returns `false` to stop the call (`SC_STATUS_CANCELLED`); called on the caller's thread with
/// (rows done, rows in all).
pub type Progress<'a> = &'a dyn Fn(u64, u64) -> bool;

/// The options of every call. Start from [`Options::new`], then set fields.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    pub flavor: Flavor,
    /// Subtract the mean (Scanpy `zero_center`, Seurat `do.center`).
    pub center: bool,
    /// Divide by the standard deviation (Seurat `do.scale`; must be true for Scanpy).
    pub scale: bool,
    /// Clip at this value (Scanpy `max_value`; Seurat's `scale.max`, `f64::INFINITY` for none).
    pub max_value: Option<f64>,
    /// Scanpy CSR statistics: the caller's numba thread count (>= 1). Changes the bits.
    pub n_partitions: usize,
    /// Worker threads; 0 = all cores. Never changes the bits.
    pub n_threads: usize,
    /// Gene -> output column (-1 = skip), one entry per gene, mapping the kept genes one-to-one
    /// onto the output's columns.
    pub column_map: Option<&'a [i64]>,
    /// One group label per row (-1 = no group); statistics are computed per group.
    pub groups: Option<&'a [i32]>,
    /// Number of groups when `groups` is given (labels are `0..n_groups`).
    pub n_groups: usize,
    /// Precomputed (mean, std), `n_groups * n_genes` each, group-major, used verbatim.
    pub given: Option<(&'a [f64], &'a [f64])>,
    /// `madvise(MADV_HUGEPAGE)` the dense output before writing it.
    pub hugepage_advice: bool,
    pub progress: Option<Progress<'a>>,
}

impl Options<'_> {
    /// The defaults of `flavor`: centre and scale; Scanpy: no clipping, one partition; Seurat:
    /// clip at 10. All threads, no optional inputs.
    pub fn new(flavor: Flavor) -> Self {
        Options {
            flavor,
            center: true,
            scale: true,
            max_value: if matches!(flavor, Flavor::Seurat | Flavor::SeuratMatrixStats1) { Some(10.0) } else { None },
            n_partitions: 1,
            n_threads: 0,
            column_map: None,
            groups: None,
            n_groups: 0,
            given: None,
            hugepage_advice: true,
            progress: None,
        }
    }
}

/// Where to write the statistics (each `n_groups * n_genes`, group-major); written only on success.
#[derive(Default)]
pub struct StatsOut<'a> {
    pub mean: Option<&'a mut [f64]>,
    pub var: Option<&'a mut [f64]>,
    pub std: Option<&'a mut [f64]>,
}

/// A compressed sparse matrix as the caller stores it: CSR (cells x genes, compressed over rows)
/// or CSC (compressed over columns), by the function it is passed to.
#[derive(Clone, Copy)]
pub struct Sparse<'a, I, V> {
    n_rows: usize,
    n_cols: usize,
    indptr: &'a [I],
    indices: &'a [I],
    data: &'a [V],
    index_base: u32,
}

impl<'a, I: Index, V: Value> Sparse<'a, I, V> {
    /// An `n_rows x n_cols` matrix with 0-based indices (validated by the call that uses it).
    pub fn new(n_rows: usize, n_cols: usize, indptr: &'a [I], indices: &'a [I], data: &'a [V]) -> Self {
        Sparse { n_rows, n_cols, indptr, indices, data, index_base: 0 }
    }

    /// 1-based indices (`indptr[0] == 1`), as Fortran and Julia's `SparseMatrixCSC` store them.
    pub fn with_index_base(self, index_base: u32) -> Self {
        Sparse { index_base, ..self }
    }
}

impl<'a, I: Copy, V> Sparse<'a, I, V> {
    /// The same pattern with other values.
    fn with_data<'b, U>(&self, data: &'b [U]) -> Sparse<'b, I, U>
    where
        'a: 'b,
    {
        Sparse { n_rows: self.n_rows, n_cols: self.n_cols, indptr: self.indptr, indices: self.indices, data, index_base: self.index_base }
    }
}

/// A [`Sparse`] matrix whose values are overwritten by the result (same-pattern output in place).
pub struct SparseMut<'a, I, V> {
    pattern: Sparse<'a, I, ()>,
    data: &'a mut [V],
}

impl<'a, I: Index, V: Value> SparseMut<'a, I, V> {
    pub fn new(n_rows: usize, n_cols: usize, indptr: &'a [I], indices: &'a [I], data: &'a mut [V]) -> Self {
        SparseMut { pattern: Sparse { n_rows, n_cols, indptr, indices, data: &[], index_base: 0 }, data }
    }

    pub fn with_index_base(self, index_base: u32) -> Self {
        SparseMut { pattern: Sparse { index_base, ..self.pattern }, data: self.data }
    }
}

/// A row-major (C-ordered) dense matrix; `row_stride` elements between row starts.
#[derive(Clone, Copy)]
pub struct DenseIn<'a, V> {
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    data: &'a [V],
}

impl<'a, V: Value> DenseIn<'a, V> {
    pub fn new(n_rows: usize, n_cols: usize, data: &'a [V]) -> Self {
        DenseIn { n_rows, n_cols, row_stride: n_cols, data }
    }

    pub fn with_row_stride(self, row_stride: usize) -> Self {
        DenseIn { row_stride, ..self }
    }
}

/// A dense matrix overwritten by its own result (in place).
pub struct DenseInOut<'a, V> {
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    data: &'a mut [V],
}

impl<'a, V: Value> DenseInOut<'a, V> {
    pub fn new(n_rows: usize, n_cols: usize, data: &'a mut [V]) -> Self {
        DenseInOut { n_rows, n_cols, row_stride: n_cols, data }
    }

    pub fn with_row_stride(self, row_stride: usize) -> Self {
        DenseInOut { row_stride, ..self }
    }
}

/// The caller's dense result: row-major cells x `n_cols` with `row_stride` (0 = `n_cols`), or
/// column-major for [`scale_csc_column_major`] (then the stride must be 0).
pub struct DenseOut<'a, W> {
    data: &'a mut [W],
    n_cols: usize,
    row_stride: usize,
}

impl<'a, W: Value> DenseOut<'a, W> {
    pub fn new(data: &'a mut [W], n_cols: usize) -> Self {
        DenseOut { data, n_cols, row_stride: 0 }
    }

    pub fn with_row_stride(self, row_stride: usize) -> Self {
        DenseOut { row_stride, ..self }
    }
}

/// The options every call uses, validated.
struct Call<'a> {
    params: Params,
    n_threads: usize,
    column_map: Option<&'a [i64]>,
    group_labels: Option<&'a [i32]>,
    n_groups: usize,
    given: Option<(&'a [f64], &'a [f64])>,
    hugepages: bool,
    /// `Flavor::Scanpy1_10` (the arithmetic of `Flavor::Scanpy` except where it says otherwise).
    scanpy_1_10: bool,
    /// `Flavor::SeuratMatrixStats1`: dense means refined by a second pass.
    seurat_refine: bool,
    progress: Option<Progress<'a>>,
}

impl<'a> Call<'a> {
    fn new(opts: &Options<'a>, stats_out: &StatsOut) -> Result<Self> {
        let flavor = match opts.flavor {
            Flavor::Scanpy | Flavor::Scanpy1_10 => crate::options::Flavor::Scanpy,
            Flavor::Seurat | Flavor::SeuratMatrixStats1 => crate::options::Flavor::Seurat,
        };
        let params = Params::new(
            flavor,
            opts.center,
            opts.scale,
            opts.max_value.is_some(),
            opts.max_value.unwrap_or(f64::INFINITY),
            opts.n_partitions,
        )?;
        if opts.given.is_some() && stats_out.var.is_some() {
            fail!(
                SC_STATUS_INVALID_OPTION,
                "var_out is requested but the statistics are given (given_mean/given_std); no variance is computed"
            );
        }
        Ok(Call {
            params,
            n_threads: opts.n_threads,
            column_map: opts.column_map,
            group_labels: opts.groups,
            n_groups: if opts.groups.is_some() { opts.n_groups } else { 1 },
            given: opts.given,
            hugepages: opts.hugepage_advice,
            scanpy_1_10: opts.flavor == Flavor::Scanpy1_10,
            seurat_refine: opts.flavor == Flavor::SeuratMatrixStats1,
            progress: opts.progress,
        })
    }

    fn no_given(&self, what: &str) -> Result<()> {
        if self.given.is_some() {
            fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense for {what}");
        }
        Ok(())
    }

    /// Scanpy's dense statistics are numpy's column sums, which go row after row for a matrix of
    /// several columns (what the core does) but pairwise over a single column: those bits are
    /// not reproduced, so a one-column dense input whose statistics must be computed is refused.
    fn check_dense_columns(&self, n_cols: usize) -> Result<()> {
        if n_cols == 1 && self.given.is_none() {
            fail!(
                SC_STATUS_UNSUPPORTED,
                "one column: numpy sums a single column pairwise, which scscale does not reproduce (pass given_mean/given_std, or use Scanpy)"
            );
        }
        Ok(())
    }

    /// The dense statistics-only and chunked calls: Scanpy's sums only (Seurat's dense path has
    /// neither form), then the call's pool, the validated view and the groups.
    fn dense_sums<'x, V: Value>(&self, x: &DenseIn<'x, V>) -> Result<(Exec<'a>, Dense<'x, V>, Groups<'a>)> {
        if self.params.flavor != crate::options::Flavor::Scanpy {
            fail!(
                SC_STATUS_UNSUPPORTED,
                "Seurat's dense path (FastRowScale) has no statistics-only or chunked form: scale with sc_scale_dense"
            );
        }
        self.check_scratch(x.n_rows, x.n_cols, 0)?;
        let exec = self.exec()?;
        let m = Dense::new(x.n_rows, x.n_cols, x.row_stride, x.data)?;
        let groups = self.groups(m.n_rows)?;
        self.check_dense_columns(m.n_cols)?;
        Ok((exec, m, groups))
    }

    fn exec(&self) -> Result<Exec<'a>> {
        Exec::new(self.n_threads, self.progress)
    }

    fn groups(&self, n_rows: usize) -> Result<Groups<'a>> {
        Groups::new(self.group_labels, self.n_groups, n_rows)
    }

    /// Refuses, before anything is allocated, a call whose scratch cannot exist.
    fn check_scratch(&self, n_rows: usize, n_genes: usize, n_out: usize) -> Result<()> {
        check_scratch(n_rows, n_genes, n_out, self.n_groups, self.params.n_partitions, crate::exec::resolve_threads(self.n_threads))
    }

    /// Checks the lengths of the given and requested statistics for `n_genes`.
    fn check_stats_lengths(&self, n_genes: usize, out: &StatsOut) -> Result<()> {
        let Some(want) = self.n_groups.checked_mul(n_genes) else {
            fail!(SC_STATUS_SIZE_OVERFLOW, "n_groups * n_genes overflows");
        };
        if let Some((m, s)) = self.given {
            for (len, what) in [(m.len(), "given_mean_len"), (s.len(), "given_std_len")] {
                if len != want {
                    fail!(SC_STATUS_STATS_LENGTH, "{what} is {len}; expected n_groups * n_genes = {want}");
                }
            }
        }
        for (buf, what) in [(&out.mean, "mean_out_len"), (&out.var, "var_out_len"), (&out.std, "std_out_len")] {
            if let Some(b) = buf {
                if b.len() < want {
                    fail!(SC_STATUS_STATS_LENGTH, "{what} is {}; expected at least n_groups * n_genes = {want}", b.len());
                }
            }
        }
        Ok(())
    }

    /// The given statistics, or `compute()`.
    fn stats(&self, n_genes: usize, compute: impl FnOnce() -> Stats) -> Stats {
        match self.given {
            Some((m, s)) => {
                Stats { n_groups: self.n_groups, n_cols: n_genes, mean: m.to_vec(), var: vec![f64::NAN; m.len()], std: s.to_vec() }
            }
            None => compute(),
        }
    }
}

/// Writes the requested statistics (after everything else succeeded).
fn write_stats(st: &Stats, out: &mut StatsOut) {
    for (buf, v) in [(&mut out.mean, &st.mean), (&mut out.var, &st.var), (&mut out.std, &st.std)] {
        if let Some(b) = buf {
            b[..v.len()].copy_from_slice(v);
        }
    }
}

/// Refuses, before anything is allocated, a call whose scratch cannot exist: products of sizes
/// that overflow, or a total beyond the machine's memory and swap (Rust aborts the whole process
/// on a failed allocation, which a library inside R or Python must never do).
fn check_scratch(n_rows: usize, n_genes: usize, n_out: usize, n_groups: usize, partitions: usize, threads: usize) -> Result<()> {
    let product = |parts: &[usize]| parts.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let terms = [
        product(&[3, n_groups, n_genes, 8]),              // statistics
        product(&[2, n_groups, partitions, n_genes, 8]),  // running sums
        product(&[n_groups.saturating_add(1), n_out, 8]), // zero-value rows
        product(&[threads, n_rows.max(n_genes), 16]),     // per-worker stamps and duplicate sums
        product(&[n_groups, 8]),
        product(&[n_out.max(n_genes), 8]), // column map
    ];
    let total = terms.iter().try_fold(0usize, |a, t| a.checked_add((*t)?));
    let Some(total) = total.filter(|&t| t <= isize::MAX as usize) else {
        fail!(
            SC_STATUS_SIZE_OVERFLOW,
            "{n_rows} rows x {n_genes} genes, {n_groups} groups and {partitions} partitions overflow the scratch size"
        );
    };
    if let Some(limit) = memory_limit() {
        if total > limit {
            fail!(
                SC_STATUS_SIZE_OVERFLOW,
                "{n_rows} rows x {n_genes} genes, {n_groups} groups and {partitions} partitions need {total} bytes of scratch, more than this machine's memory and swap ({limit} bytes)"
            );
        }
    }
    Ok(())
}

/// Physical memory plus swap: scratch beyond it can never be allocated and touched.
fn memory_limit() -> Option<usize> {
    // Miri has no sysinfo; the check is then skipped, as on other systems.
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: sysinfo only fills the struct it is given.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::sysinfo(&mut info) } == 0 {
            let bytes = (info.totalram as u128 + info.totalswap as u128) * info.mem_unit.max(1) as u128;
            return Some(bytes.min(usize::MAX as u128) as usize);
        }
    }
    None
}
