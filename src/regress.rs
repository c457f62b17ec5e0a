//! `vars.to.regress` with `model.use = "linear"`: residuals of every gene on one orthonormal basis
//! of the design per split group (from `design.rs`, with the rank rule of R's LINPACK QR, so it is
//! Seurat's), then Seurat's dense scaling (`FastRowScale`) of the residuals. Not bitwise equal to
//! Seurat (which uses Householder `qr.resid` and long double variances), about 1e-13 relative.
//!
//! Layout: the output is R's genes x cells matrix, i.e. row-major cells x genes (`out[c * n_out + o]`).
//! Passes that write go over cell chunks; passes that sum go over gene blocks, each gene summed
//! by one worker in cell order, so the bits never depend on the thread count.

use crate::exec::Exec;
use crate::status::{Error, Result, *};
use rayon::prelude::*;
use std::ops::Range;

/// One regression: the data, the basis and Seurat's switches. All indices are 0-based.
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    /// The matrix as CSR cells x genes (= R's dgCMatrix genes x cells): `p` has `n_cells + 1`
    /// entries starting at 0, `i` (gene of each entry) and `x` (its value) `p[n_cells]`.
    pub p: &'a [i32],
    pub i: &'a [i32],
    pub x: &'a [f64],
    pub n_genes: usize,
    /// Output gene (row of R's result) of each input gene, or -1: one-to-one onto `0..n_out`.
    pub column_map: &'a [i32],
    /// `split.by`: `None` (one group) or one label per cell, -1 (no group: output 0) or
    /// `0 <= label < n_groups`.
    pub groups: Option<&'a [i32]>,
    pub n_groups: usize,
    /// The orthonormal basis of each group's design, `n_basis` values per cell (cell `c`'s row
    /// of its group's Q, zero-padded), cell after cell: R's `n_basis x n_cells` matrix.
    pub qt: &'a [f64],
    pub n_basis: usize,
    /// `do.center`, `do.scale`, `use.umi` (log1p of the shifted residuals, as `RegressOutMatrix`).
    pub center: bool,
    pub scale: bool,
    pub use_umi: bool,
    /// `scale.max`; `f64::INFINITY` = no clipping. Not NaN.
    pub scale_max: f64,
}

fn bad(msg: String) -> Error {
    Error::new(SC_STATUS_INVALID_OPTION, msg)
}

/// Rounds of work between interrupt checks.
const ROUNDS: usize = 32;
/// Genes per stats block (512 bytes of each cell's row).
const GENE_BLOCK: usize = 64;

/// Progress over the passes: each pass counts `n_cells`, the whole call `passes * n_cells`.
struct Progress<'e, 'a> {
    exec: &'e mut Exec<'a>,
    n_cells: u64,
    total: u64,
    /// Passes finished.
    pass: u64,
}

impl Progress<'_, '_> {
    /// Reports `cells` of the current pass done; an error when the callback asks to stop.
    fn at(&mut self, cells: usize) -> Result<()> {
        let done = (self.pass * self.n_cells + cells as u64).min(self.total);
        if !self.exec.report(done, self.total) {
            return Err(Error::new(
                SC_STATUS_CANCELLED,
                format!("cancelled by the progress callback after {done} of {} steps; the output is unspecified", self.total),
            ));
        }
        Ok(())
    }

    /// Ends a pass (whose last report was its whole).
    fn end_pass(&mut self) {
        self.pass += 1;
    }
}

