//! `cargo bench --bench scale`: sc_scale_csr against the floor of merely filling the same fresh
//! output buffer once, on synthetic log-normalised matrices shaped like pbmc68k after HVG
//! selection. Prints a Markdown table (medians) for the README. Set SCSCALE_BENCH_QUICK=1 for a
//! short run, SCSCALE_BENCH_REPS to change the repetitions, SCSCALE_BENCH_ROWS for one custom
//! size, SCSCALE_BENCH_REUSE=1 to show what re-touching freed memory costs on this machine.

use rayon::prelude::*;
use scscale::api::Value;
use scscale::*;
use std::ffi::c_void;
use std::time::Instant;

struct Matrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<i32>,
    indices: Vec<i32>,
    data: Vec<f32>,
}

impl Matrix {
    /// The matrix as the C ABI borrows it.
    fn sparse(&self) -> sc_sparse {
        sc_sparse {
            n_rows: self.n_rows as u64,
            n_cols: self.n_cols as u64,
            indptr: self.indptr.as_ptr() as *const c_void,
            indptr_len: self.indptr.len(),
            indices: self.indices.as_ptr() as *const c_void,
            indices_len: self.indices.len(),
            data: self.data.as_ptr() as *const c_void,
            data_len: self.data.len(),
            index_type: SC_INDEX_INT32,
            value_type: SC_VALUE_FLOAT32,
            index_base: 0,
        }
    }
}

/// splitmix64: deterministic data without extra dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// ~10% stored per cell, values log1p(count / total * 1e4) like scanpy's normalize + log1p, as
/// float32 (AnnData's usual dtype).
fn synthetic(n_rows: usize, n_cols: usize, seed: u64) -> Matrix {
    let mut rng = Rng(seed);
    let (mut indptr, mut indices, mut data) = (vec![0i32], Vec::new(), Vec::new());
    let mut row = Vec::new();
    for _ in 0..n_rows {
        row.clear();
        for c in 0..n_cols {
            if rng.unit() < 0.1 {
                row.push((c as i32, 1.0 + (rng.unit() * 20.0).floor()));
            }
        }
        let total: f64 = row.iter().map(|e| e.1).sum::<f64>().max(1.0);
        for &(c, count) in &row {
            indices.push(c);
            data.push(((count / total) * 1e4).ln_1p() as f32);
        }
        indptr.push(indices.len() as i32);
    }
    Matrix { n_rows, n_cols, indptr, indices, data }
}

fn minor_faults() -> i64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    u.ru_minflt
}

/// Peak RSS since the last reset, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()).map_or(0, |kb| kb * 1024)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A fresh, untouched buffer, as numpy.empty / allocMatrix give: pages are faulted in by the
/// first write, which is what the floor and the library pay for.
struct Fresh<T> {
    ptr: *mut T,
    layout: std::alloc::Layout,
}

impl<T> Fresh<T> {
    fn new(n: usize) -> Self {
        let layout = std::alloc::Layout::array::<T>(n.max(1)).unwrap();
        // SAFETY: non-zero size; the contents are only written before being read.
        let ptr = unsafe { std::alloc::alloc(layout) as *mut T };
        assert!(!ptr.is_null());
        Fresh { ptr, layout }
    }
    fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
    }
}

