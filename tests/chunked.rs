//! Chunked statistics through the C ABI: folding chunks in row order gives the in-memory bits;
//! a merge tree is deterministic and within a measured number of ulps.

mod common;
use common::*;
use proptest::prelude::*;
use scscale::*;
use std::ffi::c_void;
use std::ops::Range;

/// Rows `rows` of `m` as their own CSR matrix.
fn rows_of(m: &Csr, rows: std::ops::Range<usize>) -> Csr {
    let (a, b) = (m.indptr[rows.start] as usize, m.indptr[rows.end] as usize);
    Csr {
        n_rows: rows.len(),
        n_cols: m.n_cols,
        indptr: m.indptr[rows.start..=rows.end].iter().map(|&p| p - a as i64).collect(),
        indices: m.indices[a..b].to_vec(),
        data: m.data[a..b].to_vec(),
        f32_values: m.f32_values,
    }
}

fn chunk_opts(o: &Opts, rows: std::ops::Range<usize>) -> Opts {
    Opts { groups: o.groups.as_ref().map(|(g, n)| (g[rows].to_vec(), *n)), ..o.clone() }
}

fn acc_new(o: &Opts, n_genes: usize) -> Vec<f64> {
    let opts = options(o);
    let mut len = 0usize;
    assert_eq!(unsafe { sc_accumulator_len(&opts, n_genes as u64, &mut len) }, sc_status::SC_STATUS_OK, "{}", last_error());
    let mut acc = vec![0.0; len];
    assert_eq!(unsafe { sc_accumulator_init(&opts, n_genes as u64, acc.as_mut_ptr(), len) }, sc_status::SC_STATUS_OK);
    acc
}

fn fold(acc: &mut [f64], m: &Csr, o: &Opts, rows: std::ops::Range<usize>) {
    let chunk = rows_of(m, rows.clone());
    let co = chunk_opts(o, rows);
    let bufs = Buffers::new(&chunk, 0);
    let x = bufs.sparse(&chunk, &co);
    let opts = options(&co);
    let s = unsafe { sc_accumulate_csr(&x, &opts, acc.as_mut_ptr(), acc.len()) };
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
}

fn next_pass(acc: &mut [f64], o: &Opts, n_genes: usize) {
    let opts = options(o);
    assert_eq!(
        unsafe { sc_accumulator_next_pass(&opts, n_genes as u64, acc.as_mut_ptr(), acc.len()) },
        sc_status::SC_STATUS_OK,
        "{}",
        last_error()
    );
}

fn finalize(acc: &[f64], o: &Opts, n_genes: usize) -> [Vec<f64>; 3] {
    let mut opts = options(o);
    let n = o.n_groups() * n_genes;
    let (mut mean, mut var, mut std) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    (opts.mean_out, opts.mean_out_len, opts.var_out, opts.var_out_len, opts.std_out, opts.std_out_len) =
        (mean.as_mut_ptr(), n, var.as_mut_ptr(), n, std.as_mut_ptr(), n);
    assert_eq!(
        unsafe { sc_accumulator_finalize(&opts, n_genes as u64, acc.as_ptr(), acc.len()) },
        sc_status::SC_STATUS_OK,
        "{}",
        last_error()
    );
    [mean, var, std]
}

/// All passes of a fold over `bounds` (chunk boundaries, including 0 and n_rows).
fn folded(m: &Csr, o: &Opts, bounds: &[usize]) -> [Vec<f64>; 3] {
    let mut acc = acc_new(o, m.n_cols);
    for pass in 0..if o.seurat { 2 } else { 1 } {
        if pass == 1 {
            next_pass(&mut acc, o, m.n_cols);
        }
        for w in bounds.windows(2) {
            fold(&mut acc, m, o, w[0]..w[1]);
        }
    }
    finalize(&acc, o, m.n_cols)
}

