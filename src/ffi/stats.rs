//! `sc_stats_*`: statistics-only exports.

use super::convert::{dispatch_sparse, dispatch_value, DenseBufs, OptionBufs, SparseBufs};
use super::types::*;
use super::{boundary, not_null, Regions};
use crate::api;
use crate::matrix::{Index, Value};
use crate::status::{fail, Result, *};

unsafe fn stats_sparse_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, csr: bool) -> Result<()> {
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = SparseBufs::<I, V>::new(x, &mut regions, false)?;
    let checked = regions.check()?;
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x) = unsafe { (o.options(&checked, None), o.stats_out(&checked), xb.view(&checked)) };
    if csr {
        api::stats_csr(&x, &opts, stats)
    } else {
        api::stats_csc(&x, &opts, stats)
    }
}

unsafe fn stats_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options) -> Result<()> {
    let mut regions = Regions::default();
    let o = OptionBufs::new(opts, &mut regions)?;
    let xb = DenseBufs::<V>::new(x, &mut regions, false)?;
    let checked = regions.check()?;
    // SAFETY: every buffer satisfies the export contract and passed the overlap check.
    let (opts, stats, x) = unsafe { (o.options(&checked, None), o.stats_out(&checked), xb.view(&checked)) };
    api::stats_dense(&x, &opts, stats)
}

/// Computes only the statistics of a CSR matrix into `opts->mean_out`, `var_out`, `std_out`.
#[no_mangle]
pub unsafe extern "C" fn sc_stats_csr(x: *const sc_sparse, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?) };
        dispatch_sparse!(x, stats_sparse_typed(x, opts, true))
    })
}

/// Computes only the statistics of a CSC matrix (Scanpy flavor).
#[no_mangle]
pub unsafe extern "C" fn sc_stats_csc(x: *const sc_sparse, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?) };
        dispatch_sparse!(x, stats_sparse_typed(x, opts, false))
    })
}

/// Computes only the statistics of a C-ordered dense matrix (Scanpy flavor).
#[no_mangle]
pub unsafe extern "C" fn sc_stats_dense(x: *const sc_dense, opts: *const sc_options) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?) };
        dispatch_value!(x.value_type, "x", stats_dense_typed(x, opts))
    })
}
