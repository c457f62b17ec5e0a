"""Scanpy 1.10's dispatch: ``scale_array`` (numpy, Dask) and ``scale_sparse`` (scipy matrices).

Named as Scanpy 1.10 names them, so argument errors read the same. The arithmetic is the shared
code in ``_scale`` with the core's ``SC_FLAVOR_SCANPY_1_10`` (docs/scanpy-versions.md).
"""

from __future__ import annotations

import numpy as np

from . import _scale
from ._compat import CSBase, CSCBase, DaskArray, logg


def _scale_1_10(x, *, zero_center, max_value, copy, return_mean_std, mask_obs, dtype, n_threads, dask_reduction,
                extensions):
    args = dict(
        zero_center=zero_center, max_value=max_value, copy=copy, return_mean_std=return_mean_std,
        mask_obs=mask_obs, dtype=dtype, dask_reduction=dask_reduction,
    )
    groups = {k: v for k, v in extensions.items() if v is not None}
    if dtype is not None and np.dtype(dtype) not in _scale._FLOATS:
        msg = f"dtype must be float32 or float64, got {dtype!r}"
        raise ValueError(msg)
    _scale._check_reduction(dask_reduction)
    if isinstance(x, CSBase) and zero_center:
        # 1.10 densifies first (keeping the dtype) and scales the dense copy.
        logg.info(
            "... as `zero_center=True`, sparse input is "
            "densified and may lead to large memory consumption"
        )
        # CSC densifies in F order, whose numpy sums are pairwise (Scanpy's own function runs);
        # batches and given statistics take the C-ordered matrix (sequential sums).
        x = x.tocsr().toarray() if groups and isinstance(x, CSCBase) else x.toarray()
        args.update(copy=False)
    if groups:  # batch_key / given statistics: scscale's own extension, no Scanpy equivalent
        return _scale.scale_array(x, **args, n_threads=n_threads, **groups)
    if isinstance(x, DaskArray):
        return _scale._fallback_array("Dask array (Scanpy 1.10's own Dask path)", x, **args)
    if mask_obs is not None and np.issubdtype(x.dtype, np.integer):
        # 1.10 scales the masked rows as floats and assigns them back into the integer matrix.
        return _scale._fallback_array("integer input with a mask", x, **args)
    return _scale.scale_array(x, **args, n_threads=n_threads)


def scale_array(
    X,
    *,
    zero_center: bool = True,
    max_value: float | None = None,
    copy: bool = False,
    return_mean_std: bool = False,
    mask_obs=None,
    dtype=None,
    n_threads: int | None = None,
    dask_reduction: str = "fold",
    batch_key=None,
    mean=None,
    std=None,
):
    return _scale_1_10(X, zero_center=zero_center, max_value=max_value, copy=copy, return_mean_std=return_mean_std,
                       mask_obs=mask_obs, dtype=dtype, n_threads=n_threads, dask_reduction=dask_reduction,
                       extensions=dict(batch_key=batch_key, mean=mean, std=std))


def scale_sparse(
    X,
    *,
    zero_center: bool = True,
    max_value: float | None = None,
    copy: bool = False,
    return_mean_std: bool = False,
    mask_obs=None,
    dtype=None,
    n_threads: int | None = None,
    dask_reduction: str = "fold",
    batch_key=None,
    mean=None,
    std=None,
):
    return _scale_1_10(X, zero_center=zero_center, max_value=max_value, copy=copy, return_mean_std=return_mean_std,
                       mask_obs=mask_obs, dtype=dtype, n_threads=n_threads, dask_reduction=dask_reduction,
                       extensions=dict(batch_key=batch_key, mean=mean, std=std))
