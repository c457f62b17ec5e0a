//! `.Call` entry points of the R package. Written by hand (no `#[extendr]` wrappers) so that no R
//! error can longjmp across Rust frames: the R side allocates every large object, these functions
//! only fill it, and failures come back as a character vector that the R side turns into `stop()`.

use extendr_api::prelude::*;
use extendr_api::SEXP;
use scscale::*;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

extern "C" {
    /// In init.c: `R_CheckUserInterrupt` under `R_ToplevelExec`, so R's longjmp stays in C.
    fn scscale_interrupted() -> c_int;
}

/// True when the user pressed Ctrl-C. Only call on R's main thread.
pub(crate) fn interrupted() -> bool {
    // SAFETY: called on the R thread; the C helper catches the jump.
    unsafe { scscale_interrupted() != 0 }
}

unsafe extern "C" fn progress_cb(_data: *mut c_void, _done: u64, _total: u64) -> i32 {
    scscale_interrupted()
}

/// An error to hand back to R: (status name, message).
pub(crate) struct Failure(pub String, pub String);

impl Failure {
    pub(crate) fn new(status: &str, msg: impl Into<String>) -> Self {
        Failure(status.into(), msg.into())
    }
}

impl From<scscale::Error> for Failure {
    fn from(e: scscale::Error) -> Self {
        Failure(e.status.name().into(), e.message)
    }
}

/// The core's executor for one call, with R's Ctrl-C as its cancel: the closure lives in `slot`.
fn exec_with_interrupt<'s>(n_threads: usize, slot: &'s mut dyn FnMut(u64, u64) -> bool) -> Result<exec::Exec<'s>, Failure> {
    Ok(exec::Exec::new(n_threads, Some(slot))?)
}

fn finish(res: std::thread::Result<Result<(), Failure>>) -> SEXP {
    let robj: Robj = match res {
        Ok(Ok(())) => ().into(),
        Ok(Err(Failure(status, msg))) => Strings::from_values([status, msg]).into(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Strings::from_values(["SC_STATUS_PANIC".to_string(), format!("internal error in the R binding (please report): {what}")]).into()
        }
    };
    // SAFETY: returned straight to R, which protects it.
    unsafe { robj.get() }
}

pub(crate) fn robj(x: SEXP) -> Robj {
    // SAFETY: a live argument of the current .Call.
    unsafe { Robj::from_sexp(x) }
}

pub(crate) fn ints<'a>(x: &Robj, what: &str) -> Result<&'a [i32], Failure> {
    x.as_integer_slice().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", format!("{what} must be an integer vector")))
}

pub(crate) fn reals<'a>(x: &Robj, what: &str) -> Result<&'a [f64], Failure> {
    let s = x.as_real_slice().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", format!("{what} must be a double vector")))?;
    // SAFETY: the R vector is an argument of the current .Call and outlives it.
    Ok(unsafe { std::slice::from_raw_parts(s.as_ptr(), s.len()) })
}

pub(crate) fn out_slice<'a>(x: &mut Robj) -> Result<&'a mut [f64], Failure> {
    let s = x.as_real_slice_mut().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", "out must be a double matrix"))?;
    // SAFETY: the R object outlives the call (it is an argument).
    Ok(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr(), s.len()) })
}

pub(crate) fn scalar_f64(x: &Robj, what: &str) -> Result<f64, Failure> {
    x.as_real().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", format!("{what} must be a single double")))
}

pub(crate) fn scalar_i32(x: &Robj, what: &str) -> Result<i32, Failure> {
    x.as_integer().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", format!("{what} must be a single integer")))
}

pub(crate) fn scalar_bool(x: &Robj, what: &str) -> Result<bool, Failure> {
    match x.as_logical_slice() {
        Some([b]) if !b.is_na() => Ok(b.is_true()),
        _ => Err(Failure::new("SC_STATUS_INVALID_OPTION", format!("{what} must be TRUE or FALSE"))),
    }
}

fn last_error(status: sc_status) -> Failure {
    let n = unsafe { sc_last_error_message(std::ptr::null_mut(), 0) };
    let mut buf = vec![0u8; n + 1];
    unsafe { sc_last_error_message(buf.as_mut_ptr() as *mut _, buf.len()) };
    buf.truncate(n);
    Failure(status.name().to_string(), String::from_utf8_lossy(&buf).into_owned())
}

