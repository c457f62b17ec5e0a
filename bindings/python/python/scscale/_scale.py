"""``scale``: the installed Scanpy's ``sc.pp.scale`` (1.10-1.13) with the numeric kernels replaced
by the native library.

The control flow (dispatch, copies, logs, warnings, AnnData bookkeeping) mirrors
``scanpy/preprocessing/_scale.py`` of the installed series line by line (``_compat.RULES``;
docs/scanpy-versions.md), using Scanpy's own helpers where it has them; every case the native
library does not reproduce bit for bit goes to Scanpy's own function instead (logged at DEBUG).
"""

from __future__ import annotations

import logging
from pathlib import Path
from functools import singledispatch

import numpy as np

from . import _compat, _dask, _ffi
from ._compat import (
    RULES,
    AnnData,
    CSBase,
    CSCBase,
    CSRBase,
    DaskArray,
    check_array_function_arguments,
    logg,
    old_positionals,
    raise_not_implemented_error_if_backed_type,
    renamed_arg,
    view_to_actual,
    warn,
)
from ._compat import check_mask as _check_mask
from ._compat import get_obs_rep as _get_obs_rep
from ._compat import set_obs_rep as _set_obs_rep

log = logging.getLogger("scscale")
_PKG_DIR = str(Path(__file__).parent)

# Captured at import, before activate() can patch anything (None without a usable Scanpy).
_scanpy_scale, _scanpy_scale_array = _compat.scanpy_scale_functions()
# The core flavor of this series' arithmetic (docs/scanpy-versions.md).
FLAVOR = _ffi.FLAVOR_SCANPY_1_10 if RULES == "1.10" else _ffi.FLAVOR_SCANPY
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Under other settings Scanpy's numpy steps warn or raise where we cannot reproduce it.
_NUMPY_DEFAULT_ERR = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}
_INDEX = (np.dtype(np.int32), np.dtype(np.int64))


def _log_rules() -> None:
    log.debug("scscale: applying the rules of Scanpy %s (installed: %s)", RULES, _compat.SCANPY_VERSION)


def numba_threads() -> int:
    """Scanpy's CSR statistics depend on numba's thread count at call time."""
    try:
        import numba
    except ImportError:
        return 1
    return int(numba.get_num_threads())


class _Fallback(Exception):
    """The native library cannot reproduce this case; Scanpy's own function runs instead."""


# How many array calls ran natively or fell back to Scanpy (for tests and curious users).
calls = {"native": 0, "fallback": 0}


def _no_scanpy(reason: str):
    msg = f"scscale cannot reproduce this case natively ({reason}) and Scanpy is not installed to run it"
    return _ffi.UnsupportedError(_ffi.STATUS_UNSUPPORTED, "SC_STATUS_UNSUPPORTED", msg)


def _fallback_array(reason, x, *, zero_center, max_value, copy, return_mean_std, mask_obs, dtype, dask_reduction):
    if _scanpy_scale_array is None:
        raise _no_scanpy(reason)
    calls["fallback"] += 1
    log.debug("scscale: using scanpy.pp.scale (%s)", reason)
    # 1.10 dispatches sparse matrices to its own `scale_sparse`, not to `scale_array`.
    scanpy_fn = _scanpy_scale if RULES == "1.10" else _scanpy_scale_array
    res = scanpy_fn(
        x, zero_center=zero_center, max_value=max_value, copy=copy,
        return_mean_std=return_mean_std, mask_obs=mask_obs,
    )
    if dtype is None:
        return res
    if return_mean_std:
        return (_cast(res[0], dtype), *res[1:])
    return _cast(res, dtype)


def _cast(x, dtype):
    dtype = np.dtype(dtype)
    if isinstance(x, DaskArray):
        return _dask.cast(x, dtype)
    if x.dtype == dtype:
        return x
    return x.astype(dtype)


