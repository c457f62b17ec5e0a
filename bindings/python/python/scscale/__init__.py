"""scscale: a faster, bit-identical drop-in for ``sc.pp.scale`` of Scanpy 1.10, 1.11, 1.12, 1.13.

    import scscale
    scscale.pp.scale(adata)          # explicit
    scscale.activate()               # or: sc.pp.scale now uses scscale
    with scscale.activated(): ...    # or only inside a block

The installed Scanpy's series decides which rules apply (``scscale.scanpy_rules()``); nothing
here imports Scanpy until the Scanpy API is used, and no import fails for any Scanpy or none.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from importlib import import_module

from ._ffi import CancelledError, InternalError, InvalidInputError, ScscaleError, UnsupportedError
from ._ffi import version as native_version

__version__ = "0.1.0"
SUPPORTED_SCANPY = ("1.10", "1.11", "1.12", "1.13")  # series reproduced bit for bit
__all__ = [
    "pp", "activate", "deactivate", "activated", "is_active", "native_version", "scanpy_rules",
    "ScscaleError", "InvalidInputError", "UnsupportedError", "InternalError", "CancelledError",
    "SUPPORTED_SCANPY",
]

log = logging.getLogger("scscale")
_saved: list[tuple[object, str, object]] = []
_warned_unsupported = False


def __getattr__(name: str):
    # scanpy is imported only when the Scanpy API is used.
    if name == "pp":
        return import_module(".pp", __name__)
    raise AttributeError(name)


def scanpy_rules() -> tuple[str, str | None]:
    """(series whose rules ``scscale.pp.scale`` applies, installed Scanpy version or None)."""
    from . import _compat

    return _compat.RULES, _compat.SCANPY_VERSION


def _scanpy_modules():
    import scanpy
    import scanpy.preprocessing

    return [m for m in {id(scanpy.pp): scanpy.pp, id(scanpy.preprocessing): scanpy.preprocessing}.values()]


def activate() -> bool:
    """Makes ``scanpy.pp.scale`` and ``scanpy.preprocessing.scale`` use scscale (idempotent).

    With no Scanpy, or one outside 1.10-1.13, warns once and leaves Scanpy alone. Returns
    whether scscale is active.
    """
    global _warned_unsupported
    if _saved:
        return True
    from . import _compat

    if _compat.SERIES is None or not _compat.HAVE_SCANPY:
        if not _warned_unsupported:
            _warned_unsupported = True
            found = _compat.SCANPY_VERSION
            what = "no importable Scanpy" if found is None or not _compat.HAVE_SCANPY else f"Scanpy {found}"
            warnings.warn(
                f"scscale.activate(): {what} is installed; scscale reproduces Scanpy "
                f"{', '.join(SUPPORTED_SCANPY)}, so Scanpy's own sc.pp.scale stays in place",
                UserWarning,
                stacklevel=2,
            )
        return False
    from .pp import scale

    for module in _scanpy_modules():
        _saved.append((module, "scale", module.scale))
        module.scale = scale
    return True


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
