//! Fuzz target over the C ABI: random CSR/CSC/dense descriptions (lengths, indptr, indices, values
//! with NaN/inf/-0/subnormals, index types and bases, options, buffer sizes, strides, NULLs,
//! misaligned and overlapping pointers, progress callbacks that cancel), then:
//!
//! * no crash, no panic status (`SC_STATUS_PANIC` is an internal error by the contract);
//! * no write outside the output: every buffer (inputs too) sits between 64-byte guard zones and
//!   its unused tail is a sentinel; inputs must come back unchanged (except documented in-place);
//! * every invalid input gets a non-OK status, the exact documented one when a single defect was
//!   injected, and then nothing at all is written (outputs and statistics untouched);
//! * every valid input gets `SC_STATUS_OK` (or `SC_STATUS_CANCELLED` when the callback asked) and
//!   a result bit-identical to the plain reference of `tests/common/mod.rs`;
//! * the progress callback runs on the calling thread only, with `done <= total`.
//!
//! Every pointer handed to the library is valid for the length it is declared with (the caller's
//! side of the contract), except lengths that overflow the address space, which must be refused
//! before any access.
//!
//! Known core bugs (docs/reliability.md) abort or hang the process; the inputs that reach them are
//! only generated when `SCSCALE_FUZZ_KNOWN_BUGS=1`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scscale::sc_status::{self, *};
use scscale::*;
use std::ffi::c_void;

#[path = "../../tests/common/mod.rs"]
mod common;
use common::{densify, r32, reference_moments, reference_scale, reference_stats, reference_transform, Csr, Opts};

#[path = "shared/mod.rs"]
mod shared;
use shared::*;

// ---------------------------------------------------------------------------------------------
// The progress callback.

struct Progress {
    thread: std::thread::ThreadId,
    calls: u64,
    cancel_after: Option<u64>,
    bad: Option<String>,
    last_done: u64,
}

