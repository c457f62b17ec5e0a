//! The transform `z = (x - mean) / std` with each flavor's clipping and NaN rules, written into
//! the caller's buffers. Output is bounded by memory bandwidth, so each dense row starts as a
//! copy of its group's precomputed zero-value row and only the stored entries are computed.

use crate::exec::{Exec, SharedConst, SharedMut};
use crate::matrix::{Compressed, Index, Pattern, Value};
use crate::options::{ColumnMap, Flavor, Groups, Params, SKIP};
use crate::stats::Stats;
use crate::status::Result;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx2;

/// The per-element arithmetic of one flavor and option set.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// Scanpy, zero_center: `(x - mean) / std`, symmetric clip, NaN kept.
    ScanpyCentered(Option<f64>),
    /// Scanpy, no centering, dense path: `x / std`, upper clip, NaN kept.
    ScanpyUncentered(Option<f64>),
    /// Seurat: `(x - mean) / sd`, upper clip, then NaN -> 0.
    Seurat(Option<f64>),
}

impl Rule {
    pub fn new(p: &Params) -> Self {
        match (p.flavor, p.center) {
            (Flavor::Scanpy, true) => Rule::ScanpyCentered(p.max_value),
            (Flavor::Scanpy, false) => Rule::ScanpyUncentered(p.max_value),
            (Flavor::Seurat, _) => Rule::Seurat(p.max_value),
        }
    }

    #[inline(always)]
    pub fn apply(self, x: f64, mean: f64, std: f64) -> f64 {
        match self {
            Rule::ScanpyCentered(clip) => Centered(clip.unwrap_or(f64::INFINITY)).z(x, mean, std),
            Rule::ScanpyUncentered(clip) => Uncentered(clip.unwrap_or(f64::INFINITY)).z(x, mean, std),
            Rule::Seurat(clip) => SeuratZ(clip.unwrap_or(f64::INFINITY)).z(x, mean, std),
        }
    }

    /// Rows in no group: Scanpy leaves the input values, Seurat's NA becomes 0.
    fn keeps_outside_rows(self) -> bool {
        !matches!(self, Rule::Seurat(_))
    }

    /// Scanpy densifies with scipy, which adds stored values onto 0 in the input dtype (so -0.0
    /// becomes +0.0 and duplicates are summed); Seurat's Eigen copy assigns them.
    fn sums_onto_zero(self) -> bool {
        !matches!(self, Rule::Seurat(_))
    }
}

/// The arithmetic of one [`Rule`] as a type, so hot loops are compiled once per rule. The clip
/// bound is +inf when clipping is off, which compares exactly like no clip (NaN is never clipped).
pub trait Kernel: Copy + Send + Sync {
    /// Which rule, for the vector form of `z` (`transform/avx2.rs`).
    const KIND: KernelKind;
    fn z(self, x: f64, mean: f64, std: f64) -> f64;
    /// The clip bound (+inf when off).
    fn bound(self) -> f64;
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    Centered,
    Uncentered,
    Seurat,
}

#[derive(Clone, Copy)]
pub struct Centered(pub f64);
#[derive(Clone, Copy)]
pub struct Uncentered(pub f64);
#[derive(Clone, Copy)]
pub struct SeuratZ(pub f64);

impl Kernel for Centered {
    const KIND: KernelKind = KernelKind::Centered;
    #[inline(always)]
    fn bound(self) -> f64 {
        self.0
    }
    #[inline(always)]
    fn z(self, x: f64, mean: f64, std: f64) -> f64 {
        let z = (x - mean) / std;
        if z > self.0 {
            self.0
        } else if z < -self.0 {
            -self.0
        } else {
            z
        }
    }
}

impl Kernel for Uncentered {
    const KIND: KernelKind = KernelKind::Uncentered;
    #[inline(always)]
    fn bound(self) -> f64 {
        self.0
    }
    #[inline(always)]
    fn z(self, x: f64, _mean: f64, std: f64) -> f64 {
        let z = x / std;
        if z > self.0 {
            self.0
        } else {
            z
        }
    }
}

