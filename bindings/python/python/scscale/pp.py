"""Drop-in replacements for ``scanpy.pp`` functions."""

from ._compat import RULES as scanpy_rules
from ._outofcore import scale_h5ad
from ._scale import numba_threads, scale

__all__ = ["scale", "numba_threads", "scale_h5ad", "scanpy_rules"]
