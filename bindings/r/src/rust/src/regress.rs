//! `vars.to.regress` with `model.use = "linear"`: residuals of every gene on one orthonormal basis
//! of the design per split group (the R side gets it from R's own LINPACK QR, so the rank rule is
//! Seurat's), then Seurat's dense scaling (`FastRowScale`) of the residuals. Not bitwise equal to
//! Seurat (which uses Householder `qr.resid` and long double variances), about 1e-13 relative.
//!
//! Layout: the output is R's genes x cells matrix, i.e. row-major cells x genes (`out[c * n_out + o]`).
//! Passes that write go over cell chunks; passes that sum go over gene blocks, each gene summed
//! by one worker in cell order, so the bits never depend on the thread count.

use crate::{interrupted, Failure};
use rayon::prelude::*;
use std::ops::Range;

pub struct Job<'a> {
    pub p: &'a [i32],
    pub i: &'a [i32],
    pub x: &'a [f64],
    pub n_genes: usize,
    pub column_map: &'a [i32],
    pub groups: Option<&'a [i32]>,
    pub n_groups: usize,
    pub qt: &'a [f64],
    pub n_basis: usize,
    pub center: bool,
    pub scale: bool,
    pub use_umi: bool,
    pub scale_max: f64,
    pub n_threads: usize,
}

fn bad(msg: String) -> Failure {
    Failure::new("SC_STATUS_INVALID_OPTION", msg)
}

/// Rounds of work between interrupt checks.
const ROUNDS: usize = 32;
/// Genes per stats block (512 bytes of each cell's row).
const GENE_BLOCK: usize = 64;

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
    fn over_cells(&self, out: &mut [f64], f: impl Fn(Range<usize>, &mut [f64]) + Sync) -> Result<(), Failure> {
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
            if interrupted() {
                return Err(Failure::new("SC_STATUS_CANCELLED", "interrupted by the user"));
            }
            start = end;
        }
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
        out: &mut [f64],
        width: usize,
        init: f64,
        f: impl Fn(Range<usize>, &mut [f64], &mut [f64]) + Sync,
    ) -> Result<Vec<Vec<f64>>, Failure> {
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
            if interrupted() {
                return Err(Failure::new("SC_STATUS_CANCELLED", "interrupted by the user"));
            }
            start = end;
        }
        Ok(accs)
    }

    /// Per (group, output gene) accumulation over cells in cell order: `f(acc, g, block, row)`
    /// sees the block's slice of a cell's row. Returns `n_groups * n_out` values, group-major.
    fn over_genes(
        &self,
        out: &[f64],
        init: f64,
        f: impl Fn(&mut [f64], usize, Range<usize>, &[f64]) + Sync,
    ) -> Result<Vec<f64>, Failure> {
        let (n_out, n_g) = (self.n_out, self.job.n_groups);
        let blocks: Vec<Range<usize>> = (0..n_out).step_by(GENE_BLOCK).map(|s| s..(s + GENE_BLOCK).min(n_out)).collect();
        let mut res = vec![init; n_g * n_out];
        let per_round = blocks.len().div_ceil(ROUNDS).max(self.pool.current_num_threads());
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
            if interrupted() {
                return Err(Failure::new("SC_STATUS_CANCELLED", "interrupted by the user"));
            }
        }
        Ok(res)
    }
}

