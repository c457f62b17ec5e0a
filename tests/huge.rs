//! Huge inputs over the C ABI.
//!
//! * `sizes_whose_product_overflows_are_refused` (runs by default): every size or product of sizes
//!   that overflows is refused with `SC_STATUS_SIZE_OVERFLOW` (or the earlier length check), at
//!   once and without allocating.
//! * `#[ignore]`d, run by hand (results in docs/reliability.md):
//!   `nice -n 19 cargo test --release --test huge -- --ignored --nocapture --test-threads 1`
//!   - `stats_of_more_than_2_31_stored_entries`: 1.1M cells x 2048 genes, every entry stored
//!     (2.25e9 > 2^31 entries, int64 indptr and indices), statistics only, sampled genes checked
//!     against a per-gene computation. The 18 GB of indices and 9 GB of values are virtual: each
//!     is one 512 MiB memfd chunk mapped again and again (the data chunk has a prime number of rows,
//!     so a wrong offset reads different values), so the test needs about 1 GiB of memory.
//!   - `output_of_more_than_2_32_float32_elements`: 2^21 + 1 cells x 2048 genes (4 294 969 344 >
//!     2^32 elements, 17.2 GB of float32), few stored entries, every output element checked.

mod common;
use common::last_error;
use scscale::sc_status::*;
use scscale::*;
use std::ffi::c_void;
use std::time::Instant;

