"""``batch_key=`` (per-batch statistics) and ``mean=``/``std=`` (given statistics), against the
installed Scanpy: each batch's rows must carry exactly the bits Scanpy gives them when they are
the call's ``mask_obs`` (sparse with ``zero_center=True``: when they are scaled on their own), and
given statistics must reproduce the call that computed them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from anndata import AnnData
from scipy import sparse

import scscale
from _compare import SCANPY_SCALE
from _inputs import hard_cases

FORMATS = ["csr_matrix", "csc_matrix", "dense"]
CASES = ["lognorm_float32", "lognorm_float64", "constant_genes_float32", "counts_int64"]


def make(case: str, fmt: str):
    x = hard_cases()[case]
    if fmt == "dense":
        return np.ascontiguousarray(x.toarray() if sparse.issparse(x) else x.copy())
    return getattr(sparse, fmt)(x, copy=True)


def reference_input(case: str, fmt: str):
    """Scanpy 1.10 writes the scaled masked rows of integer input back into the integer array;
    batches follow the later series (and Scanpy's cast of unmasked integer input): float64."""
    x = make(case, fmt)
    if scscale.pp.scale.scanpy_rules == "1.10" and np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64)
    return x


def labels_for(n: int) -> np.ndarray:
    lab = np.array(["b", "a", "c", "a", "b", None], dtype=object)[np.arange(n) % 6]
    return lab


def dense_of(x) -> np.ndarray:
    return x.toarray() if sparse.issparse(x) else np.asarray(x)


