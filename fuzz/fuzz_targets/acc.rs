//! Fuzz target over the chunked statistics (`sc_accumulator_*`, `sc_accumulate_csr`,
//! `sc_accumulate_dense`): a random CSR or dense matrix cut into fuzzer-chosen chunks and folded in
//! row order (Seurat: two passes), with refused calls injected between the folds (NULLs, wrong or
//! overflowing lengths, misaligned or overlapping buffers, options of another accumulator,
//! corrupted headers and counts). Checks:
//!
//! * no crash, no `SC_STATUS_PANIC`, guard zones intact, inputs unchanged;
//! * a refused call returns the status of its defect and leaves the accumulator (and the
//!   statistics outputs) untouched;
//! * merging with an empty accumulator changes nothing; a merge tree keeps the cell counts;
//! * the folded statistics equal the in-memory call (`sc_stats_csr`/`sc_stats_dense`) bit for bit,
//!   and the plain reference of `tests/common` (NaN payloads aside).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scscale::sc_status::*;
use scscale::*;
use std::ffi::c_void;

#[path = "../../tests/common/mod.rs"]
mod common;
use common::{densify, reference_stats, Csr, Opts};

#[path = "shared/mod.rs"]
mod shared;
use shared::*;

/// Bit equality, any NaN equal to any NaN (the reference does not model NaN payloads).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn index_buf(v: &[i64], i64_index: bool) -> Buf {
    if i64_index {
        Buf::of(v, 1)
    } else {
        Buf::of(&v.iter().map(|&x| x as i32).collect::<Vec<_>>(), 1)
    }
}

/// The whole matrix in guarded buffers; chunks point into them (CSR chunks get their own indptr).
struct Input {
    dense: bool,
    /// CSR as stored; for dense input every entry stored (the reference then sums as numpy does).
    m: Csr,
    o: Opts,
    stride: usize,
    indptr: Buf,
    indices: Buf,
    values: Buf,
    labels: Option<Buf>,
    isz: usize,
    vsz: usize,
}

enum X {
    S(sc_sparse, Buf),
    D(sc_dense),
}

impl Input {
    fn n_cols(&self) -> usize {
        self.m.n_cols
    }

    /// Rows `r0..r1` as the matrix of one call.
    fn chunk(&self, r0: usize, r1: usize) -> X {
        let base = self.o.base as i64;
        let vt = if self.m.f32_values { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 };
        if self.dense {
            let len = if r1 == r0 { 0 } else { (r1 - r0 - 1) * self.stride + self.n_cols() };
            let data = unsafe { (self.values.ptr() as *const u8).add(r0 * self.stride * self.vsz) } as *const c_void;
            X::D(sc_dense {
                n_rows: (r1 - r0) as u64,
                n_cols: self.n_cols() as u64,
                data,
                data_len: len,
                value_type: vt,
                row_stride: self.stride as u64,
            })
        } else {
            let a = self.m.indptr[r0];
            let ip: Vec<i64> = self.m.indptr[r0..=r1].iter().map(|&p| p - a + base).collect();
            let ip = index_buf(&ip, self.o.i64_index);
            let nnz = (self.m.indptr[r1] - a) as usize;
            let x = sc_sparse {
                n_rows: (r1 - r0) as u64,
                n_cols: self.n_cols() as u64,
                indptr: ip.ptr(),
                indptr_len: r1 - r0 + 1,
                indices: unsafe { (self.indices.ptr() as *const u8).add(a as usize * self.isz) } as *const c_void,
                indices_len: nnz,
                data: unsafe { (self.values.ptr() as *const u8).add(a as usize * self.vsz) } as *const c_void,
                data_len: nnz,
                index_type: if self.o.i64_index { SC_INDEX_INT64 } else { SC_INDEX_INT32 },
                value_type: vt,
                index_base: self.o.base,
            };
            X::S(x, ip)
        }
    }

    /// Options of a call on rows `r0..r1` (`None`: the accumulator's own calls, no groups read).
    fn opts(&self, rows: Option<(usize, usize)>) -> sc_options {
        let mut o = common::options(&Opts { groups: None, ..self.o.clone() });
        if let Some((_, n)) = &self.o.groups {
            o.n_groups = *n as u32;
            let b = self.labels.as_ref().unwrap();
            let (r0, r1) = rows.unwrap_or((0, self.m.n_rows));
            o.groups = unsafe { (b.ptr() as *const i32).add(r0) };
            o.groups_len = r1 - r0;
        }
        o
    }