def _finite_and_moderate(values: np.ndarray) -> bool:
    """True when numpy's squares/differences/quotients cannot overflow or meet inf/NaN inputs,
    so Scanpy's numpy steps raise no RuntimeWarning that we would have to reproduce."""
    if values.size == 0:
        return True
    lo, hi = values.min(), values.max()
    limit = np.sqrt(np.finfo(values.dtype).max) / 4
    return bool(np.isfinite(lo) and np.isfinite(hi) and -limit < lo and hi < limit)


def _warn_sqrt(var: np.ndarray) -> None:
    # Scanpy's `np.sqrt(var)` warns (or raises, under np.errstate) for a negative variance.
    neg = var[var < 0]
    if neg.size:
        np.sqrt(neg[:1])


def _stats_buffers(n_cols: int):
    return np.empty(n_cols), np.empty(n_cols), np.empty(n_cols)


def _groups_from_mask(mask: np.ndarray | None) -> np.ndarray | None:
    if mask is None:
        return None
    return np.where(mask, np.int32(0), np.int32(-1)).astype(np.int32)


def _native_mask(x, mask_obs):
    """The validated mask (Scanpy's `_check_mask`), or _Fallback if it is not a plain bool array."""
    if mask_obs is None:  # 1.10's `_check_mask` does not take None
        return None
    mask = _check_mask(x, mask_obs, "obs")
    if mask is None:
        return None
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.ndim == 1):
        raise _Fallback("mask is not a 1-D numpy bool array")
    if not mask.any():
        raise _Fallback("empty mask")
    return mask


def _sparse_parts(x):
    indptr, indices, data = x.indptr, x.indices, x.data
    if indptr.dtype not in _INDEX or indices.dtype != indptr.dtype:
        raise _Fallback(f"index dtypes {indptr.dtype}/{indices.dtype}")
    if data.dtype not in _FLOATS:
        raise _Fallback(f"value dtype {data.dtype}")
    if not (indptr.flags.c_contiguous and indices.flags.c_contiguous and data.flags.c_contiguous):
        raise _Fallback("non-contiguous sparse buffers")
    if indptr.size != x.shape[0 if isinstance(x, CSRBase) else 1] + 1 or indices.size != data.size:
        raise _Fallback("sparse buffers do not describe the shape")
    return indptr, indices, data


