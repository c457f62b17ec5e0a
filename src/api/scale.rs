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
    values_call(x, opts, stats_out, true, Target::Other(out))
}

/// Scanpy `zero_center=False` on CSC: one output value per stored entry, `f64(v) / std`, then an
/// upper clip that keeps NaN.
pub fn scale_csc_values<I: Index, V: Value, W: Value>(x: &Sparse<I, V>, opts: &Options, out: &mut [W], stats_out: StatsOut) -> Result<()> {
    values_call(x, opts, stats_out, false, Target::Other(out))
}

/// [`scale_csr_values`] writing over the input's values.
pub fn scale_csr_values_in_place<I: Index, V: Value>(x: SparseMut<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let p = x.pattern;
    let input = Sparse {
        n_rows: p.n_rows,
        n_cols: p.n_cols,
        indptr: p.indptr,
        indices: p.indices,
        data: in_place_view(SharedConst(x.data.as_ptr()), x.data.len()),
        index_base: p.index_base,
    };
    values_call(&input, opts, stats_out, true, Target::<V>::InPlace(x.data))
}

/// [`scale_csc_values`] writing over the input's values.
pub fn scale_csc_values_in_place<I: Index, V: Value>(x: SparseMut<I, V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let p = x.pattern;
    let input = Sparse {
        n_rows: p.n_rows,
        n_cols: p.n_cols,
        indptr: p.indptr,
        indices: p.indices,
        data: in_place_view(SharedConst(x.data.as_ptr()), x.data.len()),
        index_base: p.index_base,
    };
    values_call(&input, opts, stats_out, false, Target::<V>::InPlace(x.data))
}

/// The values of an in-place call as a shared slice, for validation and statistics only: it is
/// read before the first write and never after (writes go through raw pointers).
fn in_place_view<'a, V>(src: SharedConst<V>, len: usize) -> &'a [V] {
    if len == 0 {
        return &[];
    }
    // SAFETY: `src` is the start of a live `&mut [V]` of `len` elements owned by the caller of the
    // in-place function for the whole call; this view is only read, before any write through the
    // same memory (validation and statistics complete before `transform::values` starts).
    unsafe { std::slice::from_raw_parts(src.get(), len) }
}

enum Target<'o, W> {
    /// A separate output buffer.
    Other(&'o mut [W]),
    /// The input's own values (then `W` is the input's type).
    InPlace(&'o mut [W]),
}

fn values_call<I: Index, V: Value, W: Value>(
    x: &Sparse<I, V>,
    opts: &Options,
    mut stats_out: StatsOut,
    csr: bool,
    out: Target<W>,
) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    if call.params.flavor != Flavor::Scanpy || call.params.center {
        fail!(SC_STATUS_UNSUPPORTED, "same-pattern output is Scanpy's zero_center=False path: use SC_FLAVOR_SCANPY with center = false");
    }
    if !csr && call.group_labels.is_some() {
        fail!(SC_STATUS_UNSUPPORTED, "Scanpy converts CSC to CSR when a mask is given: use sc_scale_csr_values");
    }
    call.check_scratch(x.n_rows, x.n_cols, 0)?;
    let mut exec = call.exec()?;
    let (pattern, groups, stats): (Pattern<I>, Groups, Stats) = {
        let m = view(x, csr, &exec)?;
        let groups = call.groups(x.n_rows)?;
        call.check_stats_lengths(x.n_cols, &stats_out)?;
        let out_len = match &out {
            Target::Other(o) | Target::InPlace(o) => o.len(),
        };
        if out_len < m.nnz() {
            fail!(SC_STATUS_OUTPUT_TOO_SMALL, "out.data_len is {out_len}; expected one value per stored entry ({})", m.nnz());
        }
        let (params, threads) = (call.params, exec.threads);
        let stats = call.stats(x.n_cols, || exec.install(|| stats::sparse_stats(&m, &groups, &params, threads, csr)));
        (m.p, groups, stats)
    };
    let clip = crate::scanpy_versions::values_clip(call.scanpy_1_10, csr, call.group_labels.is_some());
    let (src, dst) = match out {
        Target::Other(o) => (SharedConst(x.data.as_ptr()), SharedMut(o.as_mut_ptr())),
        // In place the source is the output: read and write through one pointer of the exclusive
        // borrow (the shared view used for validation is not used again).
        Target::InPlace(o) => {
            let p = o.as_mut_ptr();
            (SharedConst(p as *const V), SharedMut(p))
        }
    };
    // SAFETY: `src` holds nnz values and `dst` at least nnz (checked above), from a shared and an
    // exclusive borrow (which cannot overlap) or, in place, both from the one exclusive borrow.
    unsafe { transform::values(&mut exec, &pattern, !csr, src, dst, &groups, &stats, call.params.max_value, clip) }?;
    write_stats(&stats, &mut stats_out);
    Ok(())
}

