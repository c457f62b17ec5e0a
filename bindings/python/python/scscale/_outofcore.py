"""``scale_h5ad``: ``sc.pp.scale`` of an AnnData on disk, a chunk of cells at a time (issue 6).

Pass 1 folds the chunks in row order into an :class:`~scscale._chunked.Accumulator` (exactly the
in-memory statistics), pass 2 scales every chunk with the final statistics and writes it straight
into the output file, so memory is bounded by the chunk size, not by the matrix.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ._chunked import Accumulator, result_dtype, scale_block

_ARRAY_ENCODING = {"encoding-type": "array", "encoding-version": "0.2.0"}
_CSR_ENCODING = {"encoding-type": "csr_matrix", "encoding-version": "0.1.0"}
_ZARR_CHUNK_BYTES = 16 << 20  # per zarr chunk of the output; compressed independently


def _is_zarr(path: Path) -> bool:
    return path.suffix == ".zarr" or path.is_dir()


def _open_source(path: Path):
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {str(path)!r}")
    if _is_zarr(path):
        import zarr

        try:
            return zarr.open_group(path, mode="r")
        except Exception as e:
            raise OSError(f"{str(path)!r} is not a zarr AnnData store: {e}") from e
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"{str(path)!r} is not an HDF5 (.h5ad) file: {e}") from e


def _is_array(elem) -> bool:
    # h5py.Dataset and zarr.Array have a dtype; groups do not.
    return hasattr(elem, "dtype") and hasattr(elem, "shape")


def _check_values(dtype: np.dtype, what: str) -> None:
    if not (dtype.kind in "iu" or dtype in (np.float32, np.float64)):
        raise TypeError(f"{what} has values of dtype {dtype}; scaling needs float32, float64 or integers")


class _Source:
    """X or a layer of an on-disk AnnData, read as blocks of rows (CSR or C-ordered dense)."""

    def __init__(self, root, layer: str | None, name: str):
        if layer is None:
            if "X" not in root:
                raise KeyError(f"{name} has no X")
            elem, self.what = root["X"], f"X of {name}"
        else:
            layers = root["layers"] if "layers" in root else {}
            if layer not in layers:
                raise KeyError(f"{layer!r} is not a layer of {name} (layers: {sorted(layers.keys())})")
            elem, self.what = layers[layer], f"layer {layer!r} of {name}"
        self.elem = elem
        attrs = dict(elem.attrs)
        encoding = attrs.get("encoding-type")
        if encoding is None and "h5sparse_format" in attrs:  # written by anndata < 0.7
            encoding = f"{attrs['h5sparse_format']}_matrix"
        if _is_array(elem):
            if encoding not in (None, "array"):
                raise TypeError(f"{self.what} is a {encoding}, not a matrix")
            if len(elem.shape) != 2:
                raise TypeError(f"{self.what} is a {len(elem.shape)}-D array, not a 2-D matrix")
            self.sparse = False
            self.shape = tuple(int(n) for n in elem.shape)
            self.dtype = np.dtype(elem.dtype)
        elif encoding == "csr_matrix":
            self.sparse = True
            self.shape = tuple(int(n) for n in attrs.get("shape", attrs.get("h5sparse_shape")))
            self.dtype = np.dtype(elem["data"].dtype)
            self.index_dtype = np.dtype(elem["indices"].dtype)
            self.indptr_dtype = np.dtype(elem["indptr"].dtype)
            self.base = int(elem["indptr"][0])  # 0 in files anndata writes
            self.nnz = int(elem["indptr"][self.shape[0]]) - self.base
        elif encoding == "csc_matrix":
            raise NotImplementedError(
                f"{self.what} is stored as CSC; scale_h5ad reads chunks of cells (rows) and needs CSR or "
                "dense storage (convert it once, e.g. write adata.X.tocsr() in memory or with "
                "anndata.experimental.concat_on_disk)"
            )
        else:
            raise TypeError(f"{self.what} is a {encoding or 'group'}, not a matrix")
        _check_values(self.dtype, self.what)
        if 0 in self.shape:
            raise ValueError(f"{self.what} is empty: shape {self.shape}")

    def rows(self, start: int, stop: int):
        if not self.sparse:
            return np.ascontiguousarray(self.elem[start:stop])
        return self.csr_block(*self.csr_parts(start, stop))

    def csr_parts(self, start: int, stop: int):
        """Rows start..stop as stored: (indptr relative to the matrix start, indices, data)."""
        indptr = np.asarray(self.elem["indptr"][start : stop + 1])
        lo, hi = int(indptr[0]), int(indptr[-1])
        indices = np.asarray(self.elem["indices"][lo:hi])
        data = np.asarray(self.elem["data"][lo:hi])
        return indptr - self.indptr_dtype.type(self.base), indices, data

    def csr_block(self, indptr, indices, data):
        """The CSR matrix of ``csr_parts``' rows."""
        return sp.csr_matrix((data, indices, indptr - indptr[0]), shape=(len(indptr) - 1, self.shape[1]))


