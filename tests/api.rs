//! The safe Rust API (`scscale::api`), which the C ABI and the R binding call: the same bits as
//! the plain reference of tests/common for every path it offers, its errors as `Result`s with the
//! C ABI's status codes, in-place calls equal to out-of-place ones, and cancellation.

mod common;
use common::*;
use proptest::prelude::*;
use scscale::api::{self, DenseIn, DenseInOut, DenseOut, Flavor, Options, Sparse, SparseMut, StatsOut};
use scscale::sc_status::*;

fn matrix() -> impl Strategy<Value = Csr> {
    matrix_of(1..6)
}

fn matrix_of(cols: std::ops::Range<usize>) -> impl Strategy<Value = Csr> {
    (1usize..8, cols).prop_flat_map(|(n_rows, n_cols)| {
        proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(0.0), Just(1.0), (-50i32..50).prop_map(|v| v as f64 / 3.0)], n_cols),
            n_rows,
        )
        .prop_map(move |rows| {
            let mut m = Csr { n_rows, n_cols, indptr: vec![0], indices: vec![], data: vec![], f32_values: false };
            for row in rows {
                for (c, v) in row.into_iter().enumerate() {
                    if v != 0.0 {
                        m.indices.push(c as i64);
                        m.data.push(v);
                    }
                }
                m.indptr.push(m.indices.len() as i64);
            }
            m
        })
    })
}

fn dense_of(m: &Csr) -> Vec<f64> {
    (0..m.n_rows).flat_map(|r| densify(m, r, false)).collect()
}

fn api_options<'a>(o: &'a Opts) -> Options<'a> {
    let mut a = Options::new(if o.seurat { Flavor::Seurat } else { Flavor::Scanpy });
    a.center = o.center;
    a.scale = o.scale;
    a.max_value = o.max_value;
    a.n_partitions = o.partitions;
    a.n_threads = o.threads as usize;
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 1 } else { 64 }))]

    /// `scale_csr` through the API: the reference's output and statistics, bit for bit, for
    /// both flavors, i32 and i64 indices, with and without clipping.
    #[test]
    fn scale_csr_is_the_reference(m in matrix(), seurat in any::<bool>(), clip in any::<bool>(), wide in any::<bool>()) {
        let mut o = if seurat { Opts::seurat() } else { Opts::scanpy() };
        if !seurat {
            o.max_value = clip.then_some(1.5);
        }
        let want = reference_scale(&m, &o);
        let (mut mean, mut var, mut std) = (vec![0.0; m.n_cols], vec![0.0; m.n_cols], vec![0.0; m.n_cols]);
        let mut out = vec![f64::NAN; m.n_rows * m.n_cols];
        let stats = StatsOut { mean: Some(&mut mean), var: Some(&mut var), std: Some(&mut std) };
        if wide {
            let x = Sparse::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &m.data);
            api::scale_csr(&x, &api_options(&o), DenseOut::new(&mut out, m.n_cols), stats).unwrap();
        } else {
            let (p, i): (Vec<i32>, Vec<i32>) = (m.indptr.iter().map(|&v| v as i32).collect(), m.indices.iter().map(|&v| v as i32).collect());
            let x = Sparse::new(m.n_rows, m.n_cols, &p, &i, &m.data);
            api::scale_csr(&x, &api_options(&o), DenseOut::new(&mut out, m.n_cols), stats).unwrap();
        }
        assert_bits_eq("out", &out, &want.out);
        assert_bits_eq("mean", &mean, &want.mean);
        assert_bits_eq("std", &std, &want.std);
        if !seurat {
            assert_bits_eq("var", &var, &want.var);
        }
    }

    /// The dense path and its in-place form agree with each other and with the sparse path
    /// (float64 Scanpy sums in the same order on all three).
    #[test]
    fn dense_in_place_is_dense_is_sparse(m in matrix_of(2..6)) {
        let o = Opts::scanpy();
        let want = reference_scale(&m, &o);
        let d = dense_of(&m);
        let mut out = vec![f64::NAN; d.len()];
        api::scale_dense(&DenseIn::new(m.n_rows, m.n_cols, &d), &api_options(&o), DenseOut::new(&mut out, m.n_cols), StatsOut::default()).unwrap();
        assert_bits_eq("dense", &out, &want.out);
        let mut inplace = d.clone();
        api::scale_dense_in_place(DenseInOut::new(m.n_rows, m.n_cols, &mut inplace), &api_options(&o), StatsOut::default()).unwrap();
        assert_bits_eq("dense in place", &inplace, &want.out);
    }

    /// Same-pattern output (Scanpy zero_center=False), separate and in place.
    #[test]
    fn values_in_place_is_values(m in matrix()) {
        let mut o = Opts::scanpy();
        o.center = false;
        let x = Sparse::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &m.data);
        let mut out = vec![f64::NAN; m.data.len()];
        api::scale_csr_values(&x, &api_options(&o), &mut out, StatsOut::default()).unwrap();
        let mut data = m.data.clone();
        api::scale_csr_values_in_place(SparseMut::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &mut data), &api_options(&o), StatsOut::default()).unwrap();
        assert_bits_eq("values in place", &data, &out);
        // Each value is the stored one over its gene's std (no clip): the dense reference's
        // entries at the stored positions.
        let want = reference_scale(&m, &o);
        for r in 0..m.n_rows {
            for j in m.row(r) {
                let c = m.indices[j] as usize;
                assert_bits_eq("value", &[out[j]], &[want.out[r * m.n_cols + c]]);
            }
        }
    }
}

