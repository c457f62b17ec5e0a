"""Bitwise agreement with the real Scanpy 1.12.4 on every input kind, format and option.

Run under several NUMBA_NUM_THREADS values by test_numba_threads.py (CSR statistics depend on it).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from anndata import AnnData
from scipy import sparse

import scscale
from _compare import compare
from _inputs import (
    FORMATS,
    hard_cases,
    int64_indices,
    pbmc68k_raw,
    tenx_lognorm,
    tenx_subset,
    unsorted,
    with_duplicates,
)

ZERO_CENTER = [pytest.param(True, id="zc"), pytest.param(False, id="nozc")]
MAX_VALUE = [pytest.param(None, id="noclip"), pytest.param(1.0, id="clip1")]


def test_numba_thread_count_is_the_one_asked_for():
    import numba

    want = os.environ.get("NUMBA_NUM_THREADS")
    if want is not None:
        assert numba.get_num_threads() == int(want)
    assert scscale.pp.numba_threads() == numba.get_num_threads()


def convert(fmt: str, x):
    if isinstance(x, np.ndarray):
        return FORMATS[fmt](x.copy()) if fmt.startswith("dense") else FORMATS[fmt](x)
    if fmt.startswith("dense"):
        return FORMATS[fmt](x.toarray())
    return FORMATS[fmt](x, copy=True)


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(hard_cases()))
def test_hard_cases(case, fmt, zero_center, max_value):
    x = hard_cases()[case]
    compare(lambda: convert(fmt, x), zero_center=zero_center, max_value=max_value, return_mean_std=True)


@pytest.mark.parametrize("max_value", [0.5, 0.0, -1.0, 1e300, np.inf])
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_unusual_max_values(fmt, zero_center, max_value):
    x = hard_cases()["nonfinite_float32"]
    compare(lambda: convert(fmt, x), zero_center=zero_center, max_value=max_value, return_mean_std=True)


MASK_CASES = ["lognorm_float32", "lognorm_float64", "constant_genes_float32", "counts_int64", "nonfinite_float32"]


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("mask_kind", ["some", "all", "one", "none_true"])
@pytest.mark.parametrize("case", MASK_CASES)
def test_masks(case, mask_kind, fmt, zero_center, max_value):
    x = hard_cases()[case]
    n = x.shape[0]
    mask = {
        "some": np.arange(n) % 3 != 1,
        "all": np.ones(n, bool),
        "one": np.arange(n) == 5,
        "none_true": np.zeros(n, bool),
    }[mask_kind]
    compare(lambda: convert(fmt, x), zero_center=zero_center, max_value=max_value, mask_obs=mask.copy(),
            return_mean_std=True)


@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", ["lognorm_float32", "counts_int64"])
def test_copy_and_plain_return(case, fmt, zero_center, copy):
    x = hard_cases()[case]
    compare(lambda: convert(fmt, x), zero_center=zero_center, copy=copy)
    compare(lambda: convert(fmt, x), zero_center=zero_center, copy=copy, max_value=1.0,
            mask_obs=np.arange(x.shape[0]) % 2 == 0)


LAYOUTS = {
    "unsorted": unsorted,
    "duplicates": with_duplicates,
    "int64_indices": int64_indices,
    "unsorted_int64": lambda x: unsorted(int64_indices(x)),
}


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "csc_array"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("case", ["lognorm_float32", "lognorm_float64", "explicit_zeros_float32", "constant_genes_float32"])
def test_sparse_layouts(case, layout, fmt, zero_center, max_value):
    x = hard_cases()[case]
    compare(lambda: LAYOUTS[layout](convert(fmt, x)), zero_center=zero_center, max_value=max_value,
            return_mean_std=True)
    compare(lambda: LAYOUTS[layout](convert(fmt, x)), zero_center=zero_center, max_value=max_value,
            mask_obs=np.arange(x.shape[0]) % 4 != 0, return_mean_std=True)


# -- AnnData ---------------------------------------------------------------------------------


def make_adata(x, fmt: str) -> AnnData:
    a = AnnData(convert(fmt, x))
    a.obs["keep"] = np.arange(a.n_obs) % 3 != 0
    a.obs["not_bool"] = np.arange(a.n_obs)
    a.layers["counts"] = convert(fmt, x)
    a.obsm["same_width"] = convert(fmt, x)
    a.obsm["narrow"] = np.ascontiguousarray(convert("dense", x)[:, :3])
    return a


ANNDATA_CALLS = {
    "X": {},
    "X_copy": {"copy": True},
    "X_clip": {"max_value": 1.0},
    "layer": {"layer": "counts"},
    "obsm": {"obsm": "same_width"},
    "obsm_narrow": {"obsm": "narrow"},
    "layer_and_obsm": {"layer": "counts", "obsm": "same_width"},
    "missing_layer": {"layer": "nope"},
    "mask_str": {"mask_obs": "keep"},
    "mask_str_missing": {"mask_obs": "nope"},
    "mask_not_bool": {"mask_obs": "not_bool"},
    "mask_array": {"mask_obs": np.arange(120) % 2 == 0},
    "mask_wrong_length": {"mask_obs": np.ones(7, bool)},
}


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "dense", "dense_F"])
@pytest.mark.parametrize("call", list(ANNDATA_CALLS))
def test_anndata(call, fmt, zero_center):
    x = hard_cases()["lognorm_float32"]
    compare(lambda: make_adata(x, fmt), zero_center=zero_center, **ANNDATA_CALLS[call])


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "dense"])
def test_anndata_view(fmt, zero_center):
    x = hard_cases()["lognorm_float64"]
    compare(lambda: make_adata(x, fmt)[10:90, 2:20], zero_center=zero_center)
    compare(lambda: make_adata(x, fmt)[10:90], zero_center=zero_center, mask_obs="keep", copy=True)


def test_bad_arguments():
    x = hard_cases()["lognorm_float32"]
    compare(lambda: x.copy(), layer="counts")
    compare(lambda: x.copy(), obsm="counts")
    compare(lambda: x.toarray(), mask_obs="keep")
    compare(lambda: x.toarray(), mask_obs=np.ones(x.shape[0]))
    compare(lambda: [[1.0, 2.0], [3.0, 5.0]])
    compare(lambda: x.tocoo())
    compare(lambda: x.toarray()[:, ::2])  # strided view: fallback
    compare(lambda: np.asmatrix(x.toarray()))
    compare(lambda: x.toarray().astype(np.float16))
    compare(lambda: x.toarray()[:0])
    compare(lambda: sparse.csr_matrix(x.shape, dtype=np.float32))  # no stored entries


def test_read_only_dense_falls_back():
    def make():
        a = hard_cases()["lognorm_float32"].toarray()
        a.flags.writeable = False
        return a

    compare(make, copy=True)
    compare(make)


# -- Real data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "dense"])
def test_pbmc68k_reduced_raw(fmt, zero_center, max_value):
    x = pbmc68k_raw()
    compare(lambda: AnnData(convert(fmt, x)), zero_center=zero_center, max_value=max_value)
    compare(lambda: convert(fmt, x), zero_center=zero_center, max_value=max_value, return_mean_std=True,
            mask_obs=np.arange(x.shape[0]) % 5 != 0)


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "dense"])
@pytest.mark.parametrize("data", ["counts", "lognorm"])
def test_10x_subset(data, fmt, zero_center, max_value):
    x = tenx_subset() if data == "counts" else tenx_lognorm()
    compare(lambda: convert(fmt, x), zero_center=zero_center, max_value=max_value, return_mean_std=True)


def test_10x_subset_masked_anndata():
    x = tenx_lognorm()
    compare(lambda: make_big_adata(x), zero_center=False, mask_obs="keep", max_value=2.0)


def make_big_adata(x):
    a = AnnData(x.copy())
    a.obs["keep"] = np.arange(a.n_obs) % 2 == 0
    return a


# -- Our extensions ------------------------------------------------------------------------------


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "dense"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_scanpy_result_cast(fmt, zero_center, dtype):
    x = tenx_lognorm()[:2000]
    ref = scscale._scale._scanpy_scale(convert(fmt, x), zero_center=zero_center, max_value=3.0)
    ours = scscale.pp.scale(convert(fmt, x), zero_center=zero_center, max_value=3.0, dtype=dtype, n_threads=1)
    want = ref.astype(dtype)
    assert ours.dtype == dtype and type(ours) is type(want)
    if sparse.issparse(want):
        assert want.data.tobytes() == ours.data.tobytes()
    else:
        assert np.array_equal(want, ours, equal_nan=True) and want.tobytes() == ours.tobytes()


def test_n_threads_never_changes_bits():
    x = tenx_lognorm()
    runs = [scscale.pp.scale(x, n_threads=t, return_mean_std=True) for t in (1, 2, 3)]
    for r in runs[1:]:
        for a, b in zip(runs[0], r):
            assert a.tobytes() == b.tobytes()


def test_wrong_partition_count_is_detected(monkeypatch):
    """Canary: the comparison is sensitive to numba's thread count (so it can fail)."""
    import numba

    x = tenx_lognorm().astype(np.float64)  # f64 sums round, so their order shows
    ref = scscale._scale._scanpy_scale(x.copy(), zero_center=False, return_mean_std=True)
    t = numba.get_num_threads()
    monkeypatch.setattr(scscale._scale, "numba_threads", lambda: t + 1)
    ours = scscale.pp.scale(x.copy(), zero_center=False, return_mean_std=True)
    assert ref[2].tobytes() != ours[2].tobytes()


@pytest.mark.parametrize("errstate", [{"all": "warn"}, {"invalid": "raise"}, {"all": "ignore"}])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "dense"])
@pytest.mark.parametrize("case", ["tiny_float32", "constant_genes_float32", "nonfinite_float64"])
def test_numpy_error_settings(case, fmt, errstate):
    x = hard_cases()[case]
    for zero_center in (True, False):
        with np.errstate(**errstate):
            compare(lambda: convert(fmt, x), zero_center=zero_center, return_mean_std=True)
