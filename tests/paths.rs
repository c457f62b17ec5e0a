//! The CSC, dense and same-pattern paths. For float64 input without -0.0, Scanpy's CSC and dense
//! statistics sum in the same order as its CSR statistics with T = 1, so all three must give the
//! same bits; each path must also ignore the thread count. (Their float32 rules are checked against
//! the real Scanpy in tests/golden.rs.)

mod common;
use common::*;
use proptest::prelude::*;
use scscale::*;
use std::ffi::c_void;

fn f64_matrix() -> impl Strategy<Value = Csr> {
    (0usize..7, 1usize..6).prop_flat_map(|(n_rows, n_cols)| {
        proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![Just(0.0), Just(1.0), Just(0.1), Just(-2.5), Just(1e300), (-50i32..50).prop_map(|v| v as f64 / 3.0)],
                n_cols,
            ),
            n_rows,
        )
        .prop_map(move |rows| {
            let mut m = Csr { n_rows, n_cols, indptr: vec![0], indices: vec![], data: vec![], f32_values: false };
            for row in rows {
                for (c, v) in row.into_iter().enumerate() {
                    if v != 0.0 || c % 3 == 0 {
                        // keep some explicit zeros
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
    let mut d = vec![0.0; m.n_rows * m.n_cols];
    for r in 0..m.n_rows {
        for j in m.row(r) {
            d[r * m.n_cols + m.indices[j] as usize] = m.data[j];
        }
    }
    d
}

/// CSC arrays (int64) of `m`: per gene, rows ascending.
fn csc_of(m: &Csr) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
    let (mut indptr, mut indices, mut data) = (vec![0i64], vec![], vec![]);
    for c in 0..m.n_cols {
        for r in 0..m.n_rows {
            for j in m.row(r) {
                if m.indices[j] as usize == c {
                    indices.push(r as i64);
                    data.push(m.data[j]);
                }
            }
        }
        indptr.push(indices.len() as i64);
    }
    (indptr, indices, data)
}

fn scanpy_opts(max_value: Option<f64>, center: bool, threads: u32, groups: &Option<Vec<i32>>) -> sc_options {
    let mut o = options(&Opts { center, max_value, threads, ..Opts::scanpy() });
    if let Some(g) = groups {
        o.groups = g.as_ptr();
        o.groups_len = g.len();
        o.n_groups = 1;
    }
    o
}

fn run_csc(m: &Csr, o: &sc_options) -> Vec<f64> {
    let (indptr, indices, data) = csc_of(m);
    let x = sparse_of(m.n_rows, m.n_cols, &indptr, &indices, &data);
    let mut out = vec![0.0f64; m.n_rows * m.n_cols];
    let d = sc_dense_out {
        data: out.as_mut_ptr() as *mut c_void,
        data_len: out.len(),
        value_type: SC_VALUE_FLOAT64,
        n_cols: m.n_cols as u64,
        row_stride: 0,
    };
    let s = unsafe { sc_scale_csc(&x, o, &d) };
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
    out
}

/// `sc_scale_csc_colmajor` into a `W` buffer with `n_out` output columns, read back row-major.
fn run_csc_colmajor<W: Copy + Default + Into<f64>>(
    m: &Csr,
    o: &sc_options,
    n_out: usize,
    value_type: sc_value_type,
) -> Result<Vec<f64>, sc_status> {
    let (indptr, indices, data) = csc_of(m);
    let x = sparse_of(m.n_rows, m.n_cols, &indptr, &indices, &data);
    let mut out = vec![W::default(); m.n_rows * n_out];
    let d = sc_dense_out { data: out.as_mut_ptr() as *mut c_void, data_len: out.len(), value_type, n_cols: n_out as u64, row_stride: 0 };
    match unsafe { sc_scale_csc_colmajor(&x, o, &d) } {
        sc_status::SC_STATUS_OK => Ok((0..m.n_rows * n_out).map(|k| out[(k % n_out) * m.n_rows + k / n_out].into()).collect()),
        s => Err(s),
    }
}

/// `sc_scale_csc` (row-major) into a `W` buffer with `n_out` output columns.
fn run_csc_rowmajor<W: Copy + Default + Into<f64>>(m: &Csr, o: &sc_options, n_out: usize, value_type: sc_value_type) -> Vec<f64> {
    let (indptr, indices, data) = csc_of(m);
    let x = sparse_of(m.n_rows, m.n_cols, &indptr, &indices, &data);
    let mut out = vec![W::default(); m.n_rows * n_out];
    let d = sc_dense_out { data: out.as_mut_ptr() as *mut c_void, data_len: out.len(), value_type, n_cols: n_out as u64, row_stride: 0 };
    assert_eq!(unsafe { sc_scale_csc(&x, o, &d) }, sc_status::SC_STATUS_OK, "{}", last_error());
    out.into_iter().map(Into::into).collect()
}

/// `sc_scale_dense` of `m` densified, or None when it is refused (one column).
fn run_dense(m: &Csr, o: &sc_options, in_place: bool) -> Option<Vec<f64>> {
    let mut input = dense_of(m);
    let mut out = vec![0.0f64; input.len()];
    let x = sc_dense {
        n_rows: m.n_rows as u64,
        n_cols: m.n_cols as u64,
        data: input.as_ptr() as *const c_void,
        data_len: input.len(),
        value_type: SC_VALUE_FLOAT64,
        row_stride: 0,
    };
    let target = if in_place { input.as_mut_ptr() } else { out.as_mut_ptr() };
    let d = sc_dense_out {
        data: target as *mut c_void,
        data_len: input.len(),
        value_type: SC_VALUE_FLOAT64,
        n_cols: m.n_cols as u64,
        row_stride: 0,
    };
    let s = unsafe { sc_scale_dense(&x, o, &d) };
    if m.n_cols == 1 && o.given_mean.is_null() {
        // numpy sums a single column pairwise: refused, the input left as it was.
        assert_eq!(s, sc_status::SC_STATUS_UNSUPPORTED, "{}", last_error());
        assert_eq!(input, dense_of(m));
        return None;
    }
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
    Some(if in_place { input } else { out })
}

fn run_csr_values(m: &Csr, o: &sc_options, in_place: bool) -> Vec<f64> {
    let bufs = Buffers::new(m, 0);
    let mut data = bufs.data64.clone();
    let mut x = bufs.sparse(m, &Opts::scanpy());
    x.data = data.as_ptr() as *const c_void;
    let mut out = vec![0.0f64; data.len()];
    let target = if in_place { data.as_mut_ptr() } else { out.as_mut_ptr() };
    let v = sc_values_out { data: target as *mut c_void, data_len: data.len(), value_type: SC_VALUE_FLOAT64 };
    let s = unsafe { sc_scale_csr_values(&x, o, &v) };
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
    if in_place {
        data
    } else {
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 1 } else { 300 }, ..ProptestConfig::default() })]

    #[test]
    fn csc_and_dense_equal_csr_with_one_partition(
        m in f64_matrix(),
        max_value in prop_oneof![Just(None), Just(Some(0.5)), Just(Some(3.0))],
        center in any::<bool>(),
        mask_bits in any::<u32>(),
        masked in any::<bool>(),
    ) {
        let groups = masked.then(|| (0..m.n_rows).map(|r| if mask_bits >> (r % 32) & 1 == 1 { 0 } else { -1 }).collect::<Vec<i32>>());
        let reference = abi_scale(&m, &Opts { center, max_value, groups: groups.clone().map(|g| (g, 1)), ..Opts::scanpy() }).unwrap().out;
        for threads in [1, 3] {
            let o = scanpy_opts(max_value, center, threads, &groups);
            assert_bits_eq("csc", &run_csc(&m, &o), &reference);
            assert_bits_eq("csc column-major", &run_csc_colmajor::<f64>(&m, &o, m.n_cols, SC_VALUE_FLOAT64).unwrap(), &reference);
            if let Some(dense) = run_dense(&m, &o, false) {
                assert_bits_eq("dense", &dense, &reference);
                assert_bits_eq("dense in place", &run_dense(&m, &o, true).unwrap(), &reference);
            }
        }
    }

    #[test]
    fn csc_column_major_is_the_row_major_result_transposed(
        m in f64_matrix(),
        max_value in prop_oneof![Just(None), Just(Some(0.5))],
        center in any::<bool>(),
        mask_bits in any::<u32>(),
        masked in any::<bool>(),
        mapped in any::<bool>(),
        float32 in any::<bool>(),
        threads in 1u32..4,
    ) {
        let groups = masked.then(|| (0..m.n_rows).map(|r| if mask_bits >> (r % 32) & 1 == 1 { 0 } else { -1 }).collect::<Vec<i32>>());
        let mut o = scanpy_opts(max_value, center, threads, &groups);
        // Reversed genes, the first one skipped.
        let map: Vec<i64> = (0..m.n_cols as i64).map(|c| if c == 0 { -1 } else { m.n_cols as i64 - 1 - c }).collect();
        let n_out = if mapped {
            o.column_map = map.as_ptr();
            o.column_map_len = map.len();
            m.n_cols - 1
        } else {
            m.n_cols
        };
        let (want, got) = if float32 {
            (run_csc_rowmajor::<f32>(&m, &o, n_out, SC_VALUE_FLOAT32), run_csc_colmajor::<f32>(&m, &o, n_out, SC_VALUE_FLOAT32))
        } else {
            (run_csc_rowmajor::<f64>(&m, &o, n_out, SC_VALUE_FLOAT64), run_csc_colmajor::<f64>(&m, &o, n_out, SC_VALUE_FLOAT64))
        };
        assert_bits_eq("column-major", &got.unwrap_or_else(|s| panic!("{s:?}: {}", last_error())), &want);
    }

    #[test]
    fn csr_values_follow_scanpy_min_rule(
        m in f64_matrix(),
        max_value in prop_oneof![Just(None), Just(Some(0.5)), Just(Some(3.0))],
        partitions in 1usize..4,
    ) {
        let stats = reference_stats(&m, &Opts { partitions, ..Opts::scanpy() });
        let want: Vec<f64> = (0..m.n_rows)
            .flat_map(|r| m.row(r))
            .map(|j| {
                let q = m.data[j] / stats[m.indices[j] as usize][2];
                match max_value { Some(mx) => if q < mx { q } else { mx }, None => q }
            })
            .collect();
        for threads in [1, 2] {
            let mut o = scanpy_opts(max_value, false, threads, &None);
            o.n_partitions = partitions as u32;
            assert_bits_eq("values", &run_csr_values(&m, &o, false), &want);
            assert_bits_eq("values in place", &run_csr_values(&m, &o, true), &want);
        }
    }
}

#[test]
fn given_statistics_are_applied_verbatim() {
    let m = Csr { n_rows: 2, n_cols: 2, indptr: vec![0, 1, 2], indices: vec![0, 1], data: vec![4.0, 9.0], f32_values: false };
    let bufs = Buffers::new(&m, 0);
    let x = bufs.sparse(&m, &Opts::seurat());
    let mut o = options(&Opts::seurat());
    let (mean, std) = ([1.0, 2.0], [2.0, 0.0]);
    o.given_mean = mean.as_ptr();
    o.given_mean_len = 2;
    o.given_std = std.as_ptr();
    o.given_std_len = 2;
    let mut out = [0.0f64; 4];
    let d = sc_dense_out { data: out.as_mut_ptr() as *mut c_void, data_len: 4, value_type: SC_VALUE_FLOAT64, n_cols: 2, row_stride: 0 };
    assert_eq!(unsafe { sc_scale_csr(&x, &o, &d) }, sc_status::SC_STATUS_OK);
    // gene 0: (4-1)/2, (0-1)/2; gene 1: std 0 -> +-inf, clipped above at 10, NaN -> 0 does not apply.
    assert_eq!(out, [1.5, f64::NEG_INFINITY, -0.5, 10.0]);
}

#[test]
fn seurat_refuses_duplicates_in_sorted_and_unsorted_rows() {
    for indices in [vec![1i64, 0, 1], vec![0, 1, 1]] {
        let m = Csr { n_rows: 1, n_cols: 2, indptr: vec![0, 3], indices, data: vec![1.0, 2.0, 3.0], f32_values: false };
        let err = abi_scale(&m, &Opts::seurat()).unwrap_err();
        assert_eq!(err.0, sc_status::SC_STATUS_DUPLICATE_ENTRY, "{}", err.1);
        // Scanpy sums them (scipy's todense), as the reference does.
        let got = abi_scale(&m, &Opts::scanpy()).unwrap();
        assert_bits_eq("scanpy duplicates", &got.out, &reference_scale(&m, &Opts::scanpy()).out);
    }
}

#[test]
fn empty_buffers_at_one_address_are_not_in_place_use() {
    // Empty Rust (and some C allocators') arrays share an address; nothing overlaps, so the
    // in-place rules (same type and stride) must not apply. Was SC_STATUS_OVERLAP.
    let addr = std::ptr::NonNull::<f64>::dangling().as_ptr() as *mut c_void;
    let o = options(&Opts::scanpy());
    let x = sc_dense { n_rows: 0, n_cols: 2, data: addr, data_len: 0, value_type: SC_VALUE_FLOAT64, row_stride: 3 };
    let d = sc_dense_out { data: addr, data_len: 0, value_type: SC_VALUE_FLOAT32, n_cols: 2, row_stride: 0 };
    assert_eq!(unsafe { sc_scale_dense(&x, &o, &d) }, sc_status::SC_STATUS_OK, "{}", last_error());
    let indptr = [0i32, 0];
    let mut v = options(&Opts { center: false, ..Opts::scanpy() });
    v.n_threads = 1;
    let xs = sc_sparse { indices: addr, data: addr, ..sparse_of::<i32, f64>(1, 2, &indptr, &[], &[]) };
    let out = sc_values_out { data: addr, data_len: 0, value_type: SC_VALUE_FLOAT32 };
    assert_eq!(unsafe { sc_scale_csr_values(&xs, &v, &out) }, sc_status::SC_STATUS_OK, "{}", last_error());
}

#[test]
fn csc_column_major_refuses_what_it_cannot_write() {
    let m = Csr { n_rows: 3, n_cols: 2, indptr: vec![0, 1, 2, 3], indices: vec![0, 1, 0], data: vec![1.0, 2.0, 3.0], f32_values: false };
    let (indptr, indices, data) = csc_of(&m);
    let x = sparse_of(m.n_rows, m.n_cols, &indptr, &indices, &data);
    let o = scanpy_opts(None, true, 1, &None);
    let mut out = vec![-7.0f64; 6];
    let call = |len: usize, stride: u64, o: &sc_options, out: &mut Vec<f64>| {
        let d = sc_dense_out {
            data: out.as_mut_ptr() as *mut c_void,
            data_len: len,
            value_type: SC_VALUE_FLOAT64,
            n_cols: 2,
            row_stride: stride,
        };
        unsafe { sc_scale_csc_colmajor(&x, o, &d) }
    };
    assert_eq!(call(5, 0, &o, &mut out), sc_status::SC_STATUS_OUTPUT_TOO_SMALL);
    assert!(last_error().contains("3 rows x 2 columns in column-major order need 6"), "{}", last_error());
    assert_eq!(call(6, 3, &o, &mut out), sc_status::SC_STATUS_UNSUPPORTED);
    assert!(last_error().contains("row_stride"), "{}", last_error());
    assert_eq!(call(6, 0, &options(&Opts::seurat()), &mut out), sc_status::SC_STATUS_UNSUPPORTED);
    assert!(out.iter().all(|&v| v == -7.0), "nothing is written on failure");
    assert_eq!(call(6, 0, &o, &mut out), sc_status::SC_STATUS_OK, "{}", last_error());
    // Gene 0 holds cells 0 and 2: column 0 of the column-major result is its three z-scores.
    let (mean, var) = (4.0 / 3.0, (1.0f64 + 9.0) / 3.0 - (4.0f64 / 3.0) * (4.0f64 / 3.0));
    let sd = (var * 1.5).sqrt();
    assert_eq!(out[0], (1.0 - mean) / sd);
    assert_eq!(out[1], (0.0 - mean) / sd);
    assert_eq!(out[2], (3.0 - mean) / sd);
}

#[test]
fn indices_out_of_range_are_found_in_sorted_and_unsorted_rows() {
    // Sorted rows are range-checked at their ends, others by a full scan: both must catch it.
    let cases: [(Vec<i64>, &str); 6] = [
        (vec![0, 1, 3], "increasing, last = n_cols"),
        (vec![-1, 0, 1], "increasing, first negative"),
        (vec![1, 0, 3], "unsorted, last = n_cols"),
        (vec![0, 9, 1], "unsorted, middle too big"),
        (vec![1, -2, 0], "unsorted, middle negative"),
        (vec![0, 0, 3], "non-decreasing, last = n_cols"),
    ];
    for (indices, what) in cases {
        let m = Csr { n_rows: 2, n_cols: 3, indptr: vec![0, 0, 3], indices, data: vec![1.0, 2.0, 3.0], f32_values: false };
        for opts in [Opts::scanpy(), Opts::seurat()] {
            let err = abi_scale(&m, &opts).unwrap_err();
            assert_eq!(err.0, sc_status::SC_STATUS_INDEX_OUT_OF_RANGE, "{what}: {}", err.1);
            assert!(err.1.contains("out of range"), "{what}: {}", err.1);
        }
    }
}
