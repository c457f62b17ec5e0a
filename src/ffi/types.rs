//! The C types of the ABI: constants, borrowed inputs, caller-owned outputs and options.
//! Layouts are part of the ABI (`SC_ABI_VERSION`); Python and Julia mirror them, checked by tests.

use std::ffi::c_void;

/// Version of the binary interface: bumped whenever a struct layout or a signature changes.
pub const SC_ABI_VERSION: u32 = 1;

/// Which tool's arithmetic to reproduce (`SC_FLAVOR_*`).
#[allow(non_camel_case_types)]
pub type sc_flavor = u32;
/// Scanpy 1.12.4 `sc.pp.scale`.
pub const SC_FLAVOR_SCANPY: sc_flavor = 0;
/// Seurat 4.3 and 5.x `ScaleData` (`FastSparseRowScale`; for dense input `FastRowScale` with
/// matrixStats before 1.0.0).
pub const SC_FLAVOR_SEURAT: sc_flavor = 1;
/// Scanpy 1.10.x `sc.pp.scale`: `SC_FLAVOR_SCANPY` except for the same-pattern CSR output
/// (`sc_scale_csr_values`, Scanpy's `zero_center=False`); see `docs/scanpy-versions.md`.
/// Without `groups` the upper clip keeps NaN (1.10's `clip_array`); with `groups` (a mask) the
/// std is rounded to the value type and the quotient computed in it before `min(max_value, q)`
/// (1.10's `_scale_sparse_numba`). Scanpy 1.10 densifies sparse input before centring: its
/// binding calls `sc_scale_dense` on the densified matrix.
pub const SC_FLAVOR_SCANPY_1_10: sc_flavor = 2;
/// `SC_FLAVOR_SEURAT` with matrixStats >= 1.0.0, whose `rowMeans2` refines each mean with a
/// second pass: differs only for dense input (`sc_scale_dense`). Use it when the installed
/// matrixStats is 1.0.0 or later (Seurat 5.5.1 on Debian comes with 1.5.0).
pub const SC_FLAVOR_SEURAT_MATRIXSTATS_1: sc_flavor = 3;

/// Element type of `indptr` and `indices` (`SC_INDEX_*`).
#[allow(non_camel_case_types)]
pub type sc_index_type = u32;
pub const SC_INDEX_INT32: sc_index_type = 0;
pub const SC_INDEX_INT64: sc_index_type = 1;

/// Element type of values (`SC_VALUE_*`).
#[allow(non_camel_case_types)]
pub type sc_value_type = u32;
pub const SC_VALUE_FLOAT32: sc_value_type = 0;
pub const SC_VALUE_FLOAT64: sc_value_type = 1;

/// Progress callback: called on the calling thread with rows (or blocks) done and the total.
/// Return 0 to continue, anything else to cancel the call (`SC_STATUS_CANCELLED`).
#[allow(non_camel_case_types)]
pub type sc_progress_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64) -> i32>;

/// A compressed sparse cells x genes matrix, borrowed for the duration of a call.
/// For `*_csr` functions `indptr` runs over rows (cells): `indptr_len = n_rows + 1` (this is also
/// R's dgCMatrix and Julia's SparseMatrixCSC of genes x cells). For `*_csc` functions it runs over
/// columns (genes): `indptr_len = n_cols + 1`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_sparse {
    pub n_rows: u64,
    pub n_cols: u64,
    pub indptr: *const c_void,
    pub indptr_len: usize,
    pub indices: *const c_void,
    pub indices_len: usize,
    pub data: *const c_void,
    pub data_len: usize,
    /// `SC_INDEX_INT32` or `SC_INDEX_INT64`, for both `indptr` and `indices`.
    pub index_type: sc_index_type,
    /// `SC_VALUE_FLOAT32` or `SC_VALUE_FLOAT64`.
    pub value_type: sc_value_type,
    /// 0 (C, Python) or 1 (Julia, Fortran): applies to `indptr` and `indices`.
    pub index_base: u32,
}

