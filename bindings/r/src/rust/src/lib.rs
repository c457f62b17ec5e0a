//! `.Call` entry points of the R package: R objects in, the core's safe API (`scscale::api`)
//! called, its `Error` out. Written by hand (no `#[extendr]` wrappers) so that no R error can
//! longjmp across Rust frames: the R side allocates every large object, these functions only fill
//! it, and failures come back as a character vector that the R side turns into `stop()`.

use extendr_api::prelude::*;
use extendr_api::SEXP;
use scscale::api::{self, DenseIn, DenseOut, Flavor, Options, Regression, Sparse, StatsOut};
use std::ffi::c_int;
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

/// The core's progress callback from R: Ctrl-C cancels the call.
fn not_interrupted(_done: u64, _total: u64) -> bool {
    !interrupted()
}

/// Seurat's options shared by every entry: the kept genes' output rows, `split.by` groups and
/// R's Ctrl-C. `scale_max` is `scale.max` (`Inf`: no clipping).
#[allow(clippy::too_many_arguments)]
fn seurat_options<'a>(
    flavor: Flavor,
    center: bool,
    scale: bool,
    scale_max: f64,
    column_map: &'a [i64],
    groups: Option<&'a [i32]>,
    n_groups: i32,
    n_threads: i32,
) -> Options<'a> {
    Options {
        center,
        scale,
        max_value: Some(scale_max),
        n_threads: n_threads.max(0) as usize,
        column_map: Some(column_map),
        groups,
        n_groups: n_groups.max(1) as usize,
        // Off by default from R: with THP defrag = madvise the advice makes first-touch faults
        // compact memory synchronously, which doubled the time here (see README).
        hugepage_advice: false,
        progress: Some(&not_interrupted),
        ..Options::new(flavor)
    }
}

fn flags3(flags: SEXP, what: &str) -> Result<[bool; 3], Failure> {
    let flags = robj(flags);
    let f = flags.as_logical_slice().ok_or_else(|| Failure::new("SC_STATUS_INVALID_OPTION", format!("flags must be {what}")))?;
    if f.len() != 3 || f.iter().any(|b| b.is_na()) {
        return Err(Failure::new("SC_STATUS_INVALID_OPTION", format!("flags must be {what}")));
    }
    Ok([f[0].is_true(), f[1].is_true(), f[2].is_true()])
}

fn optional_ints<'a>(x: SEXP, what: &str) -> Result<Option<&'a [i32]>, Failure> {
    let x = robj(x);
    if x.is_null() {
        Ok(None)
    } else {
        ints(&x, what).map(Some)
    }
}

/// R's column map (0-based output row of each gene, or -1) as the core's, and the output rows.
fn column_map(x: SEXP) -> Result<(Vec<i64>, usize), Failure> {
    let map: Vec<i64> = ints(&robj(x), "column_map")?.iter().map(|&v| v as i64).collect();
    let n_out = map.iter().filter(|&&v| v >= 0).count();
    Ok((map, n_out))
}

fn finish(res: std::thread::Result<Result<(), Failure>>) -> SEXP {
    let robj: Robj = match res {
        Ok(Ok(())) => ().into(),
        Ok(Err(Failure(status, msg))) => Strings::from_values([status, msg]).into(),
        Err(panic) => {
            let what = scscale::status::panic_message(&*panic);
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

/// Seurat `FastSparseRowScale`: dgCMatrix genes x cells (= CSR cells x genes) into `out`, an R
/// double matrix of `n_out` rows (genes) x `n_cells` columns. `column_map[gene]` is the output row
/// (0-based) or -1; `groups` is NULL or one 0-based label per cell (-1 = NA).
#[no_mangle]
pub extern "C" fn scscale_r_scale_sparse(
    out: SEXP,
    p: SEXP,
    i: SEXP,
    x: SEXP,
    n_genes: SEXP,
    column_map_: SEXP,
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
        let (p, i, x) = (ints(&p, "p")?, ints(&i, "i")?, reals(&x, "x")?);
        let n_genes = scalar_i32(&robj(n_genes), "n_genes")?.max(0) as usize;
        let (map, n_out) = column_map(column_map_)?;
        let mut opts = seurat_options(
            Flavor::Seurat,
            scalar_bool(&robj(center), "do.center")?,
            scalar_bool(&robj(scale), "do.scale")?,
            scalar_f64(&robj(scale_max), "scale.max")?,
            &map,
            optional_ints(groups, "groups")?,
            scalar_i32(&robj(n_groups), "n_groups")?,
            scalar_i32(&robj(n_threads), "threads")?,
        );
        opts.hugepage_advice = scalar_bool(&robj(hugepages), "hugepages")?;
        let x = Sparse::new(p.len().saturating_sub(1), n_genes, p, i, x);
        Ok(api::scale_csr(&x, &opts, DenseOut::new(out_slice(&mut out)?, n_out), StatsOut::default())?)
    })))
}

