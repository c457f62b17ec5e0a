//! Property tests: the C ABI equals the plain reference bit for bit, for both flavors and every
//! option, and the bits never depend on the worker thread count.

mod common;
use common::*;
use proptest::prelude::*;

/// Values that exercise the references' corner cases.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(0.1),
        Just(0.3),
        Just(-2.5),
        Just(1e-300),
        Just(1e300),
        Just(3.0e19),
        Just(1e-20),
        (-1000i32..1000).prop_map(|x| x as f64 / 7.0),
        (0.0f64..10.0).prop_map(|x| (1.0 + x).ln()),
    ]
}

prop_compose! {
    fn csr(max_rows: usize, max_cols: usize, allow_dups: bool)
          (n_rows in 0..=max_rows, n_cols in 0..=max_cols, f32_values in any::<bool>())
          (rows in proptest::collection::vec(
              proptest::collection::vec((0..n_cols.max(1), value()), 0..=(n_cols + 2)), n_rows),
           n_cols in Just(n_cols), f32_values in Just(f32_values), shuffle in any::<bool>())
          -> Csr {
        let mut indptr = vec![0i64];
        let (mut indices, mut data) = (vec![], vec![]);
        for mut row in rows {
            if n_cols == 0 { row.clear(); }
            if !allow_dups {
                row.sort_by_key(|e| e.0);
                row.dedup_by_key(|e| e.0);
            }
            if !shuffle { row.sort_by_key(|e| e.0); } else { row.reverse(); }
            for (c, v) in row {
                indices.push(c as i64);
                data.push(if f32_values { v as f32 as f64 } else { v });
            }
            indptr.push(indices.len() as i64);
        }
        Csr { n_rows: indptr.len() - 1, n_cols, indptr, indices, data, f32_values }
    }
}

fn opts_for(m: &Csr) -> impl Strategy<Value = Opts> {
    let (n_rows, n_cols) = (m.n_rows, m.n_cols);
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(10.0)),
            Just(Some(0.5)),
            Just(Some(2.0)),
            Just(Some(-1.0)),
            Just(Some(0.0)),
            Just(Some(f64::INFINITY))
        ],
        1usize..=5,
        (any::<bool>(), any::<bool>(), 0u32..=1),
        proptest::option::of((proptest::collection::vec(-1i32..3, n_rows), Just(3usize))),
        proptest::option::of(
            (proptest::collection::vec(any::<bool>(), n_cols), Just((0..n_cols).collect::<Vec<usize>>()).prop_shuffle()).prop_map(
                // A random subset of genes in a random order.
                |(keep, order)| {
                    let kept: Vec<usize> = order.into_iter().filter(|&c| keep[c]).collect();
                    let mut map = vec![-1i64; keep.len()];
                    for (oc, &c) in kept.iter().enumerate() {
                        map[c] = oc as i64;
                    }
                    (map, kept.len())
                },
            ),
        ),
    )
        .prop_map(|(seurat, center, scale, max_value, partitions, (f32_out, i64_index, base), groups, column_map)| Opts {
            seurat,
            center,
            scale: scale || !seurat,
            max_value: if seurat { Some(max_value.unwrap_or(10.0)) } else { max_value },
            partitions,
            threads: 1,
            groups,
            column_map,
            f32_out,
            i64_index,
            base,
        })
}

fn check(m: &Csr, o: &Opts) -> Result<(), TestCaseError> {
    let want = reference_scale(m, o);
    let got = abi_scale(m, o).map_err(|(s, msg)| TestCaseError::fail(format!("{s:?}: {msg}")))?;
    assert_bits_eq("out", &got.out, &want.out);
    assert_bits_eq("mean", &got.mean, &want.mean);
    assert_bits_eq("var", &got.var, &want.var);
    assert_bits_eq("std", &got.std, &want.std);
    // Any thread count gives the same bits.
    for threads in [2, 3] {
        let again = abi_scale(m, &Opts { threads, ..o.clone() }).unwrap();
        assert_bits_eq("out (threads)", &again.out, &got.out);
        assert_bits_eq("std (threads)", &again.std, &got.std);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn small_matrices_match_reference((m, o) in csr(6, 6, false).prop_flat_map(|m| { let s = opts_for(&m); (Just(m), s) })) {
        check(&m, &o)?;
    }

    /// Scanpy sums duplicate entries in the input dtype when densifying.
    #[test]
    fn scanpy_duplicates_match_reference((m, o) in csr(5, 4, true).prop_flat_map(|m| { let s = opts_for(&m); (Just(m), s) })) {
        let o = Opts { seurat: false, scale: true, ..o };
        check(&m, &o)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Wider matrices so that the statistics use several gene blocks and binary search.
    #[test]
    fn wide_matrices_match_reference((m, o) in csr(40, 300, false).prop_flat_map(|m| { let s = opts_for(&m); (Just(m), s) })) {
        check(&m, &o)?;
    }
}

#[test]
fn seurat_constant_and_single_cell_genes_become_zero() {
    // Gene 0 constant, gene 1 all zero, one cell group: NaN -> 0 everywhere they appear.
    let m = Csr { n_rows: 3, n_cols: 2, indptr: vec![0, 1, 2, 3], indices: vec![0, 0, 0], data: vec![2.0, 2.0, 2.0], f32_values: false };
    let got = abi_scale(&m, &Opts::seurat()).unwrap();
    assert_eq!(got.out, vec![0.0; 6]);
    let one = Csr { n_rows: 1, n_cols: 1, indptr: vec![0, 1], indices: vec![0], data: vec![5.0], f32_values: false };
    assert_eq!(abi_scale(&one, &Opts::seurat()).unwrap().out, vec![0.0]);
}

#[test]
fn scanpy_constant_gene_has_std_one() {
    let m = Csr { n_rows: 2, n_cols: 1, indptr: vec![0, 1, 2], indices: vec![0, 0], data: vec![3.0, 3.0], f32_values: false };
    let got = abi_scale(&m, &Opts::scanpy()).unwrap();
    assert_eq!(got.std, vec![1.0]);
    assert_eq!(got.out, vec![0.0, 0.0]);
}
