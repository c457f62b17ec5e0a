"""scscale: a faster, bit-identical drop-in for Scanpy 1.12.4 ``sc.pp.scale``.

    import scscale
    scscale.pp.scale(adata)          # explicit
    scscale.activate()               # or: sc.pp.scale now uses scscale
    with scscale.activated(): ...    # or only inside a block
"""

from __future__ import annotations

import contextlib
import logging
from importlib import import_module

from ._ffi import InternalError, InvalidInputError, ScscaleError, UnsupportedError
from ._ffi import version as native_version

__version__ = "0.1.0"
SCANPY_VERSION = "1.12.4"  # the version whose results are reproduced bit for bit
__all__ = [
    "pp", "activate", "deactivate", "activated", "is_active", "native_version",
    "ScscaleError", "InvalidInputError", "UnsupportedError", "InternalError",
]

log = logging.getLogger("scscale")
_saved: list[tuple[object, str, object]] = []


def __getattr__(name: str):
    # scanpy is imported only when the Scanpy API is used.
    if name == "pp":
        return import_module(".pp", __name__)
    raise AttributeError(name)


def _scanpy_modules():
    import scanpy
    import scanpy.preprocessing

    return [m for m in {id(scanpy.pp): scanpy.pp, id(scanpy.preprocessing): scanpy.preprocessing}.values()]


def activate() -> None:
    """Makes ``scanpy.pp.scale`` and ``scanpy.preprocessing.scale`` use scscale (idempotent)."""
    if _saved:
        return
    from importlib.metadata import version

    from .pp import scale

    found = version("scanpy")
    if found != SCANPY_VERSION:
        log.warning("scscale reproduces scanpy %s but scanpy %s is installed", SCANPY_VERSION, found)
    for module in _scanpy_modules():
        _saved.append((module, "scale", module.scale))
        module.scale = scale


def deactivate() -> None:
    """Restores Scanpy's own ``scale``."""
    while _saved:
        module, name, original = _saved.pop()
        setattr(module, name, original)


def is_active() -> bool:
    return bool(_saved)


@contextlib.contextmanager
def activated():
    """``with scscale.activated(): ...`` uses scscale inside the block only."""
    was_active = is_active()
    activate()
    try:
        yield
    finally:
        if not was_active:
            deactivate()
