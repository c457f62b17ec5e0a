"""``scscale.pp.scale_h5ad``: the file it writes, read back with anndata, equals the in-memory
Scanpy 1.12.4 ``sc.pp.scale`` bit for bit (X, dtype, var['mean'], var['std']) for every chunk size."""

from __future__ import annotations

import warnings

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scscale
import scscale.pp
from scscale import _outofcore
from scscale import _scale as scscale_scale
from _compare import assert_same_array
from _inputs import hard_cases, int64_indices, unsorted, with_duplicates

SCANPY_SCALE_ARRAY = scscale_scale._scanpy_scale_array  # the unpatched Scanpy function
N_OBS = 120
# Each chunk size with one output format (both formats are covered; the writer does not depend on the chunk size).
CHUNKS_AND_OUTPUTS = [(1, ".h5ad"), (7, ".zarr"), (50, ".h5ad"), (N_OBS, ".zarr"), (1000, ".h5ad")]


def counts_csr():
    return sparse.csr_matrix(hard_cases()["counts_int64"])[:, :12]


CSR_CASES = {
    "lognorm_f32": lambda: hard_cases()["lognorm_float32"],
    "lognorm_f64": lambda: hard_cases()["lognorm_float64"],
    "constant_genes_f32": lambda: hard_cases()["constant_genes_float32"],
    "explicit_zeros_f32": lambda: hard_cases()["explicit_zeros_float32"],
    "negatives_f64": lambda: hard_cases()["negatives_float64"],
    "unsorted_f32": lambda: unsorted(hard_cases()["lognorm_float32"]),
    "int64_indices_f64": lambda: int64_indices(hard_cases()["constant_genes_float64"]),
    "counts_int64": counts_csr,
}


def make_file(path, x, *, layer: str | None = None):
    n, m = x.shape
    a = ad.AnnData(
        obs=pd.DataFrame({"batch": pd.Categorical(np.arange(n) % 3), "n": np.arange(n)},
                         index=[f"cell{i}" for i in range(n)]),
        var=pd.DataFrame({"symbol": [f"G{j}" for j in range(m)]}, index=[f"gene{j}" for j in range(m)]),
        uns={"note": "synthetic", "params": {"k": 3}},
    )
    if layer is None:
        a.X = x
    else:
        a.X = sparse.csr_matrix(x.shape, dtype=np.float32)
        a.layers[layer] = x
    a.obsm["X_pca"] = np.zeros((n, 2))  # not copied
    if str(path).endswith(".zarr"):
        a.write_zarr(path)
    else:
        a.write_h5ad(path)
    return path


def scanpy_reference(source, *, zero_center, max_value, dtype=None, layer=None):
    """Scanpy on the matrix as anndata reads it from the source (scipy's copy() could narrow int64 indices)."""
    a = read(source)
    x = a.X if layer is None else a.layers[layer]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # densifying / NaN std warnings are not compared here
        res, mean, std = SCANPY_SCALE_ARRAY(x, zero_center=zero_center, max_value=max_value, return_mean_std=True)
    if dtype is not None:
        res = res.astype(dtype)
    return res, mean, std


def read(path) -> ad.AnnData:
    return ad.read_zarr(path) if str(path).endswith(".zarr") else ad.read_h5ad(path)


def assert_same_result(out, source_path, *, zero_center, max_value, dtype=None, layer=None):
    want, mean, std = scanpy_reference(source_path, zero_center=zero_center, max_value=max_value, dtype=dtype, layer=layer)
    got, source = read(out), read(source_path)
    assert_same_array(got.X, want, "X")
    assert_same_array(got.var["mean"].to_numpy(), mean, "var['mean']")
    assert_same_array(got.var["std"].to_numpy(), std, "var['std']")
    # What sc.pp.scale leaves in var: the source's columns plus mean and std.
    expected_var = source.var.copy()
    expected_var["mean"], expected_var["std"] = mean, std
    pd.testing.assert_frame_equal(got.var, expected_var)
    pd.testing.assert_frame_equal(got.obs, source.obs)
    assert list(got.obs_names) == list(source.obs_names) and list(got.var_names) == list(source.var_names)
    assert got.uns["note"] == "synthetic" and got.uns["params"]["k"] == 3
    assert [k for k in got.layers if k is not None] == [] and list(got.obsm) == []  # anndata 0.13 lists X as None


