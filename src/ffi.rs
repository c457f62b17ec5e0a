//! The C ABI. Every export validates all inputs before writing anything, catches panics, and
//! reports failures as a numbered `sc_status` plus a thread-local message.
//!
//! Safety, for every export: each pointer is NULL or valid for its stated length for the duration
//! of the call (README, "The contract"); nothing is retained after the call returns.
#![allow(clippy::missing_safety_doc)]

use crate::exec::{Exec, SharedConst, SharedMut};
use crate::matrix::{required_len, Compressed, Dense, Index, Value, CSC_AXES, CSR_AXES};
use crate::options::{ColumnMap, Flavor, Groups, Params};
use crate::partials::{Layout, Partials};
use crate::stats::{self, Stats};
use crate::status::{fail, Result, *};
use crate::transform::{self, DenseOut, DenseSrc, Rule};
use std::ffi::{c_char, c_void};
use std::mem::{align_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Version of the binary interface: bumped whenever a struct layout or a signature changes.
pub const SC_ABI_VERSION: u32 = 1;

/// Which tool's arithmetic to reproduce (`SC_FLAVOR_*`).
#[allow(non_camel_case_types)]
pub type sc_flavor = u32;
/// Scanpy 1.12.4 `sc.pp.scale`.
pub const SC_FLAVOR_SCANPY: sc_flavor = 0;
/// Seurat 4.3 `ScaleData` (`FastSparseRowScale`).
pub const SC_FLAVOR_SEURAT: sc_flavor = 1;
/// Scanpy 1.10.x `sc.pp.scale`: `SC_FLAVOR_SCANPY` except for the same-pattern CSR output
/// (`sc_scale_csr_values`, Scanpy's `zero_center=False`); see `docs/scanpy-versions.md`.
/// Without `groups` the upper clip keeps NaN (1.10's `clip_array`); with `groups` (a mask) the
/// std is rounded to the value type and the quotient computed in it before `min(max_value, q)`
/// (1.10's `_scale_sparse_numba`). Scanpy 1.10 densifies sparse input before centring: its
/// binding calls `sc_scale_dense` on the densified matrix.
pub const SC_FLAVOR_SCANPY_1_10: sc_flavor = 2;

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

// ---------------------------------------------------------------------------------------------
// Panic boundary and small helpers.

/// Runs `f`, turning an error into its status (and message) and a panic into `SC_STATUS_PANIC`.
fn boundary(f: impl FnOnce() -> Result<()>) -> sc_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SC_STATUS_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (please report): {what}"));
            SC_STATUS_PANIC
        }
    }
}

/// A caller's struct pointer as a reference, or `SC_STATUS_NULL_POINTER`.
///
/// # Safety
/// `p` is NULL or points to a live, initialised `T` for `'a` (the export contract).
unsafe fn not_null<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: this fn's contract.
    match unsafe { p.as_ref() } {
        Some(r) => Ok(r),
        None => fail!(SC_STATUS_NULL_POINTER, "{what} is NULL; pass a pointer to a filled-in struct"),
    }
}

fn to_usize(v: u64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::new(SC_STATUS_SIZE_OVERFLOW, format!("{what} = {v} does not fit in size_t")))
}

fn check_buffer<T>(ptr: *const T, len: usize, what: &str) -> Result<()> {
    if ptr.is_null() && len > 0 {
        fail!(SC_STATUS_NULL_POINTER, "{what} is NULL but its length is {len}");
    }
    if len.checked_mul(size_of::<T>()).map_or(true, |b| b > isize::MAX as usize) {
        fail!(SC_STATUS_SIZE_OVERFLOW, "{what}: {len} elements overflow the address space");
    }
    if !ptr.is_null() && (ptr as usize) % align_of::<T>() != 0 {
        fail!(SC_STATUS_MISALIGNED, "{what} ({ptr:p}) is not aligned to {} bytes", align_of::<T>());
    }
    Ok(())
}

/// A caller buffer as a slice (NULL with length 0 is an empty slice).
///
/// # Safety
/// `ptr` must point to `len` live elements of `T` for `'a`, or be NULL with `len == 0`.
unsafe fn slice<'a, T>(ptr: *const c_void, len: usize, what: &str) -> Result<&'a [T]> {
    let ptr = ptr as *const T;
    check_buffer(ptr, len, what)?;
    // SAFETY: check_buffer passed; the caller guarantees `len` live elements (this fn's contract).
    Ok(if len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(ptr, len) } })
}

/// An optional caller buffer: NULL = absent.
unsafe fn opt_slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<Option<&'a [T]>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from this fn's contract.
    Ok(Some(unsafe { slice(ptr as *const c_void, len, what) }?))
}

