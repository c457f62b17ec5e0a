//! Shared test helpers: a plain, obviously-correct reference of both flavors (dense loops, no
//! parallelism, written straight from ../shared/spec) and safe wrappers over the C ABI.
#![allow(dead_code)]

use scscale::*;
use std::ffi::c_void;

/// A CSR cells x genes matrix owned by a test, values kept as f64 with a flag for f32 input.
#[derive(Clone, Debug)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<i64>,
    pub indices: Vec<i64>,
    pub data: Vec<f64>,
    /// Values are float32 (the f64s above are exactly representable as f32).
    pub f32_values: bool,
}

impl Csr {
    pub fn row(&self, r: usize) -> std::ops::Range<usize> {
        self.indptr[r] as usize..self.indptr[r + 1] as usize
    }
}

/// Options of one reference/ABI call.
#[derive(Clone, Debug)]
pub struct Opts {
    pub seurat: bool,
    pub center: bool,
    pub scale: bool,
    pub max_value: Option<f64>,
    pub partitions: usize,
    pub threads: u32,
    pub groups: Option<(Vec<i32>, usize)>,
    pub column_map: Option<(Vec<i64>, usize)>,
    pub f32_out: bool,
    pub i64_index: bool,
    pub base: u32,
}

impl Opts {
    pub fn scanpy() -> Self {
        Opts {
            seurat: false,
            center: true,
            scale: true,
            max_value: None,
            partitions: 1,
            threads: 1,
            groups: None,
            column_map: None,
            f32_out: false,
            i64_index: false,
            base: 0,
        }
    }
    pub fn seurat() -> Self {
        Opts { seurat: true, max_value: Some(10.0), ..Opts::scanpy() }
    }
    pub fn n_groups(&self) -> usize {
        self.groups.as_ref().map_or(1, |g| g.1)
    }
    pub fn group_of(&self, r: usize) -> Option<usize> {
        match &self.groups {
            None => Some(0),
            Some((l, _)) => (l[r] >= 0).then_some(l[r] as usize),
        }
    }
    pub fn n_out(&self, n_cols: usize) -> usize {
        self.column_map.as_ref().map_or(n_cols, |m| m.1)
    }
    pub fn out_col(&self, c: usize) -> Option<usize> {
        match &self.column_map {
            None => Some(c),
            Some((m, _)) => (m[c] >= 0).then_some(m[c] as usize),
        }
    }
}

/// What a call returns: dense output as f64 (from f32 or f64) and the statistics.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub out: Vec<f64>,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub std: Vec<f64>,
}

pub fn r32(x: f64) -> f64 {
    x as f32 as f64
}

/// Square in the input dtype, as numpy/numba do.
fn sq_in_dtype(v: f64, f32_values: bool) -> f64 {
    if f32_values {
        r32(v * v)
    } else {
        v * v
    }
}

/// Scanpy's `[mean, var, std]` from the sums, written out from the spec (one-pass variance,
/// Bessel factor rounded first and skipped for n = 1, std 0 -> 1, NaN kept).
pub fn reference_moments(sum: f64, sum_sq: f64, n: usize) -> [f64; 3] {
    let nf = n as f64;
    let mean = sum / nf;
    let mut var = sum_sq / nf - mean * mean;
    if n != 1 {
        var *= nf / (nf - 1.0);
    }
    let mut std = var.sqrt();
    if std == 0.0 {
        std = 1.0;
    }
    [mean, var, std]
}