impl<T> Drop for Fresh<T> {
    fn drop(&mut self) {
        unsafe { std::alloc::dealloc(self.ptr as *mut u8, self.layout) };
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The options the benchmark scales with (Scanpy: T = 2, clip at 10; Seurat: its defaults).
fn bench_options(seurat: bool, threads: u32, hugepages: bool) -> sc_options {
    let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
    unsafe { sc_options_default(o.as_mut_ptr(), if seurat { SC_FLAVOR_SEURAT } else { SC_FLAVOR_SCANPY }) };
    let mut o = unsafe { o.assume_init() };
    o.n_threads = threads;
    o.n_partitions = 2;
    o.no_hugepage_advice = !hugepages;
    if !seurat {
        o.clip = true;
        o.max_value = 10.0;
    }
    o
}

fn scale_into<W>(m: &Matrix, o: &sc_options, out: *mut W, len: usize, out_type: u32) {
    let x = m.sparse();
    let d = sc_dense_out { data: out as *mut c_void, data_len: len, value_type: out_type, n_cols: m.n_cols as u64, row_stride: 0 };
    assert_eq!(unsafe { sc_scale_csr(&x, o, &d) }, sc_status::SC_STATUS_OK);
}

/// One timed call of sc_scale_csr into a fresh buffer; returns (seconds, minor page faults, extra bytes).
fn run_ours<W: Copy>(m: &Matrix, seurat: bool, out_type: u32, threads: u32, hugepages: bool) -> (f64, i64, u64) {
    let len = m.n_rows * m.n_cols;
    let mut out: Fresh<W> = Fresh::new(len);
    let o = bench_options(seurat, threads, hugepages);
    reset_peak_rss();
    let rss0 = peak_rss();
    let f0 = minor_faults();
    let t = Instant::now();
    scale_into(m, &o, out.as_mut_ptr(), len, out_type);
    let secs = t.elapsed().as_secs_f64();
    let faults = minor_faults() - f0;
    // Extra memory = peak growth beyond the output pages the call itself touched.
    let extra = peak_rss().saturating_sub(rss0).saturating_sub((len * std::mem::size_of::<W>()) as u64);
    std::hint::black_box(out.as_mut_ptr());
    (secs, faults, extra)
}

/// Medians, into one buffer whose pages are already present.
struct Present {
    ours: f64,
    fill: f64,
    stats: f64,
    one_pass_sums: f64,
    template_write: f64,
}

/// Into one buffer whose pages are already present: scscale, filling the buffer, statistics
/// alone, and the two halves of the cheapest stats-then-write we can write.
fn run_present<W: Value>(m: &Matrix, seurat: bool, out_type: u32, threads: u32, value: W, reps: usize) -> Present {
    let len = m.n_rows * m.n_cols;
    let mut out: Fresh<W> = Fresh::new(len);
    scscale::bench_support::advise(out.as_mut_ptr() as *mut u8, len * std::mem::size_of::<W>());
    // SAFETY: `out` holds `len` elements.
    let slice = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr(), len) };
    slice.fill(value);
    let o = bench_options(seurat, threads, true);
    let pool = scscale::bench_support::pool(threads as usize).unwrap();
    let x = m.sparse();
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    // Alternated within each repetition, so that all see the same state of the machine.
    let mut runs = [vec![], vec![], vec![], vec![], vec![]];
    for _ in 0..reps {
        runs[0].push(time(&mut || scale_into(m, &o, slice.as_mut_ptr(), len, out_type)));
        runs[1].push(time(&mut || pool.install(|| slice.par_chunks_mut(1 << 16).for_each(|c| c.fill(value)))));
        runs[2].push(time(&mut || assert_eq!(unsafe { sc_stats_csr(&x, &o) }, sc_status::SC_STATUS_OK)));
        runs[3].push(time(&mut || {
            std::hint::black_box(pool.install(|| one_pass_sums(m)));
        }));
        runs[4].push(time(&mut || pool.install(|| template_write(m, slice, value))));
    }
    let [ours, fill, stats, one_pass_sums, template_write] = runs.map(median);
    Present { ours, fill, stats, one_pass_sums, template_write }
}

/// The cheapest statistics pass we can write: each thread sums x and x^2 per gene over its
/// contiguous share of the stored entries. Not either flavor's order (so not their bits), and
/// one pass where Seurat needs two: a lower bound for the statistics.
fn one_pass_sums(m: &Matrix) -> f64 {
    let chunk = m.indices.len().div_ceil(rayon::current_num_threads()).max(1);
    m.indices
        .par_chunks(chunk)
        .zip(m.data.par_chunks(chunk))
        .map(|(genes, values)| {
            let mut sums = vec![[0f64; 2]; m.n_cols];
            for (&c, &x) in genes.iter().zip(values) {
                let s = &mut sums[c as usize];
                s[0] += x as f64;
                s[1] += (x * x) as f64;
            }
            sums.iter().map(|s| s[0] + s[1]).sum::<f64>()
        })
        .sum()
}