/// Byte ranges of the call's buffers, to refuse outputs that overlap inputs or each other.
#[derive(Default)]
struct Regions(Vec<(usize, usize, &'static str, bool)>);

impl Regions {
    fn add<T>(&mut self, ptr: *const T, len: usize, what: &'static str, is_output: bool) {
        if !ptr.is_null() && len > 0 {
            // Saturating: an overflowing length is refused by check_buffer, which may run later.
            self.0.push((ptr as usize, len.saturating_mul(size_of::<T>()), what, is_output));
        }
    }

    fn check(&self) -> Result<()> {
        for (i, a) in self.0.iter().enumerate() {
            for b in &self.0[i + 1..] {
                if (a.3 || b.3) && a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1) {
                    fail!(SC_STATUS_OVERLAP, "{} overlaps {}; outputs must not share memory with other buffers", a.2, b.2);
                }
            }
        }
        Ok(())
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

impl Call<'_> {
    /// [`check_scratch`] for this call's options.
    fn check_scratch(&self, n_rows: u64, n_genes: u64, n_out: u64) -> Result<()> {
        let threads = crate::exec::resolve_threads(self.n_threads);
        check_scratch(
            to_usize(n_rows, "n_rows")?,
            to_usize(n_genes, "n_genes")?,
            to_usize(n_out, "out.n_cols")?,
            self.n_groups,
            self.params.n_partitions,
            threads,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Options.

/// The parts of `sc_options` every call uses, validated.
struct Call<'a> {
    params: Params,
    n_threads: usize,
    column_map: Option<&'a [i64]>,
    group_labels: Option<&'a [i32]>,
    n_groups: usize,
    given: Option<(&'a [f64], &'a [f64])>,
    opts: &'a sc_options,
    hugepages: bool,
    /// `SC_FLAVOR_SCANPY_1_10` (arithmetic of `Flavor::Scanpy` except where it says otherwise).
    scanpy_1_10: bool,
}

impl<'a> Call<'a> {
    unsafe fn new(opts: &'a sc_options, regions: &mut Regions) -> Result<Self> {
        let flavor = match opts.flavor {
            SC_FLAVOR_SCANPY | SC_FLAVOR_SCANPY_1_10 => Flavor::Scanpy,
            SC_FLAVOR_SEURAT => Flavor::Seurat,
            f => fail!(SC_STATUS_INVALID_ENUM, "{}", crate::scanpy_versions::unknown_flavor(f)),
        };
        let params = Params::new(flavor, opts.center, opts.scale, opts.clip, opts.max_value, opts.n_partitions as usize)?;
        // SAFETY: opts' buffers satisfy the export contract (module doc).
        let column_map = unsafe { opt_slice(opts.column_map, opts.column_map_len, "column_map") }?;
        // SAFETY: as above.
        let group_labels = unsafe { opt_slice(opts.groups, opts.groups_len, "groups") }?;
        // SAFETY: as above.
        let given_mean = unsafe { opt_slice(opts.given_mean, opts.given_mean_len, "given_mean") }?;
        // SAFETY: as above.
        let given_std = unsafe { opt_slice(opts.given_std, opts.given_std_len, "given_std") }?;
        let given = match (given_mean, given_std) {
            (Some(m), Some(s)) => Some((m, s)),
            (None, None) => None,
            _ => fail!(SC_STATUS_INVALID_OPTION, "given_mean and given_std must be given together"),
        };
        if given.is_some() && !opts.var_out.is_null() {
            fail!(
                SC_STATUS_INVALID_OPTION,
                "var_out is requested but the statistics are given (given_mean/given_std); no variance is computed"
            );
        }
        for (p, n, what) in [
            (opts.mean_out, opts.mean_out_len, "mean_out"),
            (opts.var_out, opts.var_out_len, "var_out"),
            (opts.std_out, opts.std_out_len, "std_out"),
        ] {
            if !p.is_null() {
                check_buffer(p as *const f64, n, what)?;
            }
            regions.add(p as *const f64, n, what, true);
        }
        regions.add(opts.column_map, opts.column_map_len, "column_map", false);
        regions.add(opts.groups, opts.groups_len, "groups", false);
        regions.add(opts.given_mean, opts.given_mean_len, "given_mean", false);
        regions.add(opts.given_std, opts.given_std_len, "given_std", false);
        Ok(Call {
            params,
            n_threads: opts.n_threads as usize,
            column_map,
            group_labels,
            n_groups: if group_labels.is_some() { opts.n_groups as usize } else { 1 },
            given,
            opts,
            hugepages: !opts.no_hugepage_advice,
            scanpy_1_10: opts.flavor == SC_FLAVOR_SCANPY_1_10,
        })
    }

    fn exec(&self) -> Result<Exec<'static>> {
        Exec::new(self.n_threads, None)
    }

    /// The executor with the caller's progress callback wired in. The closure lives in `slot`.
    fn exec_with_progress<'s>(&self, slot: &'s mut Option<Box<dyn FnMut(u64, u64) -> bool>>) -> Result<Exec<'s>> {
        if let Some(cb) = self.opts.progress {
            let data = SharedMut(self.opts.progress_data);
            *slot = Some(Box::new(move |done, total| {
                // SAFETY: the caller's callback, called on the caller's thread with its data.
                unsafe { cb(data.get(), done, total) == 0 }
            }));
        }
        Exec::new(self.n_threads, slot.as_mut().map(|b| &mut **b as &mut dyn FnMut(u64, u64) -> bool))
    }

    fn groups(&self, n_rows: usize) -> Result<Groups<'a>> {
        Groups::new(self.group_labels, self.n_groups, n_rows)
    }

    /// Checks the lengths of the given and requested statistics for `n_genes`.
    fn check_stats_lengths(&self, n_genes: usize) -> Result<()> {
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
        let o = self.opts;
        for (p, len, what) in [
            (o.mean_out, o.mean_out_len, "mean_out_len"),
            (o.var_out, o.var_out_len, "var_out_len"),
            (o.std_out, o.std_out_len, "std_out_len"),
        ] {
            if !p.is_null() && len < want {
                fail!(SC_STATUS_STATS_LENGTH, "{what} is {len}; expected at least n_groups * n_genes = {want}");
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

    /// Writes the requested statistics (after everything else succeeded).
    fn write_stats(&self, st: &Stats) {
        let o = self.opts;
        for (p, v) in [(o.mean_out, &st.mean), (o.var_out, &st.var), (o.std_out, &st.std)] {
            if !p.is_null() {
                // SAFETY: length checked by check_stats_lengths; no overlap (Regions).
                unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len()) };
            }
        }
    }
}

fn sparse_axes(x: &sc_sparse, compressed_over_rows: bool) -> Result<(usize, usize)> {
    let n_rows = to_usize(x.n_rows, "n_rows")?;
    let n_cols = to_usize(x.n_cols, "n_cols")?;
    Ok(if compressed_over_rows { (n_rows, n_cols) } else { (n_cols, n_rows) })
}

/// Borrows and validates a sparse input with concrete types.
unsafe fn sparse_view<'a, I: Index, V: Value>(
    x: &'a sc_sparse,
    compressed_over_rows: bool,
    exec: &Exec,
    regions: &mut Regions,
) -> Result<Compressed<'a, I, V>> {
    let (n_major, n_minor) = sparse_axes(x, compressed_over_rows)?;
    // SAFETY: x's buffers satisfy the export contract (module doc).
    let indptr = unsafe { slice::<I>(x.indptr, x.indptr_len, "indptr") }?;
    // SAFETY: as above.
    let indices = unsafe { slice::<I>(x.indices, x.indices_len, "indices") }?;
    // SAFETY: as above.
    let data = unsafe { slice::<V>(x.data, x.data_len, "data") }?;
    regions.add(indptr.as_ptr(), indptr.len(), "indptr", false);
    regions.add(indices.as_ptr(), indices.len(), "indices", false);
    regions.add(data.as_ptr(), data.len(), "data", false);
    let axes = if compressed_over_rows { CSR_AXES } else { CSC_AXES };
    let base = x.index_base;
    exec.install(|| Compressed::new(n_major, n_minor, indptr, indices, data, base, axes))
}