#[test]
fn errors_are_results_with_the_abi_codes() {
    let (p, i, d) = (vec![0i64, 1, 2], vec![0i64, 5], vec![1.0, 2.0]);
    let o = Options::new(Flavor::Scanpy);
    let mut out = vec![0.0; 4];
    // Index 5 in a 2-column matrix.
    let e = api::scale_csr(&Sparse::new(2, 2, &p, &i, &d), &o, DenseOut::new(&mut out, 2), StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_INDEX_OUT_OF_RANGE, "{e}");
    // An output too short for 2 x 2.
    let i = vec![0i64, 1];
    let mut short = vec![0.0; 3];
    let e = api::scale_csr(&Sparse::new(2, 2, &p, &i, &d), &o, DenseOut::new(&mut short, 2), StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_OUTPUT_TOO_SMALL, "{e}");
    // Seurat reads CSR only.
    let e = api::scale_csc(&Sparse::new(2, 2, &p, &i, &d), &Options::new(Flavor::Seurat), DenseOut::new(&mut out, 2), StatsOut::default())
        .unwrap_err();
    assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
    assert_eq!(e.status.kind(), scscale::sc_error_kind::SC_KIND_UNSUPPORTED);
    // A NaN clip bound.
    let mut nan = Options::new(Flavor::Scanpy);
    nan.max_value = Some(f64::NAN);
    let e = api::scale_csr(&Sparse::new(2, 2, &p, &i, &d), &nan, DenseOut::new(&mut out, 2), StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_INVALID_OPTION, "{e}");
}