def _spans(n: int, chunk_size: int):
    return [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]


def _zarr_rows(chunk_size: int, row_bytes: int) -> int:
    """Rows per zarr chunk: about _ZARR_CHUNK_BYTES, dividing chunk_size when that is possible,
    so that each written block covers whole zarr chunks (no read-modify-write at the seams)."""
    target = max(1, _ZARR_CHUNK_BYTES // row_bytes)
    if chunk_size <= target:
        return chunk_size
    for k in range(-(-chunk_size // target), 4 * -(-chunk_size // target) + 1):
        if chunk_size % k == 0:
            return chunk_size // k
    return target


class _Output:
    """The output AnnData: obs/var/uns written by anndata, X created empty and filled by rows."""

    def __init__(self, path: Path, obs, var, uns, *, use_zarr: bool):
        from anndata import AnnData

        self.path, self.use_zarr = path, use_zarr
        skeleton = AnnData(obs=obs, var=var, uns=uns)
        if use_zarr:
            import zarr

            skeleton.write_zarr(path)
            self.root = zarr.open_group(path, mode="r+")
        else:
            import h5py

            skeleton.write_h5ad(path)
            self.root = h5py.File(path, "r+")

    def dense(self, shape, dtype, chunk_size: int):
        if self.use_zarr:
            rows = _zarr_rows(chunk_size, shape[1] * np.dtype(dtype).itemsize)
            return self.root.create_array("X", shape=shape, dtype=dtype, chunks=(rows, shape[1]),
                                          attributes=dict(_ARRAY_ENCODING))
        x = self.root.create_dataset("X", shape=shape, dtype=dtype)  # contiguous, as anndata writes it
        x.attrs.update(_ARRAY_ENCODING)
        return x

    def csr(self, shape, nnz: int, dtype, index_dtype, indptr_dtype):
        attrs = {**_CSR_ENCODING, "shape": [int(n) for n in shape]}
        parts = {"data": ((nnz,), dtype), "indices": ((nnz,), index_dtype), "indptr": ((shape[0] + 1,), indptr_dtype)}
        if self.use_zarr:
            g = self.root.create_group("X", attributes=attrs)
            return {k: g.create_array(k, shape=s, dtype=d, chunks=(max(1, min(s[0], 1 << 21)),))
                    for k, (s, d) in parts.items()}
        g = self.root.create_group("X")
        g.attrs.update({**attrs, "shape": np.array(attrs["shape"])})
        return {k: g.create_dataset(k, shape=s, dtype=d) for k, (s, d) in parts.items()}

    def close(self, *, complete: bool = True):
        if not self.use_zarr:
            self.root.close()
        elif complete:
            import zarr

            # anndata reads the consolidated metadata, which the skeleton wrote without X.
            zarr.consolidate_metadata(self.path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def scale_h5ad(
    filename: os.PathLike | str,
    out: os.PathLike | str,
    *,
    zero_center: bool = True,
    max_value: float | None = None,
    dtype=None,
    layer: str | None = None,
    chunk_size: int = 10_000,
    n_threads: int | None = None,
) -> None:
    """Scale an AnnData file to unit variance and zero mean without loading it into memory.

    Writes what ``sc.pp.scale(adata, zero_center=zero_center, max_value=max_value)`` would make
    of ``adata = anndata.read_h5ad(filename)``, bit for bit, to a new file ``out``, reading
    ``chunk_size`` cells at a time: once to compute the per-gene statistics, once to scale and
    write. Memory use is bounded by the chunk size, so matrices (and dense results) larger than
    RAM can be scaled.

    Parameters
    ----------
    filename
        The ``.h5ad`` file to read (a ``.zarr`` AnnData store works too). Its matrix must be
        stored as CSR or dense (not CSC).
    out
        The file to write: ``.zarr`` (a directory store) if the name ends in ``.zarr``, ``.h5ad``
        otherwise. Overwritten if it exists; removed again if scaling fails.
    zero_center
        If `False`, omit zero-centering variables, which keeps sparse input sparse (CSR output
        with the input's structure, as in Scanpy).
    max_value
        Clip (truncate) to this value after scaling. If `None`, do not clip.
    dtype
        ``np.float32`` or ``np.float64``: the dtype of the written matrix (Scanpy's result cast
        to it; float32 halves the size of a dense result). Default: Scanpy's, i.e. float64 for
        zero-centred sparse or integer input, otherwise the input's float dtype.
    layer
        If provided, scale ``layers[layer]`` instead of ``X``.
    chunk_size
        Number of cells (rows) read, scaled and written at a time. Memory use is about
        ``chunk_size * n_vars * 8`` bytes (the float64 dense result of one chunk; 4 for float32)
        plus the stored entries of one chunk, ``obs`` and ``var``. Does not change the result.
    n_threads
        Worker threads of the native library (default: all cores). Never changes the result.

    Returns
    -------
    `None`. ``out`` holds an AnnData with the source's ``obs``, ``var`` and ``uns``, and:

    `X` : dense array | CSR matrix
        The scaled matrix (also when it was read from ``layer``). Other layers, ``obsm``,
        ``varm``, ``obsp``, ``varp`` and ``raw`` are not copied.
    `var['mean']` : :class:`pandas.Series` (dtype `float`)
        Means per gene before scaling.
    `var['std']` : :class:`pandas.Series` (dtype `float`)
        Standard deviations per gene before scaling.

    Notes
    -----
    As in Scanpy, the statistics of CSR input depend on ``numba.get_num_threads()``; the result
    equals the in-memory ``sc.pp.scale`` run at the same numba thread count. ``mask_obs`` and
    ``obsm`` are not supported.
    """
    src_path, out_path = Path(filename), Path(out)
    if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
    chunk_size = int(chunk_size)
    n_threads = 0 if n_threads is None else int(n_threads)
    if out_path.exists() and src_path.exists() and out_path.resolve() == src_path.resolve():
        raise ValueError("out must differ from filename (the input is read twice)")

    root = _open_source(src_path)
    try:
        src = _Source(root, layer, repr(str(src_path)))
        column = None
        if not src.sparse and src.shape[1] == 1:
            # numpy sums one contiguous column pairwise, which chunks cannot reproduce (the core's
            # accumulator refuses one column): the column (n_obs values) is small, so it is
            # scaled in memory, where Scanpy's own code runs.
            mean, std, column = _one_column(src, zero_center=zero_center, max_value=max_value, dtype=dtype)
        else:
            mean, std = _statistics(src, zero_center=zero_center, chunk_size=chunk_size, n_threads=n_threads)
        from anndata.io import read_elem

        obs = read_elem(root["obs"])
        var = read_elem(root["var"])
        uns = read_elem(root["uns"]) if "uns" in root else {}
        var["mean"], var["std"] = mean, std

        output = _Output(out_path, obs, var, uns, use_zarr=out_path.suffix == ".zarr")
        try:
            if column is not None:
                output.dense(column.shape, column.dtype, chunk_size)[:] = column
            elif src.sparse and not zero_center:
                _write_csr(src, output, mean, std, max_value=max_value, dtype=dtype, chunk_size=chunk_size,
                           n_threads=n_threads)
            else:
                _write_dense(src, output, mean, std, zero_center=zero_center, max_value=max_value, dtype=dtype,
                             chunk_size=chunk_size, n_threads=n_threads)
        except BaseException:
            output.close(complete=False)
            _remove(out_path)
            raise
        output.close()
    finally:
        if hasattr(root, "close"):
            root.close()


def _statistics(src: _Source, *, zero_center: bool, chunk_size: int, n_threads: int):
    if src.sparse:
        from ._scale import numba_threads

        n_partitions = numba_threads()  # Scanpy's CSR statistics depend on it
    else:
        n_partitions = 1
    acc = Accumulator(src.shape[1], n_partitions=n_partitions, zero_center=zero_center)
    for a, b in _spans(src.shape[0], chunk_size):
        acc.fold(src.rows(a, b), n_threads=n_threads)
    mean, _var, std = acc.finalize()
    return mean, std


def _write_dense(src, output, mean, std, *, zero_center, max_value, dtype, chunk_size, n_threads):
    n_obs, n_vars = src.shape
    out_dtype = result_dtype(src.dtype, sparse=src.sparse, zero_center=zero_center, dtype=dtype)
    dest = output.dense(src.shape, out_dtype, chunk_size)
    buf = np.empty((min(chunk_size, n_obs), n_vars), out_dtype)
    for a, b in _spans(n_obs, chunk_size):
        dest[a:b] = scale_block(src.rows(a, b), mean, std, zero_center=zero_center, max_value=max_value,
                                dtype=out_dtype, n_threads=n_threads, out=buf[: b - a])


def _write_csr(src, output, mean, std, *, max_value, dtype, chunk_size, n_threads):
    """zero_center=False on CSR: Scanpy divides the stored values in place; same structure."""
    out_dtype = result_dtype(src.dtype, sparse=src.sparse, zero_center=False, dtype=dtype)
    dest = output.csr(src.shape, src.nnz, out_dtype, src.index_dtype, src.indptr_dtype)
    for a, b in _spans(src.shape[0], chunk_size):
        indptr, indices, data = src.csr_parts(a, b)  # read once: scaled, and copied to the output
        scaled = scale_block(src.csr_block(indptr, indices, data), mean, std, zero_center=False, max_value=max_value,
                             n_threads=n_threads)
        lo, hi = int(indptr[0]), int(indptr[-1])
        dest["indptr"][a : b + 1] = indptr
        dest["indices"][lo:hi] = indices
        dest["data"][lo:hi] = scaled.data.astype(out_dtype, copy=False)


def _one_column(src, *, zero_center, max_value, dtype):
    from ._scale import scale_array

    column = np.ascontiguousarray(src.elem[:])
    scaled, mean, std = scale_array(column, zero_center=zero_center, max_value=max_value, return_mean_std=True,
                                    dtype=dtype)
    return mean, std, np.ascontiguousarray(scaled)
