//! Running per-gene sums kept in a caller-owned `f64` array (the "accumulator"), so statistics can
//! be built chunk by chunk. Folding chunks in row order continues exactly the sums the in-memory
//! call makes, so it gives the same bits; merging two accumulators (a tree, for parallel or
//! distributed chunks) is deterministic for a fixed tree but rounds differently.
//!
//! Layout (all f64): header[8] | counts[G] | a[G][S][N] | b[G][S][N] | nnz[G][N] (Seurat only),
//! G groups, N genes, S slots (Scanpy: its partitions T; Seurat: 1).
//! Scanpy: a = sums, b = sums of squares (in the input dtype), per round-robin partition.
//! Seurat: pass 1 fills a = sums; pass 2 (after `next_pass`) fills b = sums of squared deviations
//! from the pass-1 means (or of squares when not centring) and nnz.

use crate::matrix::{Compressed, Dense, Index, Value};
use crate::moments::{scanpy_moments, seurat_moments, Stats};
use crate::options::{Flavor, Groups, Params};
use crate::status::{fail, Result, *};
use crate::traversal::{column_blocks, for_entries_in, prefetch_row};
use rayon::prelude::*;
use std::ops::Range;

pub(crate) const HEADER: usize = 8;
/// "SCSC" as a number: marks an initialised accumulator.
const MAGIC: f64 = 1_396_920_131.0;

/// Sizes of an accumulator for given options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    pub flavor: Flavor,
    pub center: bool,
    pub scale: bool,
    pub n_groups: usize,
    pub n_genes: usize,
    pub slots: usize,
}

impl Layout {
    pub fn new(params: &Params, n_groups: usize, n_genes: usize) -> Self {
        let slots = if params.flavor == Flavor::Scanpy { params.n_partitions } else { 1 };
        Layout { flavor: params.flavor, center: params.center, scale: params.scale, n_groups, n_genes, slots }
    }

    /// Scanpy's dense statistics (in memory): one slot, as their sums do not depend on T.
    pub fn dense(n_groups: usize, n_genes: usize) -> Self {
        Layout { flavor: Flavor::Scanpy, center: true, scale: true, n_groups, n_genes, slots: 1 }
    }

    fn plane(&self) -> Option<usize> {
        self.n_groups.checked_mul(self.slots)?.checked_mul(self.n_genes)
    }

    /// Total f64s, or None on overflow.
    pub fn total_len(&self) -> Option<usize> {
        let nnz = if self.flavor == Flavor::Seurat { self.n_groups.checked_mul(self.n_genes)? } else { 0 };
        HEADER.checked_add(self.n_groups)?.checked_add(self.plane()?.checked_mul(2)?)?.checked_add(nnz)
    }

    fn counts(&self) -> Range<usize> {
        HEADER..HEADER + self.n_groups
    }
    fn a(&self) -> Range<usize> {
        let s = HEADER + self.n_groups;
        s..s + self.plane().unwrap_or(0)
    }
    fn b(&self) -> Range<usize> {
        let s = self.a().end;
        s..s + self.plane().unwrap_or(0)
    }
    fn nnz(&self) -> Range<usize> {
        let s = self.b().end;
        s..s + if self.flavor == Flavor::Seurat { self.n_groups * self.n_genes } else { 0 }
    }

    fn header(&self, pass: f64) -> [f64; HEADER] {
        let flavor = if self.flavor == Flavor::Scanpy { 0.0 } else { 1.0 };
        [
            MAGIC,
            flavor,
            self.n_groups as f64,
            self.n_genes as f64,
            self.slots as f64,
            pass,
            self.center as u8 as f64,
            self.scale as u8 as f64,
        ]
    }
}