fn proc_status(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn defaults(flavor: sc_flavor) -> sc_options {
    let mut o = std::mem::MaybeUninit::<sc_options>::uninit();
    assert_eq!(unsafe { sc_options_default(o.as_mut_ptr(), flavor) }, SC_STATUS_OK);
    unsafe { o.assume_init() }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn sizes_whose_product_overflows_are_refused() {
    let hwm0 = proc_status("VmHWM:");
    let t0 = Instant::now();
    let indptr = [0i32, 1, 2];
    let indices = [0i32, 1];
    let data = [1.0f64, 2.0];
    let mut out = [0.0f64; 8];
    let sparse = || sc_sparse {
        n_rows: 2,
        n_cols: 2,
        indptr: indptr.as_ptr() as *const c_void,
        indptr_len: 3,
        indices: indices.as_ptr() as *const c_void,
        indices_len: 2,
        data: data.as_ptr() as *const c_void,
        data_len: 2,
        index_type: SC_INDEX_INT32,
        value_type: SC_VALUE_FLOAT64,
        index_base: 0,
    };
    let out_ptr = out.as_mut_ptr() as *mut c_void;
    let dense_out = |n_cols: u64, stride: u64, len: usize| sc_dense_out {
        data: out_ptr,
        data_len: len,
        value_type: SC_VALUE_FLOAT64,
        n_cols,
        row_stride: stride,
    };
    let o = defaults(SC_FLAVOR_SCANPY);
    let mut checked = Vec::new();
    let mut expect = |what: &str, got: sc_status, want: &[sc_status]| {
        assert!(want.contains(&got), "{what}: got {got:?}, want {want:?}: {}", last_error());
        checked.push(format!("{what}: {got:?}: {}", if got == SC_STATUS_OK { String::new() } else { last_error() }));
    };
    unsafe {
        // CSR: rows + 1 overflows; rows beyond indptr.
        let x = sc_sparse { n_rows: u64::MAX, ..sparse() };
        expect("CSR n_rows = 2^64-1", sc_scale_csr(&x, &o, &dense_out(2, 0, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        expect("stats CSR n_rows = 2^64-1", sc_stats_csr(&x, &o), &[SC_STATUS_SIZE_OVERFLOW]);
        let x = sc_sparse { n_cols: u64::MAX, ..sparse() };
        expect("CSC n_cols (compressed axis) = 2^64-1", sc_scale_csc(&x, &o, &dense_out(2, 0, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        // Output columns beyond 2^32-1 and rows x stride beyond the address space.
        let x = sparse();
        expect("output n_cols = 2^62", sc_scale_csr(&x, &o, &dense_out(1 << 62, 0, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        expect("output row_stride = 2^63", sc_scale_csr(&x, &o, &dense_out(2, 1 << 63, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        expect(
            "output row_stride = 2^61 (x 8 bytes overflows)",
            sc_scale_csr(&x, &o, &dense_out(2, 1 << 61, 8)),
            &[SC_STATUS_SIZE_OVERFLOW],
        );
        // Buffer lengths whose byte size overflows (never read).
        let x = sc_sparse { indices_len: usize::MAX / 2, data_len: usize::MAX / 2, ..sparse() };
        expect("indices_len = data_len = 2^63-1", sc_scale_csr(&x, &o, &dense_out(2, 0, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        let x = sparse();
        expect("out.data_len = 2^62", sc_scale_csr(&x, &o, &dense_out(2, 0, usize::MAX / 4)), &[SC_STATUS_SIZE_OVERFLOW]);
        let mut ov = defaults(SC_FLAVOR_SCANPY);
        ov.center = false;
        let vo = sc_values_out { data: out_ptr, data_len: usize::MAX / 4, value_type: SC_VALUE_FLOAT64 };
        expect("values out.data_len = 2^62", sc_scale_csr_values(&x, &ov, &vo), &[SC_STATUS_SIZE_OVERFLOW]);
        let mut os = defaults(SC_FLAVOR_SCANPY);
        os.mean_out = out.as_mut_ptr();
        os.mean_out_len = usize::MAX / 2;
        expect("mean_out_len = 2^63", sc_stats_csr(&x, &os), &[SC_STATUS_SIZE_OVERFLOW]);
        // Dense: rows x cols and rows x stride overflow, for the input and for the output.
        for (n_rows, n_cols, stride) in [(1u64 << 40, 1u64 << 40, 0u64), (u64::MAX, 2, 0), (3, 2, u64::MAX / 2), (1 << 33, 1 << 31, 0)] {
            let xd = sc_dense {
                n_rows,
                n_cols,
                data: data.as_ptr() as *const c_void,
                data_len: 2,
                value_type: SC_VALUE_FLOAT64,
                row_stride: stride,
            };
            let want = [SC_STATUS_SIZE_OVERFLOW];
            expect(&format!("dense {n_rows} x {n_cols} stride {stride}"), sc_scale_dense(&xd, &o, &dense_out(n_cols, 0, 8)), &want);
            expect(&format!("dense stats {n_rows} x {n_cols} stride {stride}"), sc_stats_dense(&xd, &o), &want);
        }
        // The output of a valid small input, with rows x stride overflowing only in the output.
        let xd = sc_dense {
            n_rows: 2,
            n_cols: 1,
            data: data.as_ptr() as *const c_void,
            data_len: 2,
            value_type: SC_VALUE_FLOAT64,
            row_stride: 0,
        };
        expect("dense output stride 2^62", sc_scale_dense(&xd, &o, &dense_out(1, 1 << 62, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        // The core bugs of fuzz/known_bugs.c: scratch that cannot exist used to abort the process.
        let unsorted = [1i32, 0];
        let x = sc_sparse { n_cols: 1 << 40, indices: unsorted.as_ptr() as *const c_void, ..sparse() };
        expect("stats 2 x 2^40, unsorted row", sc_stats_csr(&x, &o), &[SC_STATUS_SIZE_OVERFLOW]);
        expect("scale 2 x 2^40, unsorted row", sc_scale_csr(&x, &o, &dense_out(2, 0, 8)), &[SC_STATUS_SIZE_OVERFLOW]);
        let x = sc_sparse { n_cols: 1 << 60, ..sparse() };
        expect("stats 2 x 2^60", sc_stats_csr(&x, &o), &[SC_STATUS_SIZE_OVERFLOW]);
        let mut op = defaults(SC_FLAVOR_SCANPY);
        op.n_partitions = u32::MAX;
        expect("n_partitions = 2^32-1", sc_stats_csr(&sparse(), &op), &[SC_STATUS_SIZE_OVERFLOW]);
        let labels = [0i32, 0];
        let mut og = defaults(SC_FLAVOR_SCANPY);
        (og.groups, og.groups_len, og.n_groups) = (labels.as_ptr(), 2, i32::MAX as u32);
        expect("n_groups = 2^31-1", sc_stats_csr(&sparse(), &og), &[SC_STATUS_SIZE_OVERFLOW]);
        let xd = sc_dense {
            n_rows: 1 << 62,
            n_cols: 0,
            data: data.as_ptr() as *const c_void,
            data_len: 0,
            value_type: SC_VALUE_FLOAT64,
            row_stride: 0,
        };
        expect("dense 2^62 x 0", sc_scale_dense(&xd, &o, &dense_out(0, 0, 0)), &[SC_STATUS_SIZE_OVERFLOW, SC_STATUS_OK]);
        let p0 = [0i32];
        let xc = sc_sparse {
            n_rows: 1 << 62,
            n_cols: 0,
            indptr: p0.as_ptr() as *const c_void,
            indptr_len: 1,
            indices_len: 0,
            data_len: 0,
            ..sparse()
        };
        expect("CSC 2^62 x 0", sc_scale_csc(&xc, &o, &dense_out(0, 0, 0)), &[SC_STATUS_SIZE_OVERFLOW, SC_STATUS_OK]);
    }
    let dt = t0.elapsed();
    let grew_kb = proc_status("VmHWM:").saturating_sub(hwm0);
    for c in &checked {
        eprintln!("{c}");
    }
    eprintln!("{} refusals in {dt:?}; peak RSS grew by {grew_kb} kB", checked.len());
    assert!(dt.as_secs_f64() < 5.0, "refusals took {dt:?}");
    assert!(grew_kb < 200 * 1024, "peak RSS grew by {grew_kb} kB: something was allocated");
}

// ---------------------------------------------------------------------------------------------
// More than 2^31 stored entries.

const PAGE: usize = 4096;

/// A read-only virtual array of `total` bytes made of one memfd chunk mapped repeatedly.
struct Repeated {
    base: *mut u8,
    total: usize,
}

impl Repeated {
    fn new(chunk: &[u8], total: usize) -> Repeated {
        assert!(chunk.len() % PAGE == 0);
        unsafe {
            let fd = libc::memfd_create(c"scscale-huge".as_ptr(), 0);
            assert!(fd >= 0, "memfd_create failed");
            assert_eq!(libc::ftruncate(fd, chunk.len() as i64), 0);
            let w = libc::mmap(std::ptr::null_mut(), chunk.len(), libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0);
            assert!(w != libc::MAP_FAILED);
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), w as *mut u8, chunk.len());
            libc::munmap(w, chunk.len());
            let span = total.div_ceil(PAGE) * PAGE;
            let base = libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            assert!(base != libc::MAP_FAILED);
            let mut off = 0;
            while off < span {
                let len = chunk.len().min(span - off);
                let p =
                    libc::mmap((base as *mut u8).add(off) as *mut c_void, len, libc::PROT_READ, libc::MAP_SHARED | libc::MAP_FIXED, fd, 0);
                assert!(p != libc::MAP_FAILED, "mmap at {off}");
                off += len;
            }
            libc::close(fd);
            Repeated { base: base as *mut u8, total: span }
        }
    }
}

impl Drop for Repeated {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.base as *mut c_void, self.total) };
    }
}

const WIDE: usize = 2048;
/// Rows in the data chunk: prime, so that an offset error of any whole number of chunks or
/// 2^k entries lands on different values.
const DATA_PERIOD: usize = 65_521;

fn big_value(r: usize, c: usize) -> f32 {
    let r = r % DATA_PERIOD;
    ((r.wrapping_mul(2_654_435_761) ^ c.wrapping_mul(40_503)) % 10_007) as f32 / 7.0
}

#[test]
#[ignore]
fn stats_of_more_than_2_31_stored_entries() {
    let n_rows: usize = 1_100_000;
    let nnz = n_rows * WIDE;
    assert!(nnz > 1 << 31);
    let t0 = Instant::now();
    // int64 indices 0..2048 in every row: 16 KiB a row; chunk 32768 rows = 512 MiB.
    let idx_chunk: Vec<i64> = (0..32_768 * WIDE).map(|j| (j % WIDE) as i64).collect();
    let idx_bytes = unsafe { std::slice::from_raw_parts(idx_chunk.as_ptr() as *const u8, idx_chunk.len() * 8) };
    let indices = Repeated::new(idx_bytes, nnz * 8);
    drop(idx_chunk);
    let data_chunk: Vec<f32> = (0..DATA_PERIOD * WIDE).map(|j| big_value(j / WIDE, j % WIDE)).collect();
    let data_bytes = unsafe { std::slice::from_raw_parts(data_chunk.as_ptr() as *const u8, data_chunk.len() * 4) };
    let data = Repeated::new(data_bytes, nnz * 4);
    drop(data_chunk);
    let indptr: Vec<i64> = (0..=n_rows).map(|r| (r * WIDE) as i64).collect();
    eprintln!("set up {nnz} stored entries (virtual {:.1} GB) in {:?}", (nnz * 12) as f64 / 1e9, t0.elapsed());
    let x = sc_sparse {
        n_rows: n_rows as u64,
        n_cols: WIDE as u64,
        indptr: indptr.as_ptr() as *const c_void,
        indptr_len: indptr.len(),
        indices: indices.base as *const c_void,
        indices_len: nnz,
        data: data.base as *const c_void,
        data_len: nnz,
        index_type: SC_INDEX_INT64,
        value_type: SC_VALUE_FLOAT32,
        index_base: 0,
    };
    let samples = [0usize, 1, 2, 1000, 1023, 1024, 2046, 2047];
    for (flavor, t_parts) in [(SC_FLAVOR_SCANPY, 2usize), (SC_FLAVOR_SEURAT, 1)] {
        let mut mean = vec![f64::NAN; WIDE];
        let mut var = vec![f64::NAN; WIDE];
        let mut sd = vec![f64::NAN; WIDE];
        let mut o = defaults(flavor);
        o.n_partitions = t_parts as u32;
        o.mean_out = mean.as_mut_ptr();
        o.mean_out_len = WIDE;
        o.var_out = var.as_mut_ptr();
        o.var_out_len = WIDE;
        o.std_out = sd.as_mut_ptr();
        o.std_out_len = WIDE;
        let t = Instant::now();
        let st = unsafe { sc_stats_csr(&x, &o) };
        let dt = t.elapsed();
        assert_eq!(st, SC_STATUS_OK, "{}", last_error());
        eprintln!("flavor {flavor}: sc_stats_csr over {nnz} entries in {dt:?}");
        let n = n_rows as f64;
        for &c in &samples {
            let want = if flavor == SC_FLAVOR_SCANPY {
                // Round-robin partials over rows, squares in float32, combined in order from 0.
                let (mut s2, mut q2) = (vec![0.0f64; t_parts], vec![0.0f64; t_parts]);
                for r in 0..n_rows {
                    let v = big_value(r, c);
                    s2[r % t_parts] += v as f64;
                    q2[r % t_parts] += (v * v) as f64;
                }
                let (mut ss, mut qq) = (0.0f64, 0.0f64);
                for t in 0..t_parts {
                    ss += s2[t];
                    qq += q2[t];
                }
                let m = ss / n;
                let mut v = qq / n - m * m;
                v *= n / (n - 1.0);
                let mut d = v.sqrt();
                if d == 0.0 {
                    d = 1.0;
                }
                [m, v, d]
            } else {
                let mut s = 0.0f64;
                for r in 0..n_rows {
                    s += big_value(r, c) as f64;
                }
                let m = s / n;
                let mut ss = 0.0f64;
                for r in 0..n_rows {
                    let d = big_value(r, c) as f64 - m;
                    ss += d * d;
                }
                ss += (m * m) * 0.0; // every cell stores the gene: n - nnz = 0
                let v = ss / (n - 1.0);
                [m, v, v.sqrt()]
            };
            let got = [mean[c], var[c], sd[c]];
            for k in 0..3 {
                assert_eq!(got[k].to_bits(), want[k].to_bits(), "flavor {flavor} gene {c} stat {k}: got {:e} want {:e}", got[k], want[k]);
            }
        }
        assert!(mean.iter().chain(&sd).all(|v| v.is_finite()), "a statistic was not written");
    }
    eprintln!(
        "peak RSS (VmHWM, counts each mapping of the shared chunks again) {} MB; private RSS now {} MB; physical chunks {} MB",
        proc_status("VmHWM:") / 1024,
        proc_status("RssAnon:") / 1024,
        (32_768 * WIDE * 8 + DATA_PERIOD * WIDE * 4) >> 20
    );
}

// ---------------------------------------------------------------------------------------------
// More than 2^32 output elements.

/// Seurat's rule: upper clip at scale.max = 10, then NaN -> 0; rounded once to float32.
fn seurat_z(x: f64, mean: f64, sd: f64) -> f32 {
    let mut z = (x - mean) / sd;
    if z > 10.0 {
        z = 10.0;
    }
    (if z.is_nan() { 0.0 } else { z }) as f32
}

#[test]
#[ignore]
fn output_of_more_than_2_32_float32_elements() {
    let n_rows: usize = (1 << 21) + 1;
    let total = n_rows * WIDE;
    assert!(total > 1 << 32);
    // One stored entry every 1021 cells, in a gene that walks through all genes.
    let mut indptr = vec![0i32];
    let (mut indices, mut vals) = (vec![], vec![]);
    let mut per_gene: Vec<Vec<(usize, f64)>> = vec![vec![]; WIDE];
    for r in 0..n_rows {
        if r % 1021 == 0 || r == n_rows - 1 {
            let c = (r / 1021 * 7 + 3) % WIDE;
            let v = 1.0 + (r % 13) as f64 / 4.0;
            indices.push(c as i32);
            vals.push(v);
            per_gene[c].push((r, v));
        }
        indptr.push(indices.len() as i32);
    }
    let x = common::sparse_of(n_rows, WIDE, &indptr, &indices, &vals);
    let t0 = Instant::now();
    let mut out: Vec<f32> = Vec::with_capacity(total);
    // The library writes every element; the memory is left untouched until then.
    let od = sc_dense_out {
        data: out.as_mut_ptr() as *mut c_void,
        data_len: total,
        value_type: SC_VALUE_FLOAT32,
        n_cols: WIDE as u64,
        row_stride: 0,
    };
    let mut o = defaults(SC_FLAVOR_SEURAT);
    o.n_threads = 0;
    let st = unsafe { sc_scale_csr(&x, &o, &od) };
    let dt = t0.elapsed();
    assert_eq!(st, SC_STATUS_OK, "{}", last_error());
    unsafe { out.set_len(total) };
    eprintln!("sc_scale_csr into {total} float32 elements ({:.1} GB) in {dt:?}", (total * 4) as f64 / 1e9);
    // Seurat per gene: mean, sum of squared deviations of stored entries + mean^2 (n - nnz).
    let n = n_rows as f64;
    let mut zero_row = vec![0f32; WIDE];
    let mut stats = vec![(0.0f64, 1.0f64); WIDE];
    for c in 0..WIDE {
        let mut s = 0.0;
        for &(_, v) in &per_gene[c] {
            s += v;
        }
        let m = s / n;
        let mut ss = 0.0;
        for &(_, v) in &per_gene[c] {
            ss += (v - m) * (v - m);
        }
        ss += (m * m) * (n_rows - per_gene[c].len()) as f64;
        let sd = (ss / (n - 1.0)).sqrt();
        stats[c] = (m, sd);
        zero_row[c] = seurat_z(0.0, m, sd);
    }
    // Every element: each row is the zero row except its stored entry.
    let t1 = Instant::now();
    let mut bad = 0usize;
    for r in 0..n_rows {
        let row = &out[r * WIDE..(r + 1) * WIDE];
        let (lo, hi) = (indptr[r] as usize, indptr[r + 1] as usize);
        for c in 0..WIDE {
            let want = if hi > lo && indices[lo] as usize == c {
                let (m, sd) = stats[c];
                seurat_z(vals[lo], m, sd)
            } else {
                zero_row[c]
            };
            if row[c].to_bits() != want.to_bits() {
                bad += 1;
                if bad < 10 {
                    eprintln!("out[{r},{c}] = {} want {}", row[c], want);
                }
            }
        }
    }
    eprintln!("checked all {total} elements in {:?}; element 2^32 + 1 is row {}", t1.elapsed(), ((1usize << 32) + 1) / WIDE);
    assert_eq!(bad, 0, "{bad} elements differ");
    eprintln!("peak RSS (VmHWM) {} MB", proc_status("VmHWM:") / 1024);
}
