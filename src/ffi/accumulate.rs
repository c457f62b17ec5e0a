//! `sc_accumulator_*`, `sc_accumulate_*`: chunked statistics over a caller-owned accumulator.

use super::convert::{dispatch_sparse, dispatch_value, DenseBufs, OptionBufs, SparseBufs};
use super::types::*;
use super::{boundary, not_null, to_usize, Buf, Checked, Regions};
use crate::api;
use crate::matrix::{Index, Value};
use crate::status::{fail, Result, *};

/// The accumulator pointer, checked (NULL is refused with a hint) and entered in `regions`.
fn acc_buf(regions: &mut Regions, acc: *const f64, len: usize, is_output: bool) -> Result<Buf<f64>> {
    if acc.is_null() {
        fail!(SC_STATUS_NULL_POINTER, "acc is NULL; pass the array from sc_accumulator_init");
    }
    regions.add(acc, len, "acc", is_output)
}

/// The options and, when given, the accumulator the call writes; `regions` holds the call's
/// other buffers, which `f` borrows with the `Checked` proof.
///
/// # Safety
/// `opts`' buffers and `acc` satisfy the export contract.
unsafe fn with_options<R>(
    opts: &sc_options,
    mut regions: Regions,
    acc: Option<(*mut f64, usize)>,
    f: impl FnOnce(&api::Options, api::StatsOut, Option<&mut [f64]>, &Checked) -> Result<R>,
) -> Result<R> {
    let o = OptionBufs::new(opts, &mut regions)?;
    let acc = acc.map(|(p, len)| acc_buf(&mut regions, p, len, true)).transpose()?;
    let checked = regions.check()?;
    // SAFETY: every buffer satisfies the export contract and passed the overlap check; the
    // accumulator overlaps no other buffer.
    let (api_opts, stats, acc) = unsafe { (o.options(&checked, None), o.stats_out(&checked), acc.map(|b| b.exclusive(&checked))) };
    f(&api_opts, stats, acc, &checked)
}

/// The number of doubles an accumulator needs for `n_genes` genes with these options (flavor,
/// `n_partitions`, `n_groups` when `groups` is set, `center`, `scale`).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_len(opts: *const sc_options, n_genes: u64, len: *mut usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let opts = unsafe { not_null(opts, "opts") }?;
        let n_genes = to_usize(n_genes, "n_genes")?;
        // SAFETY: the export contract.
        let n = unsafe { with_options(opts, Regions::default(), None, |o, _, _, _| api::accumulator_len(o, n_genes)) }?;
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
        let opts = unsafe { not_null(opts, "opts") }?;
        let n_genes = to_usize(n_genes, "n_genes")?;
        // SAFETY: the export contract.
        unsafe { with_options(opts, Regions::default(), Some((acc, acc_len)), |o, _, a, _| api::accumulator_init(o, n_genes, a.unwrap())) }
    })
}

unsafe fn accumulate_typed<I: Index, V: Value>(x: &sc_sparse, opts: &sc_options, acc: *mut f64, acc_len: usize) -> Result<()> {
    let mut regions = Regions::default();
    let xb = SparseBufs::<I, V>::new(x, &mut regions, false)?;
    // SAFETY: the export contract; the input's slices are made after the overlap check inside.
    unsafe {
        with_options(opts, regions, Some((acc, acc_len)), |o, _, a, checked| {
            let x = xb.view(checked);
            api::accumulate_csr(&x, o, a.unwrap())
        })
    }
}

/// Folds a CSR chunk of cells into the accumulator. Chunks folded in row order give exactly the
/// in-memory statistics. `opts->groups` labels the chunk's own rows. Seurat needs two passes over
/// all chunks, separated by `sc_accumulator_next_pass`.
#[no_mangle]
pub unsafe extern "C" fn sc_accumulate_csr(x: *const sc_sparse, opts: *const sc_options, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let (x, opts) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?) };
        dispatch_sparse!(x, accumulate_typed(x, opts, acc, acc_len))
    })
}

unsafe fn accumulate_dense_typed<V: Value>(x: &sc_dense, opts: &sc_options, acc: *mut f64, acc_len: usize) -> Result<()> {
    let mut regions = Regions::default();
    let xb = DenseBufs::<V>::new(x, &mut regions, false)?;
    // SAFETY: as in `accumulate_typed`.
    unsafe {
        with_options(opts, regions, Some((acc, acc_len)), |o, _, a, checked| {
            let x = xb.view(checked);
            api::accumulate_dense(&x, o, a.unwrap())
        })
    }
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
        let (x, opts) = unsafe { (not_null(x, "x")?, not_null(opts, "opts")?) };
        dispatch_value!(x.value_type, "x", accumulate_dense_typed(x, opts, acc, acc_len))
    })
}

/// Seurat: ends pass 1 (sums) and starts pass 2 (squared deviations from the means).
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_next_pass(opts: *const sc_options, n_genes: u64, acc: *mut f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let opts = unsafe { not_null(opts, "opts") }?;
        let n_genes = to_usize(n_genes, "n_genes")?;
        // SAFETY: the export contract.
        unsafe {
            with_options(opts, Regions::default(), Some((acc, acc_len)), |o, _, a, _| api::accumulator_next_pass(o, n_genes, a.unwrap()))
        }
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
        let opts = unsafe { not_null(opts, "opts") }?;
        let n_genes = to_usize(n_genes, "n_genes")?;
        let mut regions = Regions::default();
        let other = regions.add(other, other_len, "other", false)?;
        // SAFETY: the export contract; `other` is borrowed after the overlap check inside.
        unsafe {
            with_options(opts, regions, Some((acc, acc_len)), |o, _, a, checked| {
                let other = other.shared(checked);
                api::accumulator_merge(o, n_genes, a.unwrap(), other)
            })
        }
    })
}

/// Writes the statistics of a complete accumulator to `opts->mean_out`, `var_out`, `std_out`;
/// pass them as `given_mean`/`given_std` to scale each chunk.
#[no_mangle]
pub unsafe extern "C" fn sc_accumulator_finalize(opts: *const sc_options, n_genes: u64, acc: *const f64, acc_len: usize) -> sc_status {
    boundary(|| {
        // SAFETY: the caller's struct pointers are NULL or valid (export contract).
        let opts = unsafe { not_null(opts, "opts") }?;
        let n_genes = to_usize(n_genes, "n_genes")?;
        // Only read: an input of the call, like `other` of `sc_accumulator_merge`.
        let mut regions = Regions::default();
        let acc = acc_buf(&mut regions, acc, acc_len, false)?;
        // SAFETY: the export contract; `acc` is borrowed after the overlap check inside.
        unsafe {
            with_options(opts, regions, None, |o, stats, _, checked| api::accumulator_finalize(o, n_genes, acc.shared(checked), stats))
        }
    })
}