/// numpy sums a single column pairwise: dense one-column statistics are refused, not guessed;
/// with given statistics only the transform runs, which is element by element.
#[test]
fn one_dense_column_needs_given_statistics() {
    let x = [1.0, 2.0, 4.0];
    let mut out = [0.0; 3];
    let o = Options::new(Flavor::Scanpy);
    let e = api::scale_dense(&DenseIn::new(3, 1, &x), &o, DenseOut::new(&mut out, 1), StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
    let e = api::stats_dense(&DenseIn::new(3, 1, &x), &o, StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
    let mut acc = vec![0.0; api::accumulator_len(&o, 1).unwrap()];
    api::accumulator_init(&o, 1, &mut acc).unwrap();
    let e = api::accumulate_dense(&DenseIn::new(3, 1, &x), &o, &mut acc).unwrap_err();
    assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
    let (mean, std) = ([2.0], [2.0]);
    let given = Options { given: Some((&mean, &std)), ..o };
    api::scale_dense(&DenseIn::new(3, 1, &x), &given, DenseOut::new(&mut out, 1), StatsOut::default()).unwrap();
    assert_eq!(out, [-0.5, 0.0, 1.0]);
}

#[test]
fn a_progress_callback_can_cancel() {
    let (p, i, d) = (vec![0i32, 1, 2], vec![0i32, 1], vec![1.0, 2.0]);
    let stop = |_done: u64, _total: u64| false;
    let mut o = Options::new(Flavor::Scanpy);
    o.progress = Some(&stop);
    let mut out = vec![0.0; 4];
    let e = api::scale_csr(&Sparse::new(2, 2, &p, &i, &d), &o, DenseOut::new(&mut out, 2), StatsOut::default()).unwrap_err();
    assert_eq!(e.status, SC_STATUS_CANCELLED, "{e}");
}

#[test]
fn status_names_and_codes_come_from_one_list() {
    let all: Vec<_> = scscale::sc_status::all().collect();
    assert_eq!(all.first(), Some(&SC_STATUS_OK));
    assert_eq!(all.last(), Some(&SC_STATUS_PANIC));
    for s in &all {
        assert_eq!(scscale::sc_status::from_code(*s as i32), Some(*s));
        // SAFETY: sc_status_name returns a static NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(scscale::sc_status_name(*s as i32)) }.to_str().unwrap();
        assert_eq!(name, s.name());
        assert_eq!(format!("{s:?}"), name);
    }
    assert_eq!(scscale::sc_status::from_code(98), None);
    // SAFETY: as above.
    let unknown = unsafe { std::ffi::CStr::from_ptr(scscale::sc_status_name(98)) };
    assert_eq!(unknown.to_str().unwrap(), "SC_STATUS_UNKNOWN");
}

fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| if x == y { 0.0 } else { (x - y).abs() / y.abs().max(1.0) }).fold(0.0, f64::max)
}

/// Seurat's dense path (`FastRowScale`, long double sums in C) through the C ABI: the sparse
/// reference's values within rounding, the API's bits, and the refusals of what it cannot do.
#[test]
#[cfg_attr(miri, ignore = "calls the C kernel")]
fn seurat_dense_through_the_c_abi() {
    use scscale::*;
    let m = Csr {
        n_rows: 5,
        n_cols: 3,
        indptr: vec![0, 2, 3, 5, 6, 8],
        indices: vec![0, 2, 1, 0, 2, 1, 0, 2],
        data: vec![1.0, 3.5, 2.0, 4.0, 0.25, 7.0, 2.5, 1.0],
        f32_values: false,
    };
    let want = reference_scale(&m, &Opts::seurat());
    let d = dense_of(&m);
    for flavor in [SC_FLAVOR_SEURAT, SC_FLAVOR_SEURAT_MATRIXSTATS_1] {
        let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
        // SAFETY: a valid pointer to fill.
        assert_eq!(unsafe { sc_options_default(o.as_mut_ptr(), flavor) }, SC_STATUS_OK);
        // SAFETY: filled above.
        let o = unsafe { o.assume_init() };
        let x = sc_dense { n_rows: 5, n_cols: 3, data: d.as_ptr().cast(), data_len: d.len(), value_type: SC_VALUE_FLOAT64, row_stride: 0 };
        let mut out = vec![f64::NAN; 15];
        let od = sc_dense_out { data: out.as_mut_ptr().cast(), data_len: 15, value_type: SC_VALUE_FLOAT64, n_cols: 3, row_stride: 0 };
        // SAFETY: every buffer is live and sized as declared.
        assert_eq!(unsafe { sc_scale_dense(&x, &o, &od) }, SC_STATUS_OK, "{}", last_error());
        assert!(max_rel_diff(&out, &want.out) < 1e-14, "{:?} vs {:?}", out, want.out);
        // The same bits through the safe API.
        let api_flavor = if flavor == SC_FLAVOR_SEURAT { Flavor::Seurat } else { Flavor::SeuratMatrixStats1 };
        let mut out2 = vec![f64::NAN; 15];
        api::scale_dense(&DenseIn::new(5, 3, &d), &Options::new(api_flavor), DenseOut::new(&mut out2, 3), StatsOut::default()).unwrap();
        assert_bits_eq("C ABI vs API", &out, &out2);
        // float32, in place and statistics outputs are Scanpy's, not Seurat's dense path's.
        let mut d32: Vec<f32> = d.iter().map(|&v| v as f32).collect();
        let e = api::scale_dense(&DenseIn::new(5, 3, &d32), &Options::new(api_flavor), DenseOut::new(&mut out2, 3), StatsOut::default())
            .unwrap_err();
        assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
        let e = api::scale_dense_in_place(DenseInOut::new(5, 3, &mut d32), &Options::new(api_flavor), StatsOut::default()).unwrap_err();
        assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
        let mut mean = vec![0.0; 3];
        let e = api::scale_dense(
            &DenseIn::new(5, 3, &d),
            &Options::new(api_flavor),
            DenseOut::new(&mut out2, 3),
            StatsOut { mean: Some(&mut mean), ..StatsOut::default() },
        )
        .unwrap_err();
        assert_eq!(e.status, SC_STATUS_UNSUPPORTED, "{e}");
    }
}

