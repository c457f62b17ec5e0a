//! Seurat's paths with no Scanpy counterpart: the dense scaler (`FastRowScale`, in C for its
//! long double sums) and `vars.to.regress` (linear model, residuals scaled as Seurat does).

use super::{Call, DenseOut, Flavor, Options, Sparse, StatsOut};
use crate::design;
use crate::matrix::{Dense, Value};
use crate::options::ColumnMap;
use crate::regress::{self, Job};
use crate::seurat_dense::{self, SeuratDenseParams};
use crate::status::{fail, Result, *};

/// The design of `vars.to.regress` (Seurat's `model.use = "linear"`): `n_rows x n_covariates`,
/// column-major (R's `model.matrix`, intercept included). Each `split.by` group is regressed on
/// its own rows, with the rank rule of R's `qr()` (columns nearly in the span of earlier ones
/// are dropped; `src/design.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Regression<'a> {
    pub design: &'a [f64],
    pub n_covariates: usize,
    /// Seurat's `use.umi`: the residuals of a log-linear model (`log1p` of the shifted residuals).
    pub use_umi: bool,
}

/// Seurat `ScaleData(vars.to.regress = ..., model.use = "linear")` of a CSR cells x genes matrix
/// (R's dgCMatrix genes x cells): residuals of every mapped gene on its group's basis, then
/// Seurat's scaling and clipping, into cells x `n_out` row-major (R's `n_out` x cells). Within
/// about 1e-13 of Seurat (which uses Householder `qr.resid` and long double variances), not bitwise.
pub fn scale_csr_regressed(x: &Sparse<i32, f64>, opts: &Options, regression: &Regression, out: DenseOut<f64>) -> Result<()> {
    let call = Call::new(opts, &StatsOut::default())?;
    if !matches!(opts.flavor, Flavor::Seurat | Flavor::SeuratMatrixStats1) {
        fail!(SC_STATUS_UNSUPPORTED, "regression (vars.to.regress) is Seurat's: use a Seurat flavor");
    }
    if call.given.is_some() {
        fail!(SC_STATUS_INVALID_OPTION, "given_mean/given_std make no sense with a regression");
    }
    if x.index_base != 0 {
        fail!(SC_STATUS_UNSUPPORTED, "regression reads R's dgCMatrix memory: index_base must be 0");
    }
    let map = ColumnMap::new(call.column_map, x.n_cols, out.n_cols)?;
    if out.row_stride != 0 && out.row_stride != map.n_out {
        fail!(SC_STATUS_UNSUPPORTED, "out.row_stride is {}; a regression writes R's matrix: 0 or {}", out.row_stride, map.n_out);
    }
    let column_map: Vec<i32> = (0..x.n_cols).map(|g| if map.get(g) == crate::options::SKIP { -1 } else { map.get(g) as i32 }).collect();
    if x.indptr.len() != x.n_rows + 1 {
        fail!(SC_STATUS_INDPTR_LENGTH, "indptr_len is {}; expected {} (number of rows + 1)", x.indptr.len(), x.n_rows + 1);
    }
    let groups = call.groups(x.n_rows)?;
    let (qt, n_basis) = design::basis(regression.design, x.n_rows, regression.n_covariates, &groups)?;
    let job = Job {
        p: x.indptr,
        i: x.indices,
        x: x.data,
        n_genes: x.n_cols,
        column_map: &column_map,
        groups: call.group_labels,
        n_groups: call.n_groups,
        qt: &qt,
        n_basis,
        center: opts.center,
        scale: opts.scale,
        use_umi: regression.use_umi,
        scale_max: opts.max_value.unwrap_or(f64::INFINITY),
    };
    let need = x.n_rows.saturating_mul(map.n_out);
    if out.data.len() < need {
        fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; {} rows x {} columns need {need}", out.data.len(), x.n_rows, map.n_out);
    }
    let mut exec = call.exec()?;
    regress::run(&job, &mut exec, &mut out.data[..need])
}

/// Seurat's dense path (`FastRowScale`): float64 in and out, a separate row-major output of
/// `out_cols` columns. Called by `scale_dense` for the Seurat flavors.
///
/// # Safety
/// As `dense_call`'s: `src`/`out` live for the call, nothing else accesses them, disjoint unless
/// `in_place`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn dense<V: Value, W: Value>(
    call: &Call,
    src: (*const V, usize),
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    out: (*mut W, usize),
    out_cols: usize,
    out_row_stride: usize,
    in_place: bool,
    stats_out: &StatsOut,
) -> Result<()> {
    if V::SINGLE || W::SINGLE {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path reads R's double matrices: float64 in and out");
    }
    if in_place {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path writes a new matrix: in-place output is not supported");
    }
    if call.given.is_some() || stats_out.mean.is_some() || stats_out.var.is_some() || stats_out.std.is_some() {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path neither takes nor returns statistics");
    }
    let map = ColumnMap::new(call.column_map, n_cols, out_cols)?;
    if out_row_stride != 0 && out_row_stride != map.n_out {
        fail!(SC_STATUS_UNSUPPORTED, "out.row_stride is {out_row_stride}; Seurat's dense path writes R's matrix: 0 or {}", map.n_out);
    }
    call.check_scratch(n_rows, n_cols, map.n_out)?;
    let groups = call.groups(n_rows)?;
    // SAFETY: Index/Value are sealed, and neither type is single precision: both are f64. The
    // caller's contract gives live, disjoint buffers of these lengths.
    let (input, output) = unsafe {
        (
            if src.1 == 0 { &[][..] } else { std::slice::from_raw_parts(src.0 as *const f64, src.1) },
            if out.1 == 0 { &mut [][..] } else { std::slice::from_raw_parts_mut(out.0 as *mut f64, out.1) },
        )
    };
    let x = Dense::new(n_rows, n_cols, row_stride, input)?;
    let params = SeuratDenseParams {
        center: call.params.center,
        scale: call.params.scale,
        refine_mean: call.seurat_refine,
        scale_max: call.params.max_value.unwrap_or(f64::INFINITY),
    };
    let mut exec = call.exec()?;
    seurat_dense::scale(&x, &map, &groups, &params, &mut exec, output)
}