def _check_supported(x, *, zero_center, mask):
    if isinstance(x, np.ndarray):
        if type(x) is not np.ndarray or x.ndim != 2:
            raise _Fallback(f"{type(x).__name__} with ndim {x.ndim}")
        if not x.flags.c_contiguous:
            raise _Fallback("dense input is not C-ordered")
        if not x.flags.writeable:
            raise _Fallback("read-only dense input")
    elif isinstance(x, CSBase):
        if x.format not in ("csr", "csc"):
            raise _Fallback(f"sparse format {x.format}")
        if zero_center and mask is not None:
            raise _Fallback("sparse + zero_center + mask (Scanpy densifies the masked rows in place)")
    else:
        raise _Fallback(f"type {type(x).__name__}")
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype in _FLOATS):
        raise _Fallback(f"dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise _Fallback(f"empty shape {x.shape}")


def scale_array(
    x,
    *,
    zero_center: bool = _compat.ZERO_CENTER_DEFAULT,
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
    """Scanpy's ``scale_array`` for numpy arrays, scipy CSR/CSC matrices and arrays, and Dask arrays."""
    zero_center = _compat.resolve_zero_center(zero_center)
    _log_rules()
    if batch_key is not None or mean is not None or std is not None:
        from ._extensions import scale_groups

        return scale_groups(x, batch_key=batch_key, mean=mean, std=std, zero_center=zero_center,
                            max_value=max_value, copy=copy, return_mean_std=return_mean_std,
                            mask_obs=mask_obs, dtype=dtype, n_threads=n_threads)
    args = dict(
        zero_center=zero_center, max_value=max_value, copy=copy,
        return_mean_std=return_mean_std, mask_obs=mask_obs, dtype=dtype, dask_reduction=dask_reduction,
    )
    if dtype is not None and np.dtype(dtype) not in _FLOATS:
        msg = f"dtype must be float32 or float64, got {dtype!r}"
        raise ValueError(msg)
    _check_reduction(dask_reduction)
    try:
        if isinstance(x, DaskArray):
            x, mean, std = _native_dask(x, mask_obs, zero_center=zero_center, max_value=max_value, dtype=dtype,
                                        n_threads=n_threads, reduction=dask_reduction)
            calls["native"] += 1
            return (x, mean, std) if return_mean_std else x
        if np.geterr() != _NUMPY_DEFAULT_ERR:
            raise _Fallback(f"non-default numpy error handling {np.geterr()}")
        _check_supported(x, zero_center=zero_center, mask=mask_obs)
        mask = _native_mask(x, mask_obs)
        if isinstance(x, CSBase):
            _sparse_parts(x)
        # Scanpy's numpy steps warn on inf/NaN/overflow; its numba CSR kernel (zero_center=False,
        # or any CSC with a mask) does not, so only the numpy paths need finite inputs.
        numba_only = isinstance(x, CSBase) and not zero_center and (isinstance(x, CSRBase) or mask is not None)
        values = x.data if isinstance(x, CSBase) else x
        if not numba_only and values.dtype in _FLOATS and not _finite_and_moderate(values):
            raise _Fallback("non-finite or huge values (numpy would warn)")
        result = _native(x, mask, zero_center=zero_center, max_value=max_value, copy=copy,
                         dtype=dtype, n_threads=n_threads)
    except _Fallback as e:
        return _fallback_array(str(e), x, **args)
    calls["native"] += 1
    x, mean, std = result
    return (x, mean, std) if return_mean_std else x


def _check_reduction(dask_reduction) -> None:
    if dask_reduction not in _dask.REDUCTIONS:
        msg = f"dask_reduction must be one of {_dask.REDUCTIONS}, got {dask_reduction!r}"
        raise ValueError(msg)


def _native_dask(x, mask_obs, *, zero_center, max_value, dtype, n_threads, reduction):
    """Lazy (result, mean, std) with the in-memory call's bits, or _Fallback. Nothing is computed
    here, as in Scanpy; numpy's error state at call time is irrelevant for the same reason."""
    if mask_obs is not None:
        raise _Fallback("Dask array with mask_obs")
    reason = _dask.unsupported(x)
    if reason is not None:
        raise _Fallback(reason)
    sparse = not isinstance(x._meta, np.ndarray)
    out = _dask.scale(x, zero_center=zero_center, max_value=max_value, dtype=dtype, n_threads=n_threads,
                      reduction=reduction, n_partitions=numba_threads() if sparse else 1)
    _log_start_from(np.issubdtype(x.dtype, np.integer), zero_center, max_value)
    if sparse and zero_center:
        warn("zero-centering a sparse array/matrix densifies it.", UserWarning, more_file_prefixes=(_PKG_DIR,))
    return out


def _native(x, mask, *, zero_center, max_value, copy, dtype, n_threads, labels=None, n_groups=1, given=None):
    """Statistics then transform, natively; returns (result, mean, std), or raises _Fallback
    before any side effect. ``labels``/``n_groups``: per-row batch codes (-1: no batch) instead
    of a mask (statistics per batch, group-major); ``given``: (mean, std) used verbatim."""
    n_threads = 0 if n_threads is None else int(n_threads)
    is_int = np.issubdtype(x.dtype, np.integer)
    n_rows, n_cols = x.shape
    mean, var, std = _stats_buffers(n_cols * n_groups)
    groups = _groups_from_mask(mask) if labels is None else labels
    common = dict(center=zero_center, max_value=max_value, n_partitions=numba_threads(), groups=groups, flavor=FLAVOR,
                  n_groups=n_groups)
    if given is not None:
        mean, std = given
        var = np.zeros(0)  # not computed: no sqrt warning to reproduce

    def scale_call(scale_fn: str, src, out) -> None:
        # One call: statistics (written to mean/var/std) then the transform, on n_threads.
        if given is None:
            o = _ffi.options(**common, n_threads=n_threads, mean_out=mean, var_out=var, std_out=std)
        else:
            o = _ffi.give_stats(_ffi.options(**common, n_threads=n_threads), mean, std)
        _ffi.call(scale_fn, src, o, out)

    if isinstance(x, np.ndarray):
        src = x.astype(np.float64) if is_int else x
        out_dtype = src.dtype if dtype is None else np.dtype(dtype)
        # Scanpy scales in place (on its copy when copy=True); a fresh output replaces the copy.
        in_place = not copy and out_dtype == src.dtype
        out = src if in_place else np.empty(src.shape, out_dtype)
        try:
            scale_call("sc_scale_dense", _ffi.dense(src), _ffi.dense_out(out))
        except _ffi.UnsupportedError as e:
            # The core refuses what it cannot reproduce (one column: numpy's pairwise sum) before
            # writing anything, so Scanpy's own code can still run on the untouched input.
            raise _Fallback(e.message) from e
        _log_start_from(is_int, zero_center, max_value)
        if mask is not None and not zero_center and max_value is not None and RULES != "1.10":
            logg.info("... be careful when using `max_value` without `zero_center`.")  # recursion
        _warn_sqrt(var)
        return out, mean, std

    if is_int:
        x = x.astype(np.float64)
    if zero_center:
        indptr, indices, data = _sparse_parts(x)
        csr = isinstance(x, CSRBase)
        # scipy densifies CSR in C order and CSC in Fortran order; the result keeps that order.
        out = np.empty((n_rows, n_cols), np.float64 if dtype is None else dtype, order="C" if csr else "F")
        try:
            scale_call("sc_scale_csr" if csr else "sc_scale_csc_colmajor", _ffi.sparse(indptr, indices, data, x.shape),
                       _ffi.dense_out(out))
        except _ffi.ScscaleError as e:
            if e.status in (_ffi.STATUS_DUPLICATE_ENTRY, _ffi.STATUS_UNSUPPORTED):
                raise _Fallback(e.message) from e
            raise
        _log_start_from(is_int, zero_center, max_value)
        _warn_sqrt(var)
        warn("zero-centering a sparse array/matrix densifies it.", UserWarning, more_file_prefixes=(_PKG_DIR,))
        return out, mean, std

    if isinstance(x, CSCBase) and mask is None and labels is None:
        # Scanpy divides `x.T.data` by numpy into a new float64 CSC sharing the index arrays.
        indptr, indices, data = _sparse_parts(x)
        if copy:
            indptr, indices = indptr.copy(), indices.copy()
        new_data = np.empty(data.size, np.float64)
        scale_call("sc_scale_csc_values", _ffi.sparse(indptr, indices, data, x.shape),
                   _ffi.values_out(new_data))
        out = type(x)((new_data, indices, indptr), shape=x.shape)
        _log_start_from(is_int, zero_center, max_value)
        _warn_sqrt(var)
        return (_cast(out, dtype) if dtype is not None else out), mean, std

    if RULES == "1.10" and mask is None and labels is None:
        # 1.10: numpy divides `x.data` into a new float64 array that replaces it (same object),
        # then `clip_array` clips above (NaN kept): the core's SC_FLAVOR_SCANPY_1_10 rule.
        if copy and not is_int:
            x = x.copy()
        indptr, indices, data = _sparse_parts(x)
        new_data = np.empty(data.size, np.float64)
        scale_call("sc_scale_csr_values", _ffi.sparse(indptr, indices, data, x.shape), _ffi.values_out(new_data))
        x.data = new_data
        _log_start_from(is_int, zero_center, max_value)
        _warn_sqrt(var)
        return (_cast(x, dtype) if dtype is not None else x), mean, std

    if RULES == "1.10":
        # 1.10's `_scale_sparse_numba`: `clip = max_value or 0`, and `if clip:` skips clipping;
        # the std is cast to the matrix dtype (a float32 std from float32 squares cannot
        # overflow it); no info logs.
        if max_value is not None and not max_value:
            common["max_value"] = None
    # CSR (or CSC made CSR) with zero_center=False: Scanpy's masked kernel, in place.
    if isinstance(x, CSCBase):
        x = x.tocsr()
    elif copy and not is_int:
        x = x.copy()
    indptr, indices, data = _sparse_parts(x)
    if not data.flags.writeable:
        raise _Fallback("read-only sparse data")
    s = _ffi.sparse(indptr, indices, data, x.shape)
    scale_call("sc_scale_csr_values", s, _ffi.values_out(data))
    if RULES != "1.10":  # 1.10's `_scale_sparse_numba` path logs nothing
        _log_start_from(is_int, zero_center, max_value)
    _warn_sqrt(var)
    return (_cast(x, dtype) if dtype is not None else x), mean, std


def _log_start_from(is_int, zero_center, max_value):
    if not zero_center and max_value is not None:
        logg.info("... be careful when using `max_value` without `zero_center`.")
    if is_int:
        logg.info(
            "... as scaling leads to float results, integer "
            "input is cast to float, returning copy."
        )


@renamed_arg("X", "data", pos_0=True)
@old_positionals("zero_center", "max_value", "copy", "layer", "obsm")
@singledispatch
def scale(
    data,
    *,
    zero_center: bool = _compat.ZERO_CENTER_DEFAULT,
    max_value: float | None = None,
    copy: bool = False,
    layer: str | None = None,
    obsm: str | None = None,
    mask_obs=None,
    dtype=None,
    n_threads: int | None = None,
    dask_reduction: str = "fold",
    batch_key=None,
    mean=None,
    std=None,
):
    """Scale data to unit variance and zero mean, bit-identically to the installed Scanpy's
    ``sc.pp.scale`` (1.10, 1.11, 1.12 or 1.13; ``scale.scanpy_rules`` says which series' rules
    apply, logged at DEBUG on the ``scscale`` logger at every call).

    Same parameters, return values, in-place behaviour, ``adata.var`` columns and warnings as
    Scanpy, plus:

    dtype
        ``np.float32`` or ``np.float64``: the result's dtype (Scanpy's result cast to it;
        computed directly, so a float32 dense result needs half the memory). Default: Scanpy's.
    n_threads
        Worker threads of the native library (default: all cores; for Dask input, per chunk task,
        default 1). Never changes the result.
    dask_reduction
        How the statistics of Dask input (chunks of rows, CSR or dense) are reduced:

        ``"fold"`` (default)
            One task per chunk, in row order, adds the chunk to a copy of the previous task's
            running sums (only those, ``O(genes)``, move between workers). Statistics and result
            are bit-identical to the in-memory call on the whole matrix; the statistics pass is
            sequential.
        ``"tree"``
            Per-chunk sums merged pairwise in a fixed binary tree over the chunk order: parallel
            and deterministic (same bits whatever the worker count or completion order), but
            rounded differently from the in-memory call (mean/std within a few ulps).

    The statistics of CSR input depend on ``numba.get_num_threads()`` at call time, as in Scanpy
    (for Dask, on the client, where the graph is built).

    Dask arrays are scaled lazily, as in Scanpy (an ``AnnData`` computes its ``var`` columns), with
    the in-memory call's values and dtypes: unlike Scanpy's Dask path, float32 dense input and
    float32 CSR input without centring give float32 chunks, and the bits do not depend on the
    chunking. Masks and other chunk types go to Scanpy's own Dask path.
    """
    _check_reduction(dask_reduction)
    check_array_function_arguments(layer=layer, obsm=obsm)
    if layer is not None:
        msg = f"`layer` argument inappropriate for value of type {type(data)}"
        raise ValueError(msg)
    if obsm is not None:
        msg = f"`obsm` argument inappropriate for value of type {type(data)}"
        raise ValueError(msg)
    if batch_key is not None or mean is not None or std is not None:
        msg = f"batch_key, mean and std need a numpy array, scipy CSR/CSC or AnnData, not {type(data).__name__}"
        raise TypeError(msg)
    if _scanpy_scale_array is None:
        raise _no_scanpy(f"type {type(data).__name__}")
    calls["fallback"] += 1
    log.debug("scscale: using scanpy.pp.scale (type %s)", type(data).__name__)
    # 1.10 dispatches every scipy sparse matrix to its own `scale_sparse`.
    res = (_scanpy_scale if RULES == "1.10" else _scanpy_scale_array)(
        data, zero_center=zero_center, max_value=max_value, copy=copy, mask_obs=mask_obs
    )
    return res if dtype is None else _cast(res, dtype)


if RULES == "1.10":
    from . import _scale110

    for _cls in (np.ndarray, DaskArray):
        scale.register(_cls)(_scale110.scale_array)
    for _cls in CSBase:
        scale.register(_cls)(_scale110.scale_sparse)
else:
    for _cls in (np.ndarray, DaskArray, *CSBase):
        scale.register(_cls)(scale_array)


@scale.register(AnnData)
def scale_anndata(
    adata: AnnData,
    *,
    zero_center: bool = _compat.ZERO_CENTER_DEFAULT,
    max_value: float | None = None,
    copy: bool = False,
    layer: str | None = None,
    obsm: str | None = None,
    mask_obs=None,
    dtype=None,
    n_threads: int | None = None,
    dask_reduction: str = "fold",
    batch_key: str | None = None,
    mean=None,
    std=None,
) -> AnnData | None:
    _check_reduction(dask_reduction)
    if batch_key is not None or mean is not None or std is not None:
        from ._extensions import scale_anndata_groups

        return scale_anndata_groups(adata, batch_key=batch_key, mean=mean, std=std, zero_center=zero_center,
                                    max_value=max_value, copy=copy, layer=layer, obsm=obsm, mask_obs=mask_obs,
                                    dtype=dtype, n_threads=n_threads)
    adata = adata.copy() if copy else adata
    str_mean_std = ("mean", "std")
    if mask_obs is not None:
        if isinstance(mask_obs, str):
            str_mean_std = (f"mean of {mask_obs}", f"std of {mask_obs}")
        else:
            str_mean_std = ("mean with mask", "std with mask")
        mask_obs = _check_mask(adata, mask_obs, "obs")
    view_to_actual(adata)
    x = _get_obs_rep(adata, layer=layer, obsm=obsm)
    raise_not_implemented_error_if_backed_type(x, "scale")
    kwargs = {} if dtype is None and n_threads is None else dict(dtype=dtype, n_threads=n_threads)
    if dask_reduction != "fold":
        kwargs["dask_reduction"] = dask_reduction
    x, mean, std = scale(
        x,
        zero_center=zero_center,
        max_value=max_value,
        copy=False,  # because a copy has already been made, if it were to be made
        return_mean_std=True,
        mask_obs=mask_obs,
        **kwargs,
    )
    if isinstance(mean, DaskArray):
        # pandas would compute each column on its own, running the statistics twice.
        import dask

        mean, std = dask.compute(mean, std)
    x, adata.var[str_mean_std[0]], adata.var[str_mean_std[1]] = x, mean, std
    _set_obs_rep(adata, x, layer=layer, obsm=obsm)
    return adata if copy else None


# Which Scanpy series' rules this function applies ("1.10" ... "1.13"), and the installed Scanpy.
scale.scanpy_rules = RULES
scale.scanpy_version = _compat.SCANPY_VERSION