/// Seurat `FastSparseRowScale` through the core's C ABI: dgCMatrix genes x cells (= CSR cells x
/// genes) into `out`, an R double matrix of `n_out` rows (genes) x `n_cells` columns.
/// `column_map[gene]` is the output row (0-based) or -1; `groups` is NULL or one 0-based label
/// per cell (-1 = NA).
#[no_mangle]
pub extern "C" fn scscale_r_scale_sparse(
    out: SEXP,
    p: SEXP,
    i: SEXP,
    x: SEXP,
    n_genes: SEXP,
    column_map: SEXP,
    groups: SEXP,
    n_groups: SEXP,
    center: SEXP,
    scale: SEXP,
    scale_max: SEXP,
    n_threads: SEXP,
    hugepages: SEXP,
) -> SEXP {
    finish(catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let mut out = robj(out);
        let (p, i, x) = (robj(p), robj(i), robj(x));
        let p = ints(&p, "p")?;
        let i = ints(&i, "i")?;
        let x = reals(&x, "x")?;
        let n_genes = scalar_i32(&robj(n_genes), "n_genes")?;
        let map: Vec<i64> = ints(&robj(column_map), "column_map")?.iter().map(|&v| v as i64).collect();
        let groups = robj(groups);
        let labels = if groups.is_null() { None } else { Some(ints(&groups, "groups")?) };
        let n_groups = scalar_i32(&robj(n_groups), "n_groups")?;
        let n_out = map.iter().filter(|&&v| v >= 0).count();
        let out = out_slice(&mut out)?;
        let n_cells = p.len().saturating_sub(1);
        if out.len() != n_out * n_cells {
            return Err(Failure::new("SC_STATUS_OUTPUT_TOO_SMALL", format!("out has {} elements; expected {n_out} x {n_cells}", out.len())));
        }
        let mut opts = std::mem::MaybeUninit::<sc_options>::uninit();
        let st = unsafe { sc_options_default(opts.as_mut_ptr(), SC_FLAVOR_SEURAT) };
        if st != sc_status::SC_STATUS_OK {
            return Err(last_error(st));
        }
        let mut opts = unsafe { opts.assume_init() };
        opts.center = scalar_bool(&robj(center), "do.center")?;
        opts.scale = scalar_bool(&robj(scale), "do.scale")?;
        opts.clip = true;
        opts.max_value = scalar_f64(&robj(scale_max), "scale.max")?;
        opts.n_threads = scalar_i32(&robj(n_threads), "threads")?.max(0) as u32;
        opts.column_map = map.as_ptr();
        opts.column_map_len = map.len();
        if let Some(l) = labels {
            opts.groups = l.as_ptr();
            opts.groups_len = l.len();
            opts.n_groups = n_groups.max(0) as u32;
        }
        opts.progress = Some(progress_cb);
        // Off by default from R: with THP defrag = madvise the advice makes first-touch faults
        // compact memory synchronously, which doubled the time here (see README).
        opts.no_hugepage_advice = !scalar_bool(&robj(hugepages), "hugepages")?;
        let xs = sc_sparse {
            n_rows: n_cells as u64,
            n_cols: n_genes.max(0) as u64,
            indptr: p.as_ptr() as *const c_void,
            indptr_len: p.len(),
            indices: i.as_ptr() as *const c_void,
            indices_len: i.len(),
            data: x.as_ptr() as *const c_void,
            data_len: x.len(),
            index_type: SC_INDEX_INT32,
            value_type: SC_VALUE_FLOAT64,
            index_base: 0,
        };
        let dense = sc_dense_out {
            data: out.as_mut_ptr() as *mut c_void,
            data_len: out.len(),
            value_type: SC_VALUE_FLOAT64,
            n_cols: n_out as u64,
            row_stride: n_out as u64,
        };
        let st = unsafe { sc_scale_csr(&xs, &opts, &dense) };
        if st != sc_status::SC_STATUS_OK {
            return Err(last_error(st));
        }
        Ok(())
    })))
}