/// Calls the unsafe `$f` for `$x`'s index and value types. Used only by exports and their
/// helpers, whose pointer arguments satisfy the export contract (module doc): that is `$f`'s.
macro_rules! dispatch_sparse {
    ($x:expr, $f:ident($($arg:expr),*)) => {
        match ($x.index_type, $x.value_type) {
            // SAFETY: the export contract (see the macro's doc).
            (SC_INDEX_INT32, SC_VALUE_FLOAT32) => unsafe { $f::<i32, f32>($($arg),*) },
            // SAFETY: the export contract (see the macro's doc).
            (SC_INDEX_INT32, SC_VALUE_FLOAT64) => unsafe { $f::<i32, f64>($($arg),*) },
            // SAFETY: the export contract (see the macro's doc).
            (SC_INDEX_INT64, SC_VALUE_FLOAT32) => unsafe { $f::<i64, f32>($($arg),*) },
            // SAFETY: the export contract (see the macro's doc).
            (SC_INDEX_INT64, SC_VALUE_FLOAT64) => unsafe { $f::<i64, f64>($($arg),*) },
            (SC_INDEX_INT32 | SC_INDEX_INT64, v) => fail!(SC_STATUS_INVALID_ENUM, "value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)"),
            (i, _) => fail!(SC_STATUS_INVALID_ENUM, "index_type is {i}; expected SC_INDEX_INT32 (0) or SC_INDEX_INT64 (1)"),
        }
    };
}

/// Calls the unsafe `$f` for the value type `$vt`, under the same contract as `dispatch_sparse!`.
macro_rules! dispatch_value {
    ($vt:expr, $what:expr, $f:ident::<$($ty:ty),*>($($arg:expr),*)) => {
        match $vt {
            // SAFETY: the export contract (see the macro's doc).
            SC_VALUE_FLOAT32 => unsafe { $f::<$($ty,)* f32>($($arg),*) },
            // SAFETY: the export contract (see the macro's doc).
            SC_VALUE_FLOAT64 => unsafe { $f::<$($ty,)* f64>($($arg),*) },
            v => fail!(SC_STATUS_INVALID_ENUM, "{}.value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)", $what),
        }
    };
    ($vt:expr, $what:expr, $f:ident($($arg:expr),*)) => {
        dispatch_value!($vt, $what, $f::<>($($arg),*))
    };
}

/// The caller's dense output for `n_rows` cells, row-major, or column-major (then seen as a
/// row-major output-columns x cells matrix), checked and added to `regions` but not yet borrowed:
/// `&mut [W]` over it may exist only once `regions.check()` has ruled out overlap with the inputs.
struct CheckedOut<W> {
    ptr: *mut W,
    len: usize,
    stride: usize,
}

impl<W: Value> CheckedOut<W> {
    /// # Safety
    /// `regions.check()` must have passed with this output in `regions`, and nothing else may
    /// access the output's memory while the returned borrow lives.
    unsafe fn borrow<'a>(self, _checked: &'a Regions) -> DenseOut<'a, W> {
        // SAFETY: `dense_out` checked pointer, alignment and length (`check_buffer`); the caller
        // guarantees the output overlaps no input.
        let data: &mut [W] = if self.len == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) } };
        DenseOut { data, stride: self.stride }
    }
}

unsafe fn dense_out<W: Value>(out: &sc_dense_out, n_rows: usize, column_major: bool, regions: &mut Regions) -> Result<CheckedOut<W>> {
    let n_out = to_usize(out.n_cols, "out.n_cols")?;
    let (lines, width, stride) = if column_major {
        (n_out, n_rows, n_rows)
    } else {
        (n_rows, n_out, if out.row_stride == 0 { n_out } else { to_usize(out.row_stride, "out.row_stride")? })
    };
    let need = required_len(lines, width, stride, "out.row_stride")?;
    if out.data_len < need {
        let order = if column_major { "in column-major order".to_string() } else { format!("with row stride {stride}") };
        fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; {n_rows} rows x {n_out} columns {order} need {need}", out.data_len);
    }
    check_buffer(out.data as *const W, out.data_len, "out.data")?;
    regions.add(out.data as *const W, need, "out.data", true);
    Ok(CheckedOut { ptr: out.data as *mut W, len: need, stride })
}