impl Kernel for SeuratZ {
    const KIND: KernelKind = KernelKind::Seurat;
    #[inline(always)]
    fn bound(self) -> f64 {
        self.0
    }
    #[inline(always)]
    fn z(self, x: f64, mean: f64, std: f64) -> f64 {
        let mut z = (x - mean) / std;
        if z > self.0 {
            z = self.0;
        }
        if z.is_nan() {
            0.0
        } else {
            z
        }
    }
}

/// Where a dense result goes: row-major, `n_out` columns, `stride` elements between rows.
pub struct DenseOut<'a, W> {
    pub data: &'a mut [W],
    pub stride: usize,
}

/// Value `x` of gene `c` scaled with group `g`'s statistics.
#[inline(always)]
fn scaled(rule: Rule, stats: &Stats, g: usize, c: usize, x: f64) -> f64 {
    let k = g * stats.n_cols + c;
    rule.apply(x, stats.mean[k], stats.std[k])
}

/// Each group's output row for a cell with no stored entries.
fn zero_rows<W: Value>(stats: &Stats, map: &ColumnMap, rule: Rule) -> Vec<Vec<W>> {
    (0..stats.n_groups)
        .map(|g| {
            let mut row = vec![W::ZERO; map.n_out];
            for c in 0..stats.n_cols {
                let oc = map.get(c);
                if oc != SKIP {
                    row[oc as usize] = W::from_f64(scaled(rule, stats, g, c, 0.0));
                }
            }
            row
        })
        .collect()
}

/// Stored value `v` as the dense input the flavor scales: Scanpy's densifying adds it onto 0 in
/// its own dtype (see [`Rule::sums_onto_zero`]).
#[inline(always)]
fn densified<V: Value>(v: V, onto_zero: bool) -> f64 {
    if onto_zero { V::ZERO.plus(v) } else { v }.to_f64()
}

/// The output of stored value `v` at row `r`, gene `c` of a compressed matrix, or `None` where
/// the row is in no group and the flavor leaves it as its template has it (Seurat: 0).
#[inline(always)]
fn stored_output<V: Value>(v: V, r: usize, c: usize, groups: &Groups, stats: &Stats, rule: Rule, onto_zero: bool) -> Option<f64> {
    let x = densified(v, onto_zero);
    match groups.of(r) {
        Some(g) => Some(scaled(rule, stats, g, c, x)),
        None if rule.keeps_outside_rows() => Some(x),
        None => None,
    }
}

/// Per-worker scratch for rows with duplicate entries (input-dtype sums per gene).
struct DupScratch<V> {
    sum: Vec<V>,
    mark: Vec<usize>,
}

/// CSR cells x genes -> dense row-major output.
pub fn csr_to_dense<I: Index, V: Value, W: Value>(
    exec: &mut Exec,
    m: &Compressed<I, V>,
    groups: &Groups,
    map: &ColumnMap,
    stats: &Stats,
    rule: Rule,
    out: DenseOut<W>,
) -> Result<()> {
    let inf = f64::INFINITY;
    match rule {
        Rule::ScanpyCentered(c) => csr_to_dense_with(exec, m, groups, map, stats, rule, Centered(c.unwrap_or(inf)), out),
        Rule::ScanpyUncentered(c) => csr_to_dense_with(exec, m, groups, map, stats, rule, Uncentered(c.unwrap_or(inf)), out),
        Rule::Seurat(c) => csr_to_dense_with(exec, m, groups, map, stats, rule, SeuratZ(c.unwrap_or(inf)), out),
    }
}

