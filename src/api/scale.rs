//! Scaling: sparse -> dense, sparse -> same-pattern values, dense -> dense.

use super::{write_stats, Call, DenseIn, DenseInOut, DenseOut, Options, Sparse, SparseMut, StatsOut};
use crate::exec::{Exec, SharedConst, SharedMut};
use crate::matrix::{required_len, Compressed, Dense, Index, Pattern, Value, CSC_AXES, CSR_AXES};
use crate::options::{ColumnMap, Flavor, Groups};
use crate::stats::{self, Stats};
use crate::status::{fail, Result, *};
use crate::transform::{self, DenseSrc, Rule};

/// Which compressed axis the input has, and the order of the dense output.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    CsrRows,
    CscRows,
    CscColumns,
}

/// Validates `x` on the call's pool: CSR when `csr`, else CSC.
fn view<'a, I: Index, V: Value>(x: &Sparse<'a, I, V>, csr: bool, exec: &Exec) -> Result<Compressed<'a, I, V>> {
    let (n_major, n_minor, axes) = if csr { (x.n_rows, x.n_cols, CSR_AXES) } else { (x.n_cols, x.n_rows, CSC_AXES) };
    exec.install(|| Compressed::new(n_major, n_minor, x.indptr, x.indices, x.data, x.index_base, axes))
}

/// Scales a CSR cells x genes matrix into a dense row-major output.
pub fn scale_csr<I: Index, V: Value, W: Value>(x: &Sparse<I, V>, opts: &Options, out: DenseOut<W>, stats_out: StatsOut) -> Result<()> {
    scale_sparse(x, opts, out, stats_out, Order::CsrRows)
}

/// Scales a CSC cells x genes matrix (Scanpy flavors) into a dense row-major output.
pub fn scale_csc<I: Index, V: Value, W: Value>(x: &Sparse<I, V>, opts: &Options, out: DenseOut<W>, stats_out: StatsOut) -> Result<()> {
    scale_sparse(x, opts, out, stats_out, Order::CscRows)
}

/// Scales a CSC cells x genes matrix (Scanpy flavors) into a dense column-major output, the order
/// scipy's CSC `toarray()` gives: cell `r`, output column `j` is `data[j * n_rows + r]`.
pub fn scale_csc_column_major<I: Index, V: Value, W: Value>(
    x: &Sparse<I, V>,
    opts: &Options,
    out: DenseOut<W>,
    stats_out: StatsOut,
) -> Result<()> {
    scale_sparse(x, opts, out, stats_out, Order::CscColumns)
}

fn scale_sparse<I: Index, V: Value, W: Value>(
    x: &Sparse<I, V>,
    opts: &Options,
    out: DenseOut<W>,
    mut stats_out: StatsOut,
    order: Order,
) -> Result<()> {
    let csr = order == Order::CsrRows;
    if order == Order::CscColumns && out.row_stride != 0 {
        fail!(SC_STATUS_UNSUPPORTED, "out.row_stride is {}; column-major output is contiguous: expected 0", out.row_stride);
    }
    let call = Call::new(opts, &stats_out)?;
    if call.params.flavor == Flavor::Seurat && !csr {
        fail!(
            SC_STATUS_UNSUPPORTED,
            "the Seurat flavor reads genes x cells dgCMatrix memory, which is CSR cells x genes: use sc_scale_csr"
        );
    }
    call.check_scratch(x.n_rows, x.n_cols, out.n_cols)?;
    let mut exec = call.exec()?;
    let m = view(x, csr, &exec)?;
    let (n_rows, n_genes) = (x.n_rows, x.n_cols);
    if m.p.has_duplicates && (call.params.flavor == Flavor::Seurat || !csr) {
        fail!(
            SC_STATUS_DUPLICATE_ENTRY,
            "the matrix stores some (row, column) more than once; {}",
            if csr {
                "Seurat's dgCMatrix cannot, so the Seurat flavor refuses it"
            } else {
                "sum duplicates first (scipy: sum_duplicates())"
            }
        );
    }
    let groups = call.groups(n_rows)?;
    let map = ColumnMap::new(call.column_map, n_genes, out.n_cols)?;
    call.check_stats_lengths(n_genes, &stats_out)?;
    let column_major = order == Order::CscColumns;
    let (lines, width, stride) = if column_major {
        (map.n_out, n_rows, n_rows)
    } else {
        (n_rows, map.n_out, if out.row_stride == 0 { map.n_out } else { out.row_stride })
    };
    let need = required_len(lines, width, stride, "out.row_stride")?;
    if out.data.len() < need {
        let how = if column_major { "in column-major order".to_string() } else { format!("with row stride {stride}") };
        fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; {n_rows} rows x {} columns {how} need {need}", out.data.len(), map.n_out);
    }
    let data = &mut out.data[..need];
    let (params, threads) = (call.params, exec.threads);
    let stats = call.stats(n_genes, || exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr)));
    if call.hugepages {
        crate::hugepages::advise(data.as_mut_ptr() as *mut u8, std::mem::size_of_val(data));
    }
    let rule = Rule::new(&call.params);
    match order {
        Order::CsrRows => transform::csr_to_dense(&mut exec, &m, &groups, &map, &stats, rule, transform::DenseOut { data, stride })?,
        Order::CscRows => transform::csc_to_dense(&mut exec, &m, &groups, &map, &stats, rule, transform::DenseOut { data, stride })?,
        Order::CscColumns => transform::csc_to_dense_colmajor(&mut exec, &m, &groups, &map, &stats, rule, data)?,
    }
    write_stats(&stats, &mut stats_out);
    Ok(())
}