/// `vars.to.regress` through the C ABI: regressing on the intercept alone leaves the centred
/// values, so the result is plain Seurat scaling within rounding; a second, collinear column
/// (2 x intercept) is dropped as R's qr() drops it.
#[test]
#[cfg_attr(miri, ignore = "floating-point loops over the pool; slow under Miri")]
fn regression_on_the_intercept_is_plain_scaling() {
    use scscale::*;
    let m = Csr {
        n_rows: 6,
        n_cols: 3,
        indptr: vec![0, 2, 3, 5, 6, 8, 9],
        indices: vec![0, 2, 1, 0, 2, 1, 0, 2, 1],
        data: vec![1.0, 3.5, 2.0, 4.0, 0.25, 7.0, 2.5, 1.0, 0.5],
        f32_values: false,
    };
    let want = reference_scale(&m, &Opts::seurat());
    let (p, i): (Vec<i32>, Vec<i32>) = (m.indptr.iter().map(|&v| v as i32).collect(), m.indices.iter().map(|&v| v as i32).collect());
    let design = [[1.0; 6], [2.0; 6]].concat();
    let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
    // SAFETY: a valid pointer to fill.
    assert_eq!(unsafe { sc_options_default(o.as_mut_ptr(), SC_FLAVOR_SEURAT) }, SC_STATUS_OK);
    // SAFETY: filled above.
    let o = unsafe { o.assume_init() };
    let x = sc_sparse {
        n_rows: 6,
        n_cols: 3,
        indptr: p.as_ptr().cast(),
        indptr_len: 7,
        indices: i.as_ptr().cast(),
        indices_len: 9,
        data: m.data.as_ptr().cast(),
        data_len: 9,
        index_type: SC_INDEX_INT32,
        value_type: SC_VALUE_FLOAT64,
        index_base: 0,
    };
    let reg = sc_regression { design: design.as_ptr(), design_len: 12, n_covariates: 2, use_umi: false };
    let mut out = vec![f64::NAN; 18];
    let od = sc_dense_out { data: out.as_mut_ptr().cast(), data_len: 18, value_type: SC_VALUE_FLOAT64, n_cols: 3, row_stride: 0 };
    // SAFETY: every buffer is live and sized as declared.
    assert_eq!(unsafe { sc_scale_csr_regressed(&x, &o, &reg, &od) }, SC_STATUS_OK, "{}", last_error());
    assert!(max_rel_diff(&out, &want.out) < 1e-13, "{:?} vs {:?}", out, want.out);
    // Scanpy has no regression; int64 indices are not R's dgCMatrix.
    let wide = sc_sparse { index_type: SC_INDEX_INT64, ..x };
    // SAFETY: the call refuses the type before reading any buffer.
    assert_eq!(unsafe { sc_scale_csr_regressed(&wide, &o, &reg, &od) }, SC_STATUS_UNSUPPORTED);
    let scanpy = sc_options { flavor: SC_FLAVOR_SCANPY, ..o };
    // SAFETY: as above.
    assert_eq!(unsafe { sc_scale_csr_regressed(&x, &scanpy, &reg, &od) }, SC_STATUS_UNSUPPORTED);
}
