//! Seurat's `ScaleData` on a dense double matrix (`FastRowScale`: matrixStats' `rowMeans2`,
//! `rowSds(center =)` and `rowSums2`, then R's arithmetic), bit for bit. The arithmetic is in
//! `seurat_dense.c` because base R's `rowMeans` under `rowSds` sums in C's `long double` (x87
//! 80-bit on x86_64), which Rust cannot express; this module checks every argument first and is
//! the only caller of the C code.
//!
//! Layout: the input is cells x genes row-major with a row stride, i.e. exactly R's genes x cells
//! column-major matrix; the output is cells x `n_out` row-major (R's `n_out` x cells matrix).

use crate::exec::Exec;
use crate::matrix::Dense;
use crate::options::{ColumnMap, Groups, SKIP};
use crate::status::{fail, Result, *};
use std::any::Any;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// Seurat's switches for [`scale`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeuratDenseParams {
    /// `do.center`.
    pub center: bool,
    /// `do.scale`.
    pub scale: bool,
    /// The second pass of matrixStats' `rowMeans2` (its default `refine = TRUE` since matrixStats
    /// 1.0.0; earlier versions take the one-pass mean): follow the matrixStats the caller has.
    pub refine_mean: bool,
    /// `scale.max`: values above it become it; `f64::INFINITY` = no clipping. Not NaN.
    pub scale_max: f64,
}

// Return values of the C kernel (#defines in seurat_dense.c).
const C_OK: c_int = 0;
const C_CANCELLED: c_int = 1;
const C_NO_MEMORY: c_int = 2;

/// Cells between two polls of the progress callback in the C kernel (in every pass).
const POLL_CELLS: u64 = 1024;

// Internal to the crate (compiled by build.rs), not part of the C ABI: the annotation keeps it
// out of include/scscale.h (cbindgen reads it only as a doc comment on the block).
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    fn scscale_seurat_dense_scale(
        x: *const f64,
        n_cells: usize,
        stride: usize,
        rows: *const usize,
        n_out: usize,
        groups: *const i32,
        n_groups: usize,
        center: c_int,
        scale: c_int,
        refine: c_int,
        scale_max: f64,
        out: *mut f64,
        progress: Option<unsafe extern "C" fn(data: *mut c_void) -> c_int>,
        progress_data: *mut c_void,
    ) -> c_int;
}

/// What the C kernel's progress polls report through: the caller's [`Exec`], and where the kernel is.
struct Poll<'e, 'a> {
    exec: &'e mut Exec<'a>,
    n_cells: u64,
    /// Polls per pass: cells 0, 1024, ... below `n_cells`.
    per_pass: u64,
    total: u64,
    polls: u64,
    /// A panic of the callback, resumed once the C frames are gone.
    panic: Option<Box<dyn Any + Send>>,
}

/// Called by the C kernel on the calling thread; nonzero stops it.
unsafe extern "C" fn poll(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the `&mut Poll` that `scale` passed for this call, which outlives the C
    // call and is not otherwise used while it runs; the kernel calls this on the same thread.
    let st = unsafe { &mut *(data as *mut Poll<'_, '_>) };
    let k = st.polls;
    st.polls += 1;
    let done = ((k / st.per_pass) * st.n_cells + (k % st.per_pass) * POLL_CELLS).min(st.total);
    let total = st.total;
    // A panic must not unwind through C frames: keep it and stop the kernel.
    match catch_unwind(AssertUnwindSafe(|| st.exec.report(done, total))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            st.panic = Some(p);
            1
        }
    }
}