    fn unchanged(&self, before: &[Vec<u8>]) -> bool {
        let now = [&self.indptr, &self.indices, &self.values];
        now.iter().zip(before).all(|(b, v)| b.payload() == &v[..] && b.guards_intact())
            && self.labels.as_ref().is_none_or(|b| b.guards_intact())
    }
}

unsafe fn fold(x: &X, null_x: bool, opts: *const sc_options, acc: *mut f64, len: usize) -> sc_status {
    match x {
        X::S(s, _) => sc_accumulate_csr(if null_x { std::ptr::null() } else { s }, opts, acc, len),
        X::D(d) => sc_accumulate_dense(if null_x { std::ptr::null() } else { d }, opts, acc, len),
    }
}

fn acc_ptr(b: &Buf) -> *mut f64 {
    b.ptr() as *mut f64
}

fn acc_vals(b: &Buf, len: usize) -> Vec<f64> {
    (0..len).map(|i| b.f64_at(i, false)).collect()
}

/// A copy of the accumulator's `len` values in a new guarded buffer (one spare element).
fn copy_acc(b: &Buf, len: usize) -> Buf {
    Buf::from_bytes(&b.payload()[..len * 8], 8)
}

fn fresh_acc(opts: &sc_options, n_genes: usize, len: usize) -> Buf {
    let b = Buf::from_bytes(&[], (len + 1) * 8);
    let s = unsafe { sc_accumulator_init(opts, n_genes as u64, acc_ptr(&b), len) };
    assert_eq!(s, SC_STATUS_OK, "init: {}", common::last_error());
    b
}

/// Expects a refused call: one of `want`, a message, and the accumulator bytes unchanged.
fn refused(what: &str, got: sc_status, want: &[sc_status], acc: &Buf, before: &[u8], ctx: &dyn Fn() -> String) {
    assert!(got != SC_STATUS_PANIC, "{what}: panic status: {} {}", common::last_error(), ctx());
    assert!(
        want.contains(&got),
        "{what}: got {got:?}, want {want:?}: {} {}",
        if got == SC_STATUS_OK { String::new() } else { common::last_error() },
        ctx()
    );
    assert!(!common::last_error().is_empty(), "{what}: no message");
    assert!(acc.payload() == before && acc.guards_intact(), "{what}: accumulator written by a refused call: {}", ctx());
}

