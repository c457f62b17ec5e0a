//! C structs -> the safe API's types: options, inputs and outputs, with every buffer checked and
//! entered in the call's [`Regions`] before any slice over it exists.

use super::types::*;
use super::{to_usize, Buf, Checked, Regions};
use crate::api::{self, Flavor, Options, StatsOut};
use crate::exec::SharedMut;
use crate::matrix::{required_len, Index, Value};
use crate::status::{fail, Result, *};
use std::ffi::c_void;

pub(super) fn flavor(f: sc_flavor) -> Result<Flavor> {
    Ok(match f {
        SC_FLAVOR_SCANPY => Flavor::Scanpy,
        SC_FLAVOR_SCANPY_1_10 => Flavor::Scanpy1_10,
        SC_FLAVOR_SEURAT => Flavor::Seurat,
        SC_FLAVOR_SEURAT_MATRIXSTATS_1 => Flavor::SeuratMatrixStats1,
        f => fail!(SC_STATUS_INVALID_ENUM, "{}", crate::scanpy_versions::unknown_flavor(f)),
    })
}

/// `sc_options`' buffers, checked and entered in the call's regions.
pub(super) struct OptionBufs<'o> {
    opts: &'o sc_options,
    flavor: Flavor,
    column_map: Buf<i64>,
    groups: Buf<i32>,
    given: Option<(Buf<f64>, Buf<f64>)>,
    mean_out: Buf<f64>,
    var_out: Buf<f64>,
    std_out: Buf<f64>,
}

impl<'o> OptionBufs<'o> {
    pub(super) fn new(opts: &'o sc_options, regions: &mut Regions) -> Result<Self> {
        let flavor = flavor(opts.flavor)?;
        let column_map = regions.add_opt(opts.column_map, opts.column_map_len, "column_map", false)?;
        let groups = regions.add_opt(opts.groups, opts.groups_len, "groups", false)?;
        let mean = regions.add_opt(opts.given_mean, opts.given_mean_len, "given_mean", false)?;
        let std = regions.add_opt(opts.given_std, opts.given_std_len, "given_std", false)?;
        let given = match (mean.ptr.is_null(), std.ptr.is_null()) {
            (false, false) => Some((mean, std)),
            (true, true) => None,
            _ => fail!(SC_STATUS_INVALID_OPTION, "given_mean and given_std must be given together"),
        };
        Ok(OptionBufs {
            opts,
            flavor,
            column_map,
            groups,
            given,
            mean_out: regions.add_opt(opts.mean_out, opts.mean_out_len, "mean_out", true)?,
            var_out: regions.add_opt(opts.var_out, opts.var_out_len, "var_out", true)?,
            std_out: regions.add_opt(opts.std_out, opts.std_out_len, "std_out", true)?,
        })
    }

    /// The API's options. `progress` must be [`OptionBufs::progress`]'s closure.
    ///
    /// # Safety
    /// The option buffers satisfy the export contract.
    pub(super) unsafe fn options<'a>(&self, checked: &Checked, progress: Option<api::Progress<'a>>) -> Options<'a> {
        let o = self.opts;
        Options {
            flavor: self.flavor,
            center: o.center,
            scale: o.scale,
            max_value: o.clip.then_some(o.max_value),
            n_partitions: o.n_partitions as usize,
            n_threads: o.n_threads as usize,
            // SAFETY: the export contract; checked and free of overlap with outputs.
            column_map: unsafe { self.column_map.opt_shared(checked) },
            // SAFETY: as above.
            groups: unsafe { self.groups.opt_shared(checked) },
            n_groups: o.n_groups as usize,
            // SAFETY: as above.
            given: self.given.map(|(m, s)| unsafe { (m.shared(checked), s.shared(checked)) }),
            hugepage_advice: !o.no_hugepage_advice,
            progress,
        }
    }

    /// The statistics outputs.
    ///
    /// # Safety
    /// The option buffers satisfy the export contract.
    pub(super) unsafe fn stats_out<'a>(&self, checked: &Checked) -> StatsOut<'a> {
        // SAFETY: the export contract; no overlap with any other buffer (`checked`).
        unsafe {
            StatsOut {
                mean: self.mean_out.opt_exclusive(checked),
                var: self.var_out.opt_exclusive(checked),
                std: self.std_out.opt_exclusive(checked),
            }
        }
    }

    /// The caller's progress callback as a closure (called on the caller's thread only).
    pub(super) fn progress(&self) -> Option<impl Fn(u64, u64) -> bool> {
        let cb = self.opts.progress?;
        let data = SharedMut(self.opts.progress_data);
        // SAFETY: the caller's callback, called on the caller's thread with its own data.
        Some(move |done, total| unsafe { cb(data.get(), done, total) == 0 })
    }
}

