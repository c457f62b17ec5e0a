//! Typed, validated views of the caller's matrices, and the element traits the kernels are generic over.

use crate::status::{fail, Result, *};
use rayon::prelude::*;
use std::ops::Range;

/// Sealed: the kernels rely on the exact types (vector code reinterprets f32/f64 by `SINGLE`),
/// so no type outside this crate may implement `Index` or `Value`.
mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// An index type of `indptr` / `indices` (int32 or int64).
pub trait Index: sealed::Sealed + Copy + Ord + Send + Sync + 'static {
    const MIN: Self;
    const MAX: Self;
    fn to_i64(self) -> i64;
    /// `x` in this type, or `None` when it does not fit.
    fn from_i64(x: i64) -> Option<Self>;
}
impl Index for i32 {
    const MIN: Self = i32::MIN;
    const MAX: Self = i32::MAX;
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(x: i64) -> Option<Self> {
        i32::try_from(x).ok()
    }
}
impl Index for i64 {
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self
    }
    #[inline(always)]
    fn from_i64(x: i64) -> Option<Self> {
        Some(x)
    }
}

/// A value type (float32 or float64). Arithmetic named here happens in the type itself, which is
/// how the references square and sum in the input dtype.
pub trait Value: sealed::Sealed + Copy + Send + Sync + PartialEq + 'static {
    const ZERO: Self;
    /// float32 (else float64): lets vector code pick its loads and stores.
    const SINGLE: bool;
    fn to_f64(self) -> f64;
    /// Round-to-nearest-even from f64 (exact for f64).
    fn from_f64(x: f64) -> Self;
    fn square(self) -> Self;
    fn plus(self, other: Self) -> Self;
}
impl Value for f32 {
    const ZERO: Self = 0.0;
    const SINGLE: bool = true;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn square(self) -> Self {
        self * self
    }
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        self + other
    }
}
impl Value for f64 {
    const ZERO: Self = 0.0;
    const SINGLE: bool = false;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn square(self) -> Self {
        self * self
    }
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        self + other
    }
}

/// The sparsity pattern of a compressed matrix: CSR (major = rows = cells) or CSC
/// (major = columns = genes). Kept apart from the values so that in-place kernels can write the
/// values through a raw pointer while reading the pattern.
#[derive(Clone, Copy)]
pub struct Pattern<'a, I> {
    pub n_major: usize,
    pub n_minor: usize,
    pub indptr: &'a [I],
    pub indices: &'a [I],
    base: i64,
    /// Every major slice has non-decreasing minor indices (so a sub-range can be binary searched).
    pub sorted: bool,
    /// Some (major, minor) pair is stored more than once.
    pub has_duplicates: bool,
}

/// A validated compressed sparse matrix. Construct it with [`Compressed::new`].
#[derive(Clone, Copy)]
pub struct Compressed<'a, I, V> {
    pub p: Pattern<'a, I>,
    pub data: &'a [V],
}

/// What a [`Compressed`] matrix's major and minor axes are called in messages.
#[derive(Clone, Copy)]
pub struct AxisNames {
    pub major: &'static str,
    pub minor: &'static str,
}
pub const CSR_AXES: AxisNames = AxisNames { major: "row", minor: "column" };
pub const CSC_AXES: AxisNames = AxisNames { major: "column", minor: "row" };

impl<'a, I: Index, V: Value> Compressed<'a, I, V> {
    /// Stored entry count.
    pub fn nnz(&self) -> usize {
        self.data.len()
    }

    /// Validates lengths, `indptr` (start, monotone, end) and every index, and records whether
    /// the slices are sorted and whether any entry is duplicated. Runs on the current rayon pool.
    pub fn new(
        n_major: usize,
        n_minor: usize,
        indptr: &'a [I],
        indices: &'a [I],
        data: &'a [V],
        index_base: u32,
        axes: AxisNames,
    ) -> Result<Self> {
        if index_base > 1 {
            fail!(SC_STATUS_INVALID_ENUM, "index_base is {index_base}; expected 0 or 1");
        }
        let base = index_base as i64;
        let Some(expected_len) = n_major.checked_add(1) else {
            fail!(SC_STATUS_SIZE_OVERFLOW, "number of {}s {n_major} + 1 overflows", axes.major);
        };
        if indptr.len() != expected_len {
            fail!(SC_STATUS_INDPTR_LENGTH, "indptr_len is {}; expected {expected_len} (number of {}s + 1)", indptr.len(), axes.major);
        }
        if indices.len() != data.len() {
            fail!(SC_STATUS_LENGTH_MISMATCH, "indices_len is {} but data_len is {}; they must be equal", indices.len(), data.len());
        }
        if n_minor > i64::MAX as usize || data.len() > i64::MAX as usize - 1 {
            fail!(SC_STATUS_SIZE_OVERFLOW, "dimensions do not fit in 64-bit signed indices");
        }
        let first = indptr[0].to_i64();
        if first != base {
            fail!(SC_STATUS_INDPTR_START, "indptr[0] is {first}; expected {base} (the index base)");
        }
        for (k, w) in indptr.windows(2).enumerate() {
            let (a, b) = (w[0].to_i64(), w[1].to_i64());
            if b < a {
                fail!(SC_STATUS_INDPTR_NOT_MONOTONE, "indptr[{}] = {b} is smaller than indptr[{k}] = {a}; indptr must not decrease", k + 1);
            }
        }
        let last = indptr[n_major].to_i64();
        if last - base != data.len() as i64 {
            fail!(
                SC_STATUS_INDPTR_END,
                "indptr[{n_major}] is {last}; expected {} (the number of stored entries {} plus the index base)",
                data.len() as i64 + base,
                data.len()
            );
        }
        let mut p = Pattern { n_major, n_minor, indptr, indices, base, sorted: true, has_duplicates: false };
        let scan = p.scan_indices(axes)?;
        p.sorted = scan.sorted;
        p.has_duplicates = scan.duplicates;
        Ok(Compressed { p, data })
    }
}