/// Scales a C-ordered dense matrix (Scanpy flavors; arithmetic in the input type).
pub fn scale_dense<V: Value, W: Value>(x: &DenseIn<V>, opts: &Options, out: DenseOut<W>, stats_out: StatsOut) -> Result<()> {
    let src = DenseSrc { ptr: SharedConst(x.data.as_ptr()), n_rows: x.n_rows, n_cols: x.n_cols, stride: x.row_stride };
    dense_call(x.data, src, opts, stats_out, out.data, out.n_cols, out.row_stride, false)
}

/// [`scale_dense`] writing over the input (same type and stride; no column map).
pub fn scale_dense_in_place<V: Value>(x: DenseInOut<V>, opts: &Options, stats_out: StatsOut) -> Result<()> {
    let src = DenseSrc { ptr: SharedConst(x.data.as_ptr()), n_rows: x.n_rows, n_cols: x.n_cols, stride: x.row_stride };
    let input = in_place_view(src.ptr, x.data.len());
    dense_call(input, src, opts, stats_out, x.data, x.n_cols, x.row_stride, true)
}

#[allow(clippy::too_many_arguments)]
fn dense_call<V: Value, W: Value>(
    input: &[V],
    src: DenseSrc<V>,
    opts: &Options,
    mut stats_out: StatsOut,
    out: &mut [W],
    out_cols: usize,
    out_row_stride: usize,
    in_place: bool,
) -> Result<()> {
    let call = Call::new(opts, &stats_out)?;
    if call.params.flavor != Flavor::Scanpy {
        fail!(SC_STATUS_UNSUPPORTED, "Seurat's dense path (FastRowScale) uses long double sums; scscale reproduces only its sparse path");
    }
    let (n_rows, n_cols) = (src.n_rows, src.n_cols);
    call.check_scratch(n_rows, n_cols, out_cols)?;
    let mut exec = call.exec()?;
    let groups = call.groups(n_rows)?;
    let map = ColumnMap::new(call.column_map, n_cols, out_cols)?;
    call.check_stats_lengths(n_cols, &stats_out)?;
    let out_stride = if out_row_stride == 0 { map.n_out } else { out_row_stride };
    if in_place && (!map.is_identity() || out_stride != src.stride) {
        fail!(SC_STATUS_OVERLAP, "in-place output (out.data == data) needs the same value type and row stride and no column map");
    }
    let m = Dense::new(n_rows, n_cols, src.stride, input)?;
    let out_need = required_len(n_rows, map.n_out, out_stride, "out.row_stride")?;
    if out.len() < out_need {
        fail!(
            SC_STATUS_OUTPUT_TOO_SMALL,
            "out.data_len is {}; {n_rows} rows x {} columns with row stride {out_stride} need {out_need}",
            out.len(),
            map.n_out
        );
    }
    let threads = exec.threads;
    let stats = call.stats(n_cols, || exec.install(|| stats::dense_stats(&m, &groups, threads)));
    let dst = out.as_mut_ptr();
    // In place, read and write through one pointer of the exclusive borrow (the shared view used
    // for validation and statistics is not used again).
    let src = if in_place { DenseSrc { ptr: SharedConst(dst as *const V), ..src } } else { src };
    // SAFETY: `src` spans the validated input (`Dense::new` above) and `out` at least `out_need`
    // elements; they come from a shared and an exclusive borrow, or in place from one exclusive
    // borrow with equal strides and an identity map (checked above).
    unsafe { transform::dense_to_dense(&mut exec, &src, &groups, &map, &stats, &call.params, SharedMut(dst), out_stride) }?;
    write_stats(&stats, &mut stats_out);
    Ok(())
}