/// Seurat `FastRowScale` of a dense double matrix (genes x cells, column-major = cells x genes
/// row-major) through the core's `seurat_dense::scale`, into `out`, an R double matrix of `n_out`
/// rows x `n_cells` columns. `column_map` and `groups` as for `scscale_r_scale_sparse`; `flags` is
/// `c(do.center, do.scale, refine)`, `refine` being the installed matrixStats' `rowMeans2` default.
#[no_mangle]
pub extern "C" fn scscale_r_scale_dense(
    out: SEXP,
    x: SEXP,
    n_genes: SEXP,
    n_cells: SEXP,
    column_map: SEXP,
    groups: SEXP,
    n_groups: SEXP,
    flags: SEXP,
    scale_max: SEXP,
) -> SEXP {
    finish(catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let mut out = robj(out);
        let (x, flags) = (robj(x), robj(flags));
        let x = reals(&x, "x")?;
        let flags = flags.as_logical_slice().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", "flags must be logical"))?;
        if flags.len() != 3 || flags.iter().any(|b| b.is_na()) {
            return Err(Failure::new("SC_STATUS_INVALID_OPTION", "flags must be c(do.center, do.scale, refine)"));
        }
        let n_genes = scalar_i32(&robj(n_genes), "n_genes")?.max(0) as usize;
        let n_cells = scalar_i32(&robj(n_cells), "n_cells")?.max(0) as usize;
        if x.len() != n_genes * n_cells {
            return Err(Failure::new("SC_STATUS_LENGTH_MISMATCH", format!("x has {} values; expected {n_genes} x {n_cells}", x.len())));
        }
        let map: Vec<i64> = ints(&robj(column_map), "column_map")?.iter().map(|&v| v as i64).collect();
        let n_out = map.iter().filter(|&&v| v >= 0).count();
        let groups = robj(groups);
        let labels = if groups.is_null() { None } else { Some(ints(&groups, "groups")?) };
        let n_groups = scalar_i32(&robj(n_groups), "n_groups")?.max(0) as usize;
        let p = seurat_dense::SeuratDenseParams {
            center: flags[0].is_true(),
            scale: flags[1].is_true(),
            refine_mean: flags[2].is_true(),
            scale_max: scalar_f64(&robj(scale_max), "scale.max")?,
        };
        let out = out_slice(&mut out)?;
        if out.len() != n_out * n_cells {
            return Err(Failure::new("SC_STATUS_OUTPUT_TOO_SMALL", format!("out has {} elements; expected {n_out} x {n_cells}", out.len())));
        }
        let x = matrix::Dense::new(n_cells, n_genes, n_genes, x)?;
        let map = options::ColumnMap::new(Some(&map), n_genes, n_out)?;
        let groups = options::Groups::new(labels, if labels.is_some() { n_groups } else { 1 }, n_cells)?;
        let mut cb = |_: u64, _: u64| !interrupted();
        let mut exec = exec_with_interrupt(1, &mut cb)?;
        Ok(seurat_dense::scale(&x, &map, &groups, &p, &mut exec, out)?)
    })))
}

/// Linear regression of every gene on the design, then Seurat's scaling of the residuals, by the
/// core's `regress::run`. `qt` is the orthonormal basis of each group's design, `n_basis` x `n_cells`
/// (column `c` holds the basis row of cell `c` in its group, zero-padded).
#[no_mangle]
pub extern "C" fn scscale_r_regress_scale(
    out: SEXP,
    p: SEXP,
    i: SEXP,
    x: SEXP,
    n_genes: SEXP,
    column_map: SEXP,
    groups: SEXP,
    n_groups: SEXP,
    qt: SEXP,
    n_basis: SEXP,
    flags: SEXP,
    scale_max: SEXP,
    n_threads: SEXP,
) -> SEXP {
    finish(catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let mut out = robj(out);
        let (p, i, x, qt, flags) = (robj(p), robj(i), robj(x), robj(qt), robj(flags));
        let flags = flags.as_logical_slice().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", "flags must be logical"))?;
        if flags.len() != 3 || flags.iter().any(|b| b.is_na()) {
            return Err(Failure::new("SC_STATUS_INVALID_OPTION", "flags must be c(do.center, do.scale, use.umi)"));
        }
        let groups = robj(groups);
        let n_threads = scalar_i32(&robj(n_threads), "threads")?.max(0) as usize;
        let job = regress::Job {
            p: ints(&p, "p")?,
            i: ints(&i, "i")?,
            x: reals(&x, "x")?,
            n_genes: scalar_i32(&robj(n_genes), "n_genes")?.max(0) as usize,
            column_map: ints(&robj(column_map), "column_map")?,
            groups: if groups.is_null() { None } else { Some(ints(&groups, "groups")?) },
            n_groups: scalar_i32(&robj(n_groups), "n_groups")?.max(1) as usize,
            qt: reals(&qt, "qt")?,
            n_basis: scalar_i32(&robj(n_basis), "n_basis")?.max(0) as usize,
            center: flags[0].is_true(),
            scale: flags[1].is_true(),
            use_umi: flags[2].is_true(),
            scale_max: scalar_f64(&robj(scale_max), "scale.max")?,
        };
        let out = out_slice(&mut out)?;
        let mut cb = |_: u64, _: u64| !interrupted();
        let mut exec = exec_with_interrupt(n_threads, &mut cb)?;
        Ok(regress::run(&job, &mut exec, out)?)
    })))
}

/// The core library's version string.
#[no_mangle]
pub extern "C" fn scscale_r_version() -> SEXP {
    let v = unsafe { std::ffi::CStr::from_ptr(sc_version()) }.to_string_lossy().into_owned();
    let robj: Robj = v.into();
    unsafe { robj.get() }
}