fn matrix(n_rows: usize, n_cols: usize, seed: u64) -> Csr {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut m = Csr { n_rows, n_cols, indptr: vec![0], indices: vec![], data: vec![], f32_values: false };
    for _ in 0..n_rows {
        for c in 0..n_cols {
            if next() < 0.3 {
                m.indices.push(c as i64);
                m.data.push((1.0 + 30.0 * next()).ln());
            }
        }
        m.indptr.push(m.indices.len() as i64);
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn folding_chunks_in_order_gives_the_in_memory_bits(
        n_rows in 0usize..40, n_cols in 1usize..12, seed in any::<u64>(),
        seurat in any::<bool>(), center in any::<bool>(), scale in any::<bool>(), partitions in 1usize..5,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        grouped in any::<bool>(),
    ) {
        let m = matrix(n_rows, n_cols, seed);
        let groups = grouped.then(|| ((0..n_rows).map(|r| (r % 3) as i32 - 1).collect::<Vec<_>>(), 2));
        let o = Opts { seurat, center, scale: scale || !seurat, partitions, groups, max_value: seurat.then_some(10.0), ..Opts::scanpy() };
        let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(n_rows + 1)).collect();
        bounds.extend([0, n_rows]);
        bounds.sort();
        let [mean, var, std] = folded(&m, &o, &bounds);
        let whole = abi_scale(&m, &o).unwrap();
        assert_bits_eq("mean", &mean, &whole.mean);
        assert_bits_eq("var", &var, &whole.var);
        assert_bits_eq("std", &std, &whole.std);
    }
}

/// Balanced merge tree over chunks of `chunk` rows (pass 1 only: Scanpy).
fn tree(m: &Csr, o: &Opts, chunk: usize) -> Vec<f64> {
    let mut level: Vec<Vec<f64>> = (0..m.n_rows)
        .step_by(chunk)
        .map(|s| {
            let mut acc = acc_new(o, m.n_cols);
            fold(&mut acc, m, o, s..(s + chunk).min(m.n_rows));
            acc
        })
        .collect();
    let opts = options(o);
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let mut a = pair[0].clone();
                if let Some(b) = pair.get(1) {
                    let s = unsafe { sc_accumulator_merge(&opts, m.n_cols as u64, a.as_mut_ptr(), a.len(), b.as_ptr(), b.len()) };
                    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
                }
                a
            })
            .collect();
    }
    level.pop().unwrap()
}

fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[test]
fn merge_tree_is_deterministic_and_close() {
    // Claim (README): measured 15 ulps here; fail above 32 so a change in rounding is noticed.
    let m = matrix(3000, 50, 7);
    let mut worst = 0;
    for partitions in [1, 2, 3, 4] {
        let o = Opts { partitions, threads: 2, ..Opts::scanpy() };
        let acc = tree(&m, &o, 97);
        let again = tree(&m, &Opts { threads: 1, ..o.clone() }, 97);
        assert_bits_eq("same tree, other thread count", &acc, &again);
        let [mean, _, std] = finalize(&acc, &o, m.n_cols);
        let whole = abi_scale(&m, &o).unwrap();
        for c in 0..m.n_cols {
            worst = worst.max(ulps(mean[c], whole.mean[c])).max(ulps(std[c], whole.std[c]));
        }
    }
    eprintln!("merge tree: worst difference {worst} ulps");
    assert!(worst <= 32, "merge tree differs by {worst} ulps");
}

#[test]
fn seurat_accumulator_refuses_finalize_before_second_pass_and_mismatched_options() {
    let m = matrix(10, 4, 1);
    let o = Opts::seurat();
    let mut acc = acc_new(&o, 4);
    fold(&mut acc, &m, &o, 0..10);
    let mut opts = options(&o);
    let mut mean = [0.0; 4];
    (opts.mean_out, opts.mean_out_len) = (mean.as_mut_ptr(), 4);
    assert_eq!(unsafe { sc_accumulator_finalize(&opts, 4, acc.as_ptr(), acc.len()) }, sc_status::SC_STATUS_INVALID_ACCUMULATOR);
    // Other options: the header says so, whatever length they imply.
    let scanpy = options(&Opts::scanpy());
    assert_eq!(unsafe { sc_accumulator_next_pass(&scanpy, 4, acc.as_mut_ptr(), acc.len()) }, sc_status::SC_STATUS_INVALID_ACCUMULATOR);
    assert_eq!(unsafe { sc_accumulator_next_pass(&options(&o), 4, acc.as_mut_ptr(), acc.len() - 1) }, sc_status::SC_STATUS_STATS_LENGTH);
    let mut wrong_header = acc.clone();
    wrong_header[0] = 0.0;
    assert_eq!(
        unsafe { sc_accumulator_next_pass(&options(&o), 4, wrong_header.as_mut_ptr(), acc.len()) },
        sc_status::SC_STATUS_INVALID_ACCUMULATOR
    );
}

// ---------------------------------------------------------------------------------------------
// Dense chunks (Scanpy 2c: sequential sums, independent of n_partitions).

/// A row-major dense matrix with a row stride (padding is NaN: it must never be read).
#[derive(Clone, Debug)]
struct DenseM {
    n_rows: usize,
    n_cols: usize,
    stride: usize,
    d64: Vec<f64>,
    d32: Vec<f32>,
    f32_values: bool,
}