/// Seurat's dense `ScaleData` of `x` (cells x genes) into `out` (cells x `map.n_out`, row-major;
/// only the first `n_cells * n_out` values are written). `map` picks and orders the genes (Seurat's
/// `features`), `groups` are `split.by` (cells labelled -1 get 0, as Seurat's NA group). Single
/// threaded; `exec`'s progress callback is told `(done, total)` in cells over the passes made and
/// may stop the call (`SC_STATUS_CANCELLED`, the output then unspecified).
pub fn scale(
    x: &Dense<'_, f64>,
    map: &ColumnMap,
    groups: &Groups<'_>,
    p: &SeuratDenseParams,
    exec: &mut Exec<'_>,
    out: &mut [f64],
) -> Result<()> {
    let (n_cells, n_genes, n_out) = (x.n_rows, x.n_cols, map.n_out);
    if !map.fits(n_genes) {
        fail!(SC_STATUS_COLUMN_MAP_LENGTH, "the column map was made for another number of genes than the matrix's {n_genes}");
    }
    if !groups.fits(n_cells) {
        fail!(SC_STATUS_GROUPS_LENGTH, "the groups were made for another number of cells than the matrix's {n_cells}");
    }
    if p.scale_max.is_nan() {
        fail!(SC_STATUS_INVALID_OPTION, "scale_max is NaN; give a number (f64::INFINITY for no clipping)");
    }
    let Some(need) = n_cells.checked_mul(n_out).filter(|&n| n <= isize::MAX as usize / 8) else {
        fail!(SC_STATUS_SIZE_OVERFLOW, "{n_cells} cells x {n_out} output genes overflow the address space");
    };
    if out.len() < need {
        fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out has {} values; {n_cells} cells x {n_out} genes need {need}", out.len());
    }
    // The kernel's workspace: per (group, gene) five doubles and a long double (at most 16 bytes).
    let n_groups = groups.n_groups;
    if n_groups.checked_mul(n_out).and_then(|k| k.checked_mul(56)).map_or(true, |b| b > isize::MAX as usize) {
        fail!(SC_STATUS_SIZE_OVERFLOW, "{n_groups} groups x {n_out} output genes overflow the address space");
    }
    // Output row -> gene: the kernel reads `x[c * stride + rows[o]]`.
    let mut rows = vec![usize::MAX; n_out];
    for g in 0..n_genes {
        let o = map.get(g);
        if o != SKIP {
            rows[o as usize] = g;
        }
    }
    // ColumnMap::new guarantees every output column one gene; the C kernel relies on it.
    if let Some(o) = rows.iter().position(|&g| g >= n_genes) {
        fail!(SC_STATUS_INVALID_COLUMN_MAP, "no gene maps to output column {o}");
    }
    // Dense::new checks this too, but its fields are public.
    let x_len = crate::matrix::required_len(n_cells, n_genes, x.stride, "input row_stride")?;
    if x.data.len() < x_len {
        fail!(SC_STATUS_LENGTH_MISMATCH, "data has {} values; {n_cells} rows of stride {} need {x_len}", x.data.len(), x.stride);
    }

    let passes = u64::from(p.center) * (1 + u64::from(p.refine_mean)) + u64::from(p.scale) + 1;
    let n_cells64 = n_cells as u64;
    let total = passes * n_cells64;
    let mut st = Poll { exec, n_cells: n_cells64, per_pass: n_cells64.div_ceil(POLL_CELLS).max(1), total, polls: 0, panic: None };
    let labels = groups.labels();
    // SAFETY: every pointer comes from a live slice of this frame, and the lengths the kernel relies
    // on were checked above: `x.data` holds `(n_cells - 1) * stride + n_genes` values and every
    // `rows[o] < n_genes <= stride`; `labels` is NULL or `n_cells` labels in -1..n_groups (Groups::new);
    // `rows` has `n_out` entries; `out` (exclusively borrowed, so not overlapping `x`) has at least
    // `n_cells * n_out` values. `poll` receives `&mut st`, which lives across the call and is not
    // touched here until the call returns; it runs on this thread and never unwinds.
    let rc = unsafe {
        scscale_seurat_dense_scale(
            x.data.as_ptr(),
            n_cells,
            x.stride,
            rows.as_ptr(),
            n_out,
            labels.map_or(std::ptr::null(), |l| l.as_ptr()),
            n_groups,
            c_int::from(p.center),
            c_int::from(p.scale),
            c_int::from(p.refine_mean),
            p.scale_max,
            out.as_mut_ptr(),
            Some(poll),
            &mut st as *mut Poll<'_, '_> as *mut c_void,
        )
    };
    if let Some(panic) = st.panic.take() {
        resume_unwind(panic);
    }
    match rc {
        C_OK => {}
        C_CANCELLED => fail!(SC_STATUS_CANCELLED, "cancelled by the progress callback; the output is unspecified"),
        C_NO_MEMORY => fail!(
            SC_STATUS_SIZE_OVERFLOW,
            "could not allocate the workspace for {n_groups} groups x {n_out} genes (about {} bytes)",
            n_groups * n_out * 56
        ),
        other => unreachable!("seurat_dense.c returned {other}"),
    }
    if !st.exec.report(total, total) {
        fail!(SC_STATUS_CANCELLED, "cancelled by the progress callback after the last pass; the output is complete");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward f64 version of FastRowScale (no long double, one-pass or two-pass mean).
    fn reference(
        x: &[f64],
        n_cells: usize,
        n_genes: usize,
        rows: &[usize],
        labels: Option<&[i32]>,
        n_groups: usize,
        p: &SeuratDenseParams,
    ) -> Vec<f64> {
        let n_out = rows.len();
        let mut out = vec![0.0; n_cells * n_out];
        for g in 0..n_groups {
            let cells: Vec<usize> = (0..n_cells).filter(|&c| labels.map_or(0, |l| l[c]) == g as i32).collect();
            for (o, &gene) in rows.iter().enumerate() {
                let v: Vec<f64> = cells.iter().map(|&c| x[c * n_genes + gene]).collect();
                let ok: Vec<f64> = v.iter().copied().filter(|a| !a.is_nan()).collect();
                let mut mean = 0.0;
                if p.center {
                    mean = ok.iter().sum::<f64>() / ok.len() as f64;
                    if p.refine_mean && mean.is_finite() {
                        mean += ok.iter().map(|a| a - mean).sum::<f64>() / ok.len() as f64;
                    }
                }
                let n = v.len() as f64;
                let sd = if !p.scale {
                    1.0
                } else if p.center {
                    if v.len() <= 1 {
                        f64::NAN
                    } else {
                        (v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0)).sqrt()
                    }
                } else {
                    (v.iter().map(|a| a * a).sum::<f64>() / (n - 1.0)).sqrt()
                };
                for (&c, &a) in cells.iter().zip(&v) {
                    let z = ((a - mean) / sd).min(p.scale_max);
                    out[c * n_out + o] = if z.is_nan() { 0.0 } else { z };
                }
            }
        }
        out
    }

    fn data(n_cells: usize, n_genes: usize) -> Vec<f64> {
        // Deterministic, varied magnitudes, some exact zeros.
        let mut s = 0x2545_f491_4f6c_dd1du64;
        (0..n_cells * n_genes)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                if u < 0.3 {
                    0.0
                } else {
                    (u * 7.0).exp() - 1.0
                }
            })
            .collect()
    }

    const ALL: SeuratDenseParams = SeuratDenseParams { center: true, scale: true, refine_mean: false, scale_max: 10.0 };

    #[allow(clippy::too_many_arguments)]
    fn run(
        x: &[f64],
        n_cells: usize,
        n_genes: usize,
        map: Option<&[i64]>,
        n_out: usize,
        labels: Option<&[i32]>,
        n_groups: usize,
        p: &SeuratDenseParams,
    ) -> Result<Vec<f64>> {
        let d = Dense::new(n_cells, n_genes, n_genes, x)?;
        let m = ColumnMap::new(map, n_genes, n_out)?;
        let g = Groups::new(labels, n_groups, n_cells)?;
        let mut exec = Exec::new(1, None)?;
        let mut out = vec![f64::NAN; n_cells * n_out];
        scale(&d, &m, &g, p, &mut exec, &mut out)?;
        Ok(out)
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (k, (a, b)) in got.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "element {k}: {a} vs {b}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn matches_an_f64_reference_for_every_switch() {
        let (nc, ng) = (37, 9);
        let x = data(nc, ng);
        let rows = [4usize, 0, 7, 2];
        let map: Vec<i64> = (0..ng).map(|g| rows.iter().position(|&r| r == g).map_or(-1, |o| o as i64)).collect();
        for center in [false, true] {
            for scale_ in [false, true] {
                for refine_mean in [false, true] {
                    for scale_max in [f64::INFINITY, 1.5, -0.25] {
                        let p = SeuratDenseParams { center, scale: scale_, refine_mean, scale_max };
                        let got = run(&x, nc, ng, Some(&map), rows.len(), None, 1, &p).unwrap();
                        assert_close(&got, &reference(&x, nc, ng, &rows, None, 1, &p));
                        if scale_max.is_finite() {
                            assert!(got.iter().all(|&z| z <= scale_max));
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn groups_and_na_group() {
        let (nc, ng) = (50, 6);
        let x = data(nc, ng);
        let labels: Vec<i32> = (0..nc as i32).map(|c| [0, 1, 2, -1][(c % 4) as usize]).collect();
        let rows: Vec<usize> = (0..ng).collect();
        for refine_mean in [false, true] {
            let p = SeuratDenseParams { refine_mean, ..ALL };
            let got = run(&x, nc, ng, None, ng, Some(&labels), 3, &p).unwrap();
            assert_close(&got, &reference(&x, nc, ng, &rows, Some(&labels), 3, &p));
            for c in (3..nc).step_by(4) {
                assert!(got[c * ng..(c + 1) * ng].iter().all(|&z| z == 0.0), "NA-group cell {c} must be 0");
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn nan_values_are_skipped_in_the_mean_and_become_zero() {
        let (nc, ng) = (8, 2);
        let mut x = data(nc, ng);
        x[3 * ng] = f64::NAN;
        let got = run(&x, nc, ng, None, ng, None, 1, &SeuratDenseParams { scale: false, ..ALL }).unwrap();
        let ok: Vec<f64> = (0..nc).filter(|&c| c != 3).map(|c| x[c * ng]).collect();
        let mean = ok.iter().sum::<f64>() / ok.len() as f64;
        assert_eq!(got[3 * ng], 0.0);
        assert!((got[0] - (x[0] - mean).min(10.0)).abs() < 1e-12);
        // With scaling the sum of squares is NaN (R's rowSds without na.rm): the whole gene is 0.
        let got = run(&x, nc, ng, None, ng, None, 1, &ALL).unwrap();
        assert!((0..nc).all(|c| got[c * ng] == 0.0));
        assert!((0..nc).any(|c| got[c * ng + 1] != 0.0));
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn infinite_values_follow_matrixstats() {
        let (nc, ng) = (4, 1);
        let x = [1.0, f64::INFINITY, 2.0, 3.0];
        // Mean +Inf: every centred value NaN or -Inf; sd NaN -> all 0.
        assert_eq!(run(&x, nc, ng, None, ng, None, 1, &ALL).unwrap(), vec![0.0; 4]);
        // Sums beyond DBL_MAX are +-Inf before the division.
        let x = [f64::MAX, f64::MAX, 0.0, 0.0];
        let got = run(&x, nc, ng, None, ng, None, 1, &SeuratDenseParams { scale: false, ..ALL }).unwrap();
        assert_eq!(got, vec![f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn a_group_of_one_cell_has_sd_na_and_gives_zeros() {
        let x = data(5, 3);
        let labels = [0, 1, 1, 1, 1];
        let got = run(&x, 5, 3, None, 3, Some(&labels), 2, &ALL).unwrap();
        assert_eq!(&got[..3], &[0.0; 3]);
        // Not scaling: the single cell is only centred (to 0 as well, being its own mean).
        let got = run(&x, 5, 3, None, 3, Some(&labels), 2, &SeuratDenseParams { scale: false, ..ALL }).unwrap();
        assert_eq!(&got[..3], &[0.0; 3]);
        let got = run(&x, 1, 3, None, 3, None, 1, &ALL).unwrap();
        assert_eq!(got, vec![0.0; 3]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn long_double_variance_differs_from_f64_only_in_the_last_bits() {
        // Values where a double sum of squares loses bits: the kernel must still be within 1e-12.
        let nc = 3000;
        let x: Vec<f64> = (0..nc).map(|c| 1e8 + (c % 7) as f64 * 1e-3).collect();
        let p = SeuratDenseParams { scale_max: f64::INFINITY, refine_mean: true, ..ALL };
        let got = run(&x, nc, 1, None, 1, None, 1, &p).unwrap();
        let want = reference(&x, nc, 1, &[0], None, 1, &p);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn strided_input_and_larger_output() {
        let (nc, ng, stride) = (6, 3, 5);
        let full = data(nc, stride);
        let packed: Vec<f64> = (0..nc).flat_map(|c| full[c * stride..c * stride + ng].to_vec()).collect();
        let d = Dense::new(nc, ng, stride, &full).unwrap();
        let m = ColumnMap::new(None, ng, ng).unwrap();
        let g = Groups::new(None, 1, nc).unwrap();
        let mut exec = Exec::new(1, None).unwrap();
        let mut out = vec![7.0; nc * ng + 2];
        scale(&d, &m, &g, &ALL, &mut exec, &mut out).unwrap();
        assert_eq!(&out[nc * ng..], &[7.0, 7.0]);
        assert_eq!(out[..nc * ng], run(&packed, nc, ng, None, ng, None, 1, &ALL).unwrap()[..]);
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn progress_reports_every_pass_and_cancels() {
        let (nc, ng) = (2500, 2);
        let x = data(nc, ng);
        let d = Dense::new(nc, ng, ng, &x).unwrap();
        let m = ColumnMap::new(None, ng, ng).unwrap();
        let g = Groups::new(None, 1, nc).unwrap();
        let p = SeuratDenseParams { refine_mean: true, ..ALL };
        let mut out = vec![0.0; nc * ng];
        let seen = std::cell::RefCell::new(Vec::new());
        let cb = |done: u64, total: u64| {
            seen.borrow_mut().push((done, total));
            true
        };
        let mut exec = Exec::new(1, Some(&cb)).unwrap();
        scale(&d, &m, &g, &p, &mut exec, &mut out).unwrap();
        drop(exec);
        let seen = seen.into_inner();
        // 4 passes of 3 polls (cells 0, 1024, 2048), then the end.
        let total = 4 * nc as u64;
        assert_eq!(seen.len(), 13);
        assert_eq!(seen[0], (0, total));
        assert_eq!(seen[1], (1024, total));
        assert_eq!(seen[3], (nc as u64, total));
        assert_eq!(*seen.last().unwrap(), (total, total));
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));

        for stop_at in [0usize, 5, 12] {
            let k = std::cell::Cell::new(0);
            let cb = |_: u64, _: u64| {
                k.set(k.get() + 1);
                k.get() <= stop_at
            };
            let mut exec = Exec::new(1, Some(&cb)).unwrap();
            let e = scale(&d, &m, &g, &p, &mut exec, &mut out).unwrap_err();
            assert_eq!(e.status, SC_STATUS_CANCELLED, "{e}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "calls C")]
    fn a_panicking_callback_unwinds_after_the_c_frames() {
        let x = data(4, 2);
        let d = Dense::new(4, 2, 2, &x).unwrap();
        let m = ColumnMap::new(None, 2, 2).unwrap();
        let g = Groups::new(None, 1, 4).unwrap();
        let mut out = vec![0.0; 8];
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let cb = |_: u64, _: u64| -> bool { panic!("from the callback") };
            let mut exec = Exec::new(1, Some(&cb)).unwrap();
            let _ = scale(&d, &m, &g, &ALL, &mut exec, &mut out);
        }));
        assert!(r.is_err());
    }

    #[test]
    fn arguments_are_checked_before_the_c_call() {
        let x = data(4, 3);
        let d = Dense::new(4, 3, 3, &x).unwrap();
        let g = Groups::new(None, 1, 4).unwrap();
        let mut exec = Exec::new(1, None).unwrap();
        let mut out = vec![0.0; 12];
        let other_map = ColumnMap::new(Some(&[0, -1]), 2, 1).unwrap();
        let e = scale(&d, &other_map, &g, &ALL, &mut exec, &mut out).unwrap_err();
        assert_eq!(e.status, SC_STATUS_COLUMN_MAP_LENGTH);
        let m = ColumnMap::new(None, 3, 3).unwrap();
        let other_groups = Groups::new(Some(&[0, 0, 0]), 1, 3).unwrap();
        let e = scale(&d, &m, &other_groups, &ALL, &mut exec, &mut out).unwrap_err();
        assert_eq!(e.status, SC_STATUS_GROUPS_LENGTH);
        let e = scale(&d, &m, &g, &SeuratDenseParams { scale_max: f64::NAN, ..ALL }, &mut exec, &mut out).unwrap_err();
        assert_eq!(e.status, SC_STATUS_INVALID_OPTION);
        let e = scale(&d, &m, &g, &ALL, &mut exec, &mut out[..11]).unwrap_err();
        assert_eq!(e.status, SC_STATUS_OUTPUT_TOO_SMALL);
    }
}