// ---------------------------------------------------------------------------------------------
// Sparse -> dense.

/// Which compressed axis the input has, and the order of the dense output.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    CsrRows,
    CscRows,
    CscColumns,
}

unsafe fn scale_sparse_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_dense_out, order: Order) -> Result<()> {
    let csr = order == Order::CsrRows;
    if order == Order::CscColumns && out.row_stride != 0 {
        fail!(SC_STATUS_UNSUPPORTED, "out.row_stride is {}; column-major output is contiguous: expected 0", out.row_stride);
    }
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    if call.params.flavor == Flavor::Seurat && !csr {
        fail!(
            SC_STATUS_UNSUPPORTED,
            "the Seurat flavor reads genes x cells dgCMatrix memory, which is CSR cells x genes: use sc_scale_csr"
        );
    }
    call.check_scratch(x.n_rows, x.n_cols, out.n_cols)?;
    let mut slot = None;
    let mut exec = call.exec_with_progress(&mut slot)?;
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let m = unsafe { sparse_view::<I, V>(x, csr, &exec, &mut regions) }?;
    let (n_rows, n_genes) = if csr { (m.p.n_major, m.p.n_minor) } else { (m.p.n_minor, m.p.n_major) };
    if m.p.has_duplicates && (call.params.flavor == Flavor::Seurat || !csr) {
        fail!(
            SC_STATUS_DUPLICATE_ENTRY,
            "the matrix stores some (row, column) more than once; {}",
            if csr {
                "Seurat's dgCMatrix cannot, so the Seurat flavor refuses it"
            } else {
                "sum duplicates first (scipy: sum_duplicates())"
            }
        );
    }
    let groups = call.groups(n_rows)?;
    let n_out_cols = to_usize(out.n_cols, "out.n_cols")?;
    let map = ColumnMap::new(call.column_map, n_genes, n_out_cols)?;
    call.check_stats_lengths(n_genes)?;
    dispatch_value!(out.value_type, "out", finish_sparse::<I, V>(&call, &mut exec, &m, &groups, &map, out, order, regions))
}

#[allow(clippy::too_many_arguments)]
unsafe fn finish_sparse<I: Index, V: Value, W: Value>(
    call: &Call,
    exec: &mut Exec,
    m: &Compressed<I, V>,
    groups: &Groups,
    map: &ColumnMap,
    out: &sc_dense_out,
    order: Order,
    mut regions: Regions,
) -> Result<()> {
    let csr = order == Order::CsrRows;
    let n_rows = if csr { m.p.n_major } else { m.p.n_minor };
    let n_genes = if csr { m.p.n_minor } else { m.p.n_major };
    // SAFETY: `out` satisfies the export contract (module doc).
    let checked = unsafe { dense_out::<W>(out, n_rows, order == Order::CscColumns, &mut regions) }?;
    regions.check()?;
    // SAFETY: the overlap check above passed with the output in `regions`.
    let dense = unsafe { checked.borrow(&regions) };
    let (params, threads) = (call.params, exec.threads);
    let stats = call.stats(n_genes, || exec.install(|| stats::sparse_stats(m, groups, &params, threads, csr)));
    if call.hugepages {
        crate::hugepages::advise(dense.data.as_mut_ptr() as *mut u8, std::mem::size_of_val(dense.data));
    }

    let rule = Rule::new(&call.params);
    match order {
        Order::CsrRows => transform::csr_to_dense(exec, m, groups, map, &stats, rule, dense)?,
        Order::CscRows => transform::csc_to_dense(exec, m, groups, map, &stats, rule, dense)?,
        Order::CscColumns => transform::csc_to_dense_colmajor(exec, m, groups, map, &stats, rule, dense.data)?,
    }
    call.write_stats(&stats);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sparse -> same-pattern values (Scanpy zero_center=False).

unsafe fn scale_values_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_values_out, csr: bool) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    if call.params.flavor != Flavor::Scanpy || call.params.center {
        fail!(SC_STATUS_UNSUPPORTED, "same-pattern output is Scanpy's zero_center=False path: use SC_FLAVOR_SCANPY with center = false");
    }
    if !csr && call.group_labels.is_some() {
        fail!(SC_STATUS_UNSUPPORTED, "Scanpy converts CSC to CSR when a mask is given: use sc_scale_csr_values");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let mut slot = None;
    let mut exec = call.exec_with_progress(&mut slot)?;
    // Empty buffers share no memory (Rust's and some allocators' empty arrays share an address).
    let in_place = x.data_len > 0 && std::ptr::eq(out.data as *const c_void, x.data);
    // In place, the view is only used for validation and statistics; writes go through pointers.
    let (pattern, groups, stats) = {
        let mut input_regions = Regions::default();
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        let m = unsafe { sparse_view::<I, V>(x, csr, &exec, &mut input_regions) }?;
        let (n_rows, n_genes) = if csr { (m.p.n_major, m.p.n_minor) } else { (m.p.n_minor, m.p.n_major) };
        let groups = call.groups(n_rows)?;
        call.check_stats_lengths(n_genes)?;
        if out.data_len < m.nnz() {
            fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; expected one value per stored entry ({})", out.data_len, m.nnz());
        }
        if in_place && out.value_type != x.value_type {
            fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs out.value_type == value_type");
        }
        for r in input_regions.0 {
            if !(in_place && r.2 == "data") {
                regions.0.push(r);
            }
        }
        match out.value_type {
            SC_VALUE_FLOAT32 => regions.add(out.data as *const f32, out.data_len, "out.data", !in_place),
            SC_VALUE_FLOAT64 => regions.add(out.data as *const f64, out.data_len, "out.data", !in_place),
            v => fail!(SC_STATUS_INVALID_ENUM, "out.value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)"),
        }
        regions.check()?;
        let (params, threads) = (call.params, exec.threads);
        let stats = call.stats(n_genes, || exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr)));
        (m.p, groups, stats)
    };
    let clip = crate::scanpy_versions::values_clip(call.scanpy_1_10, csr, call.group_labels.is_some());
    let src = SharedConst(x.data as *const V);
    match out.value_type {
        SC_VALUE_FLOAT32 => {
            check_buffer(out.data as *const f32, out.data_len, "out.data")?;
            transform::values(
                &mut exec,
                &pattern,
                !csr,
                src,
                SharedMut(out.data as *mut f32),
                &groups,
                &stats,
                call.params.max_value,
                clip,
            )?
        }
        _ => {
            check_buffer(out.data as *const f64, out.data_len, "out.data")?;
            transform::values(
                &mut exec,
                &pattern,
                !csr,
                src,
                SharedMut(out.data as *mut f64),
                &groups,
                &stats,
                call.params.max_value,
                clip,
            )?
        }
    }
    call.write_stats(&stats);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Dense -> dense (Scanpy).

