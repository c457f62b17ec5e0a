//! Concurrency and cancellation over the C ABI:
//! * many caller threads at once, each with its own inputs and worker-thread count, get the bits
//!   of a serial single-threaded call (results, statistics, and their own error messages);
//! * calls made from inside the caller's own rayon pools (a custom pool and the global one);
//! * a progress callback that asks to stop makes a long call return `SC_STATUS_CANCELLED`
//!   promptly, on the calling thread, without writing the statistics.

mod common;
use common::*;
use scscale::sc_status::*;
use scscale::*;
use std::ffi::c_void;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A small deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A random case: a CSR matrix big enough to use several gene blocks and row chunks, and options.
fn case(seed: u64) -> (Csr, Opts) {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n_rows = 50 + r.below(400);
    let n_cols = 20 + r.below(300);
    let f32_values = r.below(2) == 1;
    let mut indptr = vec![0i64];
    let (mut indices, mut data) = (vec![], vec![]);
    for _ in 0..n_rows {
        let mut cols: Vec<usize> = (0..r.below(n_cols / 3 + 1)).map(|_| r.below(n_cols)).collect();
        cols.sort();
        cols.dedup();
        for c in cols {
            indices.push(c as i64);
            let v = (r.below(2000) as f64 - 500.0) / 7.0;
            data.push(if f32_values { v as f32 as f64 } else { v });
        }
        indptr.push(indices.len() as i64);
    }
    let m = Csr { n_rows, n_cols, indptr, indices, data, f32_values };
    let mut o = if r.below(2) == 0 { Opts::seurat() } else { Opts::scanpy() };
    o.partitions = 1 + r.below(4);
    o.f32_out = r.below(2) == 1;
    o.i64_index = r.below(2) == 1;
    if r.below(3) == 0 {
        o.groups = Some(((0..n_rows).map(|_| r.below(4) as i32 - 1).collect(), 3));
    }
    if !o.seurat && r.below(2) == 0 {
        o.max_value = Some(2.5);
    }
    (m, o)
}

fn same(a: &Outcome, b: &Outcome, what: &str) {
    assert_bits_eq(&format!("{what}: out"), &a.out, &b.out);
    assert_bits_eq(&format!("{what}: mean"), &a.mean, &b.mean);
    assert_bits_eq(&format!("{what}: var"), &a.var, &b.var);
    assert_bits_eq(&format!("{what}: std"), &a.std, &b.std);
}

const CASES: u64 = 24;

fn serial_results() -> Vec<(Csr, Opts, Outcome)> {
    (0..CASES)
        .map(|s| {
            let (m, o) = case(s);
            let serial = abi_scale(&m, &Opts { threads: 1, ..o.clone() }).expect("serial call");
            (m, o, serial)
        })
        .collect()
}

