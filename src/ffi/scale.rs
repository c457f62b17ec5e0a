//! `sc_scale_*`: scaling exports.

use super::convert::{dispatch_sparse, dispatch_value, same_buffer, DenseBufs, DenseOutBuf, OptionBufs, SparseBufs};
use super::types::*;
use super::{boundary, not_null, Regions};
use crate::api;
use crate::matrix::{Index, Value};
use crate::status::{fail, Result, *};
use std::ffi::c_void;

#[derive(Clone, Copy, PartialEq)]
enum Order {
    CsrRows,
    CscRows,
    CscColumns,
}

unsafe fn scale_sparse_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_dense_out, order: Order) -> Result<()> {
    dispatch_value!(out.value_type, "out", scale_sparse_out::<I, V>(x, opts, out, order))
}

unsafe fn scale_sparse_out<I: Index, V: Value, W: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_dense_out, order: Order) -> Result<()> {
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = SparseBufs::<I, V>::new(x, &mut regions, false)?;
    let ob = DenseOutBuf::<W>::new(out, x.n_rows, order == Order::CscColumns, &mut regions)?;
    let checked = regions.check()?;
    let progress = o.progress();
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x, out) = unsafe {
        (o.options(&checked, progress.as_ref().map(|p| p as api::Progress)), o.stats_out(&checked), xb.view(&checked), ob.view(&checked))
    };
    match order {
        Order::CsrRows => api::scale_csr(&x, &opts, out, stats),
        Order::CscRows => api::scale_csc(&x, &opts, out, stats),
        Order::CscColumns => api::scale_csc_column_major(&x, &opts, out, stats),
    }
}

/// Scales a CSR cells x genes matrix into a dense row-major output (see the README's contract).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csr(x: *const sc_sparse, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
        dispatch_sparse!(x, scale_sparse_typed(x, opts, out, Order::CsrRows))
    })
}

/// Scales a CSC cells x genes matrix (Scanpy flavor) into a dense row-major output.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csc(x: *const sc_sparse, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
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
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
        dispatch_sparse!(x, scale_sparse_typed(x, opts, out, Order::CscColumns))
    })
}

unsafe fn scale_values_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_values_out, csr: bool) -> Result<()> {
    if same_buffer(out.data as *const c_void, x.data, x.data_len) {
        if out.value_type != x.value_type {
            fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs out.value_type == value_type");
        }
        let mut regions = Regions::default();
        let o = OptionBufs::new(opts, &mut regions)?;
        let xb = SparseBufs::<I, V>::new(x, &mut regions, true)?;
        let checked = regions.check()?;
        // In place the output is the input's values: one per stored entry, as the API checks.
        if out.data_len < x.data_len {
            fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; expected one value per stored entry ({})", out.data_len, x.data_len);
        }
        let progress = o.progress();
        // SAFETY: every buffer satisfies the export contract and passed the overlap check.
        let (opts, stats, x) =
            unsafe { (o.options(&checked, progress.as_ref().map(|p| p as api::Progress)), o.stats_out(&checked), xb.view_mut(&checked)) };
        return if csr { api::scale_csr_values_in_place(x, &opts, stats) } else { api::scale_csc_values_in_place(x, &opts, stats) };
    }
    dispatch_value!(out.value_type, "out", scale_values_out::<I, V>(x, opts, out, csr))
}

unsafe fn scale_values_out<I: Index, V: Value, W: Value>(x: &sc_sparse, opts: &sc_options, out: &sc_values_out, csr: bool) -> Result<()> {
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = SparseBufs::<I, V>::new(x, &mut regions, false)?;
    let ob = regions.add(out.data as *const W, out.data_len, "out.data", true)?;
    let checked = regions.check()?;
    let progress = o.progress();
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x, out) = unsafe {
        (
            o.options(&checked, progress.as_ref().map(|p| p as api::Progress)),
            o.stats_out(&checked),
            xb.view(&checked),
            ob.exclusive(&checked),
        )
    };
    if csr {
        api::scale_csr_values(&x, &opts, out, stats)
    } else {
        api::scale_csc_values(&x, &opts, out, stats)
    }
}

/// Scanpy `zero_center=False` on CSR: one output value per stored entry, `f64(v) / std`, then
/// `min(max_value, q)` (NaN becomes max_value). `out->data` may equal `x->data` (in place).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csr_values(x: *const sc_sparse, opts: *const sc_options, out: *const sc_values_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
        dispatch_sparse!(x, scale_values_typed(x, opts, out, true))
    })
}