@pytest.mark.parametrize("max_value", [None, 1.0], ids=["noclip", "clip1"])
@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
@pytest.mark.parametrize(("chunk_size", "out_ext"), CHUNKS_AND_OUTPUTS)
@pytest.mark.parametrize("case", list(CSR_CASES))
def test_csr(tmp_path, case, chunk_size, zero_center, max_value, out_ext):
    x = CSR_CASES[case]()
    src = make_file(tmp_path / "in.h5ad", x)
    out = tmp_path / f"out{out_ext}"
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, zero_center=zero_center, max_value=max_value,
                          chunk_size=chunk_size)
    assert_same_result(out, src, zero_center=zero_center, max_value=max_value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
@pytest.mark.parametrize("case", ["lognorm_f32", "lognorm_f64", "counts_int64"])
def test_dtype_is_scanpy_result_cast(tmp_path, case, zero_center, dtype):
    x = CSR_CASES[case]()
    src = make_file(tmp_path / "in.h5ad", x)
    for chunk_size in (13, 1000):
        out = tmp_path / f"out{chunk_size}.h5ad"
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, zero_center=zero_center, max_value=2.0, dtype=dtype,
                              chunk_size=chunk_size, n_threads=1)
        assert_same_result(out, src, zero_center=zero_center, max_value=2.0, dtype=dtype)


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
def test_numba_thread_counts(tmp_path, zero_center):
    """Scanpy's CSR statistics depend on numba's thread count at call time; so do ours."""
    import numba

    x = hard_cases()["lognorm_float64"]  # f64 sums round, so the partitioning shows
    src = make_file(tmp_path / "in.h5ad", x)
    before = numba.get_num_threads()
    try:
        for t in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(t)
            out = tmp_path / f"out{t}.h5ad"
            scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, zero_center=zero_center, chunk_size=17)
            assert_same_result(out, src, zero_center=zero_center, max_value=None)
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("out_ext", [".h5ad", ".zarr"])
def test_layer(tmp_path, out_ext):
    x = hard_cases()["lognorm_float32"]
    src = make_file(tmp_path / "in.h5ad", x, layer="logcounts")
    out = tmp_path / f"out{out_ext}"
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, layer="logcounts", chunk_size=33)
    assert_same_result(out, src, zero_center=True, max_value=None, layer="logcounts")


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
def test_zarr_source(tmp_path, zero_center):
    x = hard_cases()["explicit_zeros_float32"]
    src = make_file(tmp_path / "in.zarr", x)
    scscale.pp.scale_h5ad(tmp_path / "in.zarr", tmp_path / "out.zarr", zero_center=zero_center, chunk_size=40)
    assert_same_result(tmp_path / "out.zarr", src, zero_center=zero_center, max_value=None)


def test_overwrites_an_existing_output(tmp_path):
    x = hard_cases()["lognorm_float32"]
    src = make_file(tmp_path / "in.h5ad", x)
    for ext in (".h5ad", ".zarr"):
        out = tmp_path / f"out{ext}"
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, zero_center=False)
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, dtype=np.float32)
        assert_same_result(out, src, zero_center=True, max_value=None, dtype=np.float32)


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
def test_duplicate_entries(tmp_path, zero_center):
    src = make_file(tmp_path / "in.h5ad", with_duplicates(hard_cases()["lognorm_float32"]))
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", zero_center=zero_center, chunk_size=9)
    assert_same_result(tmp_path / "out.h5ad", src, zero_center=zero_center, max_value=None)


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
def test_reads_at_most_chunk_size_rows(tmp_path, monkeypatch, zero_center):
    x = hard_cases()["lognorm_float32"]
    make_file(tmp_path / "in.h5ad", x)
    spans = []
    # Every read of a CSR source goes through csr_parts (rows builds on it).
    original = _outofcore._Source.csr_parts
    monkeypatch.setattr(_outofcore._Source, "csr_parts", lambda self, a, b: spans.append((a, b)) or original(self, a, b))
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", chunk_size=25, zero_center=zero_center)
    assert max(b - a for a, b in spans) == 25
    assert spans == 2 * [(a, min(a + 25, N_OBS)) for a in range(0, N_OBS, 25)]  # two passes, in row order


# -- dense X -------------------------------------------------------------------------------------