fn validate(job: &Job, out_len: usize) -> Result<(usize, usize, Vec<usize>), Failure> {
    let (p, i, x) = (job.p, job.i, job.x);
    if p.is_empty() || p[0] != 0 {
        return Err(Failure::new("SC_STATUS_INDPTR_START", "p must start with 0"));
    }
    let n_cells = p.len() - 1;
    if i.len() != x.len() {
        return Err(Failure::new("SC_STATUS_LENGTH_MISMATCH", format!("i has {} entries but x has {}", i.len(), x.len())));
    }
    if p.windows(2).any(|w| w[1] < w[0]) {
        return Err(Failure::new("SC_STATUS_INDPTR_NOT_MONOTONE", "p decreases somewhere"));
    }
    if p[n_cells] as usize != i.len() {
        return Err(Failure::new("SC_STATUS_INDPTR_END", format!("p ends at {} but {} entries are stored", p[n_cells], i.len())));
    }
    if let Some(bad_i) = i.iter().find(|&&v| v < 0 || v as usize >= job.n_genes) {
        return Err(Failure::new("SC_STATUS_INDEX_OUT_OF_RANGE", format!("row index {bad_i} is outside 0..{}", job.n_genes)));
    }
    if job.column_map.len() != job.n_genes {
        return Err(Failure::new("SC_STATUS_COLUMN_MAP_LENGTH", format!("column_map has {} entries; expected {}", job.column_map.len(), job.n_genes)));
    }
    let n_out = job.column_map.iter().filter(|&&v| v >= 0).count();
    let mut seen = vec![false; n_out];
    let mut map = vec![usize::MAX; job.n_genes];
    for (g, &o) in job.column_map.iter().enumerate() {
        if o < -1 || o >= 0 && (o as usize >= n_out || seen[o as usize]) {
            return Err(Failure::new("SC_STATUS_INVALID_COLUMN_MAP", format!("column_map[{g}] = {o} is not a one-to-one map onto 0..{n_out}")));
        }
        if o >= 0 {
            seen[o as usize] = true;
            map[g] = o as usize;
        }
    }
    if out_len != n_out * n_cells {
        return Err(Failure::new("SC_STATUS_OUTPUT_TOO_SMALL", format!("out has {out_len} elements; expected {n_out} x {n_cells}")));
    }
    if let Some(g) = job.groups {
        if g.len() != n_cells {
            return Err(Failure::new("SC_STATUS_GROUPS_LENGTH", format!("split.by has {} labels for {n_cells} cells", g.len())));
        }
        if let Some(v) = g.iter().find(|&&v| v < -1 || v >= job.n_groups as i32) {
            return Err(Failure::new("SC_STATUS_INVALID_GROUP", format!("group label {v} is outside -1..{}", job.n_groups)));
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

pub fn run(job: &Job, out: &mut [f64]) -> Result<(), Failure> {
    let (n_cells, n_out, map) = validate(job, out.len())?;
    if n_out == 0 || n_cells == 0 {
        return Ok(());
    }
    let pool = scscale::exec::pool(job.n_threads).map_err(|e| Failure(e.status.name().into(), e.message))?;
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
    if interrupted() {
        return Err(Failure::new("SC_STATUS_CANCELLED", "interrupted by the user"));
    }

    // 2. Residuals r = y - Q b, cells outside every group 0 (Seurat's NA -> 0). Without use.umi
    // the NaN-skipping sums for the mean are taken on the way.
    let fuse_sums = job.center && !job.use_umi;
    let width = if fuse_sums { n_g * n_out } else { 0 };
    let partial_sums = ctx.over_cells_acc(out, width, 0.0, |cells, rows, acc| {
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
        let mins = ctx.over_genes(out, f64::INFINITY, |acc, _g, _b, row| {
            for (a, &v) in acc.iter_mut().zip(row) {
                // R's min() propagates NaN.
                if v < *a || v.is_nan() {
                    *a = v;
                }
            }
        })?;
        let width = if job.center { n_g * n_out } else { 0 };
        ctx.over_cells_acc(out, width, 0.0, |cells, rows, acc| {
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
        // Residuals can only be NaN if the data or the basis are not finite: count them only then.
        let finite = job.x.iter().chain(job.qt).all(|v| v.is_finite());
        let counts: Vec<f64> = if finite && !job.use_umi {
            (0..n_g * n_out).map(|k| sizes[k / n_out] as f64).collect()
        } else {
            ctx.over_genes(out, 0.0, |acc, _g, _b, row| {
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
        let parts = ctx.over_cells_acc(out, n_g * n_out, 0.0, |cells, rows, acc| {
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
    ctx.over_cells(out, |cells, rows| {
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