unsafe extern "C" fn progress(data: *mut c_void, done: u64, total: u64) -> i32 {
    let p = &mut *(data as *mut Progress);
    p.calls += 1;
    if std::thread::current().id() != p.thread {
        p.bad = Some("progress callback called on a worker thread".into());
    }
    if done > total || done < p.last_done {
        p.bad = Some(format!("progress: done {done} total {total} after {}", p.last_done));
    }
    p.last_done = done;
    match p.cancel_after {
        Some(k) if p.calls > k => 1,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// The reference for every entry point, from `tests/common` plus the per-entry rules of README.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    Csr,
    Csc,
    Dense,
    CsrValues,
    CscValues,
    StatsCsr,
    StatsCsc,
    StatsDense,
}
use Entry::*;

impl Entry {
    fn csc(self) -> bool {
        matches!(self, Csc | CscValues | StatsCsc)
    }
    fn dense_in(self) -> bool {
        matches!(self, Dense | StatsDense)
    }
    fn dense_out(self) -> bool {
        matches!(self, Csr | Csc | Dense)
    }
    fn values_out(self) -> bool {
        matches!(self, CsrValues | CscValues)
    }
    fn stats_only(self) -> bool {
        matches!(self, StatsCsr | StatsCsc | StatsDense)
    }
}

/// Scanpy's CSC statistics: per gene in stored order, squares in f64.
fn csc_stats(csc: &[Vec<(usize, f64)>], o: &Opts, n_rows: usize) -> Vec<[f64; 3]> {
    let g_n = o.n_groups();
    let n_cols = csc.len();
    let mut sizes = vec![0usize; g_n];
    for r in 0..n_rows {
        if let Some(g) = o.group_of(r) {
            sizes[g] += 1;
        }
    }
    let mut res = vec![[0.0; 3]; g_n * n_cols];
    for (c, col) in csc.iter().enumerate() {
        let mut acc = vec![(0.0f64, 0.0f64); g_n];
        for &(r, v) in col {
            if let Some(g) = o.group_of(r) {
                acc[g].0 += v;
                acc[g].1 += v * v;
            }
        }
        for g in 0..g_n {
            res[g * n_cols + c] = reference_moments(acc[g].0, acc[g].1, sizes[g]);
        }
    }
    res
}

// ---------------------------------------------------------------------------------------------
// One case.

fn st(s: sc_status) -> Vec<sc_status> {
    vec![s]
}

struct Case {
    entry: Entry,
    m: Csr,
    o: Opts,
    /// CSC entries per gene (row, value) in stored order (for CSC entries).
    csc: Vec<Vec<(usize, f64)>>,
    given: Option<(Vec<f64>, Vec<f64>)>,
    /// Defects injected: the statuses each allows. Empty = valid input.
    defects: Vec<(&'static str, Vec<sc_status>)>,
}

fn run(data: &[u8]) {
    let known_bugs = std::env::var_os("SCSCALE_FUZZ_KNOWN_BUGS").is_some();
    let mut s = Src { d: data, rng: 0x9E37_79B9_7F4A_7C15 ^ data.len() as u64 };
    let entry = [Csr, Csc, Dense, CsrValues, CscValues, StatsCsr, StatsCsc, StatsDense][s.below(8)];

    // The matrix: mostly tiny, sometimes wide/long enough for gene blocks and row chunks.
    let big = s.chance(24);
    let (n_rows, n_cols) = if big { (s.below(300), s.below(100)) } else { (s.below(9), s.below(9)) };
    let f32_values = s.bool();
    let dups_wanted = !entry.dense_in() && s.chance(40);
    let shuffle = s.chance(60);
    let mut indptr = vec![0i64];
    let (mut indices, mut vals) = (vec![], vec![]);
    for _ in 0..n_rows {
        let k = if n_cols == 0 {
            0
        } else if big {
            s.below(4)
        } else {
            s.below(n_cols + 2)
        };
        let mut row: Vec<(usize, f64)> = (0..k).map(|_| (s.below(n_cols), value(&mut s, f32_values))).collect();
        if !dups_wanted {
            row.sort_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
        }
        if shuffle {
            row.reverse();
        } else {
            row.sort_by_key(|e| e.0);
        }
        for (c, v) in row {
            indices.push(c as i64);
            vals.push(v);
        }
        indptr.push(indices.len() as i64);
    }
    let m = Csr { n_rows, n_cols, indptr, indices, data: vals, f32_values };
    let has_dups = (0..n_rows).any(|r| {
        let mut c: Vec<i64> = m.indices[m.row(r)].to_vec();
        c.sort();
        c.windows(2).any(|w| w[0] == w[1])
    });

    // Options valid for the entry point.
    let seurat = matches!(entry, Csr | StatsCsr) && s.bool();
    let center = if entry.values_out() { false } else { s.bool() };
    let scale = !seurat || s.bool();
    let max_value = match s.below(8) {
        0 | 1 => None,
        2 => Some(10.0),
        3 => Some(0.5),
        4 => Some(-1.0),
        5 => Some(0.0),
        6 => Some(f64::INFINITY),
        _ => Some(value(&mut s, false)).filter(|v| !v.is_nan()),
    };
    let groups = (s.chance(70) && !(entry == CscValues)).then(|| {
        let n_groups = 1 + s.below(3);
        ((0..n_rows).map(|_| s.below(n_groups + 1) as i32 - 1).collect::<Vec<i32>>(), n_groups)
    });
    let column_map = (entry.dense_out() && s.chance(70)).then(|| {
        let mut order: Vec<usize> = (0..n_cols).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, s.below(i + 1));
        }
        let kept: Vec<usize> = order.into_iter().filter(|_| s.bool()).collect();
        let mut map = vec![-1i64; n_cols];
        for (oc, &c) in kept.iter().enumerate() {
            map[c] = oc as i64;
        }
        (map, kept.len())
    });
    let o = Opts {
        seurat,
        center,
        scale,
        max_value,
        partitions: if entry.dense_in() || entry.csc() { 1 } else { 1 + s.below(4) },
        threads: s.below(4) as u32,
        groups,
        column_map,
        f32_out: s.bool(),
        i64_index: s.bool(),
        base: s.below(2) as u32,
    };
    let n_groups = o.n_groups();
    let given = (!entry.stats_only() && s.chance(40)).then(|| {
        let n = n_groups * n_cols;
        ((0..n).map(|_| value(&mut s, false)).collect::<Vec<f64>>(), (0..n).map(|_| value(&mut s, false)).collect::<Vec<f64>>())
    });
    // Seurat's dup refusal and CSC's: an input property, not an injected defect.
    let mut defects: Vec<(&'static str, Vec<sc_status>)> = vec![];
    if has_dups && ((entry == Csr && seurat) || entry == Csc) {
        defects.push(("duplicate entries", st(SC_STATUS_DUPLICATE_ENTRY)));
    }
    // numpy sums a single dense column pairwise: refused unless the statistics are given.
    if entry.dense_in() && n_cols == 1 && given.is_none() {
        defects.push(("one dense column", st(SC_STATUS_UNSUPPORTED)));
    }

    // CSC view: per gene, entries in row order (or reversed: unsorted columns).
    let reverse_cols = s.chance(50);
    let mut csc = vec![vec![]; n_cols];
    for r in 0..n_rows {
        for j in m.row(r) {
            csc[m.indices[j] as usize].push((r, m.data[j]));
        }
    }
    if reverse_cols {
        csc.iter_mut().for_each(|c| c.reverse());
    }

    let mut case = Case { entry, m, o, csc, given, defects };
    execute(&mut case, &mut s, known_bugs);
}

/// Typed index/value arrays of the input, as the entry point reads them.
fn sparse_arrays(c: &Case) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
    let b = c.o.base as i64;
    if c.entry.csc() {
        let mut indptr = vec![b];
        let (mut idx, mut val) = (vec![], vec![]);
        for col in &c.csc {
            for &(r, v) in col {
                idx.push(r as i64 + b);
                val.push(v);
            }
            indptr.push(idx.len() as i64 + b);
        }
        (indptr, idx, val)
    } else {
        (c.m.indptr.iter().map(|x| x + b).collect(), c.m.indices.iter().map(|x| x + b).collect(), c.m.data.clone())
    }
}

fn index_buf(v: &[i64], i64_index: bool, spare: usize) -> Buf {
    if i64_index {
        Buf::of(v, spare)
    } else {
        Buf::of(&v.iter().map(|&x| x as i32).collect::<Vec<_>>(), spare)
    }
}

fn value_buf(v: &[f64], f32: bool, spare: usize) -> Buf {
    if f32 {
        Buf::of(&v.iter().map(|&x| x as f32).collect::<Vec<_>>(), spare)
    } else {
        Buf::of(v, spare)
    }
}