/// The stored entries of row `r` (no duplicates) scaled into `row`. `mean`/`std` are the row's
/// group's statistics.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn scatter_row<I: Index, V: Value, W: Value, K: Kernel, const IDENTITY: bool>(
    m: &Compressed<I, V>,
    r: usize,
    row: &mut [W],
    mean: &[f64],
    std: &[f64],
    map: &ColumnMap,
    kernel: K,
    onto_zero: bool,
) {
    let range = m.p.slice(r);
    let (indices, values) = (&m.p.indices[range.clone()], &m.data[range]);
    assert!(mean.len() == m.p.n_minor && std.len() == m.p.n_minor && row.len() == map.n_out);
    for (&i, &v) in indices.iter().zip(values) {
        let c = m.p.minor_of(i);
        let oc = if IDENTITY {
            c
        } else {
            match map.get(c) {
                SKIP => continue,
                oc => oc as usize,
            }
        };
        let x = densified(v, onto_zero);
        // SAFETY: c < n_minor (validated indices) = mean.len() = std.len(); oc < n_out = row.len()
        // (identity: n_out = n_minor; otherwise ColumnMap guarantees it), asserted above.
        unsafe { *row.get_unchecked_mut(oc) = W::from_f64(kernel.z(x, *mean.get_unchecked(c), *std.get_unchecked(c))) };
    }
}

#[allow(clippy::too_many_arguments)]
fn csr_to_dense_with<I: Index, V: Value, W: Value, K: Kernel>(
    exec: &mut Exec,
    m: &Compressed<I, V>,
    groups: &Groups,
    map: &ColumnMap,
    stats: &Stats,
    rule: Rule,
    kernel: K,
    out: DenseOut<W>,
) -> Result<()> {
    let n_out = map.n_out;
    let n_cols = m.p.n_minor;
    let stride = out.stride;
    if n_out == 0 {
        return exec.batched(0, |_| {}); // nothing to write, however many rows (the callback still hears of it)
    }
    let zero = zero_rows::<W>(stats, map, rule);
    let blank = vec![W::ZERO; n_out];
    let dups = m.p.has_duplicates;
    let onto_zero = rule.sums_onto_zero();
    let data = SharedMut(out.data.as_mut_ptr());
    let total = out.data.len();
    // Each gene's [mean, std] side by side, for the vector loop (one load per entry).
    #[cfg(target_arch = "x86_64")]
    let pairs: Option<Vec<[f64; 2]>> =
        (map.is_identity() && !dups && avx2::available()).then(|| stats.mean.iter().zip(&stats.std).map(|(&m, &s)| [m, s]).collect());

    // Writes row `r`'s stored entries into `row`, which already holds the template of the row's
    // group (`groups.of(r)`).
    let row_job = |r: usize, group: Option<usize>, row: &mut [W], scratch: &mut DupScratch<V>| {
        let scaled = group.map(|g| g * n_cols);
        if scaled.is_none() && !rule.keeps_outside_rows() {
            return;
        }
        if let (Some(k), false) = (scaled, dups) {
            let (mean, std) = (&stats.mean[k..k + n_cols], &stats.std[k..k + n_cols]);
            if map.is_identity() {
                #[cfg(target_arch = "x86_64")]
                if let Some(pairs) = &pairs {
                    // SAFETY: `available()` found AVX2; indices are validated; with the identity
                    // map row.len() = n_out = n_cols = the slice of pairs.
                    unsafe { avx2::scatter_row(m, r, row, &pairs[k..k + n_cols], kernel, onto_zero) };
                    return;
                }
                scatter_row::<I, V, W, K, true>(m, r, row, mean, std, map, kernel, onto_zero);
            } else {
                scatter_row::<I, V, W, K, false>(m, r, row, mean, std, map, kernel, onto_zero);
            }
            return;
        }
        let emit = |c: usize, x: V, row: &mut [W]| {
            let oc = map.get(c);
            if oc == SKIP {
                return;
            }
            let x = x.to_f64();
            row[oc as usize] = W::from_f64(match scaled {
                Some(k) => kernel.z(x, stats.mean[k + c], stats.std[k + c]),
                None => x,
            });
        };
        if !dups {
            for j in m.p.slice(r) {
                let v = m.data[j];
                emit(m.p.minor(j), if onto_zero { V::ZERO.plus(v) } else { v }, row);
            }
        } else {
            // Sum duplicates in the input dtype in stored order, then emit each gene once.
            let tag = r + 1;
            for j in m.p.slice(r) {
                let c = m.p.minor(j);
                if scratch.mark[c] != tag {
                    scratch.mark[c] = tag;
                    scratch.sum[c] = V::ZERO;
                }
                scratch.sum[c] = scratch.sum[c].plus(m.data[j]);
            }
            for j in m.p.slice(r) {
                let c = m.p.minor(j);
                if scratch.mark[c] == tag {
                    scratch.mark[c] = 0;
                    emit(c, scratch.sum[c], row);
                }
            }
        }
    };

    exec.batched(m.p.n_major, |rows| {
        if stride == n_out {
            // Contiguous rows: every element of the batch is about to be written, so fault its
            // pages in first unless they are already there (see hugepages::prefault).
            let (a, b) = (rows.start * stride, (rows.end * stride).min(total));
            // SAFETY: inside the checked buffer; this batch's rows belong to this call only.
            crate::hugepages::prefault(unsafe { std::slice::from_raw_parts_mut(data.get().add(a), b - a) }, W::ZERO);
        }
        // Rows go to workers in runs; the streamed stores are fenced once per run, not per row,
        // so a worker builds its next row while the last one drains to memory.
        let runs = rows.len().div_ceil(ROWS_PER_FENCE);
        (0..runs).into_par_iter().for_each_init(
            || {
                let scratch =
                    DupScratch { sum: vec![V::ZERO; if dups { n_cols } else { 0 }], mark: vec![0; if dups { n_cols } else { 0 }] };
                (scratch, vec![W::ZERO; n_out], None)
            },
            |(scratch, staging, held), run| {
                let first = rows.start + run * ROWS_PER_FENCE;
                for r in first..(first + ROWS_PER_FENCE).min(rows.end) {
                    let start = r * stride;
                    debug_assert!(start + n_out <= total);
                    // The row is built in a cache-resident buffer that holds its group's template,
                    // streamed to the output once, and the template is then restored where the
                    // row's entries went: far less than copying the whole template for every row.
                    let group = groups.of(r);
                    let base = match group {
                        Some(g) => &zero[g][..],
                        None => &blank[..],
                    };
                    if *held != Some(group) {
                        staging.copy_from_slice(base);
                        *held = Some(group);
                    }
                    row_job(r, group, staging, scratch);
                    // SAFETY: rows are disjoint (stride >= n_out) and inside the checked buffer.
                    unsafe { stream_row(data.get().add(start), staging) };
                    restore_template(m, r, map, staging, base);
                }
                store_fence();
            },
        )
    })
}