/// Scanpy `zero_center=False` on CSC: one output value per stored entry, `f64(v) / std`, then
/// an upper clip that keeps NaN. `out->data` may equal `x->data` (in place).
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csc_values(x: *const sc_sparse, opts: *const sc_options, out: *const sc_values_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
        dispatch_sparse!(x, scale_values_typed(x, opts, out, false))
    })
}

unsafe fn scale_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options, out: &sc_dense_out) -> Result<()> {
    if !same_buffer(out.data as *const c_void, x.data, x.data_len) {
        return dispatch_value!(out.value_type, "out", scale_dense_out::<V>(x, opts, out));
    }
    // In place: the result has the input's shape, type and stride (a column map is refused by
    // the API unless it is the identity).
    let stride = |s: u64| if s == 0 { x.n_cols } else { s };
    if out.value_type != x.value_type || out.n_cols != x.n_cols || stride(out.row_stride) != stride(x.row_stride) {
        fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs the same value type and row stride and no column map");
    }
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = DenseBufs::<V>::new(x, &mut regions, true)?;
    let checked = regions.check()?;
    let progress = o.progress();
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x) =
        unsafe { (o.options(&checked, progress.as_ref().map(|p| p as api::Progress)), o.stats_out(&checked), xb.view_mut(&checked)) };
    api::scale_dense_in_place(x, &opts, stats)
}

unsafe fn scale_dense_out<V: Value, W: Value>(x: &sc_dense, opts: &sc_options, out: &sc_dense_out) -> Result<()> {
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = DenseBufs::<V>::new(x, &mut regions, false)?;
    let ob = DenseOutBuf::<W>::new(out, x.n_rows, false, &mut regions)?;
    let checked = regions.check()?;
    let progress = o.progress();
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x, out) = unsafe {
        (o.options(&checked, progress.as_ref().map(|p| p as api::Progress)), o.stats_out(&checked), xb.view(&checked), ob.view(&checked))
    };
    api::scale_dense(&x, &opts, out, stats)
}

/// Scales a C-ordered dense matrix: Scanpy flavors (arithmetic in the input dtype) or Seurat's
/// dense path (`FastRowScale`, R's double matrix genes x cells = this cells x genes; float64 in
/// and out, a separate output, no statistics outputs; `SC_FLAVOR_SEURAT_MATRIXSTATS_1` when the
/// installed matrixStats is 1.0.0 or later).
/// `out->data` may equal `x->data` (in place) with the same type and stride and no column map.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_dense(x: *const sc_dense, opts: *const sc_options, out: *const sc_dense_out) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(out, "out")?) };
        dispatch_value!(x.value_type, "x", scale_dense_typed(x, opts, out))
    })
}

unsafe fn scale_regressed(x: &sc_sparse, opts: &sc_options, reg: &sc_regression, out: &sc_dense_out) -> Result<()> {
    if (x.index_type, x.value_type, out.value_type) != (SC_INDEX_INT32, SC_VALUE_FLOAT64, SC_VALUE_FLOAT64) {
        fail!(
            SC_STATUS_UNSUPPORTED,
            "a regression reads R's dgCMatrix: index_type SC_INDEX_INT32, value_type and out.value_type SC_VALUE_FLOAT64"
        );
    }
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = SparseBufs::<i32, f64>::new(x, &mut regions, false)?;
    let design = regions.add(reg.design, reg.design_len, "design", false)?;
    let ob = DenseOutBuf::<f64>::new(out, x.n_rows, false, &mut regions)?;
    let n_covariates = super::to_usize(reg.n_covariates, "n_covariates")?;
    let checked = regions.check()?;
    let progress = o.progress();
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, x, design, out) = unsafe {
        (o.options(&checked, progress.as_ref().map(|p| p as api::Progress)), xb.view(&checked), design.shared(&checked), ob.view(&checked))
    };
    api::scale_csr_regressed(&x, &opts, &api::Regression { design, n_covariates, use_umi: reg.use_umi }, out)
}

/// Seurat `ScaleData(vars.to.regress = ..., model.use = "linear")` of a CSR cells x genes matrix
/// (R's dgCMatrix genes x cells; int32 indices, float64 values, float64 output): the residuals of
/// every gene on the design (`reg`) within its group, then Seurat's scaling and clipping. Within about 1e-13
/// of Seurat, not bitwise. Seurat flavors only; statistics outputs are not written.
#[no_mangle]
pub unsafe extern "C" fn sc_scale_csr_regressed(
    x: *const sc_sparse,
    opts: *const sc_options,
    reg: *const sc_regression,
    out: *const sc_dense_out,
) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts, reg, out) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?, not_null(reg, "reg")?, not_null(out, "out")?) };
        // SAFETY: the export contract.
        unsafe { scale_regressed(x, opts, reg, out) }
    })
}