/// Seurat `FastRowScale` of a dense double matrix (genes x cells, column-major = cells x genes
/// row-major), into `out`, an R double matrix of `n_out` rows x `n_cells` columns. `column_map`
/// and `groups` as for `scscale_r_scale_sparse`; `flags` is `c(do.center, do.scale, refine)`,
/// `refine` being the installed matrixStats' `rowMeans2` default (matrixStats >= 1.0.0).
#[no_mangle]
pub extern "C" fn scscale_r_scale_dense(
    out: SEXP,
    x: SEXP,
    n_genes: SEXP,
    n_cells: SEXP,
    column_map_: SEXP,
    groups: SEXP,
    n_groups: SEXP,
    flags: SEXP,
    scale_max: SEXP,
) -> SEXP {
    finish(catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let mut out = robj(out);
        let x = robj(x);
        let x = reals(&x, "x")?;
        let [center, scale, refine] = flags3(flags, "c(do.center, do.scale, refine)")?;
        let n_genes = scalar_i32(&robj(n_genes), "n_genes")?.max(0) as usize;
        let n_cells = scalar_i32(&robj(n_cells), "n_cells")?.max(0) as usize;
        let (map, n_out) = column_map(column_map_)?;
        let flavor = if refine { Flavor::SeuratMatrixStats1 } else { Flavor::Seurat };
        let opts = seurat_options(
            flavor,
            center,
            scale,
            scalar_f64(&robj(scale_max), "scale.max")?,
            &map,
            optional_ints(groups, "groups")?,
            scalar_i32(&robj(n_groups), "n_groups")?,
            1,
        );
        let x = DenseIn::new(n_cells, n_genes, x);
        Ok(api::scale_dense(&x, &opts, DenseOut::new(out_slice(&mut out)?, n_out), StatsOut::default())?)
    })))
}

/// Linear regression of every gene on the design, then Seurat's scaling of the residuals
/// (`api::scale_csr_regressed`). `design` is R's `model.matrix`, `n_cells` x `n_covariates`.
#[no_mangle]
pub extern "C" fn scscale_r_regress_scale(
    out: SEXP,
    p: SEXP,
    i: SEXP,
    x: SEXP,
    n_genes: SEXP,
    column_map_: SEXP,
    groups: SEXP,
    n_groups: SEXP,
    design: SEXP,
    n_covariates: SEXP,
    flags: SEXP,
    scale_max: SEXP,
    n_threads: SEXP,
) -> SEXP {
    finish(catch_unwind(AssertUnwindSafe(|| -> Result<(), Failure> {
        let mut out = robj(out);
        let (p, i, x, design) = (robj(p), robj(i), robj(x), robj(design));
        let (p, i, x, design) = (ints(&p, "p")?, ints(&i, "i")?, reals(&x, "x")?, reals(&design, "design")?);
        let [center, scale, use_umi] = flags3(flags, "c(do.center, do.scale, use.umi)")?;
        let n_genes = scalar_i32(&robj(n_genes), "n_genes")?.max(0) as usize;
        let (map, n_out) = column_map(column_map_)?;
        let opts = seurat_options(
            Flavor::Seurat,
            center,
            scale,
            scalar_f64(&robj(scale_max), "scale.max")?,
            &map,
            optional_ints(groups, "groups")?,
            scalar_i32(&robj(n_groups), "n_groups")?,
            scalar_i32(&robj(n_threads), "threads")?,
        );
        let reg = Regression { design, n_covariates: scalar_i32(&robj(n_covariates), "n_covariates")?.max(0) as usize, use_umi };
        let x = Sparse::new(p.len().saturating_sub(1), n_genes, p, i, x);
        Ok(api::scale_csr_regressed(&x, &opts, &reg, DenseOut::new(out_slice(&mut out)?, n_out))?)
    })))
}

/// The core library's version string.
#[no_mangle]
pub extern "C" fn scscale_r_version() -> SEXP {
    let robj: Robj = scscale::VERSION.into();
    // SAFETY: returned straight to R, which protects it.
    unsafe { robj.get() }
}