unsafe fn scale_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options, out: &sc_dense_out) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    if call.params.flavor != Flavor::Scanpy {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path (FastRowScale) uses long double sums; scscale reproduces only its sparse path");
    }
    call.check_scratch(x.n_rows, x.n_cols, out.n_cols)?;
    let mut slot = None;
    let mut exec = call.exec_with_progress(&mut slot)?;
    let n_rows = to_usize(x.n_rows, "n_rows")?;
    let n_cols = to_usize(x.n_cols, "n_cols")?;
    let in_stride = if x.row_stride == 0 { n_cols } else { to_usize(x.row_stride, "row_stride")? };
    // Empty buffers share no memory (Rust's and some allocators' empty arrays share an address).
    let in_place = x.data_len > 0 && std::ptr::eq(out.data as *const c_void, x.data);
    let groups = call.groups(n_rows)?;
    let map = ColumnMap::new(call.column_map, n_cols, to_usize(out.n_cols, "out.n_cols")?)?;
    call.check_stats_lengths(n_cols)?;
    let out_stride = if out.row_stride == 0 { map.n_out } else { to_usize(out.row_stride, "out.row_stride")? };
    if in_place && (out.value_type != x.value_type || !map.is_identity() || out_stride != in_stride) {
        fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs the same value type and row stride and no column map");
    }
    let stats = {
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        let data = unsafe { slice::<V>(x.data, x.data_len, "data") }?;
        let m = Dense::new(n_rows, n_cols, in_stride, data)?;
        regions.add(data.as_ptr(), data.len(), "data", false);
        let out_need = required_len(n_rows, map.n_out, out_stride, "out.row_stride")?;
        if out.data_len < out_need {
            fail!(
                SC_STATUS_OUTPUT_TOO_SMALL,
                "out.data_len is {}; {n_rows} rows x {} columns with row stride {out_stride} need {out_need}",
                out.data_len,
                map.n_out
            );
        }
        match out.value_type {
            SC_VALUE_FLOAT32 => {
                check_buffer(out.data as *const f32, out.data_len, "out.data")?;
                regions.add(out.data as *const f32, out_need, "out.data", !in_place);
            }
            SC_VALUE_FLOAT64 => {
                check_buffer(out.data as *const f64, out.data_len, "out.data")?;
                regions.add(out.data as *const f64, out_need, "out.data", !in_place);
            }
            v => fail!(SC_STATUS_INVALID_ENUM, "out.value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)"),
        }
        regions.check()?;
        let threads = exec.threads;
        call.stats(n_cols, || exec.install(|| stats::dense_stats(&m, &groups, threads)))
    };
    let src = DenseSrc { ptr: SharedConst(x.data as *const V), n_rows, n_cols, stride: in_stride };
    match out.value_type {
        SC_VALUE_FLOAT32 => {
            transform::dense_to_dense(&mut exec, &src, &groups, &map, &stats, &call.params, SharedMut(out.data as *mut f32), out_stride)?
        }
        _ => transform::dense_to_dense(&mut exec, &src, &groups, &map, &stats, &call.params, SharedMut(out.data as *mut f64), out_stride)?,
    }
    call.write_stats(&stats);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Statistics only.

unsafe fn stats_sparse_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, csr: bool) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    if call.given.is_some() {
        fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense for a statistics-only call");
    }
    if call.params.flavor == Flavor::Seurat && !csr {
        fail!(SC_STATUS_UNSUPPORTED, "the Seurat flavor reads CSR cells x genes (dgCMatrix genes x cells): use sc_stats_csr");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let m = unsafe { sparse_view::<I, V>(x, csr, &exec, &mut regions) }?;
    regions.check()?;
    let (n_rows, n_genes) = if csr { (m.p.n_major, m.p.n_minor) } else { (m.p.n_minor, m.p.n_major) };
    let groups = call.groups(n_rows)?;
    call.check_stats_lengths(n_genes)?;
    let (params, threads) = (call.params, exec.threads);
    let st = exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr));
    call.write_stats(&st);
    Ok(())
}

unsafe fn stats_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    if call.given.is_some() {
        fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense for a statistics-only call");
    }
    if call.params.flavor != Flavor::Scanpy {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path (FastRowScale) uses long double sums; scscale reproduces only its sparse path");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let m = unsafe { dense_view::<V>(x, &mut regions) }?;
    let groups = call.groups(m.n_rows)?;
    call.check_stats_lengths(m.n_cols)?;
    let threads = exec.threads;
    let st = exec.install(|| stats::dense_stats(&m, &groups, threads));
    call.write_stats(&st);
    Ok(())
}