fn set_index(b: &mut Buf, i: usize, v: i64, i64_index: bool) {
    if i64_index {
        b.payload_mut()[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    } else {
        b.payload_mut()[i * 4..i * 4 + 4].copy_from_slice(&(v as i32).to_ne_bytes());
    }
}

fn execute(c: &mut Case, s: &mut Src, known_bugs: bool) {
    let entry = c.entry;
    // sc_scale_csc_colmajor: Csc with a column-major output (element (r, j) at j * n_rows + r).
    let colmajor = entry == Csc && s.bool();
    let (n_rows, n_cols) = (c.m.n_rows, c.m.n_cols);
    // Documented in-place use: same value type (and for dense, same stride and no column map).
    let in_place = (matches!(entry, Dense | CsrValues | CscValues)) && s.chance(50);
    if in_place {
        c.o.f32_out = c.m.f32_values;
        if entry == Dense {
            c.o.column_map = None;
        }
    }
    let isz = if c.o.i64_index { 8 } else { 4 };
    let vsz = if c.m.f32_values { 4 } else { 8 };
    let osz = if c.o.f32_out { 4 } else { 8 };
    let n_groups = c.o.n_groups();
    let n_stats = n_groups * n_cols;

    // ---- input buffers (one spare element each, so that +1 lengths stay inside memory)
    let (indptr_v, indices_v, values_v) = sparse_arrays(c);
    let mut indptr = index_buf(&indptr_v, c.o.i64_index, 1);
    let mut indices = index_buf(&indices_v, c.o.i64_index, 1);
    let in_stride = if entry.dense_in() { n_cols + s.below(3) } else { 0 };
    let dense_vals: Vec<f64> = if entry.dense_in() {
        let mut d = vec![f64::NAN; n_rows * in_stride];
        for r in 0..n_rows {
            // Scanpy's densification (the dense input has no duplicates and no -0 from storage).
            let row = densify(&c.m, r, false);
            d[r * in_stride..r * in_stride + n_cols].copy_from_slice(&row);
        }
        d
    } else {
        vec![]
    };
    let values = if entry.dense_in() { value_buf(&dense_vals, c.m.f32_values, 1) } else { value_buf(&values_v, c.m.f32_values, 1) };
    let nnz = values_v.len();
    let (mut x_sparse, mut x_dense) = (None, None);
    if entry.dense_in() {
        x_dense = Some(sc_dense {
            n_rows: n_rows as u64,
            n_cols: n_cols as u64,
            data: values.ptr(),
            data_len: dense_vals.len(),
            value_type: if c.m.f32_values { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
            row_stride: if in_stride == n_cols && s.bool() { 0 } else { in_stride as u64 },
        });
    } else {
        x_sparse = Some(sc_sparse {
            n_rows: n_rows as u64,
            n_cols: n_cols as u64,
            indptr: indptr.ptr(),
            indptr_len: indptr_v.len(),
            indices: indices.ptr(),
            indices_len: nnz,
            data: values.ptr(),
            data_len: nnz,
            index_type: if c.o.i64_index { SC_INDEX_INT64 } else { SC_INDEX_INT32 },
            value_type: if c.m.f32_values { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
            index_base: c.o.base,
        });
    }

    // ---- output buffer
    let n_out = c.o.n_out(n_cols);
    let out_stride = if entry.dense_in() && in_place {
        in_stride
    } else if colmajor {
        n_out // contiguous: element (r, j) at j * n_rows + r, the same length as n_rows rows of n_out
    } else {
        n_out + if s.chance(60) { s.below(3) } else { 0 }
    };
    let need = if entry.dense_out() {
        if n_rows == 0 {
            0
        } else {
            (n_rows - 1) * out_stride + n_out
        }
    } else if entry.values_out() {
        nnz
    } else {
        0
    };
    let extra = if s.chance(60) { s.below(3) } else { 0 };
    let out_buf = Buf::from_bytes(&[], (need + extra) * osz);
    let mut out_d = sc_dense_out {
        data: out_buf.ptr(),
        data_len: need + extra,
        value_type: if c.o.f32_out { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
        n_cols: n_out as u64,
        row_stride: if colmajor || (out_stride == n_out && s.bool()) { 0 } else { out_stride as u64 },
    };
    let mut out_v = sc_values_out { data: out_buf.ptr(), data_len: need + extra, value_type: out_d.value_type };
    if in_place {
        out_d.data = values.ptr();
        out_d.data_len = if entry.dense_in() { dense_vals.len() } else { nnz };
        out_d.row_stride = in_stride as u64;
        out_v = sc_values_out { data: values.ptr(), data_len: nnz, value_type: out_d.value_type };
    }

    // ---- options
    let mut opts = common::options(&c.o);
    opts.n_threads = c.o.threads;
    opts.no_hugepage_advice = s.bool();
    let groups_buf = c.o.groups.as_ref().map(|(g, _)| Buf::of(g, 1));
    if let Some(b) = &groups_buf {
        opts.groups = b.ptr() as *const i32;
    }
    let map_buf = c.o.column_map.as_ref().map(|(m, _)| Buf::of(m, 1));
    if let Some(b) = &map_buf {
        opts.column_map = b.ptr() as *const i64;
    }
    let given_bufs = c.given.as_ref().map(|(m, sd)| (Buf::of(m, 1), Buf::of(sd, 1)));
    if let Some((gm, gs)) = &given_bufs {
        opts.given_mean = gm.ptr() as *const f64;
        opts.given_mean_len = n_stats;
        opts.given_std = gs.ptr() as *const f64;
        opts.given_std_len = n_stats;
    }
    let want_mean = s.chance(200) || entry.stats_only();
    let want_var = c.given.is_none() && (s.chance(200) || entry.stats_only());
    let want_std = s.chance(200) || entry.stats_only();
    let stat_extra = s.below(2);
    let mean_buf = Buf::from_bytes(&[], (n_stats + stat_extra) * 8);
    let var_buf = Buf::from_bytes(&[], (n_stats + stat_extra) * 8);
    let std_buf = Buf::from_bytes(&[], (n_stats + stat_extra) * 8);
    for (want, b, p, l) in [
        (want_mean, &mean_buf, &mut opts.mean_out, &mut opts.mean_out_len),
        (want_var, &var_buf, &mut opts.var_out, &mut opts.var_out_len),
        (want_std, &std_buf, &mut opts.std_out, &mut opts.std_out_len),
    ] {
        if want {
            *p = b.ptr() as *mut f64;
            *l = n_stats + stat_extra;
        }
    }
    let mut prog = Progress { thread: std::thread::current().id(), calls: 0, cancel_after: None, bad: None, last_done: 0 };
    if s.chance(50) {
        opts.progress = Some(progress);
        opts.progress_data = &mut prog as *mut Progress as *mut c_void;
        prog.cancel_after = s.bool().then(|| s.below(4) as u64);
    }

    // ---- defects
    let mut null_x = false;
    let mut null_opts = false;
    let mut null_out = false;
    let n_defects = match s.below(8) {
        0..=3 => 0,
        4..=6 => 1,
        _ => 2,
    };
    let mut kinds_used = [false; 28];
    for _ in 0..n_defects {
        // Each kind at most once, so that two defects cannot cancel out (+1 then -1).
        let kind = s.below(28);
        if std::mem::replace(&mut kinds_used[kind], true) {
            continue;
        }
        let d: Option<(&'static str, Vec<sc_status>)> = match kind {
            0 => {
                null_x = true;
                Some(("NULL matrix", st(SC_STATUS_NULL_POINTER)))
            }
            1 => {
                null_opts = true;
                Some(("NULL options", st(SC_STATUS_NULL_POINTER)))
            }
            2 if !entry.stats_only() => {
                null_out = true;
                Some(("NULL output struct", st(SC_STATUS_NULL_POINTER)))
            }
            3 => {
                // NULL buffer with a non-zero length.
                if let Some(x) = x_sparse.as_mut() {
                    match s.below(3) {
                        0 => {
                            x.indptr = std::ptr::null();
                            Some(("NULL indptr", st(SC_STATUS_NULL_POINTER)))
                        }
                        1 if nnz > 0 => {
                            x.indices = std::ptr::null();
                            Some(("NULL indices", st(SC_STATUS_NULL_POINTER)))
                        }
                        2 if nnz > 0 && !in_place => {
                            x.data = std::ptr::null();
                            Some(("NULL data", st(SC_STATUS_NULL_POINTER)))
                        }
                        _ => None,
                    }
                } else if let Some(x) = x_dense.as_mut().filter(|x| x.data_len > 0 && !in_place) {
                    x.data = std::ptr::null();
                    Some(("NULL dense data", st(SC_STATUS_NULL_POINTER)))
                } else {
                    None
                }
            }
            4 if !entry.stats_only() && out_d.data_len > 0 && !in_place => {
                out_d.data = std::ptr::null_mut();
                out_v.data = std::ptr::null_mut();
                Some(("NULL output data", st(SC_STATUS_NULL_POINTER)))
            }
            5 => {
                opts.flavor = 4 + s.u8() as u32; // 0..=3 are flavors
                Some(("bad flavor", st(SC_STATUS_INVALID_ENUM)))
            }
            6 => match (x_sparse.as_mut(), x_dense.as_mut()) {
                (Some(x), _) if s.bool() => {
                    x.index_type = 2 + s.u8() as u32;
                    Some(("bad index type", st(SC_STATUS_INVALID_ENUM)))
                }
                (Some(x), _) => {
                    x.value_type = 2 + s.u8() as u32;
                    Some(("bad value type", st(SC_STATUS_INVALID_ENUM)))
                }
                (_, Some(x)) if !in_place => {
                    x.value_type = 2 + s.u8() as u32;
                    Some(("bad dense value type", st(SC_STATUS_INVALID_ENUM)))
                }
                _ => None,
            },
            7 if !entry.stats_only() && !in_place => {
                out_d.value_type = 2 + s.u8() as u32;
                out_v.value_type = out_d.value_type;
                Some(("bad output value type", st(SC_STATUS_INVALID_ENUM)))
            }
            8 => x_sparse.as_mut().map(|x| {
                x.index_base = 2 + s.u8() as u32;
                ("index base > 1", st(SC_STATUS_INVALID_ENUM))
            }),
            9 => x_sparse.as_mut().map(|x| {
                x.indptr_len = if s.bool() || x.indptr_len == 0 { x.indptr_len + 1 } else { x.indptr_len - 1 };
                ("indptr length", st(SC_STATUS_INDPTR_LENGTH))
            }),
            10 if x_sparse.is_some() => {
                let b = c.o.base as i64;
                set_index(&mut indptr, 0, if s.bool() { b + 1 } else { b - 1 }, c.o.i64_index);
                Some(("indptr start", st(SC_STATUS_INDPTR_START)))
            }
            11 if x_sparse.is_some() && indptr_v.len() >= 3 => {
                let k = 1 + s.below(indptr_v.len() - 2);
                set_index(&mut indptr, k, indptr_v[k + 1] + 1, c.o.i64_index);
                Some(("indptr decreasing", st(SC_STATUS_INDPTR_NOT_MONOTONE)))
            }
            12 if x_sparse.is_some() && indptr_v.len() >= 2 => {
                let k = indptr_v.len() - 1;
                set_index(&mut indptr, k, indptr_v[k] + 1, c.o.i64_index);
                Some(("indptr end", st(SC_STATUS_INDPTR_END)))
            }
            13 if nnz > 0 => x_sparse.as_mut().map(|x| {
                x.indices_len -= 1;
                ("indices_len != data_len", st(SC_STATUS_LENGTH_MISMATCH))
            }),
            14 if nnz > 0 && x_sparse.is_some() => {
                let j = s.below(nnz);
                let n_minor = if entry.csc() { n_rows } else { n_cols } as i64;
                let b = c.o.base as i64;
                let v = match s.below(3) {
                    0 => n_minor + b,
                    1 => b - 1,
                    _ => i32::MIN as i64,
                };
                set_index(&mut indices, j, v, c.o.i64_index);
                Some(("index out of range", st(SC_STATUS_INDEX_OUT_OF_RANGE)))
            }
            15 if need > 0 && !in_place => {
                out_d.data_len = need - 1;
                out_v.data_len = need - 1;
                Some(("output too small", st(SC_STATUS_OUTPUT_TOO_SMALL)))
            }
            16 if entry.dense_out() && n_out >= 2 && !in_place => {
                out_d.row_stride = (n_out - 1) as u64;
                // Column-major output takes no stride at all.
                Some(("output stride < width", st(if colmajor { SC_STATUS_UNSUPPORTED } else { SC_STATUS_INVALID_STRIDE })))
            }
            17 if x_dense.is_some() && n_cols >= 2 && !in_place => {
                x_dense.as_mut().unwrap().row_stride = (n_cols - 1) as u64;
                Some(("input stride < width", st(SC_STATUS_INVALID_STRIDE)))
            }
            18 => match s.below(6) {
                0 => {
                    opts.clip = true;
                    opts.max_value = f64::NAN;
                    Some(("NaN max_value", st(SC_STATUS_INVALID_OPTION)))
                }
                1 => {
                    opts.n_partitions = 0;
                    Some(("n_partitions 0", st(SC_STATUS_INVALID_OPTION)))
                }
                2 if opts.flavor == SC_FLAVOR_SCANPY => {
                    opts.scale = false;
                    Some(("scale=false for Scanpy", st(SC_STATUS_INVALID_OPTION)))
                }
                3 => {
                    opts.n_threads = 4097 + s.u8() as u32;
                    Some(("n_threads > 4096", st(SC_STATUS_INVALID_OPTION)))
                }
                4 if given_bufs.is_some() => {
                    opts.given_std = std::ptr::null();
                    opts.given_std_len = 0;
                    Some(("given_mean without given_std", st(SC_STATUS_INVALID_OPTION)))
                }
                5 if opts.groups.is_some_and_not_null() => {
                    opts.n_groups = 0;
                    Some(("n_groups 0", st(SC_STATUS_INVALID_OPTION)))
                }
                _ => None,
            },
            19 if groups_buf.is_some() && entry != CscValues => {
                if s.bool() || opts.groups_len == 0 {
                    opts.groups_len += 1;
                } else {
                    opts.groups_len -= 1;
                }
                Some(("groups length", st(SC_STATUS_GROUPS_LENGTH)))
            }
            20 if groups_buf.is_some() && n_rows > 0 && entry != CscValues => {
                let r = s.below(n_rows);
                let bad = if s.bool() { n_groups as i32 } else { -2 - s.u8() as i32 };
                let gb = groups_buf.as_ref().unwrap();
                unsafe { (gb.ptr() as *mut i32).add(r).write(bad) };
                Some(("group label out of range", st(SC_STATUS_INVALID_GROUP)))
            }
            21 if entry.dense_out() && map_buf.is_some() && !in_place => {
                if s.bool() || opts.column_map_len == 0 {
                    opts.column_map_len += 1;
                } else {
                    opts.column_map_len -= 1;
                }
                Some(("column map length", st(SC_STATUS_COLUMN_MAP_LENGTH)))
            }
            22 if entry.dense_out() && !in_place && n_cols > 0 => {
                if let Some(mb) = map_buf.as_ref() {
                    let c0 = s.below(n_cols);
                    let bad = match s.below(3) {
                        0 => n_out as i64,
                        1 => -2,
                        _ => (n_out as i64 + 5) * 1000,
                    };
                    unsafe { (mb.ptr() as *mut i64).add(c0).write(bad) };
                    Some(("column map target out of range", st(SC_STATUS_INVALID_COLUMN_MAP)))
                } else if need > 0 {
                    // Output narrower than the genes without a map: also too small for a buffer?
                    // Keep the buffer: fewer columns need fewer elements.
                    out_d.n_cols = n_out as u64 - 1;
                    Some(("output columns != genes without a map", st(SC_STATUS_INVALID_COLUMN_MAP)))
                } else {
                    None
                }
            }
            23 if n_stats > 0 => {
                if want_mean && s.bool() {
                    opts.mean_out_len = n_stats - 1;
                    Some(("mean_out too short", st(SC_STATUS_STATS_LENGTH)))
                } else if given_bufs.is_some() {
                    opts.given_mean_len = n_stats - 1;
                    Some(("given_mean length", st(SC_STATUS_STATS_LENGTH)))
                } else if want_std {
                    opts.std_out_len = n_stats - 1;
                    Some(("std_out too short", st(SC_STATUS_STATS_LENGTH)))
                } else {
                    None
                }
            }
            24 => {
                // Unsupported flavor/layout combinations.
                match entry {
                    // (Seurat's dense path, sc_scale_dense, is not reproduced by this target.)
                    Csc | StatsCsc | StatsDense | CsrValues | CscValues => {
                        opts.flavor = SC_FLAVOR_SEURAT;
                        Some(("Seurat flavor here", st(SC_STATUS_UNSUPPORTED)))
                    }
                    _ => None,
                }
            }
            25 => {
                // Misaligned pointer: one byte into an element (memory stays inside the buffer's spare).
                let size = match s.below(3) {
                    0 if x_sparse.is_some() => isz,
                    _ => vsz,
                };
                let bump = 1 + s.below(size - 1);
                match (x_sparse.as_mut(), x_dense.as_mut(), s.below(2)) {
                    (Some(x), _, 0) if size == isz => {
                        x.indptr = unsafe { (x.indptr as *const u8).add(bump) as *const c_void };
                        Some(("misaligned indptr", st(SC_STATUS_MISALIGNED)))
                    }
                    (Some(x), _, _) if !in_place && size == vsz && x.data_len > 0 => {
                        x.data = unsafe { (x.data as *const u8).add(bump) as *const c_void };
                        Some(("misaligned data", st(SC_STATUS_MISALIGNED)))
                    }
                    (_, Some(x), _) if !in_place && x.data_len > 0 => {
                        x.data = unsafe { (x.data as *const u8).add(1) as *const c_void };
                        Some(("misaligned dense data", st(SC_STATUS_MISALIGNED)))
                    }
                    _ => None,
                }
            }
            26 => {
                // Outputs overlapping each other or an input.
                if want_mean && want_std && n_stats > 0 {
                    opts.std_out = opts.mean_out;
                    Some(("std_out == mean_out", st(SC_STATUS_OVERLAP)))
                } else if entry.dense_out() && !in_place && want_mean && n_stats > 0 && need >= n_stats + stat_extra && osz == 8 {
                    opts.mean_out = out_buf.ptr() as *mut f64;
                    Some(("mean_out inside the output", st(SC_STATUS_OVERLAP)))
                } else if !entry.stats_only() && !in_place && need > 0 {
                    // The output over the indices/data (their buffers are large enough only if
                    // need fits; otherwise skip).
                    // (A values output of the same type there is in-place use, not a defect.)
                    let exact_in_place = entry.values_out() && osz == vsz;
                    // Both start at the same address: they overlap when both are non-empty.
                    if x_sparse.is_some() && nnz > 0 && (nnz + 1) * vsz >= need * osz && !exact_in_place {
                        out_d.data = values.ptr();
                        out_d.data_len = need;
                        out_v.data = values.ptr();
                        out_v.data_len = need;
                        Some(("output overlaps data", st(SC_STATUS_OVERLAP)))
                    } else {
                        None
                    }
                } else {
                    None
                }
            }
            27 => {
                // Sizes that overflow, refused before any allocation.
                match s.below(6) {
                    0 if x_sparse.is_some() => {
                        let x = x_sparse.as_mut().unwrap();
                        if entry.csc() {
                            x.n_cols = u64::MAX;
                        } else {
                            x.n_rows = u64::MAX;
                        }
                        Some(("major dimension u64::MAX", vec![SC_STATUS_SIZE_OVERFLOW, SC_STATUS_INDPTR_LENGTH]))
                    }
                    1 if x_sparse.is_some() => {
                        let x = x_sparse.as_mut().unwrap();
                        if entry.csc() {
                            x.n_cols = 1 << 40;
                        } else {
                            x.n_rows = 1 << 40;
                        }
                        // 2^40 genes (CSC) or cells need more scratch than any machine has.
                        Some(("major dimension 2^40, short indptr", vec![SC_STATUS_INDPTR_LENGTH, SC_STATUS_SIZE_OVERFLOW]))
                    }
                    2 if entry.dense_out() && !in_place => {
                        out_d.n_cols = u64::MAX / 4;
                        Some(("output columns overflow", vec![SC_STATUS_SIZE_OVERFLOW, SC_STATUS_INVALID_COLUMN_MAP]))
                    }
                    3 if entry.dense_out() && !in_place && n_rows >= 2 => {
                        out_d.row_stride = u64::MAX / 2 + s.u8() as u64;
                        Some(("output stride overflows", st(if colmajor { SC_STATUS_UNSUPPORTED } else { SC_STATUS_SIZE_OVERFLOW })))
                    }
                    4 => {
                        // A length whose byte size overflows the address space (never read).
                        if let Some(x) = x_sparse.as_mut() {
                            x.indices_len = usize::MAX / 2;
                            x.data_len = usize::MAX / 2;
                            Some(("buffer length overflows", vec![SC_STATUS_SIZE_OVERFLOW]))
                        } else if !entry.stats_only() && !in_place {
                            out_d.data_len = usize::MAX / 4;
                            out_v.data_len = usize::MAX / 4;
                            Some(("output length overflows", vec![SC_STATUS_SIZE_OVERFLOW]))
                        } else {
                            None
                        }
                    }
                    5 if known_bugs => {
                        // Known core bugs: a huge minor dimension (allocates per-gene scratch before
                        // checking), a huge zero-width dimension (loops over it), huge partition
                        // and group counts (allocate genes x partitions x groups).
                        match s.below(4) {
                            0 => {
                                if let Some(x) = x_sparse.as_mut() {
                                    if entry.csc() {
                                        x.n_rows = 1 << 40;
                                    } else {
                                        x.n_cols = 1 << 40;
                                    }
                                }
                                Some(("KNOWN BUG minor dimension 2^40", vec![]))
                            }
                            1 => {
                                opts.n_partitions = u32::MAX;
                                Some(("KNOWN BUG n_partitions u32::MAX", vec![]))
                            }
                            2 if opts.groups.is_some_and_not_null() => {
                                opts.n_groups = i32::MAX as u32;
                                Some(("KNOWN BUG n_groups 2^31-1", vec![]))
                            }
                            _ => match x_dense.as_mut() {
                                Some(x) if x.n_cols == 0 && opts.groups.is_null() => {
                                    x.n_rows = 1 << 62;
                                    Some(("KNOWN BUG 2^62 x 0 dense", vec![]))
                                }
                                _ => None,
                            },
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(d) = d {
            c.defects.push(d);
        }
    }

    // ---- the call
    let before: Vec<Vec<u8>> = [&indptr, &indices, &values].iter().map(|b| b.payload().to_vec()).collect();
    let x_s = if null_x { std::ptr::null() } else { x_sparse.as_ref().map_or(std::ptr::null(), |x| x as *const sc_sparse) };
    let x_d = if null_x { std::ptr::null() } else { x_dense.as_ref().map_or(std::ptr::null(), |x| x as *const sc_dense) };
    let op = if null_opts { std::ptr::null() } else { &opts as *const sc_options };
    let od = if null_out { std::ptr::null() } else { &out_d as *const sc_dense_out };
    let ov = if null_out { std::ptr::null() } else { &out_v as *const sc_values_out };
    let status = unsafe {
        match entry {
            Csr => sc_scale_csr(x_s, op, od),
            Csc if colmajor => sc_scale_csc_colmajor(x_s, op, od),
            Csc => sc_scale_csc(x_s, op, od),
            Dense => sc_scale_dense(x_d, op, od),
            CsrValues => sc_scale_csr_values(x_s, op, ov),
            CscValues => sc_scale_csc_values(x_s, op, ov),
            StatsCsr => sc_stats_csr(x_s, op),
            StatsCsc => sc_stats_csc(x_s, op),
            StatsDense => sc_stats_dense(x_d, op),
        }
    };
    let msg = if status != SC_STATUS_OK { common::last_error() } else { String::new() };
    if std::env::var_os("SCSCALE_FUZZ_STATS").is_some() {
        // One line per input, to see what a corpus exercises (valid vs refused, per entry point).
        eprintln!(
            "FUZZSTAT {entry:?}{} {status:?} defects={} in_place={in_place}",
            if colmajor { "ColMajor" } else { "" },
            c.defects.len()
        );
    }
    let ctx = || {
        format!("{entry:?} (column-major: {colmajor}) status {status:?} ({msg}); defects {:?}; opts {:?}; matrix {:?}", c.defects, c.o, c.m)
    };

    // ---- checks that hold for every call
    assert!(status != SC_STATUS_PANIC, "panic status: {}", ctx());
    for (b, what) in [
        (&indptr, "indptr"),
        (&indices, "indices"),
        (&values, "data"),
        (&out_buf, "out"),
        (&mean_buf, "mean_out"),
        (&var_buf, "var_out"),
        (&std_buf, "std_out"),
    ] {
        assert!(b.guards_intact(), "{what}: guard bytes overwritten: {}", ctx());
    }
    for b in [&groups_buf, &map_buf].into_iter().flatten() {
        assert!(b.guards_intact(), "groups/column map guard bytes overwritten: {}", ctx());
    }
    if let Some((a, b)) = &given_bufs {
        assert!(a.guards_intact() && b.guards_intact(), "given guard bytes overwritten: {}", ctx());
    }
    assert!(prog.bad.is_none(), "{:?}: {}", prog.bad, ctx());
    if !(in_place && status == SC_STATUS_OK) && !(in_place && status == SC_STATUS_CANCELLED) {
        assert!(before[2] == values.payload(), "input data modified: {}", ctx());
    }
    assert!(before[0] == indptr.payload() && before[1] == indices.payload(), "input pattern modified: {}", ctx());
    if c.defects.iter().any(|d| d.0.starts_with("KNOWN BUG")) {
        return; // only "no crash, no panic" is asked of these
    }
    let untouched = |b: &Buf| b.payload().iter().all(|&x| x == PAT);

    if !c.defects.is_empty() {
        assert!(status != SC_STATUS_OK, "invalid input accepted: {}", ctx());
        if c.defects.len() == 1 && !c.defects[0].1.is_empty() {
            // Cancellation can only come after validation; any other status must be the defect's.
            assert!(c.defects[0].1.contains(&status), "wrong status for {}: {}", c.defects[0].0, ctx());
        }
        if !in_place {
            assert!(untouched(&out_buf), "output written on failure: {}", ctx());
        } else {
            assert!(before[2] == values.payload(), "in-place data written on failure: {}", ctx());
        }
        for b in [&mean_buf, &var_buf, &std_buf] {
            assert!(untouched(b), "statistics written on failure: {}", ctx());
        }
        return;
    }

    // ---- valid input
    let cancelled_ok = prog.cancel_after.is_some() && !entry.stats_only();
    if status == SC_STATUS_CANCELLED && cancelled_ok {
        assert!(prog.calls == prog.cancel_after.unwrap() + 1, "cancelled after {} calls: {}", prog.calls, ctx());
        for b in [&mean_buf, &var_buf, &std_buf] {
            assert!(untouched(b), "statistics written on cancel: {}", ctx());
        }
        return;
    }
    assert!(status == SC_STATUS_OK, "valid input refused: {}", ctx());
    if !entry.stats_only() && opts.progress.is_some() {
        assert!(prog.calls >= 1, "progress never called: {}", ctx());
    }

    // Reference statistics.
    let o = &c.o;
    let computed = match entry {
        Csr | CsrValues | StatsCsr => reference_stats(&c.m, o),
        Csc | CscValues | StatsCsc => csc_stats(&c.csc, o, n_rows),
        Dense | StatsDense => reference_stats(&c.m, &Opts { partitions: 1, ..o.clone() }),
    };
    let stats: Vec<[f64; 3]> = match &c.given {
        Some((gm, gs)) => (0..n_stats).map(|k| [gm[k], f64::NAN, gs[k]]).collect(),
        None => computed,
    };
    // Bit equality; NaN payloads are not compared (any NaN equals any NaN).
    let eq = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for (want, b, i) in [(want_mean, &mean_buf, 0), (want_var, &var_buf, 1), (want_std, &std_buf, 2)] {
        if !want {
            assert!(untouched(b), "unrequested statistic written: {}", ctx());
            continue;
        }
        for k in 0..n_stats {
            let got = b.f64_at(k, false);
            assert!(eq(got, stats[k][i]), "stat {i} [{k}]: got {got:e} want {:e}: {}", stats[k][i], ctx());
        }
        for k in n_stats..n_stats + stat_extra {
            assert!(b.elem_untouched(k, 8), "statistics written past n_groups * n_genes: {}", ctx());
        }
    }

    let out_f32 = c.o.f32_out;
    let target: &Buf = if in_place { &values } else { &out_buf };
    if entry.dense_out() {
        let want = if entry == Csr && c.given.is_none() {
            let r = reference_scale(&c.m, o);
            debug_assert!(r.out.len() == n_rows * n_out);
            r.out
        } else {
            reference_transform(&c.m, o, &stats, entry == Dense && c.m.f32_values)
        };
        let mut written = vec![false; target.len / osz];
        for r in 0..n_rows {
            for j in 0..n_out {
                let k = if colmajor { j * n_rows + r } else { r * out_stride + j };
                written[k] = true;
                let got = target.f64_at(k, out_f32);
                let w = want[r * n_out + j];
                assert!(eq(got, w), "out[{r},{j}]: got {got:e} want {w:e}: {}", ctx());
            }
        }
        if !in_place {
            for (k, w) in written.iter().enumerate() {
                assert!(*w || target.elem_untouched(k, osz), "output element {k} (padding or past the end) written: {}", ctx());
            }
        }
    } else if entry.values_out() {
        // One value per stored entry, in input order.
        let mut k = 0;
        let n_major = if entry.csc() { n_cols } else { n_rows };
        let (ip, _, vals) = sparse_arrays(c);
        let b = c.o.base as i64;
        for major in 0..n_major {
            for j in (ip[major] - b) as usize..(ip[major + 1] - b) as usize {
                let v = vals[j];
                let (g, gene) = if entry.csc() { (Some(0), major) } else { (o.group_of(major), c.m.indices[j] as usize) };
                let q = match g {
                    Some(g) => {
                        let q = v / stats[g * n_cols + gene][2];
                        match (o.max_value, entry) {
                            (Some(mx), CsrValues) => {
                                if q < mx {
                                    q
                                } else {
                                    mx
                                }
                            }
                            (Some(mx), _) if q > mx => mx,
                            _ => q,
                        }
                    }
                    None => v,
                };
                let w = if out_f32 { r32(q) } else { q };
                let got = target.f64_at(j, out_f32);
                assert!(eq(got, w), "value[{j}]: got {got:e} want {w:e}: {}", ctx());
                k += 1;
            }
        }
        assert_eq!(k, nnz);
        if !in_place {
            for k in nnz..target.len / osz {
                assert!(target.elem_untouched(k, osz), "values output written past nnz: {}", ctx());
            }
        }
    } else {
        assert!(untouched(&out_buf), "stats-only call wrote the output: {}", ctx());
    }
}

trait NotNull {
    fn is_some_and_not_null(&self) -> bool;
}
impl<T> NotNull for *const T {
    fn is_some_and_not_null(&self) -> bool {
        !self.is_null()
    }
}

fuzz_target!(|data: &[u8]| {
    run(data);
});
