"""``scale`` on Dask arrays: a lazy graph with the in-memory call's arithmetic.

The statistics reduce per-chunk :class:`~scscale._chunked.Accumulator` states (only the float64
state moves between workers; the chunks stay where they are), the transform maps
:func:`~scscale._chunked.scale_block` over the chunks. Chunks must be row blocks: several column
chunks are joined first and the result is split back to them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._chunked import Accumulator, result_dtype, scale_block

REDUCTIONS = ("fold", "tree")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def unsupported(x) -> str | None:
    """Why the Dask array ``x`` is not scaled natively, or None."""
    if x.ndim != 2:
        return f"Dask array with ndim {x.ndim}"
    if any(np.isnan(n) for n in x.shape):
        return "Dask array with unknown chunk sizes"
    if 0 in x.shape:
        return f"empty shape {x.shape}"
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype in _FLOATS):
        return f"dtype {x.dtype}"
    meta = x._meta
    if type(meta) is np.ndarray:
        if x.shape[1] == 1:
            # The core's dense calls refuse one column (SC_STATUS_UNSUPPORTED: numpy sums it
            # pairwise); a lazy graph must know before it is built, so ask here.
            return "one column: numpy sums a contiguous column pairwise"
        return None
    if sp.issparse(meta) and meta.format == "csr":
        return None
    return f"Dask chunks of type {type(meta).__name__}"


def scale(x, *, zero_center: bool, max_value: float | None, dtype, n_threads: int | None, reduction: str,
          n_partitions: int):
    """(scaled, mean, std) as lazy Dask arrays with the chunks of ``x`` (``unsupported(x)`` is None).

    ``n_partitions``: numba's thread count of the caller for CSR chunks (Scanpy's statistics
    depend on it), read here on the client so every worker uses the same one.
    """
    import dask.array as da

    col_chunks = x.chunks[1]
    if len(col_chunks) > 1:
        x = x.rechunk({1: -1})
    sparse = sp.issparse(x._meta)
    stats = _statistics(x, n_partitions=n_partitions if sparse else 1, zero_center=zero_center, reduction=reduction)
    mean, std = stats[0], stats[1]

    out_dtype = result_dtype(x.dtype, sparse=sparse, zero_center=zero_center, dtype=dtype)
    meta = type(x._meta)((0, 0), dtype=out_dtype) if sparse and not zero_center else np.empty((0, 0), out_dtype)
    out = da.blockwise(
        _scale_chunk, "ij", x, "ij", mean, "j", std, "j", dtype=out_dtype, meta=meta,
        zero_center=zero_center, max_value=max_value, out_dtype=out_dtype,
        n_threads=1 if n_threads is None else int(n_threads),
    )
    if len(col_chunks) > 1:
        out = out.rechunk({1: col_chunks})
        mean, std = mean.rechunk((col_chunks,)), std.rechunk((col_chunks,))
    return out, mean, std


def _statistics(x, *, n_partitions: int, zero_center: bool, reduction: str):
    """A (2, n_genes) float64 Dask array of one chunk: mean and std (0 -> 1).

    ``fold``: accumulator k = accumulator k-1 + chunk k, in row order (the in-memory bits).
    ``tree``: one accumulator per chunk, merged pairwise in chunk order, level by level (the tree's
    shape depends only on the number of chunks, so the bits do not depend on the scheduling).
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    n_genes = x.shape[1]
    state = (n_genes, n_partitions, zero_center)
    token = tokenize(x.name, x.chunks, state, reduction)
    name, acc = f"scscale-stats-{token}", f"scscale-{reduction}-{token}"
    chunks = [(x.name, i, 0) for i in range(x.numblocks[0])]
    dsk = {}
    if reduction == "fold":
        prev = None
        for i, chunk in enumerate(chunks):
            dsk[(acc, i)] = (_fold, prev, chunk, *state)
            prev = (acc, i)
        root = prev
    else:
        level = []
        for i, chunk in enumerate(chunks):
            dsk[(acc, 0, i)] = (_fold, None, chunk, *state)
            level.append((acc, 0, i))
        depth = 0
        while len(level) > 1:
            depth += 1
            pairs = [level[j:j + 2] for j in range(0, len(level), 2)]
            level = []
            for j, pair in enumerate(pairs):
                if len(pair) == 1:
                    level.append(pair[0])
                    continue
                dsk[(acc, depth, j)] = (_merge, pair[0], pair[1], *state)
                level.append((acc, depth, j))
        root = level[0]
    dsk[(name, 0, 0)] = (_finalize, root, *state)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
    return da.Array(graph, name, chunks=((2,), (n_genes,)), dtype=np.float64, meta=np.empty((0, 0)))