/// Calls `f(row, slot)` for every row in a group, in row order; `slot = group * s + t`, where
/// t is the row's round-robin partition (Scanpy's T = `s`) counted on from `counts`, the rows each
/// group had before this chunk.
fn each_row_slot(n_rows: usize, groups: &Groups, counts: &[usize], s: usize, mut f: impl FnMut(usize, usize)) {
    let mut rank = counts.to_vec();
    for r in 0..n_rows {
        let Some(g) = groups.of(r) else { continue };
        let t = rank[g] % s;
        rank[g] += 1;
        f(r, g * s + t);
    }
}

/// Scanpy's running `[sum, sum of squares]` of one gene: the square in the input dtype.
#[inline(always)]
fn add_to_sums<V: Value>(sums: &mut [f64; 2], v: V) {
    sums[0] += v.to_f64();
    sums[1] += v.square().to_f64();
}

/// How many of its own rows ahead a partition worker prefetches.
const PREFETCH_AHEAD: usize = 3;

/// An accumulator viewed over the caller's array.
pub struct Partials<'a> {
    pub layout: Layout,
    buf: &'a mut [f64],
}

impl<'a> Partials<'a> {
    fn check_len(layout: &Layout, len: usize) -> Result<()> {
        match layout.total_len() {
            None => fail!(SC_STATUS_SIZE_OVERFLOW, "the accumulator for {} genes overflows", layout.n_genes),
            Some(want) if want != len => fail!(SC_STATUS_STATS_LENGTH, "acc_len is {len}; expected {want} (see sc_accumulator_len)"),
            _ => Ok(()),
        }
    }

    /// Zeroes `buf` and writes the header.
    pub fn init(layout: Layout, buf: &'a mut [f64]) -> Result<Self> {
        Self::check_len(&layout, buf.len())?;
        buf.fill(0.0);
        buf[..HEADER].copy_from_slice(&layout.header(1.0));
        Ok(Partials { layout, buf })
    }

    /// Checks that `buf` is an initialised accumulator for `layout`.
    pub fn open(layout: Layout, buf: &'a mut [f64]) -> Result<Self> {
        // An initialised header of other options explains more than the length it implies
        // (other genes, groups or partitions change the length too).
        if buf.len() >= HEADER && buf[0] == MAGIC {
            Self::check_header(&layout, &buf[..HEADER])?;
        }
        Self::check_len(&layout, buf.len())?;
        Self::check_header(&layout, &buf[..HEADER])?;
        Self::check_counts(&layout, buf)?;
        Ok(Partials { layout, buf })
    }

    /// Cell counts (and Seurat's stored-entry counts) must be whole numbers that f64 holds
    /// exactly: they become integers, and a corrupted buffer must not overflow them.
    fn check_counts(layout: &Layout, buf: &[f64]) -> Result<()> {
        const EXACT: f64 = (1u64 << 53) as f64;
        for (what, range) in [("count", layout.counts()), ("stored-entry count", layout.nnz())] {
            if let Some((i, &v)) = buf[range.clone()].iter().enumerate().find(|(_, &v)| !(0.0..=EXACT).contains(&v) || v.fract() != 0.0) {
                fail!(SC_STATUS_INVALID_ACCUMULATOR, "the accumulator is corrupted: {what} {i} is {v}, not a whole number in 0..=2^53");
            }
        }
        Ok(())
    }

    fn check_header(layout: &Layout, h: &[f64]) -> Result<()> {
        let want = layout.header(h[5]);
        let max_pass = if layout.flavor == Flavor::Seurat { 2.0 } else { 1.0 };
        if h != want || !(h[5] == 1.0 || h[5] == max_pass) {
            if h[0] != MAGIC {
                fail!(SC_STATUS_INVALID_ACCUMULATOR, "the accumulator was not initialised (sc_accumulator_init): header {h:?}");
            }
            let describe = |h: &[f64]| {
                let flavor = if h[1] == 0.0 { "Scanpy" } else { "Seurat" };
                format!("{flavor}, {} groups, {} genes, {} partitions, center {}, scale {}", h[2], h[3], h[4], h[6] == 1.0, h[7] == 1.0)
            };
            fail!(
                SC_STATUS_INVALID_ACCUMULATOR,
                "the accumulator was initialised for {} (pass {}); this call has {}",
                describe(h),
                h[5],
                describe(&want)
            );
        }
        Ok(())
    }