/// Borrows and validates a dense input; checks `regions` (add any output before calling).
unsafe fn dense_view<'a, V: Value>(x: &'a sc_dense, regions: &mut Regions) -> Result<Dense<'a, V>> {
    let n_rows = to_usize(x.n_rows, "n_rows")?;
    let n_cols = to_usize(x.n_cols, "n_cols")?;
    let stride = if x.row_stride == 0 { n_cols } else { to_usize(x.row_stride, "row_stride")? };
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let data = unsafe { slice::<V>(x.data, x.data_len, "data") }?;
    regions.add(data.as_ptr(), data.len(), "data", false);
    regions.check()?;
    Dense::new(n_rows, n_cols, stride, data)
}

// ---------------------------------------------------------------------------------------------
// Exports.

/// Fills `opts` with the defaults of `flavor`: centre and scale; Scanpy: no clipping,
/// `n_partitions = 1`; Seurat: clip at 10. All threads; no optional buffers.
#[no_mangle]
pub unsafe extern "C" fn sc_options_default(opts: *mut sc_options, flavor: sc_flavor) -> sc_status {
    boundary(|| {
        if opts.is_null() {
            fail!(SC_STATUS_NULL_POINTER, "opts is NULL");
        }
        let (clip, max_value) = match flavor {
            SC_FLAVOR_SCANPY | SC_FLAVOR_SCANPY_1_10 => (false, f64::INFINITY),
            SC_FLAVOR_SEURAT => (true, 10.0),
            f => fail!(SC_STATUS_INVALID_ENUM, "{}", crate::scanpy_versions::unknown_flavor(f)),
        };
        // SAFETY: `opts` is not NULL (checked above) and points to a writable sc_options (contract).
        unsafe {
            opts.write(sc_options {
                flavor,
                center: true,
                scale: true,
                clip,
                max_value,
                n_partitions: 1,
                n_threads: 0,
                column_map: std::ptr::null(),
                column_map_len: 0,
                groups: std::ptr::null(),
                groups_len: 0,
                n_groups: 0,
                given_mean: std::ptr::null(),
                given_mean_len: 0,
                given_std: std::ptr::null(),
                given_std_len: 0,
                mean_out: std::ptr::null_mut(),
                mean_out_len: 0,
                var_out: std::ptr::null_mut(),
                var_out_len: 0,
                std_out: std::ptr::null_mut(),
                std_out_len: 0,
                progress: None,
                progress_data: std::ptr::null_mut(),
                no_hugepage_advice: false,
            })
        };
        Ok(())
    })
}

/// Scales a CSR cells x genes matrix into a dense row-major output (see the README's contract).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csr(x: *const sc_sparse, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_sparse!(x, scale_sparse_typed(x, opts, out, Order::CsrRows))
    })
}

/// Scales a CSC cells x genes matrix (Scanpy flavor) into a dense row-major output.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csc(x: *const sc_sparse, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_sparse!(x, scale_sparse_typed(x, opts, out, Order::CscRows))
    })
}

/// Scales a CSC cells x genes matrix (Scanpy flavor) into a dense **column-major** output, the
/// order scipy's CSC `toarray()` gives: cell `r`, output column `j` is `data[j * n_rows + r]`.
/// Columns are contiguous: `out->row_stride` must be 0.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csc_colmajor(x: *const sc_sparse, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_sparse!(x, scale_sparse_typed(x, opts, out, Order::CscColumns))
    })
}

/// Scanpy `zero_center=False` on CSR: one output value per stored entry, `f64(v) / std`, then
/// `min(max_value, q)` (NaN becomes max_value). `out->data` may equal `x->data` (in place).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csr_values(x: *const sc_sparse, opts: *const sc_options, out: *const sc_values_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_sparse!(x, scale_values_typed(x, opts, out, true))
    })
}

/// Scanpy `zero_center=False` on CSC: one output value per stored entry, `f64(v) / std`, then
/// an upper clip that keeps NaN. `out->data` may equal `x->data` (in place).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csc_values(x: *const sc_sparse, opts: *const sc_options, out: *const sc_values_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_sparse!(x, scale_values_typed(x, opts, out, false))
    })
}

/// Scales a C-ordered dense matrix (Scanpy flavor; arithmetic in the input dtype).
/// `out->data` may equal `x->data` (in place) with the same type and stride and no column map.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_dense(x: *const sc_dense, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?, unsafe { not_null(out, "out") }?);
        dispatch_value!(x.value_type, "x", scale_dense_typed(x, opts, out))
    })
}

/// Computes only the statistics of a CSR matrix into `opts->mean_out`, `var_out`, `std_out`.
#[no_mangle]
pub unsafe extern "C" fn sc_stats_csr(x: *const sc_sparse, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?);
        dispatch_sparse!(x, stats_sparse_typed(x, opts, true))
    })
}

/// Computes only the statistics of a CSC matrix (Scanpy flavor).
#[no_mangle]
pub unsafe extern "C" fn sc_stats_csc(x: *const sc_sparse, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?);
        dispatch_sparse!(x, stats_sparse_typed(x, opts, false))
    })
}

/// Computes only the statistics of a C-ordered dense matrix (Scanpy flavor).
#[no_mangle]
pub unsafe extern "C" fn sc_stats_dense(x: *const sc_dense, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?);
        dispatch_value!(x.value_type, "x", stats_dense_typed(x, opts))
    })
}