/// Scanpy `zero_center=False` on CSR: one output value per stored entry, `f64(v) / std`, then
/// `min(max_value, q)` (NaN becomes max_value).
pub fn scale_csr_values<I: Index, V: Value, W: Value>(x: &Sparse<I, V>, opts: &Options, out: &mut [W], stats_out: StatsOut) -> Result<()> {
    let pattern = x.with_data::<()>(&[]);
    // SAFETY: a shared and an exclusive borrow: live for the call and disjoint.
    unsafe { values_call(&pattern, (x.data.as_ptr(), x.data.len()), (out.as_mut_ptr(), out.len()), opts, stats_out, true) }
}

/// Scanpy `zero_center=False` on CSC: one output value per stored entry, `f64(v) / std`, then an
/// upper clip that keeps NaN.
pub fn scale_csc_values<I: Index, V: Value, W: Value>(x: &Sparse<I, V>, opts: &Options, out: &mut [W], stats_out: StatsOut) -> Result<()> {
    let pattern = x.with_data::<()>(&[]);
    // SAFETY: as in `scale_csr_values`.
    unsafe { values_call(&pattern, (x.data.as_ptr(), x.data.len()), (out.as_mut_ptr(), out.len()), opts, stats_out, false) }
}

/// [`scale_csr_values`] writing over the input's values.
pub fn scale_csr_values_in_place<I: Index, V: Value>(x: SparseMut<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let (len, p) = (x.data.len(), x.data.as_mut_ptr());
    // SAFETY: one exclusive borrow, read and written through the one pointer taken from it.
    unsafe { values_call(&x.pattern, (p as *const V, len), (p, len), opts, stats_out, true) }
}

/// [`scale_csc_values`] writing over the input's values.
pub fn scale_csc_values_in_place<I: Index, V: Value>(x: SparseMut<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let (len, p) = (x.data.len(), x.data.as_mut_ptr());
    // SAFETY: as in `scale_csr_values_in_place`.
    unsafe { values_call(&x.pattern, (p as *const V, len), (p, len), opts, stats_out, false) }
}

/// The same-pattern call. `pattern` carries no values; `data` are the input's values and `out`
/// the output's.
///
/// # Safety
/// `data` and `out` point to that many live elements for the call and nothing else accesses them;
/// they are disjoint, or (in place) the same pointer of one exclusive borrow with `V == W`.
unsafe fn values_call<I: Index, V: Value, W: Value>(
    pattern: &Sparse<I, ()>,
    data: (*const V, usize),
    out: (*mut W, usize),
    opts: &Options,
    mut stats_out: StatsOut,
    csr: bool,
) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    if call.params.flavor != Flavor::Scanpy || call.params.center {
        fail!(SC_STATUS_UNSUPPORTED, "same-pattern output is Scanpy's zero_center=False path: use SC_FLAVOR_SCANPY with center = false");
    }
    if !csr && call.group_labels.is_some() {
        fail!(SC_STATUS_UNSUPPORTED, "Scanpy converts CSC to CSR when a mask is given: use sc_scale_csr_values");
    }
    call.check_scratch(pattern.n_rows, pattern.n_cols, 0)?;
    let mut exec = call.exec()?;
    // The values are only read here, before the first write: validation and statistics.
    let (p, groups, stats): (Pattern<I>, Groups, Stats) = {
        // SAFETY: the caller's contract; this view is not used once the writes below start.
        let values: &[V] = if data.1 == 0 { &[] } else { unsafe { std::slice::from_raw_parts(data.0, data.1) } };
        let m = view(&pattern.with_data(values), csr, &exec)?;
        let groups = call.groups(pattern.n_rows)?;
        call.check_stats_lengths(pattern.n_cols, &stats_out)?;
        if out.1 < m.nnz() {
            fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {}; expected one value per stored entry ({})", out.1, m.nnz());
        }
        let (params, threads) = (call.params, exec.threads);
        let stats = call.stats(pattern.n_cols, || exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr)));
        (m.p, groups, stats)
    };
    let clip = crate::scanpy_versions::values_clip(call.scanpy_1_10, csr, call.group_labels.is_some());
    // SAFETY: both hold at least nnz elements (checked above) under the caller's contract.
    unsafe { transform::values(&mut exec, &p, !csr, SharedConst(data.0), SharedMut(out.0), &groups, &stats, call.params.max_value, clip) }?;
    write_stats(&stats, &mut stats_out);
    Ok(())
}