/// 8 caller threads start together and each runs every case several times with a different
/// worker-thread count (0 = all cores, 1, 2, 3, 4), interleaved with failing calls whose
/// thread-local messages must stay their own.
#[test]
fn many_caller_threads_get_the_serial_bits() {
    let cases = Arc::new(serial_results());
    let callers = 8;
    let barrier = Arc::new(Barrier::new(callers));
    let start = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|t| {
            let (cases, barrier) = (cases.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for round in 0..3 {
                    for (i, (m, o, serial)) in cases.iter().enumerate() {
                        let threads = ((t + i + round) % 5) as u32;
                        let got = abi_scale(m, &Opts { threads, ..o.clone() }).expect("concurrent call");
                        same(&got, serial, &format!("caller {t} case {i} threads {threads}"));
                        if i % 4 == t % 4 {
                            // A failure with a message naming this caller's own number.
                            let bad = Csr { indptr: vec![0; 2 + t], ..m.clone() };
                            let err = abi_scale(&bad, o).unwrap_err();
                            assert_eq!(err.0, SC_STATUS_INDPTR_LENGTH);
                            assert!(err.1.contains(&format!("indptr_len is {}", 2 + t)), "caller {t}: message {}", err.1);
                            // A success on this thread and failures on the others leave it as it was.
                            abi_scale(m, o).unwrap();
                            let mine = last_error();
                            assert_eq!(mine, err.1, "caller {t}: the last error changed under another thread's calls");
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("caller thread panicked");
    }
    eprintln!("8 callers x 3 rounds x {CASES} cases in {:?}", start.elapsed());
}

/// Calls from the workers of the caller's own rayon pools: a custom 3-thread pool, nested
/// parallel iterators, and the global pool; each call uses its own worker count.
#[test]
fn calls_from_inside_caller_rayon_pools_get_the_serial_bits() {
    use rayon::prelude::*;
    let cases = serial_results();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    pool.install(|| {
        (0..cases.len() * 2).into_par_iter().for_each(|k| {
            let (m, o, serial) = &cases[k % cases.len()];
            let threads = (k % 4) as u32;
            // Nested: a parallel split inside the caller's task, each half calling the library.
            let (a, b) = rayon::join(
                || abi_scale(m, &Opts { threads, ..o.clone() }).unwrap(),
                || abi_scale(m, &Opts { threads: 2, ..o.clone() }).unwrap(),
            );
            same(&a, serial, &format!("custom pool, case {k}, threads {threads}"));
            same(&b, serial, &format!("custom pool (nested), case {k}"));
        })
    });
    // The global pool, and a pool whose size equals a library pool's.
    cases.par_iter().enumerate().for_each(|(i, (m, o, serial))| {
        let got = abi_scale(m, &Opts { threads: 0, ..o.clone() }).unwrap();
        same(&got, serial, &format!("global pool, case {i}"));
    });
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    two.install(|| {
        cases.par_iter().enumerate().for_each(|(i, (m, o, serial))| {
            let got = abi_scale(m, &Opts { threads: 2, ..o.clone() }).unwrap();
            same(&got, serial, &format!("2-thread caller pool, case {i}"));
        })
    });
}

// ---------------------------------------------------------------------------------------------
// Cancellation.

struct Cancel {
    caller: std::thread::ThreadId,
    calls: u32,
    /// Return non-zero from this call on (1-based).
    stop_at: u32,
    requested: Option<Instant>,
    wrong_thread: bool,
    batch_times: Vec<Instant>,
}

unsafe extern "C" fn on_progress(data: *mut c_void, _done: u64, _total: u64) -> i32 {
    let c = &mut *(data as *mut Cancel);
    c.calls += 1;
    c.batch_times.push(Instant::now());
    c.wrong_thread |= std::thread::current().id() != c.caller;
    if c.calls >= c.stop_at {
        c.requested.get_or_insert_with(Instant::now);
        1
    } else {
        0
    }
}

/// A long call (40k cells x 2k genes into a float32 output, 320 MB) cancelled after a few
/// progress reports returns `SC_STATUS_CANCELLED` within about one progress batch; a cancel at
/// the first report (before any work) returns at once; statistics are not written.
#[test]
fn progress_callback_cancels_a_long_call_promptly() {
    let (n_rows, n_cols) = (40_000usize, 2_000usize);
    let mut r = Rng(7);
    let mut indptr = vec![0i32];
    let (mut indices, mut data) = (vec![], vec![]);
    for _ in 0..n_rows {
        let mut c = 0;
        while c < n_cols {
            indices.push(c as i32);
            data.push((r.below(100) as f32) / 10.0);
            c += 1 + r.below(40);
        }
        indptr.push(indices.len() as i32);
    }
    let x = sparse_of(n_rows, n_cols, &indptr, &indices, &data);
    let mut out = vec![0f32; n_rows * n_cols];
    let od = sc_dense_out {
        data: out.as_mut_ptr() as *mut c_void,
        data_len: out.len(),
        value_type: SC_VALUE_FLOAT32,
        n_cols: n_cols as u64,
        row_stride: 0,
    };
    let mut mean = vec![-7.0f64; n_cols];
    let run = |stop_at: u32, mean: &mut Vec<f64>| {
        let mut c =
            Cancel { caller: std::thread::current().id(), calls: 0, stop_at, requested: None, wrong_thread: false, batch_times: vec![] };
        let mut o = options(&Opts::seurat());
        o.n_threads = 2;
        o.mean_out = mean.as_mut_ptr();
        o.mean_out_len = mean.len();
        o.progress = Some(on_progress);
        o.progress_data = &mut c as *mut Cancel as *mut c_void;
        let t0 = Instant::now();
        let st = unsafe { sc_scale_csr(&x, &o, &od) };
        let end = Instant::now();
        (st, c, t0, end)
    };

    // Uncancelled, for the time of one call and of one progress batch.
    let (st, full, t0, end) = run(u32::MAX, &mut mean);
    assert_eq!(st, SC_STATUS_OK);
    assert!(!full.wrong_thread, "progress called off the calling thread");
    let total = end - t0;
    let batches: Vec<Duration> = full.batch_times.windows(2).map(|w| w[1] - w[0]).collect();
    let max_batch = batches.iter().copied().max().unwrap_or_default();
    eprintln!("uncancelled: {:?} for the call, {} progress calls, longest batch {:?}", total, full.calls, max_batch);
    assert!(full.calls >= 32, "expected about 64 progress reports, got {}", full.calls);

    // Cancelled after 5 reports (mid-call). Promptness is checked by what was written, not by
    // timing (the machines are shared): rows after the stopping batch keep their sentinel.
    let untouched = |out: &[f32]| (0..n_rows).filter(|&r| out[r * n_cols].is_nan()).count();
    mean.iter_mut().for_each(|m| *m = -7.0);
    unsafe { std::slice::from_raw_parts_mut(od.data as *mut f32, n_rows * n_cols) }.fill(f32::NAN);
    let (st, c, t0, end) = run(5, &mut mean);
    assert_eq!(st, SC_STATUS_CANCELLED);
    assert_eq!(c.calls, 5, "the callback was called again after it asked to stop");
    assert!(!c.wrong_thread);
    let latency = end - c.requested.unwrap();
    eprintln!(
        "cancel requested at report 5, {:?} after the start: returned {:?} after the request ({:?} total)",
        c.requested.unwrap() - t0,
        latency,
        end - t0
    );
    let out_now = unsafe { std::slice::from_raw_parts(od.data as *const f32, n_rows * n_cols) };
    assert!(untouched(out_now) >= n_rows / 2, "only {} of {n_rows} rows untouched after a mid-call cancel", untouched(out_now));
    assert!(mean.iter().all(|&m| m == -7.0), "statistics written by a cancelled call");
    assert!(last_error().contains("cancel"), "message: {}", last_error());

    // Cancelled at the first report (before any output row).
    unsafe { std::slice::from_raw_parts_mut(od.data as *mut f32, n_rows * n_cols) }.fill(f32::NAN);
    let (st, c, t0, end) = run(1, &mut mean);
    assert_eq!(st, SC_STATUS_CANCELLED);
    assert_eq!(c.calls, 1);
    let latency = end - c.requested.unwrap();
    eprintln!("cancel at the first report: returned {:?} after the request ({:?} total)", latency, end - t0);
    let out_now = unsafe { std::slice::from_raw_parts(od.data as *const f32, n_rows * n_cols) };
    assert_eq!(untouched(out_now), n_rows, "rows were written after a cancel at the first report");
    assert!(mean.iter().all(|&m| m == -7.0));
}

/// Cancellation from many caller threads at once: each call stops at its own report and
/// returns CANCELLED; the uncancelled ones still produce the serial bits.
#[test]
fn concurrent_cancellations_are_independent() {
    let cases = Arc::new(serial_results());
    let handles: Vec<_> = (0..6u32)
        .map(|t| {
            let cases = cases.clone();
            std::thread::spawn(move || {
                for (i, (m, o, serial)) in cases.iter().enumerate().take(8) {
                    let bufs = Buffers::new(m, o.base);
                    let x = bufs.sparse(m, o);
                    let call = Opts { threads: t % 3, ..o.clone() }; // owns the groups buffer
                    let mut opts = options(&call);
                    let mut c = Cancel {
                        caller: std::thread::current().id(),
                        calls: 0,
                        stop_at: if t % 2 == 0 { 2 + t } else { u32::MAX },
                        requested: None,
                        wrong_thread: false,
                        batch_times: vec![],
                    };
                    opts.progress = Some(on_progress);
                    opts.progress_data = &mut c as *mut Cancel as *mut c_void;
                    let n_out = o.n_out(m.n_cols);
                    let mut out64 = vec![0f64; m.n_rows * n_out];
                    let mut out32 = vec![0f32; m.n_rows * n_out];
                    let od = sc_dense_out {
                        data: if o.f32_out { out32.as_mut_ptr() as *mut c_void } else { out64.as_mut_ptr() as *mut c_void },
                        data_len: m.n_rows * n_out,
                        value_type: if o.f32_out { SC_VALUE_FLOAT32 } else { SC_VALUE_FLOAT64 },
                        n_cols: n_out as u64,
                        row_stride: 0,
                    };
                    let st = unsafe { sc_scale_csr(&x, &opts, &od) };
                    assert!(!c.wrong_thread);
                    if c.stop_at == u32::MAX {
                        assert_eq!(st, SC_STATUS_OK);
                        let got: Vec<f64> = if o.f32_out { out32.iter().map(|&v| v as f64).collect() } else { out64 };
                        assert_bits_eq(&format!("caller {t} case {i}"), &got, &serial.out);
                    } else {
                        assert_eq!(st, SC_STATUS_CANCELLED, "caller {t} case {i}");
                        assert_eq!(c.calls, c.stop_at);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("caller thread panicked");
    }
}