/// Reference statistics `[mean, var, std]` per group x gene.
pub fn reference_stats(m: &Csr, o: &Opts) -> Vec<[f64; 3]> {
    let g_n = o.n_groups();
    let mut res = vec![[0.0; 3]; g_n * m.n_cols];
    for g in 0..g_n {
        let rows: Vec<usize> = (0..m.n_rows).filter(|&r| o.group_of(r) == Some(g)).collect();
        let n = rows.len();
        for c in 0..m.n_cols {
            // Stored entries of gene c in row order, stored order within a row.
            let entries: Vec<(usize, f64)> = rows
                .iter()
                .enumerate()
                .flat_map(|(rank, &r)| m.row(r).filter(move |&j| m.indices[j] as usize == c).map(move |j| (rank, j)))
                .map(|(rank, j)| (rank, m.data[j]))
                .collect();
            res[g * m.n_cols + c] = if o.seurat {
                let mut sum = 0.0;
                for &(_, v) in &entries {
                    sum += v;
                }
                let mut mean = sum / n as f64;
                let (var, sd) = if o.scale {
                    let mut ss = 0.0;
                    if o.center {
                        for &(_, v) in &entries {
                            ss += (v - mean) * (v - mean);
                        }
                        ss += (mean * mean) * (n as i64 - entries.len() as i64) as f64;
                    } else {
                        for &(_, v) in &entries {
                            ss += v * v;
                        }
                    }
                    let var = ss / (n as i64 - 1) as f64;
                    (var, var.sqrt())
                } else {
                    (1.0, 1.0)
                };
                if !o.center {
                    mean = 0.0;
                }
                [mean, var, sd]
            } else {
                let t_n = o.partitions;
                let mut s = vec![0.0; t_n];
                let mut q = vec![0.0; t_n];
                for &(rank, v) in &entries {
                    s[rank % t_n] += v;
                    q[rank % t_n] += sq_in_dtype(v, m.f32_values);
                }
                let (mut ss, mut qq) = (0.0, 0.0);
                for t in 0..t_n {
                    ss += s[t];
                    qq += q[t];
                }
                reference_moments(ss, qq, n)
            };
        }
    }
    res
}

/// Reference dense result (row-major cells x output columns, stride = n_out).
pub fn reference_scale(m: &Csr, o: &Opts) -> Outcome {
    let st = reference_stats(m, o);
    let out = reference_transform(m, o, &st, false);
    Outcome { out, mean: st.iter().map(|t| t[0]).collect(), var: st.iter().map(|t| t[1]).collect(), std: st.iter().map(|t| t[2]).collect() }
}

/// The densified row as each flavor sees it: Scanpy adds stored values onto 0 in the input
/// dtype (duplicates summed, -0.0 becomes +0.0); Seurat assigns them.
pub fn densify(m: &Csr, r: usize, seurat: bool) -> Vec<f64> {
    let mut dense = vec![0.0f64; m.n_cols];
    for j in m.row(r) {
        let c = m.indices[j] as usize;
        dense[c] = if seurat {
            m.data[j]
        } else if m.f32_values {
            r32(dense[c] + m.data[j])
        } else {
            dense[c] + m.data[j]
        };
    }
    dense
}

/// Dense result (n_rows x n_out, as f64) of the flavor's rule with statistics `st`;
/// `dense_f32` selects Scanpy's float32 dense arithmetic (a rounding after each step).
pub fn reference_transform(m: &Csr, o: &Opts, st: &[[f64; 3]], dense_f32: bool) -> Vec<f64> {
    let n_out = o.n_out(m.n_cols);
    let mut out = vec![0.0; m.n_rows * n_out];
    for r in 0..m.n_rows {
        let dense = densify(m, r, o.seurat);
        for c in 0..m.n_cols {
            let Some(oc) = o.out_col(c) else { continue };
            let x = dense[c];
            let z = match o.group_of(r) {
                None => {
                    if o.seurat {
                        0.0
                    } else {
                        x
                    }
                }
                Some(g) => {
                    let [mean, _, std] = st[g * m.n_cols + c];
                    if o.seurat {
                        let mut z = (x - mean) / std;
                        if let Some(mx) = o.max_value {
                            if z > mx {
                                z = mx;
                            }
                        }
                        if z.is_nan() {
                            0.0
                        } else {
                            z
                        }
                    } else if dense_f32 {
                        let y = if o.center { r32(x - mean) } else { x };
                        let mut z = r32(y / std);
                        if let Some(mx) = o.max_value {
                            if z > mx {
                                z = r32(mx);
                            } else if o.center && z < -mx {
                                z = r32(-mx);
                            }
                        }
                        z
                    } else if o.center {
                        let z = (x - mean) / std;
                        match o.max_value {
                            Some(mx) if z > mx => mx,
                            Some(mx) if z < -mx => -mx,
                            _ => z,
                        }
                    } else {
                        let z = x / std;
                        match o.max_value {
                            Some(mx) if z > mx => mx,
                            _ => z,
                        }
                    }
                }
            };
            out[r * n_out + oc] = if o.f32_out { r32(z) } else { z };
        }
    }
    out
}