DENSE_CASES = {
    "f32": lambda: hard_cases()["lognorm_float32"].toarray(),
    "f64": lambda: hard_cases()["constant_genes_float64"].toarray(),
    "int64": lambda: hard_cases()["counts_int64"],
}
@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
@pytest.mark.parametrize(("chunk_size", "out_ext"), CHUNKS_AND_OUTPUTS)
@pytest.mark.parametrize("case", list(DENSE_CASES))
def test_dense(tmp_path, case, chunk_size, zero_center, out_ext):
    x = DENSE_CASES[case]()
    src = make_file(tmp_path / "in.h5ad", x)
    out = tmp_path / f"out{out_ext}"
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, zero_center=zero_center, max_value=1.5, chunk_size=chunk_size)
    assert_same_result(out, src, zero_center=zero_center, max_value=1.5)


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
@pytest.mark.parametrize("fmt", ["csr", "dense"])
@pytest.mark.parametrize("case", list(hard_cases()))
def test_every_hard_case(tmp_path, case, fmt, zero_center):
    """Non-finite, huge and tiny values, one or two rows, one gene, ... (as test_bitwise.py)."""
    x = hard_cases()[case]
    x = sparse.csr_matrix(x) if fmt == "csr" else (x if isinstance(x, np.ndarray) else x.toarray())
    src = make_file(tmp_path / "in.h5ad", x)
    scscale.pp.scale_h5ad(src, tmp_path / "out.h5ad", zero_center=zero_center, max_value=1.0, chunk_size=7)
    assert_same_result(tmp_path / "out.h5ad", src, zero_center=zero_center, max_value=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_dtype(tmp_path, dtype):
    x = DENSE_CASES["f32"]()
    src = make_file(tmp_path / "in.h5ad", x)
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", dtype=dtype, chunk_size=11)
    assert_same_result(tmp_path / "out.h5ad", src, zero_center=True, max_value=None, dtype=dtype)


@pytest.mark.parametrize("zero_center", [True, False], ids=["zc", "nozc"])
def test_dense_one_gene(tmp_path, zero_center):
    x = hard_cases()["lognorm_float32"].toarray()[:, 1:2].copy()
    src = make_file(tmp_path / "in.h5ad", x)
    scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", zero_center=zero_center, chunk_size=10)
    assert_same_result(tmp_path / "out.h5ad", src, zero_center=zero_center, max_value=None)


# -- bad inputs ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5ad"):
        scscale.pp.scale_h5ad(tmp_path / "nope.h5ad", tmp_path / "out.h5ad")


def test_not_an_hdf5_file(tmp_path):
    (tmp_path / "in.h5ad").write_text("not hdf5")
    with pytest.raises(OSError, match="not an HDF5"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad")


def test_missing_layer(tmp_path):
    make_file(tmp_path / "in.h5ad", hard_cases()["lognorm_float32"], layer="counts")
    with pytest.raises(KeyError, match=r"'nope' is not a layer .*\['counts'\]"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", layer="nope")
    assert not (tmp_path / "out.h5ad").exists()


def test_missing_x(tmp_path):
    ad.AnnData(obs=pd.DataFrame(index=["a", "b"])).write_h5ad(tmp_path / "in.h5ad")
    with pytest.raises(KeyError, match="has no X"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad")


def _replace_x(path, value):
    with h5py.File(path, "r+") as f:
        del f["X"]
        ad.io.write_elem(f, "X", value)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (pd.DataFrame({"a": np.arange(N_OBS)}), TypeError, "is a dataframe, not a matrix"),
        (np.arange(N_OBS, dtype=np.float64), TypeError, "1-D array, not a 2-D matrix"),
        (np.array([["a"] * 3] * N_OBS, dtype=object), TypeError, "string-array"),
        (np.ones((N_OBS, 3), bool), TypeError, "dtype bool"),
        (np.ones((N_OBS, 3), np.float16), TypeError, "dtype float16"),
        (sparse.csc_matrix(np.ones((N_OBS, 3))), NotImplementedError, "stored as CSC"),
        (np.ones((0, 3)), ValueError, "empty"),
    ],
    ids=["dataframe", "1d", "strings", "bool", "float16", "csc", "empty"],
)
def test_non_matrix_x(tmp_path, value, error, match):
    make_file(tmp_path / "in.h5ad", hard_cases()["lognorm_float32"])
    _replace_x(tmp_path / "in.h5ad", value)
    with pytest.raises(error, match=match):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad")
    assert not (tmp_path / "out.h5ad").exists()


def test_bad_arguments(tmp_path):
    make_file(tmp_path / "in.h5ad", hard_cases()["lognorm_float32"])
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", dtype=np.int32)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "out.h5ad", chunk_size=0)
    with pytest.raises(ValueError, match="out must differ from filename"):
        scscale.pp.scale_h5ad(tmp_path / "in.h5ad", tmp_path / "in.h5ad")
    assert read(tmp_path / "in.h5ad").shape == (N_OBS, 24)


def test_failure_midway_leaves_no_output(tmp_path, monkeypatch):
    make_file(tmp_path / "in.h5ad", hard_cases()["lognorm_float32"])
    original = _outofcore.scale_block
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(_outofcore, "scale_block", failing)
    for out in (tmp_path / "out.h5ad", tmp_path / "out.zarr"):
        calls.clear()
        with pytest.raises(RuntimeError, match="disk full"):
            scscale.pp.scale_h5ad(tmp_path / "in.h5ad", out, chunk_size=30)
        assert not out.exists()