/// Copies the calling thread's last error message into `buf` (NUL-terminated, truncated to
/// `len`). Returns the full message length in bytes, without the NUL. `buf` may be NULL when
/// `len` is 0 (to ask for the length).
#[no_mangle]
pub unsafe extern "C" fn sc_last_error_message(buf: *mut c_char, len: usize) -> usize {
    catch_unwind(|| {
        with_last_error(|msg| {
            if !buf.is_null() && len > 0 {
                let n = msg.len().min(len - 1);
                // SAFETY: `buf` holds `len` > n bytes (contract); the message is our own memory.
                unsafe {
                    std::ptr::copy_nonoverlapping(msg.as_ptr() as *const c_char, buf, n);
                    *buf.add(n) = 0;
                }
            }
            msg.len()
        })
    })
    .unwrap_or(0)
}

/// The status code's name, e.g. "SC_STATUS_INDPTR_END" (static; "SC_STATUS_UNKNOWN" otherwise).
#[no_mangle]
pub extern "C" fn sc_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match status_from_i32(status) {
        Some(s) => {
            // Names are ASCII; add the NUL from a static table.
            return status_cstr(s);
        }
        None => b"SC_STATUS_UNKNOWN\0",
    };
    name.as_ptr() as *const c_char
}

fn status_from_i32(v: i32) -> Option<sc_status> {
    ALL_STATUSES.iter().copied().find(|s| *s as i32 == v)
}

const ALL_STATUSES: [sc_status; 26] = [
    SC_STATUS_OK,
    SC_STATUS_NULL_POINTER,
    SC_STATUS_INVALID_ENUM,
    SC_STATUS_SIZE_OVERFLOW,
    SC_STATUS_INDPTR_LENGTH,
    SC_STATUS_INDPTR_START,
    SC_STATUS_INDPTR_NOT_MONOTONE,
    SC_STATUS_INDPTR_END,
    SC_STATUS_LENGTH_MISMATCH,
    SC_STATUS_INDEX_OUT_OF_RANGE,
    SC_STATUS_DUPLICATE_ENTRY,
    SC_STATUS_OUTPUT_TOO_SMALL,
    SC_STATUS_INVALID_STRIDE,
    SC_STATUS_INVALID_OPTION,
    SC_STATUS_GROUPS_LENGTH,
    SC_STATUS_INVALID_GROUP,
    SC_STATUS_COLUMN_MAP_LENGTH,
    SC_STATUS_INVALID_COLUMN_MAP,
    SC_STATUS_STATS_LENGTH,
    SC_STATUS_UNSUPPORTED,
    SC_STATUS_CANCELLED,
    SC_STATUS_THREAD_POOL,
    SC_STATUS_MISALIGNED,
    SC_STATUS_OVERLAP,
    SC_STATUS_INVALID_ACCUMULATOR,
    SC_STATUS_PANIC,
];

fn status_cstr(s: sc_status) -> *const c_char {
    use std::sync::OnceLock;
    static NAMES: OnceLock<Vec<std::ffi::CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| ALL_STATUSES.iter().map(|s| std::ffi::CString::new(s.name()).unwrap()).collect());
    let i = ALL_STATUSES.iter().position(|x| *x == s).unwrap_or(0);
    names[i].as_ptr()
}

/// The library version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn sc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// `SC_ABI_VERSION` of the library actually loaded; compare with the header's.
#[no_mangle]
pub extern "C" fn sc_abi_version() -> u32 {
    SC_ABI_VERSION
}

// ---------------------------------------------------------------------------------------------
// Chunked statistics: a caller-owned accumulator folded chunk by chunk.

fn layout_for(opts: &sc_options, n_genes: u64) -> Result<(Layout, Params)> {
    let mut regions = Regions::default();
    // SAFETY: `opts` is a live struct; only its scalar fields and group labels are read here.
    let call = unsafe { Call::new(opts, &mut regions)? };
    if call.given.is_some() {
        fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense for an accumulator");
    }
    call.check_scratch(0, n_genes, 0)?;
    Ok((Layout::new(&call.params, call.n_groups, to_usize(n_genes, "n_genes")?), call.params))
}

/// Checks the accumulator pointer (before the overlap check, which assumes a sane length).
fn check_acc(acc: *const f64, acc_len: usize) -> Result<()> {
    if acc.is_null() {
        fail!(SC_STATUS_NULL_POINTER, "acc is NULL; pass the array from sc_accumulator_init");
    }
    check_buffer(acc, acc_len, "acc")
}

unsafe fn acc_slice<'a>(acc: *mut f64, acc_len: usize) -> Result<&'a mut [f64]> {
    check_acc(acc, acc_len)?;
    // SAFETY: check_acc passed; the caller guarantees `acc_len` live doubles, used by this call only.
    Ok(unsafe { std::slice::from_raw_parts_mut(acc, acc_len) })
}

/// The number of doubles an accumulator needs for `n_genes` genes with these options (flavor,
/// `n_partitions`, `n_groups` when `groups` is set, `center`, `scale`).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_len(opts: *const sc_options, n_genes: u64, len: *mut usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (layout, _) = layout_for(unsafe { not_null(opts, "opts") }?, n_genes)?;
        let Some(n) = layout.total_len() else { fail!(SC_STATUS_SIZE_OVERFLOW, "an accumulator for {n_genes} genes overflows") };
        if len.is_null() {
            fail!(SC_STATUS_NULL_POINTER, "len is NULL; pass where to write the length");
        }
        // SAFETY: not NULL (checked above); a writable usize by the export contract.
        unsafe { *len = n };
        Ok(())
    })
}

/// Initialises an accumulator (`acc_len` from `sc_accumulator_len`).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_init(opts: *const sc_options, n_genes: u64, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (layout, _) = layout_for(unsafe { not_null(opts, "opts") }?, n_genes)?;
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        Partials::init(layout, unsafe { acc_slice(acc, acc_len) }?).map(|_| ())
    })
}