fn run(data: &[u8]) {
    let mut s = Src { d: data, rng: 0x2545_F491_4F6C_DD1D ^ data.len() as u64 };
    let dense = s.bool();
    let big = s.chance(24);
    let (n_rows, n_cols) = if big { (s.below(300), s.below(80)) } else { (s.below(12), s.below(9)) };
    // One dense column is refused (numpy sums it pairwise; tests/api.rs): fold two instead.
    let n_cols = if dense && n_cols == 1 { 2 } else { n_cols };
    let f32_values = s.bool();
    let dups = !dense && s.chance(40);
    let mut m = Csr { n_rows, n_cols, indptr: vec![0], indices: vec![], data: vec![], f32_values };
    for _ in 0..n_rows {
        let k = if n_cols == 0 { 0 } else { s.below(if big { 4 } else { n_cols + 2 }) };
        let mut row: Vec<(usize, f64)> = (0..k).map(|_| (s.below(n_cols), value(&mut s, f32_values))).collect();
        if !dups {
            row.sort_by_key(|e| e.0);
            row.dedup_by_key(|e| e.0);
        }
        if s.chance(60) {
            row.reverse();
        }
        for (c, v) in row {
            m.indices.push(c as i64);
            m.data.push(v);
        }
        m.indptr.push(m.indices.len() as i64);
    }
    let stride = if dense { n_cols + s.below(3) } else { 0 };
    if dense {
        // Scanpy's densification, then every entry stored.
        let rows: Vec<Vec<f64>> = (0..n_rows).map(|r| densify(&m, r, false)).collect();
        m = Csr { n_rows, n_cols, indptr: (0..=n_rows).map(|r| (r * n_cols) as i64).collect(), indices: vec![], data: vec![], f32_values };
        for row in rows {
            m.indices.extend((0..n_cols).map(|c| c as i64));
            m.data.extend(row);
        }
    }
    let seurat = !dense && s.chance(90);
    let groups = s.chance(100).then(|| {
        let n = 1 + s.below(3);
        ((0..n_rows).map(|_| s.below(n + 1) as i32 - 1).collect::<Vec<i32>>(), n)
    });
    let o = Opts {
        seurat,
        center: s.bool(),
        scale: !seurat || s.bool(),
        max_value: None,
        partitions: 1 + s.below(4),
        threads: s.below(4) as u32,
        groups,
        column_map: None,
        f32_out: false,
        i64_index: s.bool(),
        base: s.below(2) as u32,
    };
    let vsz = if f32_values { 4 } else { 8 };
    let isz = if o.i64_index { 8 } else { 4 };
    let values = if dense {
        let mut d = vec![f64::NAN; n_rows * stride];
        for r in 0..n_rows {
            for c in 0..n_cols {
                d[r * stride + c] = m.data[r * n_cols + c];
            }
        }
        if f32_values {
            Buf::of(&d.iter().map(|&v| v as f32).collect::<Vec<_>>(), 1)
        } else {
            Buf::of(&d, 1)
        }
    } else if f32_values {
        Buf::of(&m.data.iter().map(|&v| v as f32).collect::<Vec<_>>(), 1)
    } else {
        Buf::of(&m.data, 1)
    };
    let b = o.base as i64;
    let inp = Input {
        dense,
        indptr: index_buf(&m.indptr.iter().map(|&p| p + b).collect::<Vec<_>>(), o.i64_index),
        indices: index_buf(&m.indices.iter().map(|&c| c + b).collect::<Vec<_>>(), o.i64_index),
        values,
        labels: o.groups.as_ref().map(|(g, _)| Buf::of(g, 1)),
        m,
        o,
        stride,
        isz,
        vsz,
    };
    let before_inputs: Vec<Vec<u8>> = [&inp.indptr, &inp.indices, &inp.values].iter().map(|b| b.payload().to_vec()).collect();
    let mut bounds: Vec<usize> = (0..s.below(6)).map(|_| s.below(n_rows + 1)).collect();
    bounds.extend([0, n_rows]);
    bounds.sort();
    let ctx = || format!("dense {dense}; bounds {bounds:?}; opts {:?}; matrix {:?}", inp.o, inp.m);
    let n_genes = n_cols;
    let n_stats = inp.o.n_groups() * n_genes;

    // ---- sc_accumulator_len / sc_accumulator_init
    let aopts = inp.opts(None);
    let mut len = 0usize;
    assert_eq!(unsafe { sc_accumulator_len(&aopts, n_genes as u64, &mut len) }, SC_STATUS_OK, "len: {} {}", common::last_error(), ctx());
    assert_eq!(unsafe { sc_accumulator_len(&aopts, n_genes as u64, std::ptr::null_mut()) }, SC_STATUS_NULL_POINTER);
    let acc = Buf::from_bytes(&[], (len + 1) * 8);
    if s.chance(80) {
        let blank = acc.payload().to_vec();
        let mut o2 = inp.opts(None);
        let (got, want, what) = match s.below(5) {
            0 => (unsafe { sc_accumulator_init(&aopts, n_genes as u64, acc_ptr(&acc), len + 1) }, SC_STATUS_STATS_LENGTH, "init len + 1"),
            1 => (unsafe { sc_accumulator_init(&aopts, n_genes as u64, acc_ptr(&acc), len - 1) }, SC_STATUS_STATS_LENGTH, "init len - 1"),
            2 => (unsafe { sc_accumulator_init(&aopts, n_genes as u64, std::ptr::null_mut(), len) }, SC_STATUS_NULL_POINTER, "init NULL"),
            3 => {
                o2.n_partitions = 0;
                (unsafe { sc_accumulator_init(&o2, n_genes as u64, acc_ptr(&acc), len) }, SC_STATUS_INVALID_OPTION, "init 0 partitions")
            }
            _ => (
                unsafe { sc_accumulator_init(&aopts, n_genes as u64, acc_ptr(&acc), usize::MAX / 4) },
                SC_STATUS_SIZE_OVERFLOW,
                "init huge",
            ),
        };
        refused(what, got, &[want], &acc, &blank, &ctx);
    }
    assert_eq!(unsafe { sc_accumulator_init(&aopts, n_genes as u64, acc_ptr(&acc), len) }, SC_STATUS_OK, "{}", ctx());
    assert!(acc.elem_untouched(len, 8), "init wrote past acc_len");

    // ---- the folds, with refused calls and identity merges between them
    let passes = if seurat { 2 } else { 1 };
    let mut pass2_start: Option<Vec<u8>> = None;
    for pass in 0..passes {
        if pass == 1 {
            if s.chance(60) {
                let before = acc.payload().to_vec();
                let mut o2 = inp.opts(None);
                let (got, want, what) = match s.below(3) {
                    0 => (
                        unsafe { sc_accumulator_next_pass(&aopts, n_genes as u64, acc_ptr(&acc), len - 1) },
                        SC_STATUS_STATS_LENGTH,
                        "next_pass len - 1",
                    ),
                    1 => (
                        unsafe { sc_accumulator_next_pass(&aopts, n_genes as u64 + 1, acc_ptr(&acc), len) },
                        SC_STATUS_INVALID_ACCUMULATOR,
                        "next_pass other genes",
                    ),
                    _ => {
                        o2.center = !o2.center;
                        (
                            unsafe { sc_accumulator_next_pass(&o2, n_genes as u64, acc_ptr(&acc), len) },
                            SC_STATUS_INVALID_ACCUMULATOR,
                            "next_pass other center",
                        )
                    }
                };
                refused(what, got, &[want], &acc, &before, &ctx);
            }
            if inp.o.scale && s.chance(60) {
                let before = acc.payload().to_vec();
                let mut st = vec![0.0f64; n_stats];
                let mut o2 = inp.opts(None);
                (o2.mean_out, o2.mean_out_len) = (st.as_mut_ptr(), n_stats);
                let got = unsafe { sc_accumulator_finalize(&o2, n_genes as u64, acc_ptr(&acc), len) };
                refused("finalize before pass 2", got, &[SC_STATUS_INVALID_ACCUMULATOR], &acc, &before, &ctx);
                assert!(st.iter().all(|&v| v == 0.0), "finalize wrote mean_out on failure");
            }
            assert_eq!(unsafe { sc_accumulator_next_pass(&aopts, n_genes as u64, acc_ptr(&acc), len) }, SC_STATUS_OK, "{}", ctx());
            let before = acc.payload().to_vec();
            let got = unsafe { sc_accumulator_next_pass(&aopts, n_genes as u64, acc_ptr(&acc), len) };
            refused("second next_pass", got, &[SC_STATUS_INVALID_ACCUMULATOR], &acc, &before, &ctx);
            pass2_start = Some(acc.payload()[..len * 8].to_vec());
        }
        for w in bounds.windows(2) {
            let (r0, r1) = (w[0], w[1]);
            let x = inp.chunk(r0, r1);
            while s.chance(90) {
                refused_fold(&mut s, &inp, (r0, r1), &acc, len, &ctx);
            }
            if s.chance(40) {
                identity_merges(&inp, &acc, len, pass2_start.as_deref(), &ctx);
            }
            let opts = inp.opts(Some((r0, r1)));
            let got = unsafe { fold(&x, false, &opts, acc_ptr(&acc), len) };
            assert!(got == SC_STATUS_OK, "valid fold {r0}..{r1} refused: {got:?} {} {}", common::last_error(), ctx());
            assert!(acc.elem_untouched(len, 8) && acc.guards_intact(), "fold wrote past acc_len");
        }
    }
    if s.chance(60) {
        identity_merges(&inp, &acc, len, pass2_start.as_deref(), &ctx);
    }
    if !seurat && bounds.len() > 2 && s.chance(60) {
        merge_tree(&inp, &bounds, &acc, len, &ctx);
    }

    // ---- finalize: refused variants, then the statistics
    let stat_bufs: Vec<Buf> = (0..3).map(|_| Buf::from_bytes(&[], (n_stats + 1) * 8)).collect();
    let with_outs = |o: &mut sc_options| {
        (o.mean_out, o.mean_out_len) = (stat_bufs[0].ptr() as *mut f64, n_stats);
        (o.var_out, o.var_out_len) = (stat_bufs[1].ptr() as *mut f64, n_stats);
        (o.std_out, o.std_out_len) = (stat_bufs[2].ptr() as *mut f64, n_stats);
    };
    let untouched = |b: &Buf| b.payload().iter().all(|&x| x == PAT) && b.guards_intact();
    while s.chance(100) {
        let before = acc.payload().to_vec();
        let mut o2 = inp.opts(None);
        with_outs(&mut o2);
        let mut p = acc_ptr(&acc);
        let mut l = len;
        let mut copy = None;
        let want: &[sc_status] = match s.below(8) {
            0 => {
                p = std::ptr::null_mut();
                &[SC_STATUS_NULL_POINTER]
            }
            1 => {
                l = len - 1;
                &[SC_STATUS_STATS_LENGTH]
            }
            2 if n_stats > 0 => {
                o2.std_out_len = n_stats - 1;
                &[SC_STATUS_STATS_LENGTH]
            }
            3 if n_stats > 0 && n_stats <= len => {
                o2.var_out = p; // an output over the accumulator
                &[SC_STATUS_OVERLAP]
            }
            4 => {
                o2.given_mean = o2.mean_out;
                o2.given_mean_len = n_stats;
                o2.given_std = o2.std_out;
                o2.given_std_len = n_stats;
                o2.var_out = std::ptr::null_mut();
                // Given statistics make no sense here; these also share memory with the outputs,
                // which the C ABI's overlap check (before the API's rules) may report first.
                &[SC_STATUS_INVALID_OPTION, SC_STATUS_OVERLAP]
            }
            5 => {
                // Without outputs: a corrupted sum is accepted, and nothing may be written.
                let (c, want) = corrupt(&mut s, &inp, &acc, len);
                (o2.mean_out, o2.var_out, o2.std_out) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
                p = acc_ptr(&c);
                copy = Some((c, want));
                &[]
            }
            6 => {
                p = unsafe { (p as *mut u8).add(1 + s.below(7)) } as *mut f64;
                l = len - 1;
                &[SC_STATUS_MISALIGNED]
            }
            _ => {
                o2.n_partitions += 1;
                if seurat {
                    o2.n_partitions = 0;
                    &[SC_STATUS_INVALID_OPTION]
                } else {
                    &[SC_STATUS_INVALID_ACCUMULATOR]
                }
            }
        };
        let got = unsafe { sc_accumulator_finalize(&o2, n_genes as u64, p, l) };
        match copy {
            Some((c, None)) => {
                // A Seurat pass flipped back to 1 is refused; anything else is accepted.
                assert!(got != SC_STATUS_PANIC && c.guards_intact(), "finalize on corrupted sums: {got:?} {}", ctx());
            }
            Some((c, Some(w))) => {
                let snapshot = c.payload().to_vec();
                refused("finalize corrupted", got, &[w], &c, &snapshot, &ctx);
            }
            None => refused("finalize", got, want, &acc, &before, &ctx),
        }
        assert!(stat_bufs.iter().all(untouched), "finalize wrote statistics on failure: {}", ctx());
    }
    let mut fo = inp.opts(None);
    with_outs(&mut fo);
    let before = acc.payload().to_vec();
    let got = unsafe { sc_accumulator_finalize(&fo, n_genes as u64, acc_ptr(&acc), len) };
    assert!(got == SC_STATUS_OK, "finalize: {got:?} {} {}", common::last_error(), ctx());
    assert!(acc.payload() == &before[..], "finalize wrote the accumulator");
    let folded: Vec<Vec<f64>> = stat_bufs.iter().map(|b| (0..n_stats).map(|k| b.f64_at(k, false)).collect()).collect();
    for b in &stat_bufs {
        assert!(b.elem_untouched(n_stats, 8) && b.guards_intact(), "finalize wrote past n_groups * n_genes");
    }

    // ---- the in-memory call and the reference
    let whole_bufs: Vec<Buf> = (0..3).map(|_| Buf::from_bytes(&[], n_stats * 8)).collect();
    let mut wo = inp.opts(Some((0, n_rows)));
    wo.n_threads = s.below(4) as u32;
    (wo.mean_out, wo.mean_out_len) = (whole_bufs[0].ptr() as *mut f64, n_stats);
    (wo.var_out, wo.var_out_len) = (whole_bufs[1].ptr() as *mut f64, n_stats);
    (wo.std_out, wo.std_out_len) = (whole_bufs[2].ptr() as *mut f64, n_stats);
    let got = unsafe {
        match inp.chunk(0, n_rows) {
            X::S(x, _keep) => sc_stats_csr(&x, &wo),
            X::D(x) => sc_stats_dense(&x, &wo),
        }
    };
    assert!(got == SC_STATUS_OK, "in-memory statistics: {got:?} {} {}", common::last_error(), ctx());
    let reference = reference_stats(&inp.m, &Opts { partitions: if dense { 1 } else { inp.o.partitions }, ..inp.o.clone() });
    for (i, what) in ["mean", "var", "std"].iter().enumerate() {
        for k in 0..n_stats {
            let (f, w) = (folded[i][k], whole_bufs[i].f64_at(k, false));
            assert!(
                f.to_bits() == w.to_bits(),
                "{what}[{k}]: folded {f:e} ({:#x}), in memory {w:e} ({:#x}): {}",
                f.to_bits(),
                w.to_bits(),
                ctx()
            );
            assert!(same(f, reference[k][i]), "{what}[{k}]: folded {f:e}, reference {:e}: {}", reference[k][i], ctx());
        }
    }
    assert!(inp.unchanged(&before_inputs), "an input was written: {}", ctx());
}

