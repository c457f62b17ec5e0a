//! The per-gene moments each reference tool derives from its sums, and the statistics they fill.
//! The lowest numeric layer: moments -> traversal -> partials -> stats -> transform -> ffi.

use crate::options::Params;

/// Statistics per group and gene, indexed `group * n_cols + gene`.
/// `mean` and `std` are what the transform uses (Seurat: 0 when not centering, 1 when not scaling;
/// Scanpy: std 0 replaced by 1, NaN kept); `var` is the variance `std` came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub n_groups: usize,
    pub n_cols: usize,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub std: Vec<f64>,
}

impl Stats {
    pub(crate) fn new(n_groups: usize, n_cols: usize) -> Self {
        let n = n_groups * n_cols;
        Stats { n_groups, n_cols, mean: vec![0.0; n], var: vec![0.0; n], std: vec![0.0; n] }
    }
}

/// Scanpy (fast_array_utils `mean_var`, correction=1, then `std[std == 0] = 1`) from the sums.
#[inline]
pub fn scanpy_moments(sum: f64, sum_sq: f64, n: usize) -> [f64; 3] {
    let nf = n as f64;
    let mean = sum / nf;
    let mut var = sum_sq / nf - mean * mean;
    if n != 1 {
        var *= nf / (nf - 1.0);
    }
    let mut std = var.sqrt();
    if std == 0.0 {
        std = 1.0;
    }
    [mean, var, std]
}

/// Seurat's divisor from the stored-entry sum of squares; returns the `[mean, var, sd]` it uses.
#[inline]
pub(crate) fn seurat_moments(mean: f64, mut ss: f64, nnz: i64, n: i64, params: &Params) -> [f64; 3] {
    let (var, sd) = if params.scale {
        if params.center {
            ss += (mean * mean) * (n - nnz) as f64;
        }
        let var = ss / (n - 1) as f64;
        (var, var.sqrt())
    } else {
        (1.0, 1.0)
    };
    [if params.center { mean } else { 0.0 }, var, sd]
}