/// A sparse input's buffers, checked and entered in the call's regions.
pub(super) struct SparseBufs<I, V> {
    n_rows: usize,
    n_cols: usize,
    pub(super) indptr: Buf<I>,
    pub(super) indices: Buf<I>,
    pub(super) data: Buf<V>,
    index_base: u32,
}

impl<I: Index, V: Value> SparseBufs<I, V> {
    /// `data_is_output`: the values are overwritten (in place), so no other buffer may overlap.
    pub(super) fn new(x: &sc_sparse, regions: &mut Regions, data_is_output: bool) -> Result<Self> {
        Ok(SparseBufs {
            n_rows: to_usize(x.n_rows, "n_rows")?,
            n_cols: to_usize(x.n_cols, "n_cols")?,
            indptr: regions.add(x.indptr as *const I, x.indptr_len, "indptr", false)?,
            indices: regions.add(x.indices as *const I, x.indices_len, "indices", false)?,
            data: regions.add(x.data as *const V, x.data_len, "data", data_is_output)?,
            index_base: x.index_base,
        })
    }

    /// # Safety
    /// The buffers satisfy the export contract.
    pub(super) unsafe fn view<'a>(&self, checked: &Checked) -> api::Sparse<'a, I, V> {
        // SAFETY: the export contract; inputs only.
        let (p, i, d) = unsafe { (self.indptr.shared(checked), self.indices.shared(checked), self.data.shared(checked)) };
        api::Sparse::new(self.n_rows, self.n_cols, p, i, d).with_index_base(self.index_base)
    }

    /// # Safety
    /// The buffers satisfy the export contract and `data` was added as an output.
    pub(super) unsafe fn view_mut<'a>(&self, checked: &Checked) -> api::SparseMut<'a, I, V> {
        // SAFETY: the export contract; `data` overlaps no other buffer.
        let (p, i, d) = unsafe { (self.indptr.shared(checked), self.indices.shared(checked), self.data.exclusive(checked)) };
        api::SparseMut::new(self.n_rows, self.n_cols, p, i, d).with_index_base(self.index_base)
    }
}

/// A dense input's buffer, checked and entered in the call's regions.
pub(super) struct DenseBufs<V> {
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    pub(super) data: Buf<V>,
}

impl<V: Value> DenseBufs<V> {
    pub(super) fn new(x: &sc_dense, regions: &mut Regions, data_is_output: bool) -> Result<Self> {
        let n_cols = to_usize(x.n_cols, "n_cols")?;
        Ok(DenseBufs {
            n_rows: to_usize(x.n_rows, "n_rows")?,
            n_cols,
            row_stride: if x.row_stride == 0 { n_cols } else { to_usize(x.row_stride, "row_stride")? },
            data: regions.add(x.data as *const V, x.data_len, "data", data_is_output)?,
        })
    }

    /// # Safety
    /// The buffer satisfies the export contract.
    pub(super) unsafe fn view<'a>(&self, checked: &Checked) -> api::DenseIn<'a, V> {
        // SAFETY: the export contract; an input only.
        api::DenseIn::new(self.n_rows, self.n_cols, unsafe { self.data.shared(checked) }).with_row_stride(self.row_stride)
    }

    /// # Safety
    /// The buffer satisfies the export contract and was added as an output.
    pub(super) unsafe fn view_mut<'a>(&self, checked: &Checked) -> api::DenseInOut<'a, V> {
        // SAFETY: the export contract; overlaps no other buffer.
        api::DenseInOut::new(self.n_rows, self.n_cols, unsafe { self.data.exclusive(checked) }).with_row_stride(self.row_stride)
    }
}

/// The caller's dense output for `n_rows` cells: entered in the regions for the length the call
/// writes (row-major with its stride, or column-major), so that a longer buffer may extend past
/// anything.
pub(super) struct DenseOutBuf<W> {
    buf: Buf<W>,
    n_cols: usize,
    row_stride: usize,
}