    pub fn pass(&self) -> u8 {
        self.buf[5] as u8
    }

    fn counts(&self) -> Vec<usize> {
        self.buf[self.layout.counts()].iter().map(|&c| c as usize).collect()
    }

    /// Folds a CSR chunk (its rows come after every row folded so far) into the sums.
    pub fn accumulate_csr<I: Index, V: Value>(&mut self, m: &Compressed<I, V>, groups: &Groups, threads: usize) -> Result<()> {
        let l = self.layout;
        if m.p.n_minor != l.n_genes || groups.n_groups != l.n_groups {
            fail!(
                SC_STATUS_INVALID_ACCUMULATOR,
                "the chunk has {} genes and {} groups; the accumulator {} and {}",
                m.p.n_minor,
                groups.n_groups,
                l.n_genes,
                l.n_groups
            );
        }
        let seurat_pass2 = l.flavor == Flavor::Seurat && self.pass() == 2;
        if seurat_pass2 && !l.scale {
            return Ok(()); // nothing to accumulate: sd is 1
        }
        let counts = self.counts();
        let (n, s, g_n) = (l.n_genes, l.slots, l.n_groups);
        if l.flavor == Flavor::Scanpy && s > 1 && threads > 1 {
            self.scanpy_by_partition(m, groups, &counts, threads.min(s));
            self.add_counts(groups);
            return Ok(());
        }
        // Sorted rows find a block's genes by a short walk (see slice_within); unsorted rows
        // would be scanned whole once per block, which costs more than the parallelism gains.
        let blocks = column_blocks(n, if m.p.sorted { threads } else { 1 });
        let whole = blocks.len() == 1;
        let (a_all, b_all) = (&self.buf[l.a()], &self.buf[l.b()]);
        // Pass-2 means (Seurat): sum / n of the whole matrix, known after pass 1.
        let means: Vec<f64> = if seurat_pass2 { (0..g_n * n).map(|k| a_all[k] / counts[k / n] as f64).collect() } else { vec![] };
        let parts: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = blocks
            .par_iter()
            .map(|blk| {
                let w = blk.len();
                let gather = |src: &[f64], planes: usize| {
                    let mut v = Vec::with_capacity(planes * w);
                    for k in 0..planes {
                        v.extend_from_slice(&src[k * n + blk.start..k * n + blk.end]);
                    }
                    v
                };
                if seurat_pass2 {
                    // Each gene's mean, sum of squares and count side by side: one cache line per entry.
                    let ss = gather(b_all, g_n);
                    let mut acc: Vec<[f64; 4]> = (0..g_n * w)
                        .map(|k| {
                            let (g, c) = (k / w, blk.start + k % w);
                            [if l.center { means[g * n + c] } else { 0.0 }, ss[k], 0.0, 0.0]
                        })
                        .collect();
                    // The centring choice outside the loops: read per entry, it was reloaded per
                    // entry (the compiler cannot tell it from the stores into `acc`).
                    let center = l.center;
                    for r in 0..m.p.n_major {
                        let Some(g) = groups.of(r) else { continue };
                        let acc = &mut acc[g * w..(g + 1) * w];
                        // SAFETY (both arms): c lies in `blk` (see for_entries_in), so c - blk.start < w.
                        if center {
                            for_entries_in(m, r, blk, whole, |c, v| {
                                // SAFETY: see above.
                                let a = unsafe { acc.get_unchecked_mut(c - blk.start) };
                                let d = v.to_f64() - a[0];
                                a[1] += d * d;
                                a[2] += 1.0;
                            });
                        } else {
                            for_entries_in(m, r, blk, whole, |c, v| {
                                // SAFETY: see above.
                                let a = unsafe { acc.get_unchecked_mut(c - blk.start) };
                                a[1] += v.to_f64() * v.to_f64();
                            });
                        }
                    }
                    return (vec![], acc.iter().map(|a| a[1]).collect(), acc.iter().map(|a| a[2]).collect());
                }
                if l.flavor == Flavor::Scanpy {
                    // Each gene's sum and sum of squares side by side: one cache line per entry.
                    let (sums, squares) = (gather(a_all, g_n * s), gather(b_all, g_n * s));
                    let mut pairs: Vec<[f64; 2]> = sums.iter().zip(&squares).map(|(&a, &b)| [a, b]).collect();
                    each_row_slot(m.p.n_major, groups, &counts, s, |r, slot| {
                        let pairs = &mut pairs[slot * w..(slot + 1) * w];
                        for_entries_in(m, r, blk, whole, |c, v| {
                            // SAFETY: c lies in `blk` (see for_entries_in), so c - blk.start < w.
                            add_to_sums(unsafe { pairs.get_unchecked_mut(c - blk.start) }, v);
                        });
                    });
                    return (pairs.iter().map(|p| p[0]).collect(), pairs.iter().map(|p| p[1]).collect(), vec![]);
                }
                let mut sums = gather(a_all, g_n * s);
                each_row_slot(m.p.n_major, groups, &counts, s, |r, slot| {
                    let sums = &mut sums[slot * w..(slot + 1) * w];
                    // SAFETY: c lies in `blk` (see for_entries_in), so c - blk.start < w = sums.len().
                    for_entries_in(m, r, blk, whole, |c, v| unsafe { *sums.get_unchecked_mut(c - blk.start) += v.to_f64() });
                });
                (sums, vec![], vec![])
            })
            .collect();
        let (a, b, nnz) = (l.a(), l.b(), l.nnz());
        for (blk, (pa, pb, pn)) in blocks.iter().zip(parts) {
            let w = blk.len();
            for (k, chunk) in pa.chunks(w.max(1)).enumerate() {
                self.buf[a.start + k * n + blk.start..][..w].copy_from_slice(chunk);
            }
            for (k, chunk) in pb.chunks(w.max(1)).enumerate() {
                self.buf[b.start + k * n + blk.start..][..w].copy_from_slice(chunk);
            }
            for (k, chunk) in pn.chunks(w.max(1)).enumerate() {
                for (i, x) in chunk.iter().enumerate() {
                    self.buf[nnz.start + k * n + blk.start + i] += x;
                }
            }
        }
        if !seurat_pass2 {
            self.add_counts(groups);
        }
        Ok(())
    }