/// One refused fold of chunk `rows` into `acc` (or into a corrupted copy of it).
fn refused_fold(s: &mut Src, inp: &Input, rows: (usize, usize), acc: &Buf, len: usize, ctx: &dyn Fn() -> String) {
    let (r0, r1) = rows;
    let before = acc.payload().to_vec();
    let mut opts = inp.opts(Some(rows));
    let mut x = inp.chunk(r0, r1);
    let mut p = acc_ptr(acc);
    let mut l = len;
    let mut null_x = false;
    let mut null_opts = false;
    let mut bad_labels: Option<Buf> = None;
    let g = inp.o.n_groups();
    let seurat = inp.o.seurat;
    let want: Vec<sc_status> = match s.below(18) {
        0 => {
            null_x = true;
            vec![SC_STATUS_NULL_POINTER]
        }
        1 => {
            null_opts = true;
            vec![SC_STATUS_NULL_POINTER]
        }
        2 => {
            p = std::ptr::null_mut();
            vec![SC_STATUS_NULL_POINTER]
        }
        3 => {
            l = len + 1; // the spare element keeps this inside memory
            vec![SC_STATUS_STATS_LENGTH]
        }
        4 => {
            l = len - 1 - s.below(len.min(9));
            vec![SC_STATUS_STATS_LENGTH]
        }
        5 => {
            l = usize::MAX / 4 + s.below(9);
            vec![SC_STATUS_SIZE_OVERFLOW]
        }
        6 => {
            p = unsafe { (p as *mut u8).add(1 + s.below(7)) } as *mut f64;
            l = len - 1;
            vec![SC_STATUS_MISALIGNED]
        }
        7 => match &mut x {
            X::S(x, _) => {
                x.n_cols += 1 + s.below(3) as u64;
                vec![SC_STATUS_INVALID_ACCUMULATOR]
            }
            X::D(d) if d.n_cols > 0 => {
                d.n_cols -= 1;
                d.row_stride = inp.stride as u64;
                if d.n_cols == 1 {
                    // One dense column is refused first (numpy sums it pairwise).
                    vec![SC_STATUS_INVALID_ACCUMULATOR, SC_STATUS_UNSUPPORTED]
                } else {
                    vec![SC_STATUS_INVALID_ACCUMULATOR]
                }
            }
            X::D(_) => return,
        },
        8 if !seurat => {
            opts.n_partitions += 1 + s.below(3) as u32;
            vec![SC_STATUS_INVALID_ACCUMULATOR]
        }
        9 => {
            // Another number of groups (labels stay valid).
            let labels = Buf::of(&vec![0i32; r1 - r0], 1);
            (opts.groups, opts.groups_len, opts.n_groups) = (labels.ptr() as *const i32, r1 - r0, (g + 1) as u32);
            bad_labels = Some(labels);
            vec![SC_STATUS_INVALID_ACCUMULATOR]
        }
        10 => {
            opts.flavor = if seurat { SC_FLAVOR_SCANPY } else { SC_FLAVOR_SEURAT };
            match (&x, seurat) {
                (X::D(_), _) => vec![SC_STATUS_UNSUPPORTED],
                (X::S(..), true) if !opts.scale => vec![SC_STATUS_INVALID_OPTION],
                _ => vec![SC_STATUS_INVALID_ACCUMULATOR],
            }
        }
        11 => {
            opts.center = !opts.center;
            vec![SC_STATUS_INVALID_ACCUMULATOR]
        }
        12 if inp.o.groups.is_some() => {
            opts.groups_len += 1; // the spare label keeps this inside memory
            vec![SC_STATUS_GROUPS_LENGTH]
        }
        13 if inp.o.groups.is_some() && r1 > r0 => {
            let mut l2: Vec<i32> = inp.o.groups.as_ref().unwrap().0[r0..r1].to_vec();
            let i = s.below(l2.len());
            l2[i] = if s.bool() { -2 - s.below(3) as i32 } else { (g + s.below(3)) as i32 };
            let labels = Buf::of(&l2, 1);
            opts.groups = labels.ptr() as *const i32;
            bad_labels = Some(labels);
            vec![SC_STATUS_INVALID_GROUP]
        }
        14 => {
            (opts.given_mean, opts.given_mean_len, opts.given_std, opts.given_std_len) = (p, 0, p, 0);
            vec![SC_STATUS_INVALID_OPTION]
        }
        15 => {
            opts.n_partitions = 0;
            vec![SC_STATUS_INVALID_OPTION]
        }
        16 => {
            // The accumulator over the chunk's data or its group labels.
            let fits = |bytes: usize| bytes > 0 && bytes <= len * 8;
            match &mut x {
                X::S(x, _) if fits(x.data_len * inp.vsz) => {
                    x.data = p as *const c_void;
                    vec![SC_STATUS_OVERLAP]
                }
                X::D(d) if fits(d.data_len * inp.vsz) => {
                    d.data = p as *const c_void;
                    vec![SC_STATUS_OVERLAP]
                }
                _ if inp.o.groups.is_some() && fits((r1 - r0) * 4) => {
                    opts.groups = p as *const i32;
                    vec![SC_STATUS_OVERLAP]
                }
                _ => return,
            }
        }
        _ => {
            let (c, want) = corrupt(s, inp, acc, len);
            let snapshot = c.payload().to_vec();
            let opts = inp.opts(Some(rows));
            let got = unsafe { fold(&x, false, &opts, acc_ptr(&c), len) };
            match want {
                Some(w) => refused("fold into a corrupted accumulator", got, &[w], &c, &snapshot, ctx),
                None => assert!(got == SC_STATUS_OK && c.guards_intact(), "fold into corrupted sums: {got:?} {}", ctx()),
            }
            return;
        }
    };
    if want.is_empty() {
        return;
    }
    let op = if null_opts { std::ptr::null() } else { &opts as *const sc_options };
    let got = unsafe { fold(&x, null_x, op, p, l) };
    refused("fold", got, &want, acc, &before, ctx);
    drop(bad_labels);
}

