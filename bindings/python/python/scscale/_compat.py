"""Which Scanpy is installed, whose rules apply, and Scanpy's helpers with guarded imports.

Nothing here raises ImportError: every private Scanpy name is looked up with a fallback, so
``import scscale``, ``scscale.pp`` and ``scscale.activate()`` work with any Scanpy or none.
"""

from __future__ import annotations

import logging
import re
import warnings
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

import numpy as np
from scipy import sparse

log = logging.getLogger("scscale")

# Series whose `sc.pp.scale` is reproduced bit for bit (docs/scanpy-versions.md).
SUPPORTED_SERIES = ("1.10", "1.11", "1.12", "1.13")


def installed_scanpy() -> str | None:
    """The installed Scanpy's version string (read from its metadata, Scanpy is not imported)."""
    try:
        return _dist_version("scanpy")
    except PackageNotFoundError:
        return None


def series_of(version: str | None) -> str | None:
    """``"1.11.5"`` -> ``"1.11"``; None for a version outside the supported series or unparsable."""
    if version is None:
        return None
    m = re.match(r"(\d+)\.(\d+)", version)
    if m is None:
        return None
    series = f"{int(m[1])}.{int(m[2])}"
    return series if series in SUPPORTED_SERIES else None


def nearest_series(version: str | None) -> str:
    """The supported series whose rules scscale.pp.scale applies for this Scanpy (or none)."""
    s = series_of(version)
    if s is not None:
        return s
    m = re.match(r"(\d+)\.(\d+)", version or "")
    if m is not None and (int(m[1]), int(m[2])) < (1, 10):
        return SUPPORTED_SERIES[0]
    if m is not None:
        return SUPPORTED_SERIES[-1]
    return "1.12"  # no Scanpy: the core's own Scanpy flavor


SCANPY_VERSION = installed_scanpy()
SERIES = series_of(SCANPY_VERSION)  # None: unsupported or absent
RULES = nearest_series(SCANPY_VERSION)  # the series whose rules scscale.pp.scale applies


def _get(module: str, *names: str):
    """The first of ``names`` found in ``module``, or None (module missing, or none found)."""
    try:
        mod = import_module(module)
    except Exception:  # noqa: BLE001 - any failure of a foreign import means "not available"
        return None
    for name in names:
        obj = getattr(mod, name, None)
        if obj is not None:
            return obj
    return None


try:
    import scanpy  # noqa: F401

    HAVE_SCANPY = True
except Exception:  # noqa: BLE001
    HAVE_SCANPY = False

try:
    from anndata import AnnData
except Exception:  # noqa: BLE001

    class AnnData:  # type: ignore[no-redef]
        """Stand-in: anndata is not installed, so no AnnData can be passed."""


try:
    from dask.array import Array as DaskArray
except Exception:  # noqa: BLE001

    class DaskArray:  # type: ignore[no-redef]
        """Stand-in: dask is not installed."""


# Sparse classes: Scanpy >= 1.12 accepts scipy's sparse arrays, 1.10/1.11 only the matrices.
_CSR_ALL = (sparse.csr_matrix, sparse.csr_array)
_CSC_ALL = (sparse.csc_matrix, sparse.csc_array)
if RULES in ("1.10", "1.11"):
    CSRBase, CSCBase = (sparse.csr_matrix,), (sparse.csc_matrix,)
else:
    CSRBase, CSCBase = _CSR_ALL, _CSC_ALL
CSBase = CSRBase + CSCBase
ALL_CS = _CSR_ALL + _CSC_ALL


class _Logg:
    """``scanpy.logging`` when present, else the ``scscale`` logger."""

    def __init__(self) -> None:
        self._logg = _get("scanpy.logging", "info") and import_module("scanpy.logging")

    def info(self, msg: str) -> None:
        (self._logg.info if self._logg else log.info)(msg)

    def debug(self, msg: str) -> None:
        (self._logg.debug if self._logg else log.debug)(msg)


logg = _Logg()

_scanpy_warn = _get("scanpy._compat", "warn")


def warn(msg: str, category: type[Warning], *, more_file_prefixes: tuple[str, ...] = ()) -> None:
    """Scanpy >= 1.12's ``warn`` (attributes the warning to the caller outside Scanpy); 1.10 and
    1.11 call ``warnings.warn(msg, category, stacklevel=2)`` from their ``scale_array``."""
    if _scanpy_warn is not None:
        _scanpy_warn(msg, category, more_file_prefixes=more_file_prefixes)
    else:
        # compat.warn <- _native <- scale_array <- functools' dispatch wrapper, where 1.11's
        # `warnings.warn(..., stacklevel=2)` in its scale_array points.
        warnings.warn(msg, category, stacklevel=4)


def _identity_decorator(*_args, **_kwargs):
    return lambda f: f