    fn add_counts(&mut self, groups: &Groups) {
        let start = self.layout.counts().start;
        for (g, size) in groups.sizes.iter().enumerate() {
            self.buf[start + g] += *size as f64;
        }
    }

    /// Scanpy's sums when workers can own whole partitions (T > 1): each worker reads only its
    /// partitions' rows, all genes, with no search for a block inside each row. Every partition
    /// still sums its rows in order, so the bits are those of the gene-block split.
    fn scanpy_by_partition<I: Index, V: Value>(&mut self, m: &Compressed<I, V>, groups: &Groups, counts: &[usize], workers: usize) {
        let l = self.layout;
        let (n, s, g_n) = (l.n_genes, l.slots, l.n_groups);
        let (a, b) = (l.a(), l.b());
        let buf = &self.buf;
        // Worker w owns partitions w, w + workers, ...; its k-th is partition w + k * workers.
        let owned = |w: usize| (w..s).step_by(workers).count();
        let parts: Vec<Vec<[f64; 2]>> = (0..workers)
            .into_par_iter()
            .map(|w| {
                let mine = owned(w);
                // Plane (group g, own partition k) at g * mine + k, each gene's [sum, sum of squares].
                let mut pairs = Vec::with_capacity(g_n * mine * n);
                for g in 0..g_n {
                    for t in (w..s).step_by(workers) {
                        let at = (g * s + t) * n;
                        pairs.extend(buf[a.start + at..][..n].iter().zip(&buf[b.start + at..][..n]).map(|(&x, &y)| [x, y]));
                    }
                }
                let all = 0..n;
                each_row_slot(m.p.n_major, groups, counts, s, |r, slot| {
                    let (g, t) = (slot / s, slot % s);
                    if t % workers != w {
                        return;
                    }
                    // Rows the other workers own leave gaps the hardware prefetcher does not bridge.
                    prefetch_row(m, r + PREFETCH_AHEAD * workers);
                    let plane = g * mine + t / workers;
                    let pairs = &mut pairs[plane * n..(plane + 1) * n];
                    for_entries_in(m, r, &all, true, |c, v| {
                        // SAFETY: validated genes are < n = pairs.len().
                        add_to_sums(unsafe { pairs.get_unchecked_mut(c) }, v);
                    });
                });
                pairs
            })
            .collect();
        for (w, pairs) in parts.iter().enumerate() {
            let mine = owned(w);
            for g in 0..g_n {
                for (k, t) in (w..s).step_by(workers).enumerate() {
                    let at = (g * s + t) * n;
                    let plane = &pairs[(g * mine + k) * n..][..n];
                    for (c, p) in plane.iter().enumerate() {
                        self.buf[a.start + at + c] = p[0];
                        self.buf[b.start + at + c] = p[1];
                    }
                }
            }
        }
    }