/// A copy of the accumulator with one value corrupted, and the status that must refuse it
/// (`None`: a corrupted sum, which nothing can detect, or no change).
fn corrupt(s: &mut Src, inp: &Input, acc: &Buf, len: usize) -> (Buf, Option<sc_status>) {
    let mut c = copy_acc(acc, len);
    let vals = acc_vals(acc, len);
    let g = inp.o.n_groups();
    let bad_count = || [-1.0, 0.5, f64::NAN, f64::INFINITY, 1e300, -0.5, 9007199254740994.0];
    let (i, v, want) = match s.below(4) {
        0 => {
            // Header: any other value (pass 1 <-> 2 is a valid Seurat header).
            let i = s.below(8);
            let v = value(s, false);
            if v == vals[i] || (i == 5 && inp.o.seurat && (v == 1.0 || v == 2.0)) {
                return (c, None);
            }
            (i, v, Some(SC_STATUS_INVALID_ACCUMULATOR))
        }
        1 => (8 + s.below(g), bad_count()[s.below(7)], Some(SC_STATUS_INVALID_ACCUMULATOR)),
        2 if inp.o.seurat && inp.n_cols() > 0 => {
            (len - 1 - s.below(g * inp.n_cols()), bad_count()[s.below(7)], Some(SC_STATUS_INVALID_ACCUMULATOR))
        }
        _ if len > 8 + g => {
            let end = if inp.o.seurat { len - g * inp.n_cols() } else { len };
            if end == 8 + g {
                return (c, None);
            }
            (8 + g + s.below(end - 8 - g), value(s, false), None)
        }
        _ => return (c, None),
    };
    c.payload_mut()[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    (c, want)
}

/// Merging with an empty accumulator, on either side, changes nothing (Seurat pass 2: with the
/// accumulator as it was when pass 2 started).
fn identity_merges(inp: &Input, acc: &Buf, len: usize, pass2_start: Option<&[u8]>, ctx: &dyn Fn() -> String) {
    let o = inp.opts(None);
    let n = inp.n_cols() as u64;
    let empty = match pass2_start {
        Some(bytes) => Buf::from_bytes(bytes, 8),
        None => fresh_acc(&o, inp.n_cols(), len),
    };
    let want = acc_vals(acc, len);
    let a = copy_acc(acc, len);
    assert_eq!(unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, acc_ptr(&empty), len) }, SC_STATUS_OK, "{}", ctx());
    let e = copy_acc(&empty, len);
    assert_eq!(unsafe { sc_accumulator_merge(&o, n, acc_ptr(&e), len, acc_ptr(acc), len) }, SC_STATUS_OK, "{}", ctx());
    for (what, got) in [("acc + empty", acc_vals(&a, len)), ("empty + acc", acc_vals(&e, len))] {
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(same(*g, *w), "{what}[{k}]: {g:e} != {w:e}: {}", ctx());
        }
    }
    // Refused merges leave `acc` untouched.
    let before = a.payload().to_vec();
    let got = unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, acc_ptr(&a), len) };
    refused("merge with itself", got, &[SC_STATUS_OVERLAP], &a, &before, ctx);
    let got = unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, acc_ptr(&empty), len - 1) };
    refused("merge other_len - 1", got, &[SC_STATUS_INVALID_ACCUMULATOR], &a, &before, ctx);
    let got = unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, std::ptr::null(), len) };
    refused("merge NULL other", got, &[SC_STATUS_NULL_POINTER], &a, &before, ctx);
    let mut bad = copy_acc(&empty, len);
    bad.payload_mut()[8 * 8..8 * 8 + 8].copy_from_slice(&(-1.0f64).to_ne_bytes());
    let got = unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, acc_ptr(&bad), len) };
    refused("merge corrupted count", got, &[SC_STATUS_INVALID_ACCUMULATOR], &a, &before, ctx);
    if pass2_start.is_some() && len > 8 + inp.o.n_groups() && inp.n_cols() > 0 {
        // Pass-2 accumulators from other pass-1 sums.
        let mut other = copy_acc(&empty, len);
        let k = 8 + inp.o.n_groups();
        let v = f64::from_ne_bytes(other.payload()[k * 8..k * 8 + 8].try_into().unwrap());
        other.payload_mut()[k * 8..k * 8 + 8].copy_from_slice(&(if v == 1.0 { 2.0f64 } else { 1.0 }).to_ne_bytes());
        let got = unsafe { sc_accumulator_merge(&o, n, acc_ptr(&a), len, acc_ptr(&other), len) };
        refused("merge other pass-1 sums", got, &[SC_STATUS_INVALID_ACCUMULATOR], &a, &before, ctx);
    }
}