/// The cheapest transform we can write: each row is a template with the raw stored values
/// dropped in, streamed to the output, the template then restored; no statistics, no arithmetic.
/// A lower bound for writing the result, which has to read the matrix again.
fn template_write<W: Value>(m: &Matrix, out: &mut [W], value: W) {
    const RUN: usize = 64;
    let n = m.n_cols;
    out.par_chunks_mut(RUN * n).enumerate().for_each_init(
        || vec![value; n],
        |row_buf, (run, rows)| {
            for (k, dst) in rows.chunks_mut(n).enumerate() {
                let r = run * RUN + k;
                let entries = m.indptr[r] as usize..m.indptr[r + 1] as usize;
                for (&c, &x) in m.indices[entries.clone()].iter().zip(&m.data[entries.clone()]) {
                    row_buf[c as usize] = W::from_f64(x as f64); // exact: x is an f32
                }
                // SAFETY: `dst` is one row of `out`, as long as `row_buf`, and apart from it.
                unsafe { scscale::bench_support::stream_row(dst.as_mut_ptr(), row_buf) };
                for &c in &m.indices[entries] {
                    row_buf[c as usize] = value;
                }
            }
            scscale::bench_support::store_fence();
        },
    );
}

/// The floor: fill the same kind of fresh buffer once, with the same threads and page advice.
fn run_floor<W: Copy + Send + Sync>(len: usize, value: W, threads: u32, hugepages: bool) -> (f64, i64) {
    let mut out: Fresh<W> = Fresh::new(len);
    let pool = scscale::bench_support::pool(threads as usize).unwrap();
    let f0 = minor_faults();
    let t = Instant::now();
    if hugepages {
        scscale::bench_support::advise(out.as_mut_ptr() as *mut u8, len * std::mem::size_of::<W>());
    }
    // SAFETY: `out` holds `len` elements; filling writes every one exactly once.
    let slice = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr(), len) };
    pool.install(|| slice.par_chunks_mut(1 << 16).for_each(|c| c.fill(value)));
    let secs = t.elapsed().as_secs_f64();
    let faults = minor_faults() - f0;
    std::hint::black_box(out.as_mut_ptr());
    (secs, faults)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    format!("{cpu}, {} cores, THP: {}", std::thread::available_parallelism().map_or(1, |n| n.get()), thp.trim())
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes; nothing to list.
    }
    let quick = std::env::var_os("SCSCALE_BENCH_QUICK").is_some();
    let reps: usize = std::env::var("SCSCALE_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick { 4 } else { 6 });
    if std::env::var_os("SCSCALE_BENCH_REUSE").is_some() {
        page_reuse();
        return;
    }
    let custom: Option<usize> = std::env::var("SCSCALE_BENCH_ROWS").ok().and_then(|s| s.parse().ok());
    let shapes: Vec<(&str, usize)> = match custom {
        Some(n) => vec![("custom", n)],
        None if quick => vec![("pbmc68k-like", 68_579)],
        None => vec![("pbmc68k-like", 68_579), ("200k", 200_000)],
    };
    println!(
        "machine: {}; scscale {}; medians of {reps} runs into fresh buffers, {} into present pages (alternated with the fill)",
        machine(),
        env!("CARGO_PKG_VERSION"),
        3 * reps
    );
    println!();
    println!("| matrix | flavor | output | threads | fresh buffer: scscale, THP advice / none (s) | fresh: fill once, advice / none (s) | fresh ratio | present pages: scscale (s) | present: fill (s) | present ratio | statistics alone (s) | page faults (advice / none) | extra memory |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut parts = vec![];
    for &(name, n_rows) in &shapes {
        let m = synthetic(n_rows, 2000, 42);
        let shape = format!("{name} {} x {} ({:.1}% stored)", n_rows, m.n_cols, 100.0 * m.data.len() as f64 / (n_rows * m.n_cols) as f64);
        for seurat in [false, true] {
            for f32_out in [false, true] {
                for threads in [1u32, 2] {
                    let mut ours = [vec![], vec![]];
                    let mut floor = [vec![], vec![]];
                    let (mut faults, mut extra) = ([0i64; 2], 0u64);
                    for rep in 0..reps {
                        for (k, hugepages) in [true, false].into_iter().enumerate() {
                            let len = m.n_rows * m.n_cols;
                            // Whoever goes first gets the memory the previous pair freed, which
                            // on this VM can cost more to fault in (see page_reuse): take turns.
                            for ours_now in if rep % 2 == 0 { [true, false] } else { [false, true] } {
                                if ours_now {
                                    let (t, f, e) = if f32_out {
                                        run_ours::<f32>(&m, seurat, SC_VALUE_FLOAT32, threads, hugepages)
                                    } else {
                                        run_ours::<f64>(&m, seurat, SC_VALUE_FLOAT64, threads, hugepages)
                                    };
                                    ours[k].push(t);
                                    faults[k] = f;
                                    extra = extra.max(e);
                                } else {
                                    let (t, _) = if f32_out {
                                        run_floor::<f32>(len, 0.5, threads, hugepages)
                                    } else {
                                        run_floor::<f64>(len, 0.5, threads, hugepages)
                                    };
                                    floor[k].push(t);
                                }
                            }
                        }
                    }
                    let [o_adv, o_none] = ours.map(median);
                    let [f_adv, f_none] = floor.map(median);
                    let p = if f32_out {
                        run_present::<f32>(&m, seurat, SC_VALUE_FLOAT32, threads, 0.5, 3 * reps)
                    } else {
                        run_present::<f64>(&m, seurat, SC_VALUE_FLOAT64, threads, 0.5, 3 * reps)
                    };
                    let (p_ours, p_fill, p_stats) = (p.ours, p.fill, p.stats);
                    let bound = p.one_pass_sums + p.template_write;
                    let flavor = if seurat { "seurat" } else { "scanpy (T=2)" };
                    let output = if f32_out { "float32" } else { "float64" };
                    parts.push(format!(
                        "| {shape} | {flavor} | {output} | {threads} | {p_fill:.4} | {:.4} | {:.4} | {bound:.4} | {:.2}x | {p_ours:.4} | {:.2}x | {:.2}x |",
                        p.one_pass_sums,
                        p.template_write,
                        bound / p_fill,
                        p_ours / p_fill,
                        p_ours / bound
                    ));
                    println!(
                        "| {shape} | {flavor} | {output} | {threads} | {o_adv:.3} / {o_none:.3} | {f_adv:.3} / {f_none:.3} | {:.2}x | {p_ours:.3} | {p_fill:.3} | {:.2}x | {p_stats:.3} | {} / {} | {:.1} MB |",
                        o_adv.min(o_none) / f_adv.min(f_none),
                        p_ours / p_fill,
                        faults[0],
                        faults[1],
                        extra as f64 / 1e6
                    );
                }
            }
        }
    }
    // The statistics must be complete before the first output value is known, so no call can
    // beat the cheapest statistics pass plus the cheapest write (each measured alone above).
    println!();
    println!("Present pages, the floor of any statistics-then-write (same repetitions, alternated with the calls above):");
    println!();
    println!("| matrix | flavor | output | threads | fill (s) | one-pass sums (s) | template write (s) | sums + write (s) | (sums + write) / fill | scscale (s) | scscale / fill | scscale / (sums + write) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for line in parts {
        println!("{line}");
    }
}

/// Why fresh buffers cost so much on this project's VMs: the balloon device reports freed guest
/// memory to the host ("free page reporting"), so re-touching memory freed a few seconds ago
/// faults on the host too. Touches a fresh pbmc68k-sized float64 buffer right after the previous
/// one was freed, and after a pause.
fn page_reuse() {
    let len = 68_579 * 2000;
    for pause in [0.0f64, 3.0] {
        for round in 0..4 {
            let mut out: Fresh<f64> = Fresh::new(len);
            scscale::bench_support::advise(out.as_mut_ptr() as *mut u8, len * 8);
            let t = Instant::now();
            for i in (0..len).step_by(512) {
                // SAFETY: inside the buffer; volatile so the touch is not elided.
                unsafe { std::ptr::write_volatile(out.as_mut_ptr().add(i), 0.0) };
            }
            println!("pause {pause:.0} s before round {round}: faulting in 1.1 GB took {:.3} s", t.elapsed().as_secs_f64());
            drop(out);
            std::thread::sleep(std::time::Duration::from_secs_f64(pause));
        }
    }
}