    /// Folds a C-ordered dense chunk (Scanpy 2c). numpy's sums run over the rows in order and do
    /// not depend on T, so every row goes to slot 0: `finalize` adds the other (zero) slots after
    /// it, which leaves its sums as they are.
    pub fn accumulate_dense<V: Value>(&mut self, m: &Dense<V>, groups: &Groups, threads: usize) -> Result<()> {
        let l = self.layout;
        if l.flavor != Flavor::Scanpy || m.n_cols != l.n_genes || groups.n_groups != l.n_groups {
            fail!(
                SC_STATUS_INVALID_ACCUMULATOR,
                "a dense chunk needs a Scanpy accumulator of {} genes and {} groups; this one is {:?} with {} and {}",
                m.n_cols,
                groups.n_groups,
                l.flavor,
                l.n_genes,
                l.n_groups
            );
        }
        let (n, s, g_n) = (l.n_genes, l.slots, l.n_groups);
        // Workers split the genes (never one gene's sum), so the thread count does not change the bits.
        let blocks = column_blocks(n, threads);
        let (a_all, b_all) = (&self.buf[l.a()], &self.buf[l.b()]);
        let parts: Vec<(Vec<f64>, Vec<f64>)> = blocks
            .par_iter()
            .map(|blk| {
                let w = blk.len();
                // Slot 0 of each group: plane index g * s.
                let gather = |src: &[f64]| {
                    let mut v = Vec::with_capacity(g_n * w);
                    for g in 0..g_n {
                        v.extend_from_slice(&src[g * s * n + blk.start..g * s * n + blk.end]);
                    }
                    v
                };
                let (mut sums, mut squares) = (gather(a_all), gather(b_all));
                for r in 0..m.n_rows {
                    let Some(g) = groups.of(r) else { continue };
                    let row = &m.row(r)[blk.clone()];
                    let (su, sq) = (&mut sums[g * w..(g + 1) * w], &mut squares[g * w..(g + 1) * w]);
                    for i in 0..w {
                        su[i] += row[i].to_f64();
                        sq[i] += row[i].square().to_f64();
                    }
                }
                (sums, squares)
            })
            .collect();
        let (a, b) = (l.a(), l.b());
        for (blk, (pa, pb)) in blocks.iter().zip(parts) {
            let w = blk.len();
            for g in 0..g_n {
                self.buf[a.start + g * s * n + blk.start..][..w].copy_from_slice(&pa[g * w..(g + 1) * w]);
                self.buf[b.start + g * s * n + blk.start..][..w].copy_from_slice(&pb[g * w..(g + 1) * w]);
            }
        }
        for (g, size) in groups.sizes.iter().enumerate() {
            self.buf[l.counts().start + g] += *size as f64;
        }
        Ok(())
    }