struct Ctx<'a> {
    job: &'a Job<'a>,
    n_cells: usize,
    n_out: usize,
    pool: std::sync::Arc<rayon::ThreadPool>,
    /// Output row of each input gene, or usize::MAX.
    map: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn group(&self, c: usize) -> Option<usize> {
        match self.job.groups {
            None => Some(0),
            Some(g) => (g[c] >= 0).then_some(g[c] as usize),
        }
    }

    /// Runs `f` on disjoint cell chunks of `out`, checking for an interrupt between rounds.
    fn over_cells(&self, pr: &mut Progress, out: &mut [f64], f: impl Fn(Range<usize>, &mut [f64]) + Sync) -> Result<()> {
        let n_chunks = (ROUNDS * self.pool.current_num_threads().max(1) * 2).min(self.n_cells.max(1));
        let chunk = self.n_cells.div_ceil(n_chunks).max(1);
        let per_round = n_chunks.div_ceil(ROUNDS).max(1);
        let n_out = self.n_out;
        let mut start = 0;
        while start < self.n_cells {
            let end = (start + chunk * per_round).min(self.n_cells);
            let part = &mut out[start * n_out..end * n_out];
            self.pool.install(|| {
                part.par_chunks_mut(chunk * n_out).enumerate().for_each(|(k, rows)| {
                    let c0 = start + k * chunk;
                    let c1 = (c0 + chunk).min(end);
                    f(c0..c1, rows);
                })
            });
            pr.at(end)?;
            start = end;
        }
        pr.end_pass();
        Ok(())
    }

    /// Chunks for accumulating passes: their number depends only on the sizes (never on the
    /// thread count), so the partial sums and hence the bits are always the same.
    fn acc_chunks(&self, width: usize) -> usize {
        ((256usize << 20) / (width.max(1) * 8)).clamp(1, 64).min(self.n_cells.max(1))
    }

    /// Like `over_cells`, over fixed chunks, each with an accumulator of `width` values starting
    /// at `init`; returns the accumulators in chunk (= cell) order. Sequential memory access,
    /// unlike `over_genes`.
    fn over_cells_acc(
        &self,
        pr: &mut Progress,
        out: &mut [f64],
        width: usize,
        init: f64,
        f: impl Fn(Range<usize>, &mut [f64], &mut [f64]) + Sync,
    ) -> Result<Vec<Vec<f64>>> {
        let n_out = self.n_out;
        let chunk = self.n_cells.div_ceil(self.acc_chunks(width)).max(1);
        let per_round = self.pool.current_num_threads().max(1) * 2;
        let mut accs = Vec::new();
        let mut start = 0;
        while start < self.n_cells {
            let end = (start + chunk * per_round).min(self.n_cells);
            let part = &mut out[start * n_out..end * n_out];
            let res: Vec<Vec<f64>> = self.pool.install(|| {
                part.par_chunks_mut(chunk * n_out)
                    .enumerate()
                    .map(|(k, rows)| {
                        let c0 = start + k * chunk;
                        let mut acc = vec![init; width];
                        f(c0..(c0 + chunk).min(end), rows, &mut acc);
                        acc
                    })
                    .collect()
            });
            accs.extend(res);
            pr.at(end)?;
            start = end;
        }
        pr.end_pass();
        Ok(accs)
    }

    /// Per (group, output gene) accumulation over cells in cell order: `f(acc, g, block, row)`
    /// sees the block's slice of a cell's row. Returns `n_groups * n_out` values, group-major.
    fn over_genes(
        &self,
        pr: &mut Progress,
        out: &[f64],
        init: f64,
        f: impl Fn(&mut [f64], usize, Range<usize>, &[f64]) + Sync,
    ) -> Result<Vec<f64>> {
        let (n_out, n_g) = (self.n_out, self.job.n_groups);
        let blocks: Vec<Range<usize>> = (0..n_out).step_by(GENE_BLOCK).map(|s| s..(s + GENE_BLOCK).min(n_out)).collect();
        let mut res = vec![init; n_g * n_out];
        let per_round = blocks.len().div_ceil(ROUNDS).max(self.pool.current_num_threads());
        let mut blocks_done = 0;
        for round in blocks.chunks(per_round) {
            let parts: Vec<Vec<f64>> = self.pool.install(|| {
                round
                    .par_iter()
                    .map(|b| {
                        let w = b.len();
                        let mut acc = vec![init; n_g * w];
                        for c in 0..self.n_cells {
                            if let Some(g) = self.group(c) {
                                let row = &out[c * n_out + b.start..c * n_out + b.end];
                                f(&mut acc[g * w..(g + 1) * w], g, b.clone(), row);
                            }
                        }
                        acc
                    })
                    .collect()
            });
            for (b, acc) in round.iter().zip(parts) {
                let w = b.len();
                for g in 0..n_g {
                    res[g * n_out + b.start..g * n_out + b.end].copy_from_slice(&acc[g * w..(g + 1) * w]);
                }
            }
            // Progress in cells: this pass's share of the blocks.
            blocks_done += round.len();
            pr.at(self.n_cells * blocks_done / blocks.len())?;
        }
        pr.end_pass();
        Ok(res)
    }
}