/// Typed buffers kept alive for one ABI call.
pub struct Buffers {
    pub indptr32: Vec<i32>,
    pub indices32: Vec<i32>,
    pub indptr64: Vec<i64>,
    pub indices64: Vec<i64>,
    pub data32: Vec<f32>,
    pub data64: Vec<f64>,
}

impl Buffers {
    pub fn new(m: &Csr, base: u32) -> Self {
        let b = base as i64;
        Buffers {
            indptr32: m.indptr.iter().map(|&x| (x + b) as i32).collect(),
            indices32: m.indices.iter().map(|&x| (x + b) as i32).collect(),
            indptr64: m.indptr.iter().map(|&x| x + b).collect(),
            indices64: m.indices.iter().map(|&x| x + b).collect(),
            data32: m.data.iter().map(|&x| x as f32).collect(),
            data64: m.data.clone(),
        }
    }

    pub fn sparse(&self, m: &Csr, o: &Opts) -> sc_sparse {
        let (indptr, indices, it) = if o.i64_index {
            (self.indptr64.as_ptr() as *const c_void, self.indices64.as_ptr() as *const c_void, SC_INDEX_INT64)
        } else {
            (self.indptr32.as_ptr() as *const c_void, self.indices32.as_ptr() as *const c_void, SC_INDEX_INT32)
        };
        let (data, vt) = if m.f32_values {
            (self.data32.as_ptr() as *const c_void, SC_VALUE_FLOAT32)
        } else {
            (self.data64.as_ptr() as *const c_void, SC_VALUE_FLOAT64)
        };
        sc_sparse {
            n_rows: m.n_rows as u64,
            n_cols: m.n_cols as u64,
            indptr,
            indptr_len: m.indptr.len(),
            indices,
            indices_len: m.indices.len(),
            data,
            data_len: m.data.len(),
            index_type: it,
            value_type: vt,
            index_base: o.base,
        }
    }
}

/// Element types the C ABI names by a code, so a matrix can be borrowed from typed slices.
pub trait AbiIndex {
    const CODE: sc_index_type;
}
impl AbiIndex for i32 {
    const CODE: sc_index_type = SC_INDEX_INT32;
}
impl AbiIndex for i64 {
    const CODE: sc_index_type = SC_INDEX_INT64;
}
pub trait AbiValue {
    const CODE: sc_value_type;
}
impl AbiValue for f32 {
    const CODE: sc_value_type = SC_VALUE_FLOAT32;
}
impl AbiValue for f64 {
    const CODE: sc_value_type = SC_VALUE_FLOAT64;
}

/// A 0-based compressed matrix borrowed from slices (the slices must outlive its use).
pub fn sparse_of<I: AbiIndex, V: AbiValue>(n_rows: usize, n_cols: usize, indptr: &[I], indices: &[I], data: &[V]) -> sc_sparse {
    sc_sparse {
        n_rows: n_rows as u64,
        n_cols: n_cols as u64,
        indptr: indptr.as_ptr() as *const c_void,
        indptr_len: indptr.len(),
        indices: indices.as_ptr() as *const c_void,
        indices_len: indices.len(),
        data: data.as_ptr() as *const c_void,
        data_len: data.len(),
        index_type: I::CODE,
        value_type: V::CODE,
        index_base: 0,
    }
}

