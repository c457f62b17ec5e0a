"""Chunked Scanpy-flavor statistics over blocks of cells (the core's ``sc_accumulator_*``).

An :class:`Accumulator` holds per-gene running sums in a plain float64 array (picklable, so it can
travel between Dask workers). Folding row blocks in row order gives exactly the bits of the
in-memory call; merging two accumulators (for a tree) is deterministic but rounds differently
(within a few ulps, see the README). :func:`scale_block` then applies the final statistics to one
block, with the same arithmetic as the in-memory call.

Which statistics a block kind gets mirrors Scanpy 1.12.4 in memory: CSR blocks use Scanpy's
round-robin partitions (``n_partitions`` = numba's thread count), dense C-ordered blocks numpy's
sequential sums (one partition). Do not mix block kinds in one accumulator.
"""

from __future__ import annotations

import ctypes as C

import numpy as np
import scipy.sparse as sp

from . import _ffi


def result_dtype(in_dtype, *, sparse: bool, zero_center: bool, dtype=None) -> np.dtype:
    """The dtype of Scanpy's in-memory result (``dtype`` overrides it): float64 for integer input
    and for centred sparse input (densified in float64), else the input's."""
    if dtype is not None:
        return np.dtype(dtype)
    if np.dtype(in_dtype).kind in "iu" or (sparse and zero_center):
        return np.dtype(np.float64)
    return np.dtype(in_dtype)


def _as_csr(block):
    """CSR with int32/int64 indices and float values, as the core reads it (no copy if it is)."""
    if not (sp.issparse(block) and block.format == "csr"):
        raise TypeError(f"expected a CSR block, got {type(block).__name__}")
    if block.indices.dtype != block.indptr.dtype:
        block = sp.csr_matrix((block.data, block.indices.astype(np.int64), block.indptr.astype(np.int64)), shape=block.shape)
    if block.data.dtype not in (np.float32, np.float64):
        block = block.astype(np.float64)
    return block


def _sparse(block):
    b = _as_csr(block)
    indptr, indices, data = (np.ascontiguousarray(a) for a in (b.indptr, b.indices, b.data))
    return _ffi.sparse(indptr, indices, data, b.shape), (indptr, indices, data)


def _dense(block):
    x = np.ascontiguousarray(block)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return _ffi.dense(x), x


class Accumulator:
    """Scanpy-flavor running sums for ``n_genes`` genes.

    ``n_partitions`` must be what the in-memory call would use: numba's thread count for CSR
    blocks, 1 for dense blocks. ``buffer`` is the whole state (a float64 array).
    """

    def __init__(self, n_genes: int, *, n_partitions: int = 1, zero_center: bool = True, buffer: np.ndarray | None = None):
        self.n_genes = int(n_genes)
        self.n_partitions = int(n_partitions)
        self.zero_center = bool(zero_center)
        n = C.c_size_t()
        _ffi.call("sc_accumulator_len", C.byref(self._options()), self.n_genes, C.byref(n))
        if buffer is None:
            self.buffer = np.empty(n.value, np.float64)
            _ffi.call("sc_accumulator_init", C.byref(self._options()), self.n_genes, self.buffer.ctypes.data, self.buffer.size)
        else:
            if buffer.dtype != np.float64 or buffer.size != n.value:
                raise ValueError(f"accumulator buffer must be {n.value} float64 values, got {buffer.size} {buffer.dtype}")
            self.buffer = np.ascontiguousarray(buffer)

    def _options(self, n_threads: int = 1) -> _ffi.Options:
        return _ffi.options(center=self.zero_center, max_value=None, n_partitions=self.n_partitions, n_threads=n_threads)

    def copy(self) -> Accumulator:
        return Accumulator(self.n_genes, n_partitions=self.n_partitions, zero_center=self.zero_center, buffer=self.buffer.copy())

    def fold(self, block, *, n_threads: int = 1) -> Accumulator:
        """Adds a block of cells that come after every cell folded so far; returns self."""
        if block.shape[1] != self.n_genes:
            raise ValueError(f"block has {block.shape[1]} genes, the accumulator {self.n_genes}")
        o = self._options(n_threads)
        if sp.issparse(block):
            s, _keep = _sparse(block)
            _ffi.call("sc_accumulate_csr", C.byref(s), C.byref(o), self.buffer.ctypes.data, self.buffer.size)
        else:
            d, _keep = _dense(block)
            _ffi.call("sc_accumulate_dense", C.byref(d), C.byref(o), self.buffer.ctypes.data, self.buffer.size)
        return self

    def merge(self, later: Accumulator) -> Accumulator:
        """Adds the sums of cells that come after this accumulator's cells; returns self."""
        o = self._options()
        _ffi.call("sc_accumulator_merge", C.byref(o), self.n_genes, self.buffer.ctypes.data, self.buffer.size,
                  later.buffer.ctypes.data, later.buffer.size)
        return self

    def finalize(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, var, std) as the in-memory call computes them (std 0 -> 1)."""
        mean, var, std = (np.empty(self.n_genes) for _ in range(3))
        o = _ffi.options(center=self.zero_center, max_value=None, n_partitions=self.n_partitions, n_threads=1,
                         mean_out=mean, var_out=var, std_out=std)
        _ffi.call("sc_accumulator_finalize", C.byref(o), self.n_genes, self.buffer.ctypes.data, self.buffer.size)
        return mean, var, std


def scale_block(block, mean: np.ndarray, std: np.ndarray, *, zero_center: bool = True, max_value: float | None = None,
                dtype=None, n_threads: int = 0, out: np.ndarray | None = None):
    """One block scaled with given statistics, as the in-memory call scales it.

    CSR + ``zero_center``: a new dense float64 array (or ``dtype``), or written into ``out``.
    CSR without centring: a new CSR with the same pattern and the input's value dtype.
    Dense: a new dense array of the input's float dtype (or ``dtype``).
    """
    mean = np.ascontiguousarray(mean, np.float64)
    std = np.ascontiguousarray(std, np.float64)
    o = _ffi.give_stats(_ffi.options(center=zero_center, max_value=max_value, n_partitions=1, n_threads=n_threads), mean, std)
    if sp.issparse(block) and not zero_center:
        b = _as_csr(block)
        s, keep = _sparse(b)
        values = np.empty_like(keep[2])
        _ffi.call("sc_scale_csr_values", C.byref(s), C.byref(o), C.byref(_ffi.values_out(values)))
        return sp.csr_matrix((values, keep[1], keep[0]), shape=b.shape)
    if sp.issparse(block):
        s, keep = _sparse(block)
        out_dtype = np.float64
        fn = "sc_scale_csr"
    else:
        s, keep = _dense(block)
        out_dtype = keep.dtype
        fn = "sc_scale_dense"
    if dtype is not None:
        out_dtype = np.dtype(dtype)
    if out is None:
        out = np.empty(block.shape, out_dtype)
    elif out.shape != block.shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-ordered {block.shape} array")
    _ffi.call(fn, C.byref(s), C.byref(o), C.byref(_ffi.dense_out(out)))
    return out