fn validate(job: &Job, out_len: usize) -> Result<(usize, usize, Vec<usize>)> {
    let (p, i, x) = (job.p, job.i, job.x);
    if p.is_empty() || p[0] != 0 {
        return Err(Error::new(SC_STATUS_INDPTR_START, "p must start with 0"));
    }
    let n_cells = p.len() - 1;
    if i.len() != x.len() {
        return Err(Error::new(SC_STATUS_LENGTH_MISMATCH, format!("i has {} entries but x has {}", i.len(), x.len())));
    }
    if p.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::new(SC_STATUS_INDPTR_NOT_MONOTONE, "p decreases somewhere"));
    }
    if p[n_cells] as usize != i.len() {
        return Err(Error::new(SC_STATUS_INDPTR_END, format!("p ends at {} but {} entries are stored", p[n_cells], i.len())));
    }
    if let Some(bad_i) = i.iter().find(|&&v| v < 0 || v as usize >= job.n_genes) {
        return Err(Error::new(SC_STATUS_INDEX_OUT_OF_RANGE, format!("row index {bad_i} is outside 0..{}", job.n_genes)));
    }
    if job.column_map.len() != job.n_genes {
        return Err(Error::new(
            SC_STATUS_COLUMN_MAP_LENGTH,
            format!("column_map has {} entries; expected {}", job.column_map.len(), job.n_genes),
        ));
    }
    let n_out = job.column_map.iter().filter(|&&v| v >= 0).count();
    let mut seen = vec![false; n_out];
    let mut map = vec![usize::MAX; job.n_genes];
    for (g, &o) in job.column_map.iter().enumerate() {
        if o < -1 || o >= 0 && (o as usize >= n_out || seen[o as usize]) {
            return Err(Error::new(SC_STATUS_INVALID_COLUMN_MAP, format!("column_map[{g}] = {o} is not a one-to-one map onto 0..{n_out}")));
        }
        if o >= 0 {
            seen[o as usize] = true;
            map[g] = o as usize;
        }
    }
    if out_len != n_out * n_cells {
        return Err(Error::new(SC_STATUS_OUTPUT_TOO_SMALL, format!("out has {out_len} elements; expected {n_out} x {n_cells}")));
    }
    if let Some(g) = job.groups {
        if g.len() != n_cells {
            return Err(Error::new(SC_STATUS_GROUPS_LENGTH, format!("split.by has {} labels for {n_cells} cells", g.len())));
        }
        if let Some(v) = g.iter().find(|&&v| v < -1 || v >= job.n_groups as i32) {
            return Err(Error::new(SC_STATUS_INVALID_GROUP, format!("group label {v} is outside -1..{}", job.n_groups)));
        }
    }
    if job.qt.len() != job.n_basis * n_cells {
        return Err(bad(format!("qt has {} values; expected {} x {n_cells}", job.qt.len(), job.n_basis)));
    }
    if job.scale_max.is_nan() {
        return Err(bad("scale.max is NaN".into()));
    }
    Ok((n_cells, n_out, map))
}

