"""Deterministic input matrices: the hard cases, Scanpy's bundled and test data."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np
from scipy import sparse

FORMATS = {
    "csr_matrix": sparse.csr_matrix,
    "csc_matrix": sparse.csc_matrix,
    "csr_array": sparse.csr_array,
    "csc_array": sparse.csc_array,
    "dense": np.ascontiguousarray,
    "dense_F": np.asfortranarray,  # Scanpy's numpy reduction differs: must fall back
}


def sdist_dir() -> Path:
    here = Path(__file__).resolve()
    default = here.parents[3] / ".cache" / "sdist" / "scanpy-1.12.4"
    path = Path(os.environ.get("SCSCALE_SCANPY_SDIST", default))
    if not (path / "tests" / "_data").is_dir():
        msg = f"Scanpy 1.12.4 sdist not found at {path}; run bindings/python/run-tests.sh (it fetches it)"
        raise FileNotFoundError(msg)
    return path


def lognorm(n: int, m: int, density: float, dtype, seed: int) -> sparse.csr_matrix:
    rng = np.random.default_rng(seed)
    x = sparse.random(n, m, density=density, format="csr", dtype=np.float64, random_state=rng)
    x.data = np.log1p(np.floor(x.data * 30) + 1)
    return x.astype(dtype)


def _with(x: sparse.csr_matrix, col: int, values) -> sparse.csr_matrix:
    d = x.tolil()
    d[:, col] = np.asarray(values).reshape(-1, 1)
    return d.tocsr()


@cache
def hard_cases() -> dict[str, sparse.csr_matrix | np.ndarray]:
    """name -> CSR (float) or dense int matrix; callers convert to each format."""
    cases: dict[str, object] = {}
    for dt in (np.float32, np.float64):
        tag = np.dtype(dt).name
        base = lognorm(120, 24, 0.15, dt, seed=1)
        cases[f"lognorm_{tag}"] = base
        n = base.shape[0]
        # Constant genes: 0.1f and 0.3f give f32 squares whose variance is +tiny and negative (NaN std).
        c = _with(base, 0, np.full(n, dt(0.1)))
        c = _with(c, 1, np.full(n, dt(0.3)))
        c = _with(c, 2, np.full(n, dt(2.0)))
        c = _with(c, 3, np.zeros(n))  # all-zero gene
        cases[f"constant_genes_{tag}"] = c.astype(dt)
        neg = base.copy()
        neg.data = (neg.data - 1.5).astype(dt)
        cases[f"negatives_{tag}"] = neg
        cases[f"one_row_{tag}"] = base[:1].copy()
        cases[f"two_rows_{tag}"] = base[:2].copy()
        cases[f"one_gene_{tag}"] = base[:, :1].copy()
        big = base.copy()
        big.data = (big.data * dt(1e6)).astype(dt)
        cases[f"large_{tag}"] = big
        tiny = base.copy()
        tiny.data = (tiny.data * dt(1e-20 if dt is np.float32 else 1e-160)).astype(dt)
        cases[f"tiny_{tag}"] = tiny
        nonfinite = base.copy()
        nonfinite.data[:3] = [np.nan, np.inf, -np.inf]
        cases[f"nonfinite_{tag}"] = nonfinite
        explicit = base.copy()
        explicit.data[::5] = 0
        explicit.data[1::7] = -0.0
        cases[f"explicit_zeros_{tag}"] = explicit
    cases["counts_int64"] = lognorm(80, 16, 0.2, np.float64, seed=2).multiply(5).ceil().astype(np.int64).toarray()
    return cases


def unsorted(x: sparse.csr_matrix, seed: int = 3) -> sparse.csr_matrix:
    """Same matrix with the entries of each row (or column) in a random order."""
    rng = np.random.default_rng(seed)
    indices, data = x.indices.copy(), x.data.copy()
    for r in range(len(x.indptr) - 1):
        s, e = x.indptr[r], x.indptr[r + 1]
        p = rng.permutation(e - s)
        indices[s:e], data[s:e] = indices[s:e][p], data[s:e][p]
    y = type(x)((data, indices, x.indptr.copy()), shape=x.shape)
    y.has_sorted_indices = False
    return y


def with_duplicates(x, seed: int = 4):
    """Same type with some stored entries split in two (a + b == v only in exact arithmetic)."""
    rng = np.random.default_rng(seed)
    indptr, indices, data = x.indptr, x.indices, x.data
    new_indptr, new_indices, new_data = [0], [], []
    for r in range(len(indptr) - 1):
        for j in range(indptr[r], indptr[r + 1]):
            if rng.random() < 0.3:
                a = data.dtype.type(data[j] * 0.3)
                new_indices += [indices[j], indices[j]]
                new_data += [a, data.dtype.type(data[j] - a)]
            else:
                new_indices.append(indices[j])
                new_data.append(data[j])
        new_indptr.append(len(new_indices))
    y = type(x)(
        (np.array(new_data, data.dtype), np.array(new_indices, indices.dtype), np.array(new_indptr, indptr.dtype)),
        shape=x.shape,
    )
    assert not y.has_canonical_format
    return y


def int64_indices(x):
    y = x.copy()
    y.indices = y.indices.astype(np.int64)
    y.indptr = y.indptr.astype(np.int64)
    return y


@cache
def pbmc68k_raw() -> sparse.csr_matrix:
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced().raw.X.copy()


@cache
def tenx_subset() -> np.ndarray:
    import anndata as ad

    return ad.read_zarr(sdist_dir() / "tests" / "_data" / "10x-10k-subset.zarr").X.copy()


@cache
def tenx_lognorm() -> sparse.csr_matrix:
    x = sparse.csr_matrix(tenx_subset())
    totals = np.asarray(x.sum(axis=1)).ravel()
    x = sparse.diags((1e4 / np.maximum(totals, 1)).astype(np.float32)) @ x
    x = sparse.csr_matrix(x, dtype=np.float32)
    x.data = np.log1p(x.data)
    return x
