"""Drop-in replacements for ``scanpy.pp`` functions."""

from ._scale import numba_threads, scale

__all__ = ["scale", "numba_threads"]
