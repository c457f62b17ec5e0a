//! The design of `vars.to.regress` as an orthonormal basis per `split.by` group, with the rank
//! rule of R's `qr()` (LINPACK `dqrdc2`, which Seurat's `RegressOutMatrix` uses): taking the
//! columns in order, one whose part orthogonal to the columns kept before it is below `1e-7` of
//! its own norm is dropped (dqrdc2 moves it to the end and leaves it out of the rank). The kept
//! columns span the same space as the first `rank` columns of R's `qr.Q`, so the residuals are
//! the same up to rounding; the basis itself is built by modified Gram-Schmidt, twice.

use crate::options::Groups;
use crate::status::{fail, Result, *};

/// dqrdc2's `tol` as R's `qr()` passes it.
const TOL: f64 = 1e-7;

/// The basis for `regress::Job::qt`: `n_basis` values per cell (its row of its group's basis,
/// zero-padded), cell after cell, and `n_basis` (the largest rank over the groups). `design` is
/// `n_cells x n_covariates`, column-major (R's `model.matrix`).
pub(crate) fn basis(design: &[f64], n_cells: usize, n_covariates: usize, groups: &Groups) -> Result<(Vec<f64>, usize)> {
    let Some(len) = n_cells.checked_mul(n_covariates) else {
        fail!(SC_STATUS_SIZE_OVERFLOW, "{n_cells} cells x {n_covariates} covariates overflow");
    };
    if design.len() != len {
        fail!(SC_STATUS_STATS_LENGTH, "design_len is {}; expected n_rows x n_covariates = {len}", design.len());
    }
    if let Some(i) = design.iter().position(|v| !v.is_finite()) {
        fail!(SC_STATUS_INVALID_OPTION, "design value {i} (cell {}, covariate {}) is not finite", i % n_cells.max(1), i / n_cells.max(1));
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.n_groups];
    for c in 0..n_cells {
        if let Some(g) = groups.of(c) {
            members[g].push(c);
        }
    }
    // Per group: the kept columns' orthonormal vectors over the group's cells.
    let bases: Vec<Vec<Vec<f64>>> = members.iter().map(|cells| group_basis(design, n_cells, n_covariates, cells)).collect();
    let n_basis = bases.iter().map(Vec::len).max().unwrap_or(0);
    let mut qt = vec![0.0; n_cells * n_basis];
    for (cells, q) in members.iter().zip(&bases) {
        for (k, v) in q.iter().enumerate() {
            for (i, &c) in cells.iter().enumerate() {
                qt[c * n_basis + k] = v[i];
            }
        }
    }
    Ok((qt, n_basis))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn group_basis(design: &[f64], n_cells: usize, n_covariates: usize, cells: &[usize]) -> Vec<Vec<f64>> {
    let mut q: Vec<Vec<f64>> = Vec::new();
    for j in 0..n_covariates {
        if q.len() == cells.len() {
            break; // rank at most the number of cells
        }
        let column: Vec<f64> = cells.iter().map(|&c| design[j * n_cells + c]).collect();
        let norm = dot(&column, &column).sqrt();
        // dqrdc2 compares with the original norm, or with 1 for a zero column.
        let reference = if norm == 0.0 { 1.0 } else { norm };
        let mut r = column;
        for _ in 0..2 {
            for v in &q {
                let p = dot(v, &r);
                r.iter_mut().zip(v).for_each(|(x, y)| *x -= p * y);
            }
        }
        let rest = dot(&r, &r).sqrt();
        if rest < reference * TOL {
            continue;
        }
        r.iter_mut().for_each(|x| *x /= rest);
        q.push(r);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collinear_and_zero_columns_are_dropped_as_r_drops_them() {
        // Intercept, x, 2x + 1 (collinear), zeros, y: rank 3 (intercept, x, y) as R's qr().
        let n = 6;
        let x = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0];
        let y = [0.5, -1.0, 2.0, 0.0, 1.0, 3.0];
        let mut d = vec![1.0; n];
        d.extend(x);
        d.extend(x.iter().map(|v| 2.0 * v + 1.0));
        d.extend([0.0; 6]);
        d.extend(y);
        let groups = Groups::new(None, 1, n).unwrap();
        let (qt, k) = basis(&d, n, 5, &groups).unwrap();
        assert_eq!(k, 3);
        // Orthonormal columns.
        for a in 0..k {
            for b in 0..k {
                let s: f64 = (0..n).map(|c| qt[c * k + a] * qt[c * k + b]).sum();
                assert!((s - f64::from(u8::from(a == b))).abs() < 1e-12, "{a} {b} {s}");
            }
        }
        // y lies in the span: its residual is zero.
        let coef: Vec<f64> = (0..k).map(|a| (0..n).map(|c| qt[c * k + a] * y[c]).sum()).collect();
        for c in 0..n {
            let fit: f64 = (0..k).map(|a| qt[c * k + a] * coef[a]).sum();
            assert!((fit - y[c]).abs() < 1e-12);
        }
    }

    #[test]
    fn each_group_has_its_own_basis_and_rank() {
        // Group 0 has 1 cell (rank 1), group 1 has 3, cell 4 is in no group (zeros).
        let labels = [0, 1, 1, 1, -1];
        let groups = Groups::new(Some(&labels), 2, 5).unwrap();
        let d = [1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 2.0, 4.0, 9.0];
        let (qt, k) = basis(&d, 5, 2, &groups).unwrap();
        assert_eq!(k, 2);
        assert_eq!(qt[1], 0.0); // group 0: one basis vector, the second padded
        assert_eq!(&qt[8..10], &[0.0, 0.0]); // no group
        assert!((qt[0].abs() - 1.0).abs() < 1e-15);
        let bad = basis(&d[..9], 5, 2, &groups).unwrap_err();
        assert_eq!(bad.status, SC_STATUS_STATS_LENGTH);
    }
}