impl<'a, I: Index> Pattern<'a, I> {
    /// Stored-entry positions of major slice `k`.
    #[inline(always)]
    pub fn slice(&self, k: usize) -> Range<usize> {
        (self.indptr[k].to_i64() - self.base) as usize..(self.indptr[k + 1].to_i64() - self.base) as usize
    }

    /// The 0-based minor index of a stored index value.
    #[inline(always)]
    pub fn minor_of(&self, i: I) -> usize {
        (i.to_i64() - self.base) as usize
    }

    /// The 0-based minor index of stored entry `j`.
    #[inline(always)]
    pub fn minor(&self, j: usize) -> usize {
        (self.indices[j].to_i64() - self.base) as usize
    }

    /// Where minor index `minor` would start among a slice's `len` entries if they were spread
    /// evenly over the minor axis: a position in `0..=len`, a starting guess for a search.
    #[inline(always)]
    pub fn even_spread(&self, len: usize, minor: usize) -> usize {
        let n = self.n_minor.max(1);
        let at = match len.checked_mul(minor) {
            Some(x) => x / n,
            None => (len as u128 * minor as u128 / n as u128) as usize,
        };
        at.min(len)
    }

    /// Positions within slice `k` whose minor index lies in `block`, in stored order.
    /// Needs `sorted`; otherwise callers filter the whole slice.
    /// Each edge is looked for where an even spread of the slice's entries would put it, then
    /// walked to: a count or a binary search would read or wait on the whole slice per block.
    #[inline]
    pub fn slice_within(&self, k: usize, block: &Range<usize>) -> Range<usize> {
        let r = self.slice(k);
        let idx = &self.indices[r.clone()];
        // How many of `s` (sorted) are below minor index `bound`, searched from `guess`.
        let below = |s: &[I], bound: usize, guess: usize| -> usize {
            match I::from_i64(bound as i64 + self.base) {
                Some(bound) => first_not_below(s, bound, guess),
                None => s.len(), // beyond the index type: every stored index is below it
            }
        };
        let even_spread = |bound: usize| self.even_spread(idx.len(), bound);
        let a = if block.start == 0 { 0 } else { below(idx, block.start, even_spread(block.start)) };
        let b =
            if block.end >= self.n_minor { idx.len() } else { a + below(&idx[a..], block.end, even_spread(block.end).saturating_sub(a)) };
        r.start + a..r.start + b
    }

    fn scan_indices(&self, axes: AxisNames) -> Result<IndexScan> {
        let n_minor = self.n_minor as i64;
        let chunk = 256usize;
        let n_chunks = self.n_major.div_ceil(chunk);
        (0..n_chunks)
            .into_par_iter()
            .map_init(Vec::new, |seen: &mut Vec<usize>, ci| {
                let mut scan = IndexScan { sorted: true, duplicates: false };
                for k in ci * chunk..((ci + 1) * chunk).min(self.n_major) {
                    let r = self.slice(k);
                    let idx = &self.indices[r.clone()];
                    // Branch-free folds in the index type itself, so that they vectorise; the
                    // offending entry is looked up only on error. A strictly increasing slice
                    // (the usual case) has its extremes at its ends.
                    let next = idx.get(1..).unwrap_or(&[]);
                    let increasing = idx.iter().zip(next).fold(true, |a, (x, y)| a & (x < y));
                    let (lo, hi) = match (increasing, idx.first(), idx.last()) {
                        (true, Some(&first), Some(&last)) => (first, last),
                        _ => idx.iter().fold((I::MAX, I::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x))),
                    };
                    let (lo, hi) = (lo.to_i64(), hi.to_i64());
                    if !idx.is_empty() && (lo < self.base || hi - self.base >= n_minor) {
                        let j = r.start + idx.iter().position(|x| x.to_i64() < self.base || x.to_i64() - self.base >= n_minor).unwrap_or(0);
                        return Err(Error::new(
                            SC_STATUS_INDEX_OUT_OF_RANGE,
                            format!(
                                "indices[{j}] = {} ({} {k}) is out of range: expected {} <= index < {} ({} {}s, index base {})",
                                self.indices[j].to_i64(),
                                axes.major,
                                self.base,
                                n_minor + self.base,
                                n_minor,
                                axes.minor,
                                self.base
                            ),
                        ));
                    }
                    let non_decreasing = increasing || idx.iter().zip(next).all(|(x, y)| x <= y);
                    if increasing {
                        continue;
                    }
                    scan.sorted &= non_decreasing;
                    if non_decreasing {
                        scan.duplicates = true; // equal neighbours
                        continue;
                    }
                    // Unsorted slice: stamp each minor index with the slice number to find repeats.
                    if seen.is_empty() {
                        seen.resize(self.n_minor, usize::MAX);
                    }
                    for j in r {
                        let slot = &mut seen[(self.indices[j].to_i64() - self.base) as usize];
                        scan.duplicates |= *slot == k;
                        *slot = k;
                    }
                }
                Ok(scan)
            })
            .try_reduce(
                || IndexScan { sorted: true, duplicates: false },
                |a, b| Ok(IndexScan { sorted: a.sorted && b.sorted, duplicates: a.duplicates || b.duplicates }),
            )
    }
}