    /// Seurat: pass 1 (sums) is complete; start pass 2 (deviations from the now known means).
    pub fn next_pass(&mut self) -> Result<()> {
        if self.layout.flavor != Flavor::Seurat || self.pass() != 1 {
            fail!(
                SC_STATUS_INVALID_ACCUMULATOR,
                "only a Seurat accumulator in pass 1 has a next pass (this one: {:?}, pass {})",
                self.layout.flavor,
                self.pass()
            );
        }
        self.buf[5] = 2.0;
        Ok(())
    }

    /// Adds `other` (the statistics of rows that come after this accumulator's rows).
    pub fn merge(&mut self, other: &[f64]) -> Result<()> {
        let l = self.layout;
        if other.len() != self.buf.len() || other[..HEADER] != self.buf[..HEADER] {
            fail!(SC_STATUS_INVALID_ACCUMULATOR, "the accumulators differ in options, size or pass");
        }
        Self::check_counts(&l, other)?;
        let (n, s) = (l.n_genes, l.slots);
        if l.flavor == Flavor::Seurat && self.pass() == 2 {
            // Bitwise: pass-1 sums may be NaN (NaN input), which `!=` would call different.
            let same = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits());
            if !same(&other[..l.a().end], &self.buf[..l.a().end]) {
                fail!(SC_STATUS_INVALID_ACCUMULATOR, "pass-2 accumulators must start from the same pass-1 sums and counts");
            }
            for r in [l.b(), l.nnz()] {
                for k in r {
                    self.buf[k] += other[k];
                }
            }
            return Ok(());
        }
        let counts = self.counts();
        for g in 0..l.n_groups {
            // The other's partition t holds rows whose global rank is counts[g] + t (mod S).
            let shift = counts[g] % s;
            for plane in [l.a(), l.b()] {
                if l.flavor == Flavor::Seurat && plane == l.b() {
                    continue;
                }
                for t in 0..s {
                    let dst = plane.start + (g * s + (t + shift) % s) * n;
                    let src = plane.start + (g * s + t) * n;
                    for c in 0..n {
                        self.buf[dst + c] += other[src + c];
                    }
                }
            }
            self.buf[l.counts().start + g] += other[l.counts().start + g];
        }
        Ok(())
    }

    /// Mean, variance and std per group x gene, as the in-memory call computes them.
    pub fn finalize(&self, params: &Params) -> Result<Stats> {
        let l = self.layout;
        if l.flavor == Flavor::Seurat && l.scale && self.pass() != 2 {
            fail!(
                SC_STATUS_INVALID_ACCUMULATOR,
                "a Seurat accumulator needs its second pass (sc_accumulator_next_pass, then every chunk again)"
            );
        }
        let counts = self.counts();
        let (n, s) = (l.n_genes, l.slots);
        let (a, b, nnz) = (&self.buf[l.a()], &self.buf[l.b()], &self.buf[l.nnz()]);
        let mut st = Stats::new(l.n_groups, n);
        for g in 0..l.n_groups {
            for c in 0..n {
                let k = g * n + c;
                let t3 = if l.flavor == Flavor::Scanpy {
                    let (mut sum, mut sq) = (0.0f64, 0.0f64);
                    for t in 0..s {
                        sum += a[(g * s + t) * n + c];
                        sq += b[(g * s + t) * n + c];
                    }
                    scanpy_moments(sum, sq, counts[g])
                } else {
                    let mean = a[k] / counts[g] as f64;
                    seurat_moments(mean, b[k], nnz[k] as i64, counts[g] as i64, params)
                };
                (st.mean[k], st.var[k], st.std[k]) = (t3[0], t3[1], t3[2]);
            }
        }
        Ok(st)
    }
}
