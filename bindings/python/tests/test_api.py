"""Activation, the error mapping of the native calls, and the GIL."""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

import scscale
from scscale import _ffi


def test_activate_deactivate_and_context_manager():
    original = sc.pp.scale
    assert not scscale.is_active()
    scscale.activate()
    try:
        assert sc.pp.scale is scscale.pp.scale
        assert sc.preprocessing.scale is scscale.pp.scale
        scscale.activate()  # idempotent
    finally:
        scscale.deactivate()
    assert sc.pp.scale is original and sc.preprocessing.scale is original
    with scscale.activated():
        assert sc.pp.scale is scscale.pp.scale
    assert sc.pp.scale is original


def test_activated_scale_is_used_by_scanpy_callers():
    x = sparse.random(50, 10, density=0.3, format="csr", dtype=np.float32, random_state=0)
    from scscale import _scale

    n = _scale.calls["native"]
    with scscale.activated():
        sc.pp.scale(x, zero_center=False)
    assert _scale.calls["native"] == n + 1


def _csr_struct(indptr, indices, data, shape):
    return _ffi.sparse(np.asarray(indptr), np.asarray(indices), np.asarray(data), shape)


@pytest.mark.parametrize(
    ("indptr", "indices", "data", "status_name"),
    [
        ([0, 1, 3], [0, 1], [1.0, 2.0], "SC_STATUS_INDPTR_END"),
        ([0, 1, 2], [0, 1, 2], [1.0, 2.0], "SC_STATUS_LENGTH_MISMATCH"),
        ([0, 2, 1], [0, 1], [1.0, 2.0], "SC_STATUS_INDPTR_NOT_MONOTONE"),
        ([0, 1, 2], [0, 7], [1.0, 2.0], "SC_STATUS_INDEX_OUT_OF_RANGE"),
        ([1, 1, 2], [0, 1], [1.0, 2.0], "SC_STATUS_INDPTR_START"),
    ],
)
def test_status_codes_become_exceptions_with_the_library_message(indptr, indices, data, status_name):
    indptr = np.array(indptr, np.int32)
    indices = np.array(indices, np.int32)
    data = np.array(data, np.float64)
    x = _ffi.sparse(indptr, indices, data, (2, 3))
    out = np.empty((2, 3))
    opts = _ffi.options(center=True, max_value=None, n_partitions=1, n_threads=1)
    with pytest.raises(_ffi.InvalidInputError) as info:
        _ffi.call("sc_scale_csr", ctypes.byref(x), ctypes.byref(opts), ctypes.byref(_ffi.dense_out(out)))
    err = info.value
    assert err.name == status_name
    assert isinstance(err, ValueError) and isinstance(err, scscale.ScscaleError)
    assert err.message and err.message in str(err)
    assert err.message == _ffi.last_error_message()


def test_unsupported_maps_to_not_implemented():
    x = np.ones((3, 2))
    opts = _ffi.options(center=True, max_value=None, n_partitions=1, n_threads=1)
    opts.flavor = 1  # Seurat has no dense path
    with pytest.raises(scscale.UnsupportedError) as info:
        _ffi.call("sc_scale_dense", ctypes.byref(_ffi.dense(x)), ctypes.byref(opts), ctypes.byref(_ffi.dense_out(x)))
    assert isinstance(info.value, NotImplementedError)
    assert info.value.name == "SC_STATUS_UNSUPPORTED"


def test_every_status_has_a_name():
    for code in list(range(24)) + [99]:
        assert _ffi.lib.sc_status_name(code).decode().startswith("SC_STATUS_")
    assert _ffi.lib.sc_status_name(12345) == b"SC_STATUS_UNKNOWN"
    assert scscale.native_version() == "0.1.0"


def test_bad_dtype_argument():
    with pytest.raises(ValueError, match="dtype"):
        scscale.pp.scale(np.ones((3, 3)), dtype=np.int32)


def test_gil_is_released_during_the_native_call():
    x = sparse.random(20000, 2000, density=0.1, format="csr", dtype=np.float32, random_state=1)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.perf_counter()
        scscale.pp.scale(x, n_threads=1)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    during = [s for s in ticks if start < s < end]
    # With the GIL held the ticker could not run at all during the call.
    assert len(during) >= 3, (end - start, len(during))