/// Folds a CSR chunk of cells into the accumulator. Chunks folded in row order give exactly the
/// in-memory statistics. `opts->groups` labels the chunk's own rows. Seurat needs two passes over
/// all chunks, separated by `sc_accumulator_next_pass`.
#[no_mangle]
pub unsafe extern "C" fn sc_accumulate_csr(x: *const sc_sparse, opts: *const sc_options, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?);
        dispatch_sparse!(x, accumulate_typed(x, opts, acc, acc_len))
    })
}

/// A fold takes no given statistics, like every accumulator call (`layout_for`).
fn check_fold_options(call: &Call) -> Result<()> {
    if call.given.is_some() {
        fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense for an accumulator");
    }
    Ok(())
}

unsafe fn accumulate_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, acc: *mut f64, acc_len: usize) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    check_fold_options(&call)?;
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let m = unsafe { sparse_view::<I, V>(x, true, &exec, &mut regions) }?;
    check_acc(acc, acc_len)?;
    regions.add(acc as *const f64, acc_len, "acc", true);
    regions.check()?;
    let groups = call.groups(m.p.n_major)?;
    let layout = Layout::new(&call.params, call.n_groups, m.p.n_minor);
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let mut partials = Partials::open(layout, unsafe { acc_slice(acc, acc_len) }?)?;
    let threads = exec.threads;
    exec.install(|| partials.accumulate_csr(&m, &groups, threads))
}

/// Folds a C-ordered dense chunk of cells into the accumulator (Scanpy flavor; Seurat's dense
/// path is not reproduced: `SC_STATUS_UNSUPPORTED`). numpy's dense sums run over the rows in
/// order whatever the thread count, so every row goes to partition 0 and chunks folded in row
/// order give exactly `sc_stats_dense` of the whole matrix, for any `n_partitions` (1 is the
/// smallest accumulator). `opts->groups` labels the chunk's own rows. Do not fold CSR and dense
/// chunks into one accumulator: the sums would follow neither of Scanpy's paths.
#[no_mangle]
pub unsafe extern "C" fn sc_accumulate_dense(x: *const sc_dense, opts: *const sc_options, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = (unsafe { not_null(x, "x") }?, unsafe { not_null(opts, "opts") }?);
        dispatch_value!(x.value_type, "x", accumulate_dense_typed(x, opts, acc, acc_len))
    })
}

unsafe fn accumulate_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options, acc: *mut f64, acc_len: usize) -> Result<()> {
    let mut regions = Regions::default();
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let call = unsafe { Call::new(opts, &mut regions) }?;
    check_fold_options(&call)?;
    if call.params.flavor != Flavor::Scanpy {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path (FastRowScale) uses long double sums; scscale reproduces only its sparse path");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let exec = call.exec()?;
    check_acc(acc, acc_len)?;
    regions.add(acc as *const f64, acc_len, "acc", true);
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let m = unsafe { dense_view::<V>(x, &mut regions) }?;
    let groups = call.groups(m.n_rows)?;
    let layout = Layout::new(&call.params, call.n_groups, m.n_cols);
    // SAFETY: the caller's pointers satisfy the export contract (module doc).
    let mut partials = Partials::open(layout, unsafe { acc_slice(acc, acc_len) }?)?;
    let threads = exec.threads;
    exec.install(|| partials.accumulate_dense(&m, &groups, threads))
}

/// Seurat: ends pass 1 (sums) and starts pass 2 (squared deviations from the means).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_next_pass(opts: *const sc_options, n_genes: u64, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (layout, _) = layout_for(unsafe { not_null(opts, "opts") }?, n_genes)?;
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        Partials::open(layout, unsafe { acc_slice(acc, acc_len) }?)?.next_pass()
    })
}

/// Adds `other` (the accumulator of rows that come after `acc`'s rows) into `acc`: for trees of
/// chunks. Deterministic for a fixed tree; not bit-identical to folding (see the README).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_merge(
    opts: *const sc_options,
    n_genes: u64,
    acc: *mut f64,
    acc_len: usize,
    other: *const f64,
    other_len: usize,
) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (layout, _) = layout_for(unsafe { not_null(opts, "opts") }?, n_genes)?;
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        let other = unsafe { slice::<f64>(other as *const c_void, other_len, "other") }?;
        check_acc(acc, acc_len)?;
        let mut regions = Regions::default();
        regions.add(acc as *const f64, acc_len, "acc", true);
        regions.add(other.as_ptr(), other.len(), "other", false);
        regions.check()?;
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        Partials::open(layout, unsafe { acc_slice(acc, acc_len) }?)?.merge(other)
    })
}

/// Writes the statistics of a complete accumulator to `opts->mean_out`, `var_out`, `std_out`;
/// pass them as `given_mean`/`given_std` to scale each chunk.
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_finalize(opts: *const sc_options, n_genes: u64, acc: *const f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let opts = unsafe { not_null(opts, "opts") }?;
        let (layout, params) = layout_for(opts, n_genes)?;
        let mut regions = Regions::default();
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        let call = unsafe { Call::new(opts, &mut regions) }?;
        check_acc(acc, acc_len)?;
        regions.add(acc, acc_len, "acc", false);
        regions.check()?;
        call.check_stats_lengths(layout.n_genes)?;
        // The accumulator is only read; a private copy keeps `acc` const.
        // SAFETY: the caller's pointers satisfy the export contract (module doc).
        let mut copy = unsafe { slice::<f64>(acc as *const c_void, acc_len, "acc") }?.to_vec();
        let st = Partials::open(layout, &mut copy)?.finalize(&params)?;
        call.write_stats(&st);
        Ok(())
    })
}