def same_bits(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape"
    assert a.tobytes() == b.tobytes(), f"{what}: bits differ"


@pytest.mark.parametrize("max_value", [None, 1.0])
@pytest.mark.parametrize("zero_center", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_each_batch_has_scanpys_bits(case, fmt, zero_center, max_value):
    x = make(case, fmt)
    n = x.shape[0]
    labels = labels_for(n)
    ours, mean, std = scscale.pp.scale(make(case, fmt), batch_key=labels, zero_center=zero_center,
                                       max_value=max_value, return_mean_std=True)
    assert mean.shape == std.shape == (3, x.shape[1])
    ours_d = dense_of(ours)
    for g, b in enumerate(["a", "b", "c"]):
        rows = labels == b
        if zero_center and sparse.issparse(x):
            subset = make(case, fmt)[np.flatnonzero(rows)]
            if scscale.pp.scale.scanpy_rules == "1.10":
                # 1.10 densifies CSC in F order and numpy sums that pairwise; batches are
                # scaled from the C-ordered densified rows (docs/scanpy-versions.md).
                subset = subset.tocsr()
            ref, m, s = SCANPY_SCALE(subset, zero_center=True, max_value=max_value, return_mean_std=True)
            ref_rows = dense_of(ref)
        else:
            ref, m, s = SCANPY_SCALE(reference_input(case, fmt), zero_center=zero_center, max_value=max_value,
                                     mask_obs=rows, return_mean_std=True)
            assert type(ref) is type(ours) and ref.dtype == ours.dtype, f"{type(ref)} {ref.dtype} vs {type(ours)} {ours.dtype}"
            ref_rows = dense_of(ref)[rows]
        same_bits(ours_d[rows], ref_rows, f"rows of batch {b}")
        same_bits(mean[g], np.asarray(m, dtype=np.float64), f"mean of batch {b}")
        same_bits(std[g], np.asarray(s, dtype=np.float64), f"std of batch {b}")
    untouched = np.array([lab is None for lab in labels])
    same_bits(ours_d[untouched], dense_of(x)[untouched].astype(ours_d.dtype), "rows without a batch keep their values")


@pytest.mark.parametrize("max_value", [None, 1.0])
@pytest.mark.parametrize("zero_center", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_given_statistics_reproduce_the_call(case, fmt, zero_center, max_value):
    ref, m, s = SCANPY_SCALE(make(case, fmt), zero_center=zero_center, max_value=max_value, return_mean_std=True)
    ours = scscale.pp.scale(make(case, fmt), zero_center=zero_center, max_value=max_value, mean=m, std=s)
    assert type(ours) is type(ref)
    same_bits(dense_of(ours), dense_of(ref), "result with the call's own statistics")


@pytest.mark.parametrize("fmt", FORMATS)
def test_query_projected_onto_reference(fmt):
    """Scaling some cells with the whole data set's statistics gives those cells' rows of the
    whole data set's result."""
    case = "lognorm_float32"
    ref, m, s = SCANPY_SCALE(make(case, fmt), max_value=2.0, return_mean_std=True)
    rows = np.flatnonzero(np.arange(make(case, fmt).shape[0]) % 4 == 1)
    query = make(case, fmt)[rows]
    ours = scscale.pp.scale(query, max_value=2.0, mean=m, std=s)
    same_bits(dense_of(ours), dense_of(ref)[rows], "projected query")


def test_batch_key_with_given_statistics_is_the_batch_call():
    x = make("lognorm_float32", "csr_matrix")
    labels = labels_for(x.shape[0])
    a, m, s = scscale.pp.scale(x.copy(), batch_key=labels, return_mean_std=True)
    b = scscale.pp.scale(x.copy(), batch_key=labels, mean=m, std=s)
    same_bits(a, b, "batch call with its own statistics")


def test_anndata_batch_key_and_given_series():
    x = make("lognorm_float32", "csr_matrix")
    labels = labels_for(x.shape[0])
    obs = pd.DataFrame({"batch": pd.Categorical(labels)}, index=[f"c{i}" for i in range(x.shape[0])])
    var = pd.DataFrame(index=[f"g{j}" for j in range(x.shape[1])])
    adata = AnnData(x.copy(), obs=obs, var=var)
    direct, m, s = scscale.pp.scale(x.copy(), batch_key=labels, return_mean_std=True)
    assert scscale.pp.scale(adata, batch_key="batch") is None
    same_bits(adata.X, direct, "AnnData X")
    assert list(adata.varm["mean per batch"].columns) == ["a", "b", "c"]
    same_bits(adata.varm["mean per batch"].to_numpy().T.copy(), m, "varm mean")
    same_bits(adata.varm["std per batch"].to_numpy().T.copy(), s, "varm std")
    assert "mean" not in adata.var

    # A reference's var columns, in another gene order, project a query onto it.
    reference = AnnData(x.copy(), obs=obs.copy(), var=var.copy())
    SCANPY_SCALE(reference)
    shuffled = reference.var.iloc[::-1]
    query = AnnData(x.copy(), obs=obs.copy(), var=var.copy())
    out = scscale.pp.scale(query, mean=shuffled["mean"], std=shuffled["std"], copy=True)
    same_bits(out.X, reference.X, "query projected with the reference's (reordered) var columns")
    assert "mean" not in out.var


def test_bad_arguments():
    x = make("lognorm_float32", "dense")
    labels = labels_for(x.shape[0])
    with pytest.raises(ValueError, match="mask_obs cannot be combined"):
        scscale.pp.scale(x.copy(), batch_key=labels, mask_obs=np.ones(x.shape[0], bool))
    with pytest.raises(ValueError, match="given together"):
        scscale.pp.scale(x.copy(), mean=np.zeros(x.shape[1]))
    with pytest.raises(ValueError, match="expected"):
        scscale.pp.scale(x.copy(), mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ValueError, match="one label per row"):
        scscale.pp.scale(x.copy(), batch_key=labels[:-1])
    with pytest.raises(TypeError, match="only for AnnData"):
        scscale.pp.scale(x.copy(), batch_key="batch")
    with pytest.raises(scscale.UnsupportedError):
        scscale.pp.scale(np.asfortranarray(x), batch_key=labels)