impl DenseM {
    /// Every entry stored, zeros included (the reference's CSR of T = 1 sums in numpy's order).
    fn as_csr(&self) -> Csr {
        let mut m =
            Csr { n_rows: self.n_rows, n_cols: self.n_cols, indptr: vec![0], indices: vec![], data: vec![], f32_values: self.f32_values };
        for r in 0..self.n_rows {
            for c in 0..self.n_cols {
                m.indices.push(c as i64);
                m.data.push(self.d64[r * self.stride + c]);
            }
            m.indptr.push(m.indices.len() as i64);
        }
        m
    }

    /// Rows `rows` as a borrowed `sc_dense` (no copy: a chunk of the whole matrix's memory).
    fn view(&self, rows: Range<usize>) -> sc_dense {
        let len = if rows.is_empty() { 0 } else { (rows.len() - 1) * self.stride + self.n_cols };
        let start = rows.start * self.stride;
        let (data, value_type) = if self.f32_values {
            (self.d32[start..].as_ptr() as *const c_void, SC_VALUE_FLOAT32)
        } else {
            (self.d64[start..].as_ptr() as *const c_void, SC_VALUE_FLOAT64)
        };
        sc_dense { n_rows: rows.len() as u64, n_cols: self.n_cols as u64, data, data_len: len, value_type, row_stride: self.stride as u64 }
    }
}

fn dense_matrix() -> impl Strategy<Value = DenseM> {
    // Two columns or more: numpy sums a single column pairwise, which every dense call refuses.
    (0usize..40, 2usize..12, 0usize..3, any::<bool>()).prop_flat_map(|(n_rows, n_cols, pad, f32_values)| {
        // Per column: random values, or a constant (0.1f and 0.3f give var > 0 and var < 0 in f32).
        let column = prop_oneof![
            3 => Just(None),
            1 => prop_oneof![Just(0.0), Just(0.1), Just(0.3), Just(-7.25)].prop_map(Some),
        ];
        let value = prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(-2.5),
            Just(1e30),
            (-1000i32..1000).prop_map(|v| v as f64 / 7.0),
            any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| v / 1e290),
        ];
        (proptest::collection::vec(column, n_cols), proptest::collection::vec(value, n_rows * n_cols)).prop_map(move |(cols, vals)| {
            let stride = n_cols + pad;
            let mut d64 = vec![f64::NAN; n_rows * stride];
            for r in 0..n_rows {
                for c in 0..n_cols {
                    let v = cols[c].unwrap_or(vals[r * n_cols + c]);
                    d64[r * stride + c] = if f32_values { v as f32 as f64 } else { v };
                }
            }
            let d32 = d64.iter().map(|&v| v as f32).collect();
            DenseM { n_rows, n_cols, stride, d64, d32, f32_values }
        })
    })
}

/// `sc_stats_dense` of `rows` with a fresh set of statistics outputs.
fn stats_dense(m: &DenseM, o: &Opts) -> [Vec<f64>; 3] {
    let mut opts = options(o);
    let n = o.n_groups() * m.n_cols;
    let (mut mean, mut var, mut std) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    (opts.mean_out, opts.mean_out_len, opts.var_out, opts.var_out_len, opts.std_out, opts.std_out_len) =
        (mean.as_mut_ptr(), n, var.as_mut_ptr(), n, std.as_mut_ptr(), n);
    let x = m.view(0..m.n_rows);
    assert_eq!(unsafe { sc_stats_dense(&x, &opts) }, sc_status::SC_STATUS_OK, "{}", last_error());
    [mean, var, std]
}

fn fold_dense(acc: &mut [f64], m: &DenseM, o: &Opts, rows: Range<usize>) {
    let co = chunk_opts(o, rows.clone());
    let x = m.view(rows);
    let s = unsafe { sc_accumulate_dense(&x, &options(&co), acc.as_mut_ptr(), acc.len()) };
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
}