/// Rows a worker streams between two store fences.
const ROWS_PER_FENCE: usize = 64;

/// Puts the template back at every output column row `r`'s stored entries map to (whatever was
/// written there).
#[inline(always)]
fn restore_template<I: Index, V: Value, W: Value>(m: &Compressed<I, V>, r: usize, map: &ColumnMap, row: &mut [W], base: &[W]) {
    let p = m.p;
    let indices = &p.indices[p.slice(r)];
    assert!(row.len() == base.len());
    if map.is_identity() {
        assert!(row.len() == p.n_minor);
        for &i in indices {
            let c = p.minor_of(i);
            // SAFETY: validated indices are < n_minor = row.len() = base.len() (asserted above).
            unsafe { *row.get_unchecked_mut(c) = *base.get_unchecked(c) };
        }
    } else {
        for &i in indices {
            let oc = map.get(p.minor_of(i));
            if oc != SKIP {
                row[oc as usize] = base[oc as usize];
            }
        }
    }
}

/// Copies a finished row to the output with non-temporal stores where the CPU has them: the
/// output is written exactly once and never read back by us, so bypassing the cache avoids
/// reading every output line before overwriting it (and the slow `rep movsb` some CPUs have).
///
/// # Safety
/// `dst` must be valid for `src.len()` elements and not overlap `src`. Call [`store_fence`] after a
/// run of rows. Public for the benchmark's floor, which writes rows exactly as the library does.
#[inline]
pub unsafe fn stream_row<W: Value>(dst: *mut W, src: &[W]) {
    let len = std::mem::size_of_val(src);
    let (d, s) = (dst as *mut u8, src.as_ptr() as *const u8);
    // Miri has no non-temporal stores (inline assembly): it checks the plain copy instead.
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        let head = (16 - (d as usize) % 16) % 16;
        let head = head.min(len);
        // SAFETY: head <= len bytes; `dst` holds len bytes and does not overlap `src` (caller).
        unsafe { std::ptr::copy_nonoverlapping(s, d, head) };
        let mut i = head;
        while i + 16 <= len {
            // SAFETY: SSE2 is part of x86_64; d + i is 16-byte aligned and i + 16 <= len.
            unsafe { _mm_stream_si128(d.add(i) as *mut __m128i, _mm_loadu_si128(s.add(i) as *const __m128i)) };
            i += 16;
        }
        // SAFETY: i <= len, so the last len - i bytes of both are in bounds.
        unsafe { std::ptr::copy_nonoverlapping(s.add(i), d.add(i), len - i) };
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    // SAFETY: `dst` holds len bytes and does not overlap `src` (caller).
    unsafe {
        std::ptr::copy_nonoverlapping(s, d, len)
    };
}