impl<W: Value> DenseOutBuf<W> {
    pub(super) fn new(out: &sc_dense_out, n_rows: u64, column_major: bool, regions: &mut Regions) -> Result<Self> {
        let n_rows = to_usize(n_rows, "n_rows")?;
        let n_cols = to_usize(out.n_cols, "out.n_cols")?;
        let row_stride = to_usize(out.row_stride, "out.row_stride")?;
        let (lines, width, stride) =
            if column_major { (n_cols, n_rows, n_rows) } else { (n_rows, n_cols, if row_stride == 0 { n_cols } else { row_stride }) };
        // What the call writes at most; the API reports a too-short buffer or a bad stride itself.
        let len = required_len(lines, width, stride, "out.row_stride").map_or(out.data_len, |need| need.min(out.data_len));
        super::check_buffer(out.data as *const W, out.data_len, "out.data")?;
        Ok(DenseOutBuf { buf: regions.add(out.data as *const W, len, "out.data", true)?, n_cols, row_stride })
    }

    /// # Safety
    /// The buffer satisfies the export contract.
    pub(super) unsafe fn view<'a>(&self, checked: &Checked) -> api::DenseOut<'a, W> {
        // SAFETY: the export contract; overlaps no other buffer.
        api::DenseOut::new(unsafe { self.buf.exclusive(checked) }, self.n_cols).with_row_stride(self.row_stride)
    }
}

/// Whether `out` is exactly the input's values (in place). Empty buffers share no memory (Rust's
/// and some allocators' empty arrays share an address).
pub(super) fn same_buffer(out: *const c_void, data: *const c_void, data_len: usize) -> bool {
    data_len > 0 && std::ptr::eq(out, data)
}

/// Calls the unsafe `$f::<I, V>` for `$x`'s index and value types. Used only by exports, whose
/// pointer arguments satisfy the export contract: that is `$f`'s.
macro_rules! dispatch_sparse {
    ($x:expr, $f:ident($($arg:expr),*)) => {
        match ($x.index_type, $x.value_type) {
            (SC_INDEX_INT32, SC_VALUE_FLOAT32) => {
                // SAFETY: the export contract (see the macro's doc).
                unsafe { $f::<i32, f32>($($arg),*) }
            }
            (SC_INDEX_INT32, SC_VALUE_FLOAT64) => {
                // SAFETY: the export contract (see the macro's doc).
                unsafe { $f::<i32, f64>($($arg),*) }
            }
            (SC_INDEX_INT64, SC_VALUE_FLOAT32) => {
                // SAFETY: the export contract (see the macro's doc).
                unsafe { $f::<i64, f32>($($arg),*) }
            }
            (SC_INDEX_INT64, SC_VALUE_FLOAT64) => {
                // SAFETY: the export contract (see the macro's doc).
                unsafe { $f::<i64, f64>($($arg),*) }
            }
            (SC_INDEX_INT32 | SC_INDEX_INT64, v) => fail!(SC_STATUS_INVALID_ENUM, "value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)"),
            (i, _) => fail!(SC_STATUS_INVALID_ENUM, "index_type is {i}; expected SC_INDEX_INT32 (0) or SC_INDEX_INT64 (1)"),
        }
    };
}
pub(super) use dispatch_sparse;

/// Calls the unsafe `$f::<..., T>` for the value type `$vt`, under the same contract.
macro_rules! dispatch_value {
    ($vt:expr, $what:expr, $f:ident::<$($ty:ty),*>($($arg:expr),*)) => {
        match $vt {
            // SAFETY: the export contract (see the macro's doc).
            SC_VALUE_FLOAT32 => unsafe { $f::<$($ty,)* f32>($($arg),*) },
            // SAFETY: the export contract (see the macro's doc).
            SC_VALUE_FLOAT64 => unsafe { $f::<$($ty,)* f64>($($arg),*) },
            v => fail!(SC_STATUS_INVALID_ENUM, "{}.value_type is {v}; expected SC_VALUE_FLOAT32 (0) or SC_VALUE_FLOAT64 (1)", $what),
        }
    };
    ($vt:expr, $what:expr, $f:ident($($arg:expr),*)) => {
        dispatch_value!($vt, $what, $f::<>($($arg),*))
    };
}
pub(super) use dispatch_value;