/// `sc_scale_dense` of `rows` (with the given statistics, if any) as f64, row-major, n_cols wide.
fn scale_dense(m: &DenseM, o: &Opts, rows: Range<usize>, given: Option<(&[f64], &[f64])>) -> Vec<f64> {
    let co = chunk_opts(o, rows.clone());
    let mut opts = options(&co);
    if let Some((mean, std)) = given {
        (opts.given_mean, opts.given_mean_len, opts.given_std, opts.given_std_len) = (mean.as_ptr(), mean.len(), std.as_ptr(), std.len());
    }
    let len = rows.len() * m.n_cols;
    let (mut out64, mut out32) = (vec![f64::NAN; len], vec![f32::NAN; len]);
    let out = sc_dense_out {
        data: if o.f32_out { out32.as_mut_ptr() as *mut c_void } else { out64.as_mut_ptr() as *mut c_void },
        data_len: len,
        value_type: if o.f32_out { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
        n_cols: m.n_cols as u64,
        row_stride: 0,
    };
    let x = m.view(rows);
    assert_eq!(unsafe { sc_scale_dense(&x, &opts, &out) }, sc_status::SC_STATUS_OK, "{}", last_error());
    if o.f32_out {
        out32.iter().map(|&v| v as f64).collect()
    } else {
        out64
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn folding_dense_chunks_in_order_gives_the_in_memory_bits(
        m in dense_matrix(),
        partitions in 1usize..5, threads in 1u32..4, threads_whole in 1u32..4,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        groups in proptest::option::of((1usize..4, any::<u64>())),
        center in any::<bool>(), max_value in proptest::option::of(prop_oneof![Just(0.5), Just(3.0)]), f32_out in any::<bool>(),
    ) {
        let n_rows = m.n_rows;
        // Labels -1..n_groups from a seed (-1: in no group).
        let groups = groups.map(|(n, seed)| {
            ((0..n_rows).map(|r| ((seed >> (r % 60)) as usize % (n + 1)) as i32 - 1).collect::<Vec<_>>(), n)
        });
        let o = Opts { partitions, threads, groups, center, max_value, f32_out, ..Opts::scanpy() };
        let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(n_rows + 1)).collect();
        bounds.extend([0, n_rows]);
        bounds.sort();

        let mut acc = acc_new(&o, m.n_cols);
        for w in bounds.windows(2) {
            fold_dense(&mut acc, &m, &o, w[0]..w[1]);
        }
        let [mean, var, std] = finalize(&acc, &o, m.n_cols);
        let whole_o = Opts { threads: threads_whole, ..o.clone() };
        let [wmean, wvar, wstd] = stats_dense(&m, &whole_o);
        assert_bits_eq("mean", &mean, &wmean);
        assert_bits_eq("var", &var, &wvar);
        assert_bits_eq("std", &std, &wstd);
        // And both are the plain reference: every entry stored, one partition (Scanpy 2c).
        let refst = reference_stats(&m.as_csr(), &Opts { partitions: 1, ..o.clone() });
        for (i, (what, got)) in [("reference mean", &mean), ("reference var", &var), ("reference std", &std)].into_iter().enumerate() {
            assert_bits_eq(what, got, &refst.iter().map(|t| t[i]).collect::<Vec<_>>());
        }

        // The chunks scaled with the finalised statistics are the in-memory result, row for row.
        let whole = scale_dense(&m, &whole_o, 0..n_rows, None);
        for w in bounds.windows(2) {
            let part = scale_dense(&m, &o, w[0]..w[1], Some((&mean, &std)));
            assert_bits_eq("scaled chunk", &part, &whole[w[0] * m.n_cols..w[1] * m.n_cols]);
        }
    }
}

#[test]
fn dense_accumulator_refuses_bad_input_and_leaves_it_untouched() {
    let m = DenseM { n_rows: 3, n_cols: 3, stride: 3, d64: (1..=9).map(f64::from).collect(), d32: vec![], f32_values: false };
    let o = Opts { partitions: 2, ..Opts::scanpy() };
    let mut acc = acc_new(&o, 3);
    fold_dense(&mut acc, &m, &o, 0..1);
    let before = acc.clone();
    let x = m.view(1..3);
    let opts = options(&o);
    let call = |x: *const sc_dense, opts: &sc_options, acc: &mut Vec<f64>, len: usize| unsafe {
        sc_accumulate_dense(x, opts, acc.as_mut_ptr(), len)
    };
    let mut a = acc.clone();
    let n = a.len();
    assert_eq!(call(std::ptr::null(), &opts, &mut a, n), sc_status::SC_STATUS_NULL_POINTER);
    assert_eq!(unsafe { sc_accumulate_dense(&x, &opts, std::ptr::null_mut(), n) }, sc_status::SC_STATUS_NULL_POINTER);
    assert_eq!(call(&x, &opts, &mut a, n - 1), sc_status::SC_STATUS_STATS_LENGTH);
    assert_eq!(call(&x, &options(&Opts::seurat()), &mut a, n), sc_status::SC_STATUS_UNSUPPORTED);
    assert!(last_error().contains("FastRowScale"), "{}", last_error());
    let mut narrow = m.view(1..3);
    narrow.n_cols = 2; // an accumulator for 3 genes
    assert_eq!(call(&narrow, &opts, &mut a, n), sc_status::SC_STATUS_INVALID_ACCUMULATOR);
    let mut short = m.view(1..3);
    short.data_len = 3;
    assert_eq!(call(&short, &opts, &mut a, n), sc_status::SC_STATUS_LENGTH_MISMATCH);
    let mut strided = m.view(1..3);
    strided.row_stride = 1;
    assert_eq!(call(&strided, &opts, &mut a, n), sc_status::SC_STATUS_INVALID_STRIDE);
    let bad_groups = [0i32, 5];
    let go = Opts { groups: Some((bad_groups.to_vec(), 2)), ..o.clone() };
    let mut gopts = options(&go);
    gopts.groups = bad_groups.as_ptr();
    assert_eq!(call(&x, &gopts, &mut a, n), sc_status::SC_STATUS_INVALID_GROUP);
    // The accumulator over the matrix it reads: an output overlapping an input.
    let mut overlap = vec![0.0f64; n + 9];
    overlap[..n].copy_from_slice(&acc);
    let xo = sc_dense { data: overlap.as_ptr() as *const c_void, data_len: 6, ..m.view(1..3) };
    let copy = overlap.clone();
    assert_eq!(unsafe { sc_accumulate_dense(&xo, &opts, overlap.as_mut_ptr(), n) }, sc_status::SC_STATUS_OVERLAP);
    assert_bits_eq("overlapping accumulator", &overlap, &copy);
    assert_bits_eq("accumulator after refused calls", &a, &before);

    // Dense sums do not depend on n_partitions: partitions 2 gives the bits of partitions 1.
    fold_dense(&mut acc, &m, &o, 1..3);
    let one = Opts { partitions: 1, ..Opts::scanpy() };
    let mut acc1 = acc_new(&one, 3);
    fold_dense(&mut acc1, &m, &one, 0..3);
    let (a2, a1) = (finalize(&acc, &o, 3), finalize(&acc1, &one, 3));
    for i in 0..3 {
        assert_bits_eq("partitions 2 vs 1", &a2[i], &a1[i]);
    }
    assert_eq!(a1[0], vec![4.0, 5.0, 6.0]);
}

#[test]
fn seurat_pass_two_merge_accepts_nan_sums() {
    // Pass-2 accumulators must start from the same pass-1 sums; a NaN sum is the same as itself
    // (compared bitwise; `!=` refused it).
    let mut m = matrix(10, 3, 5);
    m.data[0] = f64::NAN;
    let o = Opts::seurat();
    let mut first = acc_new(&o, 3);
    fold(&mut first, &m, &o, 0..10);
    next_pass(&mut first, &o, 3);
    let mut second = first.clone();
    fold(&mut first, &m, &o, 0..4);
    fold(&mut second, &m, &o, 4..10);
    let s = unsafe { sc_accumulator_merge(&options(&o), 3, first.as_mut_ptr(), first.len(), second.as_ptr(), second.len()) };
    assert_eq!(s, sc_status::SC_STATUS_OK, "{}", last_error());
}

#[test]
fn corrupted_counts_are_refused() {
    // Counts become integers: a corrupted buffer (negative, fractional, NaN, beyond 2^53) must be
    // refused, not overflow.
    let m = matrix(6, 2, 3);
    for o in [Opts::scanpy(), Opts::seurat()] {
        let mut acc = acc_new(&o, 2);
        fold(&mut acc, &m, &o, 0..6);
        let last = acc.len() - 1; // Seurat: a stored-entry count
        for (k, v) in [(8, -1.0), (8, 0.5), (8, f64::NAN), (8, 1e300), (last, -1e300)] {
            if k == last && !o.seurat {
                continue;
            }
            let mut bad = acc.clone();
            bad[k] = v;
            let copy = bad.clone();
            let chunk = rows_of(&m, 0..6);
            let bufs = Buffers::new(&chunk, 0);
            let x = bufs.sparse(&chunk, &o);
            let s = unsafe { sc_accumulate_csr(&x, &options(&o), bad.as_mut_ptr(), bad.len()) };
            assert_eq!(s, sc_status::SC_STATUS_INVALID_ACCUMULATOR, "count {k} = {v}");
            assert_bits_eq("refused accumulator", &bad, &copy);
        }
    }
}