/// Regresses every mapped gene of `job` on its group's basis and scales the residuals as Seurat
/// does, into `out` (cells x `n_out`, row-major: R's `n_out` x cells matrix; exactly that many
/// values). Runs on `exec`'s pool (the bits do not depend on its size); its progress callback is
/// told `(done, total)` in cells over the passes made, and may stop the call (`SC_STATUS_CANCELLED`,
/// the output then unspecified).
pub fn run(job: &Job<'_>, exec: &mut Exec<'_>, out: &mut [f64]) -> Result<()> {
    let (n_cells, n_out, map) = validate(job, out.len())?;
    if n_out == 0 || n_cells == 0 {
        return Ok(());
    }
    // Residuals can only be NaN if the data or the basis are not finite: without use.umi the
    // non-NaN counts for the mean are the group sizes then, and need no pass of their own.
    let counts_from_sizes = job.center && !job.use_umi && job.x.iter().chain(job.qt).all(|v| v.is_finite());
    let passes = 2 + 2 * u64::from(job.use_umi) + u64::from(job.center && !counts_from_sizes) + u64::from(job.scale) + 1;
    let mut pr = Progress { exec, n_cells: n_cells as u64, total: passes * n_cells as u64, pass: 0 };
    pr.at(0)?;
    let pool = pr.exec.pool.clone();
    let ctx = Ctx { job, n_cells, n_out, pool, map };
    let (n_g, k_n) = (job.n_groups, job.n_basis);
    let mut sizes = vec![0usize; n_g];
    for c in 0..n_cells {
        if let Some(g) = ctx.group(c) {
            sizes[g] += 1;
        }
    }

    // 1. Coefficients b[g][k][o] = sum over the group's cells of q[c,k] * y[c,o] (stored entries
    // only). Fixed cell chunks, partials added in chunk order: deterministic.
    let coef_len = n_g * k_n * n_out;
    let n_chunks = (256usize << 20) / (coef_len.max(1) * 8);
    let n_chunks = n_chunks.clamp(1, 16).min(n_cells.max(1));
    let chunk = n_cells.div_ceil(n_chunks).max(1);
    let partials: Vec<Vec<f64>> = ctx.pool.install(|| {
        (0..n_cells.div_ceil(chunk))
            .into_par_iter()
            .map(|k| {
                let mut b = vec![0.0f64; coef_len];
                for c in k * chunk..((k + 1) * chunk).min(n_cells) {
                    let Some(g) = ctx.group(c) else { continue };
                    let q = &job.qt[c * k_n..(c + 1) * k_n];
                    for e in job.p[c] as usize..job.p[c + 1] as usize {
                        let o = ctx.map[job.i[e] as usize];
                        if o == usize::MAX {
                            continue;
                        }
                        let v = job.x[e];
                        for (kk, &qk) in q.iter().enumerate() {
                            b[(g * k_n + kk) * n_out + o] += qk * v;
                        }
                    }
                }
                b
            })
            .collect()
    });
    let mut coef = vec![0.0f64; coef_len];
    for part in &partials {
        for (a, b) in coef.iter_mut().zip(part) {
            *a += b;
        }
    }
    drop(partials);
    pr.at(n_cells)?;
    pr.end_pass();

    // 2. Residuals r = y - Q b, cells outside every group 0 (Seurat's NA -> 0). Without use.umi
    // the NaN-skipping sums for the mean are taken on the way.
    let fuse_sums = job.center && !job.use_umi;
    let width = if fuse_sums { n_g * n_out } else { 0 };
    let partial_sums = ctx.over_cells_acc(&mut pr, out, width, 0.0, |cells, rows, acc| {
        for (c, row) in cells.zip(rows.chunks_mut(n_out)) {
            let Some(g) = ctx.group(c) else {
                row.fill(0.0);
                continue;
            };
            let q = &job.qt[c * k_n..(c + 1) * k_n];
            row.fill(0.0);
            for (kk, &qk) in q.iter().enumerate() {
                if qk != 0.0 {
                    let b = &coef[(g * k_n + kk) * n_out..(g * k_n + kk + 1) * n_out];
                    for (r, &bv) in row.iter_mut().zip(b) {
                        *r -= qk * bv;
                    }
                }
            }
            for e in job.p[c] as usize..job.p[c + 1] as usize {
                let o = ctx.map[job.i[e] as usize];
                if o != usize::MAX {
                    row[o] += job.x[e];
                }
            }
            if fuse_sums {
                for (a, &v) in acc[g * n_out..(g + 1) * n_out].iter_mut().zip(row.iter()) {
                    if !v.is_nan() {
                        *a += v;
                    }
                }
            }
        }
    })?;

    // 3. use.umi: log1p(r - min(r)) per group and gene, as RegressOutMatrix does, then the sums.
    let partial_sums = if job.use_umi {
        let mins = ctx.over_genes(&mut pr, out, f64::INFINITY, |acc, _g, _b, row| {
            for (a, &v) in acc.iter_mut().zip(row) {
                // R's min() propagates NaN.
                if v < *a || v.is_nan() {
                    *a = v;
                }
            }
        })?;
        let width = if job.center { n_g * n_out } else { 0 };
        ctx.over_cells_acc(&mut pr, out, width, 0.0, |cells, rows, acc| {
            for (c, row) in cells.zip(rows.chunks_mut(n_out)) {
                if let Some(g) = ctx.group(c) {
                    let m = &mins[g * n_out..(g + 1) * n_out];
                    for (r, &mv) in row.iter_mut().zip(m) {
                        *r = (*r - mv).ln_1p();
                    }
                    if job.center {
                        for (a, &v) in acc[g * n_out..(g + 1) * n_out].iter_mut().zip(row.iter()) {
                            if !v.is_nan() {
                                *a += v;
                            }
                        }
                    }
                }
            }
        })?
    } else {
        partial_sums
    };

    // 4. FastRowScale: mean (NaN-skipping, as rowMeans2(na.rm = TRUE)), then the sum of squares
    // around it, ddof 1.
    let mut mean = vec![0.0f64; n_g * n_out];
    if job.center {
        let mut sums = vec![0.0f64; n_g * n_out];
        for part in &partial_sums {
            for (a, b) in sums.iter_mut().zip(part) {
                *a += b;
            }
        }
        let counts: Vec<f64> = if counts_from_sizes {
            (0..n_g * n_out).map(|k| sizes[k / n_out] as f64).collect()
        } else {
            ctx.over_genes(&mut pr, out, 0.0, |acc, _g, _b, row| {
                for (a, &v) in acc.iter_mut().zip(row) {
                    if !v.is_nan() {
                        *a += 1.0;
                    }
                }
            })?
        };
        for k in 0..n_g * n_out {
            mean[k] = sums[k] / counts[k];
        }
    }
    drop(partial_sums);
    let mut sd = vec![1.0f64; n_g * n_out];
    if job.scale {
        let center = job.center;
        let parts = ctx.over_cells_acc(&mut pr, out, n_g * n_out, 0.0, |cells, rows, acc| {
            for (c, row) in cells.zip(rows.chunks(n_out)) {
                if let Some(g) = ctx.group(c) {
                    let (a, m) = (&mut acc[g * n_out..(g + 1) * n_out], &mean[g * n_out..(g + 1) * n_out]);
                    for ((a, &v), &mv) in a.iter_mut().zip(row).zip(m) {
                        let d = if center { v - mv } else { v };
                        *a += d * d;
                    }
                }
            }
        })?;
        let mut ss = vec![0.0f64; n_g * n_out];
        for part in &parts {
            for (a, b) in ss.iter_mut().zip(part) {
                *a += b;
            }
        }
        for k in 0..n_g * n_out {
            let n = sizes[k / n_out] as f64;
            sd[k] = (ss[k] / (n - 1.0)).sqrt();
        }
    }

    // 5. z = (r - mean) / sd, upper clip, NaN -> 0.
    let smax = job.scale_max;
    ctx.over_cells(&mut pr, out, |cells, rows| {
        for (c, row) in cells.zip(rows.chunks_mut(n_out)) {
            if let Some(g) = ctx.group(c) {
                let (m, s) = (&mean[g * n_out..(g + 1) * n_out], &sd[g * n_out..(g + 1) * n_out]);
                for ((r, &mv), &sv) in row.iter_mut().zip(m).zip(s) {
                    let mut z = (*r - mv) / sv;
                    if z > smax {
                        z = smax;
                    }
                    *r = if z.is_nan() { 0.0 } else { z };
                }
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small problem: CSR cells x genes, group labels, and each group's orthonormal basis of
    /// the design [1, covariate] (Gram-Schmidt), laid out as `Job::qt` wants it.
    struct Case {
        p: Vec<i32>,
        i: Vec<i32>,
        x: Vec<f64>,
        dense: Vec<f64>,
        n_cells: usize,
        n_genes: usize,
        labels: Vec<i32>,
        n_groups: usize,
        qt: Vec<f64>,
    }

    fn case(n_cells: usize, n_genes: usize, labels: Vec<i32>, n_groups: usize) -> Case {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut p, mut i, mut x) = (vec![0i32], Vec::new(), Vec::new());
        let mut dense = vec![0.0; n_cells * n_genes];
        let cov: Vec<f64> = (0..n_cells).map(|_| rnd() * 3.0).collect();
        for c in 0..n_cells {
            for g in 0..n_genes {
                let u = rnd();
                if u < 0.5 {
                    let v = (u * 10.0 + cov[c] * g as f64).ln_1p();
                    i.push(g as i32);
                    x.push(v);
                    dense[c * n_genes + g] = v;
                }
            }
            p.push(i.len() as i32);
        }
        let mut qt = vec![0.0; 2 * n_cells];
        for g in 0..n_groups as i32 {
            let cells: Vec<usize> = (0..n_cells).filter(|&c| labels[c] == g).collect();
            let n = cells.len() as f64;
            let q0 = 1.0 / n.sqrt();
            let mean = cells.iter().map(|&c| cov[c]).sum::<f64>() / n;
            let norm = cells.iter().map(|&c| (cov[c] - mean).powi(2)).sum::<f64>().sqrt();
            for &c in &cells {
                qt[2 * c] = q0;
                qt[2 * c + 1] = (cov[c] - mean) / norm;
            }
        }
        Case { p, i, x, dense, n_cells, n_genes, labels, n_groups, qt }
    }

    fn job<'a>(k: &'a Case, map: &'a [i32], groups: bool) -> Job<'a> {
        Job {
            p: &k.p,
            i: &k.i,
            x: &k.x,
            n_genes: k.n_genes,
            column_map: map,
            groups: groups.then_some(&k.labels[..]),
            n_groups: if groups { k.n_groups } else { 1 },
            qt: &k.qt,
            n_basis: 2,
            center: true,
            scale: true,
            use_umi: false,
            scale_max: 10.0,
        }
    }

    /// Straightforward: r = y - Q Q^T y per group and gene, then FastRowScale in f64.
    fn reference(k: &Case, j: &Job) -> Vec<f64> {
        let n_out = j.column_map.iter().filter(|&&o| o >= 0).count();
        let mut out = vec![0.0; k.n_cells * n_out];
        let group = |c: usize| j.groups.map_or(0, |l| l[c]);
        for g in 0..j.n_groups as i32 {
            let cells: Vec<usize> = (0..k.n_cells).filter(|&c| group(c) == g).collect();
            for (gene, &o) in j.column_map.iter().enumerate() {
                if o < 0 {
                    continue;
                }
                let y: Vec<f64> = cells.iter().map(|&c| k.dense[c * k.n_genes + gene]).collect();
                let b: Vec<f64> = (0..2).map(|kk| cells.iter().zip(&y).map(|(&c, v)| j.qt[2 * c + kk] * v).sum()).collect();
                let mut r: Vec<f64> = cells.iter().zip(&y).map(|(&c, v)| v - j.qt[2 * c] * b[0] - j.qt[2 * c + 1] * b[1]).collect();
                if j.use_umi {
                    let m = r.iter().copied().fold(f64::INFINITY, f64::min);
                    r.iter_mut().for_each(|v| *v = (*v - m).ln_1p());
                }
                let n = r.len() as f64;
                let mean = if j.center { r.iter().sum::<f64>() / n } else { 0.0 };
                let sd = if j.scale { (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 1.0 };
                for (&c, v) in cells.iter().zip(&r) {
                    let z = ((v - mean) / sd).min(j.scale_max);
                    out[c * n_out + o as usize] = if z.is_nan() { 0.0 } else { z };
                }
            }
        }
        out
    }

    fn run_with(j: &Job, threads: usize) -> Result<Vec<f64>> {
        let n_out = j.column_map.iter().filter(|&&o| o >= 0).count();
        let mut out = vec![f64::NAN; (j.p.len() - 1) * n_out];
        let mut exec = Exec::new(threads, None)?;
        run(j, &mut exec, &mut out)?;
        Ok(out)
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (k, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "element {k}: {a} vs {b}");
        }
    }

    fn labels(n: usize) -> Vec<i32> {
        (0..n).map(|c| [0, 1, -1, 1, 0][c % 5]).collect()
    }

    #[test]
    #[cfg_attr(miri, ignore = "thousands of floating-point loops; minutes under Miri")]
    fn residuals_scaled_as_seurat_for_every_switch() {
        let k = case(60, 7, labels(60), 2);
        let map = [2, -1, 0, 4, 1, -1, 3];
        // The same data as one group over every cell, which needs its own basis.
        let all = case(60, 7, vec![0; 60], 1);
        for groups in [false, true] {
            for (center, scale, use_umi) in [(true, true, false), (true, false, false), (false, true, false), (true, true, true)] {
                for scale_max in [f64::INFINITY, 0.5] {
                    let mut j = job(&k, &map, groups);
                    if !groups {
                        j.qt = &all.qt;
                    }
                    j.center = center;
                    j.scale = scale;
                    j.use_umi = use_umi;
                    j.scale_max = scale_max;
                    let got = run_with(&j, 1).unwrap();
                    assert_close(&got, &reference(&k, &j));
                    if groups {
                        for c in (2..60).step_by(5) {
                            assert!(got[c * 5..(c + 1) * 5].iter().all(|&z| z == 0.0), "NA-group cell {c}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "thousands of floating-point loops; minutes under Miri")]
    fn bits_do_not_depend_on_the_thread_count() {
        let k = case(3000, 150, labels(3000), 2);
        let map: Vec<i32> = (0..150).collect();
        for use_umi in [false, true] {
            let j = Job { use_umi, ..job(&k, &map, true) };
            let one = run_with(&j, 1).unwrap();
            let three = run_with(&j, 3).unwrap();
            assert!(one.iter().zip(&three).all(|(a, b)| a.to_bits() == b.to_bits()), "use_umi {use_umi}");
        }
    }

    #[test]
    fn arguments_are_checked() {
        let k = case(6, 3, vec![0, 0, 1, 1, 0, 1], 2);
        let map = [0, 1, 2];
        let status = |j: Job, out_len: usize| {
            let mut out = vec![0.0; out_len];
            let mut exec = Exec::new(1, None).unwrap();
            run(&j, &mut exec, &mut out).unwrap_err().status
        };
        let j = job(&k, &map, true);
        let p_bad: Vec<i32> = k.p.iter().map(|v| v + 1).collect();
        assert_eq!(status(Job { p: &p_bad, ..j }, 18), SC_STATUS_INDPTR_START);
        assert_eq!(status(Job { x: &k.x[1..], ..j }, 18), SC_STATUS_LENGTH_MISMATCH);
        assert_eq!(status(Job { n_genes: 2, column_map: &map[..2], ..j }, 18), SC_STATUS_INDEX_OUT_OF_RANGE);
        assert_eq!(status(Job { column_map: &map[..2], ..j }, 18), SC_STATUS_COLUMN_MAP_LENGTH);
        assert_eq!(status(Job { column_map: &[0, 0, 1], ..j }, 12), SC_STATUS_INVALID_COLUMN_MAP);
        assert_eq!(status(j, 17), SC_STATUS_OUTPUT_TOO_SMALL);
        assert_eq!(status(Job { groups: Some(&k.labels[1..]), ..j }, 18), SC_STATUS_GROUPS_LENGTH);
        assert_eq!(status(Job { n_groups: 1, ..j }, 18), SC_STATUS_INVALID_GROUP);
        assert_eq!(status(Job { qt: &k.qt[1..], ..j }, 18), SC_STATUS_INVALID_OPTION);
        assert_eq!(status(Job { scale_max: f64::NAN, ..j }, 18), SC_STATUS_INVALID_OPTION);
    }

    #[test]
    #[cfg_attr(miri, ignore = "thousands of floating-point loops; minutes under Miri")]
    fn progress_runs_to_the_total_and_cancels() {
        let k = case(500, 20, labels(500), 2);
        let map: Vec<i32> = (0..20).collect();
        let j = Job { use_umi: true, ..job(&k, &map, true) };
        let mut out = vec![0.0; 500 * 20];
        let seen = std::cell::RefCell::new(Vec::new());
        let cb = |done: u64, total: u64| {
            seen.borrow_mut().push((done, total));
            true
        };
        let mut exec = Exec::new(2, Some(&cb)).unwrap();
        run(&j, &mut exec, &mut out).unwrap();
        drop(exec);
        let seen = seen.into_inner();
        // use.umi: coefficients, residuals, minima, log1p, counts, squares, output.
        let total = 7 * 500;
        assert_eq!(seen[0], (0, total));
        assert_eq!(*seen.last().unwrap(), (total, total));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 == w[1].1));
        let calls = seen.len();
        for stop_at in [0, 1, calls / 2, calls - 1] {
            let n = std::cell::Cell::new(0);
            let cb = |_: u64, _: u64| {
                n.set(n.get() + 1);
                n.get() <= stop_at
            };
            let mut exec = Exec::new(2, Some(&cb)).unwrap();
            assert_eq!(run(&j, &mut exec, &mut out).unwrap_err().status, SC_STATUS_CANCELLED);
        }
    }
}
