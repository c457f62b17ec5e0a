//! `SC_FLAVOR_SCANPY_1_10`: Scanpy 1.10's same-pattern CSR rules (docs/scanpy-versions.md). The
//! real Scanpy 1.10.4 is compared bit for bit by bindings/python/tests; these pin the rules
//! themselves against a direct statement of them.

mod common;
use common::*;
use scscale::*;
use std::ffi::c_void;

/// One 4 x 2 CSR matrix (f32 values chosen so that f32 and f64 quotients differ), with a NaN.
const INDPTR: [i32; 5] = [0, 2, 3, 5, 6];
const INDICES: [i32; 6] = [0, 1, 0, 0, 1, 1];
const DATA: [f32; 6] = [0.1, f32::NAN, 0.7, 1.3, 2.9, 0.3];

fn opts(flavor: sc_flavor, max_value: Option<f64>, groups: Option<&[i32]>, std: &mut [f64]) -> sc_options {
    let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
    assert_eq!(unsafe { sc_options_default(o.as_mut_ptr(), flavor) }, sc_status::SC_STATUS_OK, "{}", last_error());
    let mut o = unsafe { o.assume_init() };
    o.center = false;
    o.clip = max_value.is_some();
    o.max_value = max_value.unwrap_or(f64::INFINITY);
    o.n_partitions = 2;
    if let Some(g) = groups {
        o.groups = g.as_ptr();
        o.groups_len = g.len();
        o.n_groups = 1;
    }
    o.std_out = std.as_mut_ptr();
    o.std_out_len = std.len();
    o
}

/// `sc_scale_csr_values` into a float32 or float64 buffer; returns (values as f64, std).
fn run(flavor: sc_flavor, max_value: Option<f64>, groups: Option<&[i32]>, f32_out: bool) -> (Vec<f64>, Vec<f64>) {
    let x = sparse_of(4, 2, &INDPTR, &INDICES, &DATA);
    let mut std = vec![0.0; 2];
    let o = opts(flavor, max_value, groups, &mut std);
    let (mut o32, mut o64) = (vec![0f32; 6], vec![0f64; 6]);
    let out = sc_values_out {
        data: if f32_out { o32.as_mut_ptr() as *mut c_void } else { o64.as_mut_ptr() as *mut c_void },
        data_len: 6,
        value_type: if f32_out { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
    };
    assert_eq!(unsafe { sc_scale_csr_values(&x, &o, &out) }, sc_status::SC_STATUS_OK, "{}", last_error());
    (if f32_out { o32.iter().map(|&v| v as f64).collect() } else { o64 }, std)
}

#[test]
fn unmasked_csr_clips_above_and_keeps_nan() {
    let (got, std) = run(SC_FLAVOR_SCANPY_1_10, Some(1.5), None, false);
    for (j, &v) in DATA.iter().enumerate() {
        let q = v as f64 / std[INDICES[j] as usize];
        let want = if q > 1.5 { 1.5 } else { q };
        assert_bits_eq(&format!("entry {j}"), &got[j..=j], &[want]);
    }
    assert!(got[1].is_nan(), "1.10 keeps NaN when clipping unmasked CSR");
    // Scanpy >= 1.11 turns NaN into max_value on the same path.
    let (newer, _) = run(SC_FLAVOR_SCANPY, Some(1.5), None, false);
    assert_eq!(newer[1], 1.5);
}

#[test]
fn masked_csr_divides_in_the_value_type() {
    let groups = [0, -1, 0, 0];
    let (got, std) = run(SC_FLAVOR_SCANPY_1_10, Some(1.5), Some(&groups), true);
    let (newer, std_newer) = run(SC_FLAVOR_SCANPY, Some(1.5), Some(&groups), true);
    assert_bits_eq("std", &std, &std_newer);
    let mut differs = false;
    for (j, &v) in DATA.iter().enumerate() {
        let row = INDPTR.iter().rposition(|&p| p as usize <= j).unwrap();
        let want = if groups[row] < 0 {
            v as f64
        } else {
            let q = v / std[INDICES[j] as usize] as f32; // f32 / f32
            (if (q as f64) < 1.5 { q as f64 } else { 1.5 }) as f32 as f64 // min(clip, q), NaN -> clip
        };
        assert_bits_eq(&format!("entry {j}"), &got[j..=j], &[want]);
        differs |= got[j].to_bits() != newer[j].to_bits();
    }
    assert!(differs, "this matrix was chosen so that the f32 and f64 quotients differ somewhere");
}

#[test]
fn other_paths_equal_the_scanpy_flavor() {
    for max_value in [None, Some(0.5)] {
        let (a, sa) = run(SC_FLAVOR_SCANPY_1_10, max_value, None, true);
        let (b, sb) = run(SC_FLAVOR_SCANPY, max_value, None, true);
        assert_bits_eq("std", &sa, &sb);
        // Away from NaN (column 1 holds one, so its std is NaN) the two unmasked rules agree.
        for j in [0, 2, 3] {
            assert_bits_eq("value", &a[j..=j], &b[j..=j]);
        }
    }
    let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
    assert_eq!(unsafe { sc_options_default(o.as_mut_ptr(), 4) }, sc_status::SC_STATUS_INVALID_ENUM);
}
