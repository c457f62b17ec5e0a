"""Runs Scanpy's own ``scale`` and ``scscale.pp.scale`` on identical fresh inputs and asserts that
everything observable is the same: return values (bytes, so -0.0 and NaN payloads count), types,
dtypes, memory order, identity and sharing with the input, input mutation, AnnData fields,
warnings and Scanpy's info logs."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData
from scipy import sparse

import scscale
from scscale import _scale as scscale_scale

SCANPY_SCALE = scscale_scale._scanpy_scale  # the unpatched Scanpy function


@dataclass
class Outcome:
    result: object = None
    error: BaseException | None = None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def run(fn, data, kwargs) -> Outcome:
    out = Outcome()
    handler = _ListHandler()
    root = sc.settings._root_logger
    old_verbosity = sc.settings.verbosity
    sc.settings.verbosity = "info"
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out.result = fn(data, **kwargs)
            except Exception as e:  # noqa: BLE001 - compared below
                out.error = e
    finally:
        root.removeHandler(handler)
        sc.settings.verbosity = old_verbosity
    # scscale's own DEBUG lines go to the "scscale" logger, not Scanpy's.
    out.warnings = [(w.category.__name__, str(w.message)) for w in caught]
    out.logs = handler.records
    return out


def assert_same_array(a, b, what: str) -> None:
    assert type(a) is type(b), f"{what}: type {type(a)} != {type(b)}"
    if a is None:
        return
    if isinstance(a, (sparse.spmatrix, sparse.sparray)):
        assert a.format == b.format, f"{what}: format"
        assert a.shape == b.shape, f"{what}: shape"
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
        for part in [k for k in ("indptr", "indices", "data", "row", "col") if hasattr(a, k)]:
            pa, pb = getattr(a, part), getattr(b, part)
            assert pa.dtype == pb.dtype, f"{what}.{part}: dtype {pa.dtype} != {pb.dtype}"
            assert pa.tobytes() == pb.tobytes(), f"{what}.{part}: bytes differ{_diff(pa, pb)}"
        return
    if isinstance(a, np.ndarray):
        assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
        assert a.flags.c_contiguous == b.flags.c_contiguous, f"{what}: C order"
        assert a.flags.f_contiguous == b.flags.f_contiguous, f"{what}: F order"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{what}: values differ{_diff(a, b)}"
        assert a.tobytes() == b.tobytes(), f"{what}: bytes differ (signed zero or NaN payload){_diff(a, b)}"
        return
    if isinstance(a, pd.Series):
        assert_same_array(a.to_numpy(), b.to_numpy(), what)
        return
    if isinstance(a, pd.DataFrame):
        assert list(a.columns) == list(b.columns), f"{what}: columns {list(a.columns)} != {list(b.columns)}"
        assert list(a.index) == list(b.index), f"{what}: index"
        for c in a.columns:
            assert a[c].dtype == b[c].dtype, f"{what}[{c!r}]: dtype"
            assert_same_array(a[c].to_numpy(), b[c].to_numpy(), f"{what}[{c!r}]")
        return
    if hasattr(a, "compute"):  # Dask
        assert_same_array(a.compute(), b.compute(), f"{what}.compute()")
        return
    assert a == b, f"{what}: {a!r} != {b!r}"


def _diff(a, b) -> str:
    try:
        av, bv = np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8)
        fa, fb = np.asarray(a).ravel(order="K"), np.asarray(b).ravel(order="K")
        bad = np.flatnonzero(fa.view(f"u{fa.itemsize}") != fb.view(f"u{fb.itemsize}"))
        del av, bv
        if bad.size:
            i = bad[0]
            return f" ({bad.size} elements; first at flat {i}: {fa[i]!r} vs {fb[i]!r})"
    except Exception:  # noqa: BLE001 - diagnostics only
        pass
    return ""


def assert_same_anndata(a: AnnData, b: AnnData, what: str) -> None:
    assert a.is_view == b.is_view, f"{what}: is_view"
    assert a.shape == b.shape, f"{what}: shape"
    assert_same_array(a.X, b.X, f"{what}.X")
    assert sorted(map(str, a.layers.keys())) == sorted(map(str, b.layers.keys())), f"{what}.layers keys"
    for k in a.layers:
        assert_same_array(a.layers[k], b.layers[k], f"{what}.layers[{k!r}]")
    assert sorted(map(str, a.obsm.keys())) == sorted(map(str, b.obsm.keys())), f"{what}.obsm keys"
    for k in a.obsm:
        assert_same_array(a.obsm[k], b.obsm[k], f"{what}.obsm[{k!r}]")
    assert_same_array(a.var, b.var, f"{what}.var")
    assert_same_array(a.obs, b.obs, f"{what}.obs")


def assert_same_value(a, b, what: str) -> None:
    if isinstance(a, AnnData) or isinstance(b, AnnData):
        assert type(a) is type(b), f"{what}: type {type(a)} != {type(b)}"
        assert_same_anndata(a, b, what)
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), f"{what}: tuple shape"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_value(x, y, f"{what}[{i}]")
    else:
        assert_same_array(a, b, what)


def _parts(x):
    if isinstance(x, (sparse.spmatrix, sparse.sparray)):
        return {k: getattr(x, k) for k in ("data", "indices", "indptr", "row", "col") if hasattr(x, k)}
    if isinstance(x, np.ndarray):
        return {"array": x}
    return {}


def _relations(inp, res) -> dict:
    """How the result relates to the input object: identity and shared buffers."""
    first = res[0] if isinstance(res, tuple) else res
    rel = {"is_input": first is inp}
    if isinstance(inp, AnnData):
        return rel
    for ki, bi in _parts(inp).items():
        for kr, br in _parts(first).items():
            rel[f"{kr} shares {ki}"] = np.shares_memory(bi, br)
    return rel


def compare(make_input, **kwargs) -> Outcome:
    """Asserts Scanpy and scscale agree on ``make_input()``; returns Scanpy's outcome."""
    ref_in, our_in = make_input(), make_input()
    ref = run(SCANPY_SCALE, ref_in, kwargs)
    ours = run(scscale.pp.scale, our_in, kwargs)
    if ref.error is not None or ours.error is not None:
        assert type(ref.error) is type(ours.error), f"error: {ref.error!r} != {ours.error!r}"
        assert str(ref.error) == str(ours.error), f"error message: {ref.error} != {ours.error}"
    else:
        assert_same_value(ref.result, ours.result, "result")
        assert _relations(ref_in, ref.result) == _relations(our_in, ours.result), "identity/sharing with the input"
    assert_same_value(ref_in, our_in, "input after the call")
    assert ref.warnings == ours.warnings, f"warnings: {ref.warnings} != {ours.warnings}"
    assert ref.logs == ours.logs, f"logs: {ref.logs} != {ours.logs}"
    return ref