/// Orders the streamed (weakly ordered) stores before anything the worker does next, such as
/// reporting its rows done: call once after a run of `stream_row`s.
#[inline(always)]
pub fn store_fence() {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: SSE2 is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// CSC cells x genes (compressed over genes) -> dense row-major output. Workers own blocks of
/// rows; within a block each gene's entries are found by binary search (sorted columns) or by a
/// scan (unsorted, with one block per worker).
pub fn csc_to_dense<I: Index, V: Value, W: Value>(
    exec: &mut Exec,
    m: &Compressed<I, V>,
    groups: &Groups,
    map: &ColumnMap,
    stats: &Stats,
    rule: Rule,
    out: DenseOut<W>,
) -> Result<()> {
    let n_rows = m.p.n_minor;
    let n_cols = m.p.n_major;
    let n_out = map.n_out;
    let stride = out.stride;
    if n_out == 0 {
        return exec.batched(0, |_| {}); // nothing to write, however many rows (the callback still hears of it)
    }
    let zero = zero_rows::<W>(stats, map, rule);
    let blank = vec![W::ZERO; n_out];
    let data = SharedMut(out.data.as_mut_ptr());
    let onto_zero = rule.sums_onto_zero();
    let block_rows = if m.p.sorted { 512 } else { n_rows.div_ceil(exec.threads).max(1) };
    let n_blocks = n_rows.div_ceil(block_rows);

    exec.batched(n_blocks, |blocks| {
        blocks.into_par_iter().for_each(|b| {
            let rows = b * block_rows..((b + 1) * block_rows).min(n_rows);
            // SAFETY: each block writes only its own rows, inside the checked buffer.
            let row_at = |r: usize| unsafe { std::slice::from_raw_parts_mut(data.get().add(r * stride), n_out) };
            for r in rows.clone() {
                row_at(r).copy_from_slice(match groups.of(r) {
                    Some(g) => &zero[g],
                    None => &blank,
                });
            }
            for c in 0..n_cols {
                let oc = map.get(c);
                if oc == SKIP {
                    continue;
                }
                let range = if m.p.sorted { m.p.slice_within(c, &rows) } else { m.p.slice(c) };
                for j in range {
                    let r = m.p.minor(j);
                    if !rows.contains(&r) {
                        continue;
                    }
                    if let Some(z) = stored_output(m.data[j], r, c, groups, stats, rule, onto_zero) {
                        row_at(r)[oc as usize] = W::from_f64(z);
                    }
                }
            }
        })
    })
}

/// CSC cells x genes -> dense column-major output (the order scipy's CSC `toarray()` gives):
/// every gene's output column is contiguous, so workers own genes and write each element once
/// more than the fill: its row's template value, then the stored entries over it.
pub fn csc_to_dense_colmajor<I: Index, V: Value, W: Value>(
    exec: &mut Exec,
    m: &Compressed<I, V>,
    groups: &Groups,
    map: &ColumnMap,
    stats: &Stats,
    rule: Rule,
    out: &mut [W],
) -> Result<()> {
    let n_rows = m.p.n_minor;
    let n_cols = m.p.n_major;
    assert!(out.len() == n_rows * map.n_out, "the caller checked the output length");
    let data = SharedMut(out.as_mut_ptr());
    let onto_zero = rule.sums_onto_zero();
    exec.batched(n_cols, |genes| {
        genes.into_par_iter().for_each_init(Vec::new, |zero: &mut Vec<W>, c| {
            let oc = map.get(c);
            if oc == SKIP {
                return;
            }
            // SAFETY: the column map is injective, so each output column belongs to one gene;
            // oc < n_out, and the buffer holds n_out columns of n_rows (asserted above).
            let col = unsafe { std::slice::from_raw_parts_mut(data.get().add(oc as usize * n_rows), n_rows) };
            zero.clear();
            zero.extend((0..stats.n_groups).map(|g| W::from_f64(scaled(rule, stats, g, c, 0.0))));
            if stats.n_groups == 1 && groups.sizes[0] == n_rows {
                col.fill(zero[0]);
            } else {
                for (r, v) in col.iter_mut().enumerate() {
                    *v = groups.of(r).map_or(W::ZERO, |g| zero[g]);
                }
            }
            for j in m.p.slice(c) {
                let r = m.p.minor(j);
                if let Some(z) = stored_output(m.data[j], r, c, groups, stats, rule, onto_zero) {
                    col[r] = W::from_f64(z);
                }
            }
        })
    })
}

/// Scanpy's dense arithmetic in the input dtype: centring and division each round to `V`
/// (float32 input gives two roundings); clip compared in f64 and stored as `V`.
#[inline(always)]
fn scanpy_dense<V: Value>(x: V, mean: f64, std: f64, center: bool, clip: Option<f64>) -> V {
    let y = if center { V::from_f64(x.to_f64() - mean) } else { x };
    let mut z = V::from_f64(y.to_f64() / std);
    if let Some(m) = clip {
        let zf = z.to_f64();
        if zf > m {
            z = V::from_f64(m);
        } else if center && zf < -m {
            z = V::from_f64(-m);
        }
    }
    z
}

/// A dense source read through a raw pointer, so the output may be the same buffer (in place).
pub struct DenseSrc<V> {
    pub ptr: SharedConst<V>,
    pub n_rows: usize,
    pub n_cols: usize,
    pub stride: usize,
}

/// Dense C-ordered (Scanpy) -> dense output, possibly in place (then `map` is the identity and
/// the strides are equal, which the caller checks).
///
/// # Safety
/// `src` spans a validated `n_rows x n_cols` matrix with its stride, `out` at least
/// `(n_rows - 1) * out_stride + map.n_out` elements; nothing else accesses either during the
/// call; they do not overlap unless they are the same buffer with the same stride and `map` is
/// the identity.
#[allow(clippy::too_many_arguments)]
pub unsafe fn dense_to_dense<V: Value, W: Value>(
    exec: &mut Exec,
    src: &DenseSrc<V>,
    groups: &Groups,
    map: &ColumnMap,
    stats: &Stats,
    params: &Params,
    out: SharedMut<W>,
    out_stride: usize,
) -> Result<()> {
    let n_cols = src.n_cols;
    if map.n_out == 0 {
        return exec.batched(0, |_| {}); // nothing to write, however many rows (the callback still hears of it)
    }
    exec.batched(src.n_rows, |rows| {
        rows.into_par_iter().with_min_len(16).for_each(|r| {
            let g = groups.of(r);
            for c in 0..n_cols {
                let oc = map.get(c);
                if oc == SKIP {
                    continue;
                }
                // SAFETY: in bounds (checked by the caller); each element is read before the
                // same worker writes it, and rows are disjoint between workers.
                let x = unsafe { src.ptr.get().add(r * src.stride + c).read() };
                let z = match g {
                    Some(g) => {
                        let k = g * n_cols + c;
                        scanpy_dense(x, stats.mean[k], stats.std[k], params.center, params.max_value).to_f64()
                    }
                    None => x.to_f64(),
                };
                // SAFETY: in bounds (the caller checked rows x out_stride); rows are disjoint
                // between workers, and in place this worker read the element above.
                unsafe { out.get().add(r * out_stride + oc as usize).write(W::from_f64(z)) };
            }
        })
    })
}

/// How Scanpy clips the values of a same-pattern (zero_center=False) sparse result.
#[derive(Clone, Copy, Debug)]
pub enum ValuesClip {
    /// CSR path (numba `scale_and_clip_csr`): `min(max_value, q)`, so NaN becomes max_value.
    MinNanToMax,
    /// CSC path (`clip_array` on `.data`): `if q > max_value`, NaN kept.
    Upper,
    /// Scanpy 1.10's masked CSR path (`_scale_sparse_numba`): the std rounded to the value type,
    /// the quotient computed in it, then `min(max_value, q)` (NaN becomes max_value).
    ValueTypeMinNanToMax,
}

/// Same-pattern output (Scanpy zero_center=False): every stored value `v` of a major slice `k`
/// becomes `f64(v) / std[gene]` clipped, where the gene is the minor index (CSR) or `k` (CSC).
/// Values outside any group are copied. The output may be the input values array (in place).
///
/// # Safety
/// `src` and `out` hold at least the pattern's number of stored entries; nothing else accesses
/// them during the call; they are disjoint or the same buffer (in place, same type).
#[allow(clippy::too_many_arguments)]
pub unsafe fn values<I: Index, V: Value, W: Value>(
    exec: &mut Exec,
    p: &Pattern<I>,
    gene_is_major: bool,
    src: SharedConst<V>,
    out: SharedMut<W>,
    groups: &Groups,
    stats: &Stats,
    max_value: Option<f64>,
    clip: ValuesClip,
) -> Result<()> {
    let n_genes = stats.n_cols;
    exec.batched(p.n_major, |majors| {
        majors.into_par_iter().with_min_len(32).for_each(|k| {
            let g = if gene_is_major { Some(0) } else { groups.of(k) };
            for j in p.slice(k) {
                // SAFETY: j < nnz (validated pattern); each entry is read then written by one worker.
                let v = unsafe { src.get().add(j).read() };
                let q = match g {
                    Some(g) => {
                        let c = if gene_is_major { k } else { p.minor(j) };
                        let std = stats.std[g * n_genes + c];
                        let q = match clip {
                            // Division is correctly rounded, and f64 has more than 2 * 24 + 2
                            // bits, so rounding the f64 quotient of two f32 values to f32 gives
                            // the f32 quotient exactly (for f64 both roundings are no-ops).
                            ValuesClip::ValueTypeMinNanToMax => V::from_f64(v.to_f64() / V::from_f64(std).to_f64()).to_f64(),
                            _ => v.to_f64() / std,
                        };
                        match (max_value, clip) {
                            (Some(m), ValuesClip::MinNanToMax | ValuesClip::ValueTypeMinNanToMax) => {
                                if q < m {
                                    q
                                } else {
                                    m
                                }
                            }
                            (Some(m), ValuesClip::Upper) if q > m => m,
                            _ => q,
                        }
                    }
                    None => v.to_f64(),
                };
                // SAFETY: j < nnz <= the output's length (checked by the caller); one worker per entry.
                unsafe { out.get().add(j).write(W::from_f64(q)) };
            }
        })
    })
}
