//! The transform's stored entries four at a time (AVX2). The scalar loop pays one f64 division
//! per entry, and that division, not memory, bounds the transform on float32 output (and shares
//! the bound on float64): one vector division does four. Each lane does the scalar kernel's IEEE
//! operations in the same order, so the bits are the same as `Kernel::z` (tested below).

use super::{densified, Kernel, KernelKind};
use crate::matrix::{Compressed, Index, Value};
use std::arch::x86_64::*;

/// Whether this CPU has AVX2 (std caches the answer).
pub fn available() -> bool {
    is_x86_feature_detected!("avx2")
}

/// Row `r`'s stored entries scaled into `row`, for the identity column map and a row without
/// duplicates. `pairs[c]` is gene `c`'s `[mean, std]`.
///
/// # Safety
/// The CPU has AVX2 ([`available`]); `m`'s indices are validated (< `n_minor`), and
/// `row.len() == pairs.len() == m.p.n_minor`.
#[target_feature(enable = "avx2")]
pub unsafe fn scatter_row<I: Index, V: Value, W: Value, K: Kernel>(
    m: &Compressed<I, V>,
    r: usize,
    row: &mut [W],
    pairs: &[[f64; 2]],
    kernel: K,
    onto_zero: bool,
) {
    assert!(row.len() == m.p.n_minor && pairs.len() == m.p.n_minor);
    let range = m.p.slice(r);
    let (indices, values) = (&m.p.indices[range.clone()], &m.data[range]);
    let (out, stats) = (row.as_mut_ptr(), pairs.as_ptr() as *const f64);
    let n = indices.len();
    let mut k = 0;
    while k + 4 <= n {
        // SAFETY: k + 3 < n = indices.len() = values.len(); every c < n_minor = pairs.len() =
        // row.len() (validated indices, the assert above); AVX2 is present (caller).
        unsafe {
            let c = [0, 1, 2, 3].map(|j| m.p.minor_of(*indices.get_unchecked(k + j)));
            let [p0, p1, p2, p3] = c.map(|c| _mm_loadu_pd(stats.add(2 * c)));
            let mean = _mm256_set_m128d(_mm_unpacklo_pd(p2, p3), _mm_unpacklo_pd(p0, p1));
            let std = _mm256_set_m128d(_mm_unpackhi_pd(p2, p3), _mm_unpackhi_pd(p0, p1));
            let z = z4(kernel, load4(values.as_ptr().add(k), onto_zero), mean, std);
            store4(out, c, z);
        }
        k += 4;
    }
    for k in k..n {
        // SAFETY: k < n, and c < n_minor as above.
        unsafe {
            let c = m.p.minor_of(*indices.get_unchecked(k));
            let x = densified(*values.get_unchecked(k), onto_zero);
            let [mean, std] = *pairs.get_unchecked(c);
            *out.add(c) = W::from_f64(kernel.z(x, mean, std));
        }
    }
}

/// Four stored values as f64, first added onto zero in their own dtype when `onto_zero`.
///
/// # Safety
/// AVX2 is present; `p` is valid for reading four values.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load4<V: Value>(p: *const V, onto_zero: bool) -> __m256d {
    if V::SINGLE {
        // SAFETY: four f32 are readable at p (caller); unaligned loads.
        let v = unsafe { _mm_loadu_ps(p as *const f32) };
        _mm256_cvtps_pd(if onto_zero { _mm_add_ps(_mm_setzero_ps(), v) } else { v })
    } else {
        // SAFETY: four f64 are readable at p (caller); unaligned loads.
        let v = unsafe { _mm256_loadu_pd(p as *const f64) };
        if onto_zero {
            _mm256_add_pd(_mm256_setzero_pd(), v)
        } else {
            v
        }
    }
}

/// `Kernel::z` in each lane. Ordered comparisons are false for NaN, as the scalar `>` and `<`.
///
/// # Safety
/// AVX2 is present.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn z4<K: Kernel>(kernel: K, x: __m256d, mean: __m256d, std: __m256d) -> __m256d {
    let hi = _mm256_set1_pd(kernel.bound());
    match K::KIND {
        KernelKind::Centered => {
            let lo = _mm256_set1_pd(-kernel.bound());
            let z = _mm256_div_pd(_mm256_sub_pd(x, mean), std);
            let below = _mm256_blendv_pd(z, lo, _mm256_cmp_pd(z, lo, _CMP_LT_OQ));
            _mm256_blendv_pd(below, hi, _mm256_cmp_pd(z, hi, _CMP_GT_OQ))
        }
        KernelKind::Uncentered => {
            let z = _mm256_div_pd(x, std);
            _mm256_blendv_pd(z, hi, _mm256_cmp_pd(z, hi, _CMP_GT_OQ))
        }
        KernelKind::Seurat => {
            let z = _mm256_div_pd(_mm256_sub_pd(x, mean), std);
            let z = _mm256_blendv_pd(z, hi, _mm256_cmp_pd(z, hi, _CMP_GT_OQ));
            _mm256_blendv_pd(z, _mm256_setzero_pd(), _mm256_cmp_pd(z, z, _CMP_UNORD_Q))
        }
    }
}