/// Scales a C-ordered dense matrix: Scanpy flavors (arithmetic in the input type), or Seurat's
/// dense path (`FastRowScale`; float64 in and out, a separate output, no statistics outputs).
pub fn scale_dense<V: Value, W: Value>(x: &DenseIn<V>, opts: &Options, out: DenseOut<W>, stats_out: StatsOut) -> Result<()> {
    let src = DenseSrc { ptr: SharedConst(x.data.as_ptr()), n_rows: x.n_rows, n_cols: x.n_cols, stride: x.row_stride };
    // SAFETY: a shared and an exclusive borrow: live for the call and disjoint.
    unsafe { dense_call(src, x.data.len(), (out.data.as_mut_ptr(), out.data.len()), out.n_cols, out.row_stride, false, opts, stats_out) }
}

/// [`scale_dense`] writing over the input (same type and stride; no column map).
pub fn scale_dense_in_place<V: Value>(x: DenseInOut<V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let (len, p) = (x.data.len(), x.data.as_mut_ptr());
    let src = DenseSrc { ptr: SharedConst(p as *const V), n_rows: x.n_rows, n_cols: x.n_cols, stride: x.row_stride };
    // SAFETY: one exclusive borrow, read and written through the one pointer taken from it.
    unsafe { dense_call(src, len, (p, len), x.n_cols, x.row_stride, true, opts, stats_out) }
}

/// The dense call. `src` spans `src_len` input elements, `out` the output's.
///
/// # Safety
/// Both point to that many live elements for the call and nothing else accesses them; they are
/// disjoint, or (`in_place`) the same pointer of one exclusive borrow with `V == W`.
#[allow(clippy::too_many_arguments)]
unsafe fn dense_call<V: Value, W: Value>(
    src: DenseSrc<V>,
    src_len: usize,
    out: (*mut W, usize),
    out_cols: usize,
    out_row_stride: usize,
    in_place: bool,
    opts: &Options,
    mut stats_out: StatsOut,
) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    let (n_rows, n_cols) = (src.n_rows, src.n_cols);
    if call.params.flavor == Flavor::Seurat {
        // SAFETY: forwarded from this fn's contract.
        return unsafe {
            super::seurat::dense(
                &call,
                (src.ptr.get(), src_len),
                n_rows,
                n_cols,
                src.stride,
                out,
                out_cols,
                out_row_stride,
                in_place,
                &stats_out,
            )
        };
    }
    call.check_scratch(n_rows, n_cols, out_cols)?;
    let mut exec = call.exec()?;
    let groups = call.groups(n_rows)?;
    let map = ColumnMap::new(call.column_map, n_cols, out_cols)?;
    call.check_stats_lengths(n_cols, &stats_out)?;
    let out_stride = if out_row_stride == 0 { map.n_out } else { out_row_stride };
    if in_place && (!map.is_identity() || out_stride != src.stride) {
        fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs the same value type and row stride and no column map");
    }
    // The input is only read here, before the first write: validation and statistics.
    let stats = {
        // SAFETY: the caller's contract; this view is not used once the writes below start.
        let input: &[V] = if src_len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(src.ptr.get(), src_len) } };
        let m = Dense::new(n_rows, n_cols, src.stride, input)?;
        let out_need = required_len(n_rows, map.n_out, out_stride, "out.row_stride")?;
        if out.1 < out_need {
            fail!(
                SC_STATUS_OUTPUT_TOO_SMALL,
                "out.data_len is {}; {n_rows} rows x {} columns with row stride {out_stride} need {out_need}",
                out.1,
                map.n_out
            );
        }
        call.check_dense_columns(n_cols)?;
        let threads = exec.threads;
        call.stats(n_cols, || exec.install(|| stats::dense_stats(&m, &groups, threads)))
    };
    // SAFETY: `src` spans the validated input (`Dense::new` above) and `out` at least `out_need`
    // elements, disjoint or, in place, one pointer with equal strides and an identity map.
    unsafe { transform::dense_to_dense(&mut exec, &src, &groups, &map, &stats, &call.params, SharedMut(out.0), out_stride) }?;
    write_stats(&stats, &mut stats_out);
    Ok(())
}