def _accumulator(buffer, n_genes, n_partitions, zero_center) -> Accumulator:
    # A copy: Dask may hand the same state to a retried or a second task.
    return Accumulator(n_genes, n_partitions=n_partitions, zero_center=zero_center,
                       buffer=None if buffer is None else buffer.copy())


def _aligned(chunk):
    """``chunk`` with every buffer aligned to its dtype, as the core requires (distributed's
    deserialisation can hand out arrays at odd addresses). Copies only misaligned buffers."""
    if not sp.issparse(chunk):
        return chunk if chunk.flags.aligned else np.require(chunk, requirements="A")
    parts = (chunk.data, chunk.indices, chunk.indptr)
    if all(a.flags.aligned for a in parts):
        return chunk
    out = chunk.copy()  # a fresh copy's buffers are aligned; the input stays untouched
    out.indices, out.indptr = chunk.indices.copy(), chunk.indptr.copy()  # keep their dtypes
    return out


def _fold(buffer, chunk, n_genes, n_partitions, zero_center):
    return _accumulator(buffer, n_genes, n_partitions, zero_center).fold(_aligned(chunk)).buffer


def _merge(earlier, later, n_genes, n_partitions, zero_center):
    acc = _accumulator(earlier, n_genes, n_partitions, zero_center)
    later = Accumulator(n_genes, n_partitions=n_partitions, zero_center=zero_center, buffer=_aligned(later))
    return acc.merge(later).buffer


def _finalize(buffer, n_genes, n_partitions, zero_center):
    acc = Accumulator(n_genes, n_partitions=n_partitions, zero_center=zero_center, buffer=_aligned(buffer))
    mean, var, std = acc.finalize()
    neg = var[var < 0]
    if neg.size:  # Scanpy's lazy np.sqrt(var) warns (or raises, under np.errstate) when computed
        np.sqrt(neg[:1])
    return np.stack([mean, std])


def _scale_chunk(chunk, mean, std, *, zero_center, max_value, out_dtype, n_threads):
    chunk, mean, std = _aligned(chunk), _aligned(mean), _aligned(std)
    if not (sp.issparse(chunk) and not zero_center):
        return scale_block(chunk, mean, std, zero_center=zero_center, max_value=max_value, dtype=out_dtype,
                           n_threads=n_threads)
    values = scale_block(chunk, mean, std, zero_center=False, max_value=max_value, n_threads=n_threads).data
    return _with_values(chunk, values.astype(out_dtype, copy=False))


def _with_values(chunk, values):
    """``chunk``'s class and pattern with new values, as Scanpy's in-place scaling leaves it."""
    out = type(chunk)((values, chunk.indices, chunk.indptr), shape=chunk.shape)
    # The constructor may narrow int64 index arrays; Scanpy keeps them.
    out.indices, out.indptr = chunk.indices.copy(), chunk.indptr.copy()
    return out


def cast(x, dtype):
    """Every chunk cast to ``dtype`` (``x.astype`` is a no-op when the meta's dtype already matches,
    which Scanpy's Dask result claims for float32 input whose chunks compute to float64)."""
    dtype = np.dtype(dtype)
    meta = x._meta.astype(dtype)
    return x.map_blocks(_astype, dtype=dtype, meta=meta, target=dtype)


def _astype(chunk, *, target):
    return chunk if chunk.dtype == target else chunk.astype(target)