pub fn options(o: &Opts) -> sc_options {
    let mut opts = std::mem::MaybeUninit::<sc_options>::uninit();
    let flavor = if o.seurat { SC_FLAVOR_SEURAT } else { SC_FLAVOR_SCANPY };
    assert_eq!(unsafe { sc_options_default(opts.as_mut_ptr(), flavor) }, sc_status::SC_STATUS_OK);
    let mut opts = unsafe { opts.assume_init() };
    opts.center = o.center;
    opts.scale = o.scale;
    opts.clip = o.max_value.is_some();
    opts.max_value = o.max_value.unwrap_or(f64::INFINITY);
    opts.n_partitions = o.partitions as u32;
    opts.n_threads = o.threads;
    if let Some((g, n)) = &o.groups {
        opts.groups = g.as_ptr();
        opts.groups_len = g.len();
        opts.n_groups = *n as u32;
    }
    if let Some((map, _)) = &o.column_map {
        opts.column_map = map.as_ptr();
        opts.column_map_len = map.len();
    }
    opts
}

pub fn last_error() -> String {
    let n = unsafe { sc_last_error_message(std::ptr::null_mut(), 0) };
    let mut buf = vec![0u8; n + 1];
    unsafe { sc_last_error_message(buf.as_mut_ptr() as *mut std::ffi::c_char, buf.len()) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Runs `sc_scale_csr` and returns the result as f64, or the status and message.
pub fn abi_scale(m: &Csr, o: &Opts) -> std::result::Result<Outcome, (sc_status, String)> {
    let bufs = Buffers::new(m, o.base);
    let x = bufs.sparse(m, o);
    let mut opts = options(o);
    let n_stats = o.n_groups() * m.n_cols;
    let (mut mean, mut var, mut std) = (vec![f64::NAN; n_stats], vec![f64::NAN; n_stats], vec![f64::NAN; n_stats]);
    opts.mean_out = mean.as_mut_ptr();
    opts.mean_out_len = n_stats;
    opts.var_out = var.as_mut_ptr();
    opts.var_out_len = n_stats;
    opts.std_out = std.as_mut_ptr();
    opts.std_out_len = n_stats;
    let n_out = o.n_out(m.n_cols);
    let len = m.n_rows * n_out;
    let mut out64 = vec![f64::from_bits(0x7ff4_dead_beef_0000); len];
    let mut out32 = vec![f32::from_bits(0x7fa0_dead); len];
    let out = sc_dense_out {
        data: if o.f32_out { out32.as_mut_ptr() as *mut c_void } else { out64.as_mut_ptr() as *mut c_void },
        data_len: len,
        value_type: if o.f32_out { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
        n_cols: n_out as u64,
        row_stride: 0,
    };
    let st = unsafe { sc_scale_csr(&x, &opts, &out) };
    if st != sc_status::SC_STATUS_OK {
        return Err((st, last_error()));
    }
    let out = if o.f32_out { out32.iter().map(|&x| x as f64).collect() } else { out64 };
    Ok(Outcome { out, mean, var, std })
}

/// Bitwise equality of two f64 slices, with the first difference in the message.
pub fn assert_bits_eq(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        // Rust leaves the sign and payload of a computed NaN unspecified and Miri picks them at
        // random; x86_64 hardware is deterministic, and native runs compare them bit for bit.
        if cfg!(miri) && x.is_nan() && y.is_nan() {
            continue;
        }
        assert!(x.to_bits() == y.to_bits(), "{what}[{i}]: {x:e} ({:#x}) != {y:e} ({:#x})", x.to_bits(), y.to_bits());
    }
}