# 1.13 dropped both decorators from `scale`.
if RULES in ("1.10", "1.11", "1.12"):
    old_positionals = _get("scanpy._compat", "old_positionals") or _identity_decorator
    renamed_arg = _get("scanpy._utils", "renamed_arg") or _identity_decorator
else:
    old_positionals = renamed_arg = _identity_decorator


def _check_array_function_arguments_fallback(**kwargs) -> None:
    invalid = [k for k, v in kwargs.items() if v is not None]
    if invalid:
        msg = f"Arguments {invalid} are only valid if an AnnData object is passed."
        raise TypeError(msg)


check_array_function_arguments = (
    _get("scanpy._utils", "check_array_function_arguments", "_check_array_function_arguments")
    or _check_array_function_arguments_fallback
)


def _view_to_actual_fallback(adata) -> None:
    if adata.is_view:
        warnings.warn("Received a view of an AnnData. Making a copy.", stacklevel=2)
        adata._init_as_actual(adata.copy())


view_to_actual = _get("scanpy._utils", "view_to_actual") or _view_to_actual_fallback


def _raise_if_backed_fallback(x, method_name: str) -> None:
    name = type(x).__name__
    if "Backed" in name or "Dataset" in name:
        msg = f"{method_name} is not implemented for matrices of type {type(x)}"
        raise NotImplementedError(msg)


raise_not_implemented_error_if_backed_type = (
    _get("scanpy._utils", "raise_not_implemented_error_if_backed_type") or _raise_if_backed_fallback
)


def _check_mask_fallback(data, mask, dim: str = "obs"):
    if mask is None:
        return None
    if isinstance(mask, str):
        if not isinstance(data, AnnData):
            msg = "Cannot refer to mask with string without providing anndata object as argument"
            raise ValueError(msg)
        mask = getattr(data, dim)[mask].to_numpy()
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        msg = "Mask array must be boolean"
        raise ValueError(msg)
    n = data.shape[0 if dim == "obs" else 1]
    if mask.shape != (n,):
        msg = f"The shape of the mask do not match the data. Mask: {mask.shape}, data: {n}"
        raise ValueError(msg)
    return mask


check_mask = _get("scanpy.get", "_check_mask") or _check_mask_fallback


def _get_obs_rep_fallback(adata, *, layer=None, obsm=None):
    if layer is not None and obsm is not None:
        msg = "Only one of `layer` and `obsm` can be passed."
        raise ValueError(msg)
    if layer is not None:
        return adata.layers[layer]
    if obsm is not None:
        return adata.obsm[obsm]
    return adata.X


def _set_obs_rep_fallback(adata, val, *, layer=None, obsm=None) -> None:
    if layer is not None:
        adata.layers[layer] = val
    elif obsm is not None:
        adata.obsm[obsm] = val
    else:
        adata.X = val


# 1.13 renamed `_get_obs_rep` to `_get_arr` (same arguments for this use).
get_obs_rep = _get("scanpy.get", "_get_arr", "_get_obs_rep") or _get_obs_rep_fallback
set_obs_rep = _get("scanpy.get", "_set_obs_rep") or _set_obs_rep_fallback


def scanpy_scale_functions():
    """Scanpy's own ``scale`` and ``scale_array`` (None, None without a usable Scanpy). Read
    before ``activate()`` can patch anything."""
    module = _get("scanpy.preprocessing._scale", "scale")
    if module is None:
        return None, None
    mod = import_module("scanpy.preprocessing._scale")
    return getattr(mod, "scale", None), getattr(mod, "scale_array", None)


def resolve_zero_center(zero_center):
    """Scanpy 1.13's preset default: ``zero_center`` is ``Default(preset=("scale", "zero_center"))``
    and ``scale_array`` reads ``sc.settings.preset.scale.zero_center``; under the v2 preview preset
    that is None, which makes ``zero_center`` a required keyword (TypeError when missing)."""
    if zero_center is not ZERO_CENTER_DEFAULT or RULES != "1.13":
        return zero_center
    settings = _get("scanpy", "settings")
    preset = getattr(getattr(settings, "preset", None), "scale", None)
    value = getattr(preset, "zero_center", True)
    if value is None:
        msg = "scale() missing 1 required keyword argument: 'zero_center'"
        raise TypeError(msg)
    return value


def _zero_center_default():
    """1.13's ``Default`` object (so signatures and reprs match Scanpy's), else True."""
    if RULES != "1.13":
        return True
    default = _get("scanpy._settings", "Default") or _get("scanpy._settings.presets", "Default")
    if default is None:
        return _PresetDefault()
    try:
        return default(preset=("scale", "zero_center"))
    except Exception:  # noqa: BLE001
        return _PresetDefault()


class _PresetDefault:
    def __repr__(self) -> str:
        return "Default(preset=('scale', 'zero_center'))"


ZERO_CENTER_DEFAULT = _zero_center_default()