/// Lane j of `z`, rounded to W as `W::from_f64` does, to `out[c[j]]`.
///
/// # Safety
/// AVX2 is present; `out[c[j]]` is writable for each j.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store4<W: Value>(out: *mut W, c: [usize; 4], z: __m256d) {
    if W::SINGLE {
        let f = _mm256_cvtpd_ps(z);
        let out = out as *mut i32;
        // SAFETY: out[c[j]] is a writable f32 for each j (caller); f32 stored as its bits.
        unsafe {
            *out.add(c[0]) = _mm_extract_ps::<0>(f);
            *out.add(c[1]) = _mm_extract_ps::<1>(f);
            *out.add(c[2]) = _mm_extract_ps::<2>(f);
            *out.add(c[3]) = _mm_extract_ps::<3>(f);
        }
    } else {
        let out = out as *mut f64;
        let (lo, hi) = (_mm256_castpd256_pd128(z), _mm256_extractf128_pd::<1>(z));
        // SAFETY: out[c[j]] is a writable f64 for each j (caller).
        unsafe {
            _mm_storel_pd(out.add(c[0]), lo);
            _mm_storeh_pd(out.add(c[1]), lo);
            _mm_storel_pd(out.add(c[2]), hi);
            _mm_storeh_pd(out.add(c[3]), hi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::CSR_AXES;
    use crate::options::ColumnMap;
    use crate::transform::{Centered, SeuratZ, Uncentered};
    use proptest::prelude::*;

    const SPECIAL: [f64; 13] =
        [0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-310, -1e308, 3.0e38, 1e-45, 10.0, -10.0];

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![prop::sample::select(SPECIAL.to_vec()), -40.0..40.0f64]
    }

    /// Lengths 0-23 cover rows with and without a tail after the groups of four.
    fn rows() -> impl Strategy<Value = Vec<Vec<Option<f64>>>> {
        prop::collection::vec(prop::collection::vec(prop::option::weighted(0.6, number()), 23), 1..4)
    }

    fn bits<W: Value>(x: W) -> u64 {
        x.to_f64().to_bits()
    }

    /// The vector row and the scalar row, bit for bit, over a template of 7s.
    fn same_bits<I: Index, V: Value, W: Value, K: Kernel>(
        rows: &[Vec<Option<f64>>],
        pairs: &[[f64; 2]],
        kernel: K,
        base: u32,
        onto_zero: bool,
    ) {
        let n_cols = pairs.len();
        let (mut indptr, mut indices, mut data) = (vec![I::from_i64(base as i64).unwrap()], vec![], vec![]);
        for row in rows {
            for (c, x) in row.iter().enumerate() {
                if let Some(x) = x {
                    indices.push(I::from_i64(c as i64 + base as i64).unwrap());
                    data.push(V::from_f64(*x));
                }
            }
            indptr.push(I::from_i64(indices.len() as i64 + base as i64).unwrap());
        }
        let m = Compressed::new(rows.len(), n_cols, &indptr, &indices, &data, base, CSR_AXES).unwrap();
        let map = ColumnMap::new(None, n_cols, n_cols).unwrap();
        let (mean, std): (Vec<f64>, Vec<f64>) = pairs.iter().map(|p| (p[0], p[1])).unzip();
        for r in 0..rows.len() {
            let (mut vector, mut scalar) = (vec![W::from_f64(7.0); n_cols], vec![W::from_f64(7.0); n_cols]);
            // SAFETY: tests run on x86_64 CPUs checked for AVX2 just below; indices validated.
            unsafe { scatter_row(&m, r, &mut vector, pairs, kernel, onto_zero) };
            crate::transform::scatter_row::<I, V, W, K, true>(&m, r, &mut scalar, &mean, &std, &map, kernel, onto_zero);
            let (v, s): (Vec<u64>, Vec<u64>) = (vector.iter().map(|&x| bits(x)).collect(), scalar.iter().map(|&x| bits(x)).collect());
            assert_eq!(v, s, "row {r}");
        }
    }

    fn every_dtype<K: Kernel>(rows: &[Vec<Option<f64>>], pairs: &[[f64; 2]], kernel: K, base: u32, onto_zero: bool) {
        same_bits::<i32, f32, f32, K>(rows, pairs, kernel, base, onto_zero);
        same_bits::<i32, f32, f64, K>(rows, pairs, kernel, base, onto_zero);
        same_bits::<i64, f64, f32, K>(rows, pairs, kernel, base, onto_zero);
        same_bits::<i64, f64, f64, K>(rows, pairs, kernel, base, onto_zero);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 1 } else { 300 }))]
        #[test]
        fn vector_rows_equal_scalar_rows(
            rows in rows(),
            pairs in prop::collection::vec((number(), number()), 23),
            bound in prop::sample::select(vec![f64::INFINITY, 0.0, 0.5, 10.0]),
            base in 0u32..2,
            onto_zero in any::<bool>(),
        ) {
            if !available() {
                return Ok(());
            }
            let pairs: Vec<[f64; 2]> = pairs.into_iter().map(|(m, s)| [m, s]).collect();
            every_dtype(&rows, &pairs, Centered(bound), base, onto_zero);
            every_dtype(&rows, &pairs, Uncentered(bound), base, onto_zero);
            every_dtype(&rows, &pairs, SeuratZ(bound), base, onto_zero);
        }
    }
}
