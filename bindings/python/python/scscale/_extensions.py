"""Beyond Scanpy: per-batch statistics (``batch_key=``, as Seurat's ``split.by``) and given
statistics (``mean=``/``std=``: scale new cells with a reference's statistics), through the
core's row groups and given statistics.

Each batch is scaled exactly as the installed Scanpy scales that batch's rows when they are the
``mask_obs`` of the call (sparse input with ``zero_center=True``: as Scanpy scales the batch's rows
on their own), so every batch's rows carry that Scanpy's bits. Rows whose label is missing
(None/NaN) are in no batch and keep their values (dense and ``zero_center=False`` results).
"""

from __future__ import annotations

import numpy as np

from . import _ffi, _scale
from ._compat import CSBase, CSCBase, DaskArray, get_obs_rep, set_obs_rep, view_to_actual


def _unsupported(reason: str) -> _ffi.UnsupportedError:
    msg = f"batch_key/mean/std: {reason}"
    return _ffi.UnsupportedError(_ffi.STATUS_UNSUPPORTED, "SC_STATUS_UNSUPPORTED", msg)


def batch_codes(labels, n_obs: int) -> tuple[np.ndarray, list]:
    """Per-row batch index (int32, -1 for a missing label) and the batches, sorted."""
    import pandas as pd

    values = labels.to_numpy() if isinstance(labels, pd.Series) else np.asarray(labels, dtype=object)
    if values.ndim != 1 or values.shape[0] != n_obs:
        msg = f"batch_key must give one label per row ({n_obs}), got shape {values.shape}"
        raise ValueError(msg)
    codes, batches = pd.factorize(values, sort=True)
    if len(batches) == 0:
        msg = "batch_key: every label is missing"
        raise ValueError(msg)
    return codes.astype(np.int32), list(batches)


def _given(stat, name: str, n: int, var_names=None) -> np.ndarray:
    import pandas as pd

    if isinstance(stat, pd.Series) and var_names is not None:
        stat = stat.reindex(var_names)
        if stat.isna().any():
            msg = f"{name} lacks genes of this data set, e.g. {stat.index[stat.isna()][0]!r}"
            raise ValueError(msg)
    if isinstance(stat, pd.DataFrame):
        if var_names is not None:
            stat = stat.reindex(var_names)
        stat = stat.to_numpy().T  # genes x batches -> batches x genes
    arr = np.ascontiguousarray(np.asarray(stat, dtype=np.float64)).reshape(-1)
    if arr.size != n:
        msg = f"{name} has {arr.size} values; expected {n} (batches x genes)"
        raise ValueError(msg)
    return arr


def scale_groups(x, *, batch_key, mean, std, zero_center, max_value, copy, return_mean_std, mask_obs, dtype,
                 n_threads):
    if mask_obs is not None:
        msg = "mask_obs cannot be combined with batch_key, mean or std (give rows to leave alone a missing batch label)"
        raise ValueError(msg)
    if (mean is None) != (std is None):
        msg = "mean and std must be given together"
        raise ValueError(msg)
    if isinstance(batch_key, str):
        msg = "batch_key names an obs column only for AnnData; for arrays pass the labels, one per row"
        raise TypeError(msg)
    if dtype is not None and np.dtype(dtype) not in _scale._FLOATS:
        msg = f"dtype must be float32 or float64, got {dtype!r}"
        raise ValueError(msg)
    if isinstance(x, DaskArray):
        raise _unsupported("Dask arrays are not supported")
    labels, batches = (None, [None]) if batch_key is None else batch_codes(batch_key, x.shape[0])
    n_groups = len(batches)
    if isinstance(x, CSBase) and np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float64)  # as Scanpy casts integer input (a copy; the input is untouched)
    try:
        _scale._check_supported(x, zero_center=zero_center, mask=None)
        if isinstance(x, CSBase):
            _scale._sparse_parts(x)
    except _scale._Fallback as e:
        raise _unsupported(str(e)) from e
    n_cols = x.shape[1]
    given = None
    if mean is not None:
        given = (_given(mean, "mean", n_groups * n_cols), _given(std, "std", n_groups * n_cols))
    if isinstance(x, CSCBase) and not zero_center and labels is not None:
        x = x.tocsr()  # per-row groups without centring: Scanpy's masked (CSR) path
    try:
        out, m, s = _scale._native(x, None, zero_center=zero_center, max_value=max_value, copy=copy, dtype=dtype,
                                   n_threads=n_threads, labels=labels, n_groups=n_groups, given=given)
    except _scale._Fallback as e:
        raise _unsupported(str(e)) from e
    _scale.calls["native"] += 1
    if labels is not None:
        m, s = m.reshape(n_groups, n_cols), s.reshape(n_groups, n_cols)
    return (out, m, s) if return_mean_std else out


def scale_anndata_groups(adata, *, batch_key, mean, std, zero_center, max_value, copy, layer, obsm, mask_obs,
                         dtype, n_threads):
    """``scale(adata, batch_key="batch")`` writes ``adata.varm["mean per batch"]`` and
    ``adata.varm["std per batch"]`` (genes x batches DataFrames); with ``mean``/``std`` given
    (arrays, or Series/DataFrames indexed by gene, aligned to ``adata.var_names``) ``adata.var``
    is left alone."""
    import pandas as pd

    adata = adata.copy() if copy else adata
    view_to_actual(adata)
    labels = adata.obs[batch_key] if isinstance(batch_key, str) else batch_key
    x = get_obs_rep(adata, layer=layer, obsm=obsm)
    batches = [None] if labels is None else batch_codes(labels, adata.n_obs)[1]
    if mean is not None and std is not None:
        n = len(batches) * x.shape[1]
        var_names = adata.var_names if obsm is None else None
        mean, std = _given(mean, "mean", n, var_names), _given(std, "std", n, var_names)
    # Through the dispatcher, so the installed series' own steps apply (1.10 densifies first).
    x, m, s = _scale.scale(x, batch_key=None if labels is None else np.asarray(labels, dtype=object), mean=mean,
                           std=std, zero_center=zero_center, max_value=max_value, copy=False, return_mean_std=True,
                           mask_obs=mask_obs, **({} if dtype is None else {"dtype": dtype}),
                           **({} if n_threads is None else {"n_threads": n_threads}))
    if batch_key is not None and mean is None and obsm is None:
        name = batch_key if isinstance(batch_key, str) else "batch"
        columns = [str(b) for b in batches]
        adata.varm[f"mean per {name}"] = pd.DataFrame(m.T, index=adata.var_names, columns=columns)
        adata.varm[f"std per {name}"] = pd.DataFrame(s.T, index=adata.var_names, columns=columns)
    set_obs_rep(adata, x, layer=layer, obsm=obsm)
    return adata if copy else None