struct IndexScan {
    sorted: bool,
    duplicates: bool,
}

/// A row-major dense matrix with a row stride (elements between row starts).
#[derive(Clone, Copy)]
pub struct Dense<'a, V> {
    pub n_rows: usize,
    pub n_cols: usize,
    pub stride: usize,
    pub data: &'a [V],
}

impl<'a, V: Value> Dense<'a, V> {
    pub fn new(n_rows: usize, n_cols: usize, stride: usize, data: &'a [V]) -> Result<Self> {
        let need = required_len(n_rows, n_cols, stride, "input row_stride")?;
        if data.len() < need {
            fail!(
                SC_STATUS_LENGTH_MISMATCH,
                "data_len is {}; a {n_rows} x {n_cols} matrix with row stride {stride} needs {need}",
                data.len()
            );
        }
        Ok(Dense { n_rows, n_cols, stride, data })
    }

    #[inline(always)]
    pub fn row(&self, r: usize) -> &'a [V] {
        &self.data[r * self.stride..r * self.stride + self.n_cols]
    }
}

/// Elements a row-major `n_rows x width` buffer with `stride` needs, checking for overflow.
pub fn required_len(n_rows: usize, width: usize, stride: usize, what: &str) -> Result<usize> {
    if stride < width {
        fail!(SC_STATUS_INVALID_STRIDE, "{what} is {stride}; it must be at least the row width {width}");
    }
    if n_rows == 0 {
        return Ok(0);
    }
    match (n_rows - 1).checked_mul(stride).and_then(|x| x.checked_add(width)) {
        Some(n) if n <= isize::MAX as usize / 8 => Ok(n),
        _ => fail!(SC_STATUS_SIZE_OVERFLOW, "{n_rows} rows with stride {stride} overflow the address space"),
    }
}

/// The first position in sorted `s` whose value is not below `bound` (`s.len()` if none), found
/// by walking a few steps from `guess`, then by binary search beyond the walk.
#[inline]
pub(crate) fn first_not_below<I: Index>(s: &[I], bound: I, guess: usize) -> usize {
    const WALK: usize = 16;
    let k = guess.min(s.len());
    if k < s.len() && s[k] < bound {
        // The edge lies after k.
        let (lo, hi) = (k + 1, (k + 1 + WALK).min(s.len()));
        match s[lo..hi].iter().position(|&x| x >= bound) {
            Some(i) => lo + i,
            None => hi + s[hi..].partition_point(|&x| x < bound),
        }
    } else {
        // s[k] is not below bound (or k is the end): the edge lies at or before k.
        let lo = k.saturating_sub(WALK);
        match s[lo..k].iter().rposition(|&x| x < bound) {
            Some(i) => lo + i + 1,
            None => s[..lo].partition_point(|&x| x < bound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_not_below;

    /// Every guess, every bound, short and long slices with repeats: the walk must land where
    /// a plain binary search does.
    #[test]
    #[cfg_attr(miri, ignore = "no unsafe code; 60,000 searches are minutes under Miri")]
    fn first_not_below_agrees_with_partition_point_from_any_guess() {
        let slices: Vec<Vec<i32>> = vec![
            vec![],
            vec![5],
            (0..40).map(|x| x * 3).collect(),
            (0..100).map(|x| x / 7).collect(),
            (0..70).map(|x| if x < 60 { 1 } else { 900 }).collect(),
        ];
        for s in &slices {
            let top = s.last().copied().unwrap_or(0) + 2;
            for bound in -1..=top {
                let want = s.partition_point(|&x| x < bound);
                for guess in 0..=s.len() + 3 {
                    assert_eq!(first_not_below(s, bound, guess), want, "{s:?} bound {bound} guess {guess}");
                }
            }
        }
    }
}