/// A row-major (C-ordered) dense cells x genes matrix, borrowed for the duration of a call.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_dense {
    pub n_rows: u64,
    pub n_cols: u64,
    pub data: *const c_void,
    pub data_len: usize,
    pub value_type: sc_value_type,
    /// Elements between row starts; 0 means `n_cols`.
    pub row_stride: u64,
}

/// A caller-owned row-major dense output: row `r`, output column `j` is `data[r * row_stride + j]`.
/// (Row-major cells x genes is the memory of R's and Julia's column-major genes x cells.)
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_dense_out {
    pub data: *mut c_void,
    /// Elements available; at least `(n_rows - 1) * row_stride + n_cols`.
    pub data_len: usize,
    pub value_type: sc_value_type,
    /// Output columns: the number of genes, or of genes kept by `column_map`.
    pub n_cols: u64,
    /// Elements between row starts (leading dimension); 0 means `n_cols`.
    pub row_stride: u64,
}

/// A caller-owned output with one value per stored entry (same sparsity pattern as the input).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_values_out {
    pub data: *mut c_void,
    pub data_len: usize,
    pub value_type: sc_value_type,
}

/// Options of every call. Start from `sc_options_default`, then set fields.
/// Each optional buffer is NULL (absent) or followed by its length.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_options {
    /// `SC_FLAVOR_SCANPY`, `SC_FLAVOR_SEURAT` or `SC_FLAVOR_SCANPY_1_10`.
    pub flavor: sc_flavor,
    /// Subtract the mean (Scanpy `zero_center`, Seurat `do.center`).
    pub center: bool,
    /// Divide by the standard deviation (Seurat `do.scale`; must be true for Scanpy).
    pub scale: bool,
    /// Clip at `max_value` (Scanpy `max_value` not None; Seurat always clips at `scale.max`).
    pub clip: bool,
    /// Scanpy `max_value` / Seurat `scale.max`. Must not be NaN when `clip`.
    pub max_value: f64,
    /// Scanpy CSR statistics: the caller's numba thread count T (>= 1). Changes the bits.
    pub n_partitions: u32,
    /// Worker threads; 0 = all cores. Never changes the bits.
    pub n_threads: u32,
    /// Optional gene -> output column (-1 = skip), one entry per gene. Must map the kept genes
    /// one-to-one onto `0..out.n_cols`.
    pub column_map: *const i64,
    pub column_map_len: usize,
    /// Optional per-row group label (-1 = no group); statistics are computed per group.
    pub groups: *const i32,
    pub groups_len: usize,
    /// Number of groups when `groups` is given (labels are `0..n_groups`).
    pub n_groups: u32,
    /// Optional precomputed statistics (both or neither), `n_groups * n_genes` each,
    /// group-major; used verbatim instead of computing them.
    pub given_mean: *const f64,
    pub given_mean_len: usize,
    pub given_std: *const f64,
    pub given_std_len: usize,
    /// Optional outputs, `n_groups * n_genes` each (group-major), written only on success.
    pub mean_out: *mut f64,
    pub mean_out_len: usize,
    pub var_out: *mut f64,
    pub var_out_len: usize,
    pub std_out: *mut f64,
    pub std_out_len: usize,
    /// Optional progress/cancel callback and its user data.
    pub progress: sc_progress_fn,
    pub progress_data: *mut c_void,
    /// Do not `madvise(MADV_HUGEPAGE)` the dense output before writing it.
    pub no_hugepage_advice: bool,
}

/// The design of `vars.to.regress` for `sc_scale_csr_regressed` (Seurat's `model.use =
/// "linear"`): `n_rows x n_covariates` values, column-major (R's `model.matrix`, intercept
/// included): covariate `j` of cell `c` is `design[j * n_rows + c]`. Each `groups` group is
/// regressed on its own rows, with the rank rule of R's `qr()`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct sc_regression {
    pub design: *const f64,
    pub design_len: usize,
    pub n_covariates: u64,
    /// Seurat's `use.umi`: residuals of a log-linear model.
    pub use_umi: bool,
}