/// Scanpy: one accumulator per chunk merged left to right. Not the folding bits, but the counts
/// are sums of whole numbers and must match exactly.
fn merge_tree(inp: &Input, bounds: &[usize], acc: &Buf, len: usize, ctx: &dyn Fn() -> String) {
    let o = inp.opts(None);
    let n = inp.n_cols();
    let mut parts = bounds.windows(2).map(|w| {
        let b = fresh_acc(&o, n, len);
        let x = inp.chunk(w[0], w[1]);
        let got = unsafe { fold(&x, false, &inp.opts(Some((w[0], w[1]))), acc_ptr(&b), len) };
        assert_eq!(got, SC_STATUS_OK, "{}", ctx());
        b
    });
    let first = parts.next().unwrap();
    for b in parts {
        assert_eq!(unsafe { sc_accumulator_merge(&o, n as u64, acc_ptr(&first), len, acc_ptr(&b), len) }, SC_STATUS_OK, "{}", ctx());
    }
    let (got, want) = (acc_vals(&first, len), acc_vals(acc, len));
    let counts = 8..8 + inp.o.n_groups();
    assert!(got[..8] == want[..8] && got[counts.clone()] == want[counts], "merge tree: header or counts differ: {}", ctx());
}

fuzz_target!(|data: &[u8]| {
    run(data);
});
