"""Dask input: bit-identical to the in-memory Scanpy 1.12.4 result (and in-memory scscale), lazily.

Runs on a 2-process ``distributed`` cluster (one thread each), so the statistics' chunks and
running sums really travel between processes. Scanpy's own Dask path is only the reference for
warnings, logs, laziness and result types (its values are not the in-memory ones).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from anndata import AnnData
from scipy import sparse

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import scscale  # noqa: E402
from scscale import _scale as scscale_scale  # noqa: E402
from _compare import assert_same_array, run  # noqa: E402
from _inputs import hard_cases, int64_indices, tenx_lognorm, unsorted, with_duplicates  # noqa: E402

SCANPY_SCALE_ARRAY = scscale_scale._scanpy_scale_array  # captured before any activation
SCANPY_SCALE = scscale_scale._scanpy_scale
ROW_CHUNKS = (7, 23, 1, 46, 43)  # 120 rows, uneven, one single-row chunk
FORMATS = ["csr_matrix", "csr_array", "dense"]
CASES = ["lognorm_float32", "lognorm_float64", "constant_genes_float32", "negatives_float64",
         "nonfinite_float32", "explicit_zeros_float64", "large_float32", "two_rows_float64", "one_row_float32",
         "counts_int64"]
ZERO_CENTER = [pytest.param(True, id="zc"), pytest.param(False, id="nozc")]
MAX_VALUE = [pytest.param(None, id="noclip"), pytest.param(10.0, id="clip10"), pytest.param(1.0, id="clip1")]

@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=50, worker_dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # non-finite cases, in the references
        warnings.filterwarnings("ignore", "zero-centering a sparse", UserWarning)  # checked where it matters
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)  # test data lives in the graph
        yield


def in_memory(case: str, fmt: str):
    x = hard_cases()[case]
    if fmt == "dense":
        return np.ascontiguousarray(x.toarray() if sparse.issparse(x) else x.copy())
    return getattr(sparse, fmt)(x, copy=True)


def row_chunks_for(n: int) -> tuple[int, ...]:
    """ROW_CHUNKS cut to ``n`` rows (the last chunk takes any rest)."""
    chunks, left = [], n
    for c in ROW_CHUNKS:
        if left == 0:
            break
        chunks.append(min(c, left))
        left -= chunks[-1]
    chunks[-1] += left
    return tuple(chunks)


def to_dask(x, row_chunks=None, col_chunks=-1):
    row_chunks = row_chunks_for(x.shape[0]) if row_chunks is None else row_chunks
    return da.from_array(x, chunks=(row_chunks, col_chunks), asarray=False)


def references(make, kwargs, dtype=None):
    """(Scanpy in memory, scscale in memory) results as (x, mean, std)."""
    ref = SCANPY_SCALE_ARRAY(make(), return_mean_std=True, **kwargs)
    if dtype is not None:
        ref = (ref[0].astype(dtype), *ref[1:])
    ours = scscale.pp.scale(make(), return_mean_std=True, dtype=dtype, **kwargs)
    return ref, ours


def check_lazy_result(res, dask_in, want):
    x, mean, std = res
    assert isinstance(x, da.Array) and isinstance(mean, da.Array) and isinstance(std, da.Array)
    assert x.chunks == dask_in.chunks, "result keeps the input's chunks"
    assert mean.chunks == std.chunks == (dask_in.chunks[1],)
    assert type(x._meta) is type(want) and x.dtype == want.dtype, "meta describes the computed chunks"
    assert mean.dtype == std.dtype == np.float64


def compute(*arrays):
    return dask.compute(*arrays)


# -- bitwise against the in-memory results ---------------------------------------------------------


@pytest.mark.parametrize("max_value", MAX_VALUE)
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_bitwise(client, case, fmt, zero_center, max_value):
    kwargs = dict(zero_center=zero_center, max_value=max_value)
    ref, ours_mem = references(lambda: in_memory(case, fmt), kwargs)
    before = scscale_scale.calls["native"]
    dask_in = to_dask(in_memory(case, fmt))
    res = scscale.pp.scale(dask_in, return_mean_std=True, **kwargs)
    assert scscale_scale.calls["native"] == before + 1
    check_lazy_result(res, dask_in, ref[0])
    got = compute(*res)
    for i, what in enumerate(("x", "mean", "std")):
        assert_same_array(got[i], ref[i], f"{what} vs Scanpy in memory")
        assert_same_array(got[i], ours_mem[i], f"{what} vs scscale in memory")


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", ["lognorm_float64", "counts_int64"])
def test_dtype_float32(client, case, fmt, zero_center):
    kwargs = dict(zero_center=zero_center, max_value=3.0)
    ref, ours_mem = references(lambda: in_memory(case, fmt), kwargs, dtype=np.float32)
    dask_in = to_dask(in_memory(case, fmt))
    res = scscale.pp.scale(dask_in, return_mean_std=True, dtype=np.float32, **kwargs)
    check_lazy_result(res, dask_in, ref[0])
    got = compute(*res)
    for i in range(3):
        assert_same_array(got[i], ref[i], f"[{i}] vs Scanpy in memory cast")
        assert_same_array(got[i], ours_mem[i], f"[{i}] vs scscale in memory")


LAYOUTS = {"unsorted": unsorted, "duplicates": with_duplicates, "int64_indices": int64_indices}


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_sparse_layouts(client, layout, zero_center):
    dask_in = to_dask(LAYOUTS[layout](in_memory("lognorm_float32", "csr_matrix")))
    # The reference is the matrix the chunks make up (scipy's row slicing narrows int64 indices).
    kwargs = dict(zero_center=zero_center, max_value=1.0)
    ref = SCANPY_SCALE_ARRAY(dask_in.compute(), return_mean_std=True, **kwargs)
    got = compute(*scscale.pp.scale(dask_in, return_mean_std=True, **kwargs))
    for i in range(3):
        assert_same_array(got[i], ref[i], f"[{i}]")


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_chunks(client, fmt):
    x = in_memory("lognorm_float64", fmt)
    for zero_center in (True, False):
        ref = SCANPY_SCALE_ARRAY(x.copy(), zero_center=zero_center, return_mean_std=True)
        for reduction in ("fold", "tree"):
            res = scscale.pp.scale(to_dask(x, row_chunks=(0, 50, 0, 70, 0)), zero_center=zero_center,
                                   return_mean_std=True, dask_reduction=reduction)
            got = compute(*res)
            if reduction == "fold":
                for i in range(3):
                    assert_same_array(got[i], ref[i], f"fold [{i}]")
            else:
                assert _ulps(got[1], ref[1]) <= 32 and _ulps(got[2], ref[2]) <= 32


def test_plain_return_and_copy(client):
    x = in_memory("lognorm_float32", "csr_array")
    ref = SCANPY_SCALE_ARRAY(x.copy(), zero_center=False)
    dask_in = to_dask(x)
    for copy in (False, True):
        res = scscale.pp.scale(dask_in, zero_center=False, copy=copy)
        assert isinstance(res, da.Array)
        assert_same_array(res.compute(), ref, f"copy={copy}")
    assert_same_array(dask_in.compute(), x, "input unchanged")


@pytest.mark.parametrize("fmt", FORMATS)
def test_column_chunks_are_joined_and_split_back(client, fmt):
    x = in_memory("lognorm_float32", fmt)
    ref = SCANPY_SCALE_ARRAY(x.copy(), return_mean_std=True)
    dask_in = to_dask(x, col_chunks=(10, 9, 5))
    res = scscale.pp.scale(dask_in, return_mean_std=True)
    check_lazy_result(res, dask_in, ref[0])
    got = compute(*res)
    for i in range(3):
        assert_same_array(got[i], ref[i], f"[{i}]")


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
def test_real_data_10x(client, fmt, zero_center):
    x = tenx_lognorm()[:4000]
    x = x.toarray() if fmt == "dense" else getattr(sparse, fmt)(x)
    kwargs = dict(zero_center=zero_center, max_value=10.0)
    ref = SCANPY_SCALE_ARRAY(x.copy(), return_mean_std=True, **kwargs)
    got = compute(*scscale.pp.scale(to_dask(x, row_chunks=(1000, 999, 1, 1500, 500)), return_mean_std=True, **kwargs))
    for i in range(3):
        assert_same_array(got[i], ref[i], f"[{i}]")


def test_statistics_use_the_client_numba_thread_count(client):
    """CSR statistics depend on numba's thread count: the client's at call time, not the workers'."""
    import numba

    x = tenx_lognorm()[:3000].astype(np.float64)
    old = numba.get_num_threads()
    stds = {}
    try:
        for t in sorted({1, old}):
            numba.set_num_threads(t)
            ref = SCANPY_SCALE_ARRAY(x.copy(), zero_center=False, return_mean_std=True)
            res = scscale.pp.scale(to_dask(x, row_chunks=1000), zero_center=False, return_mean_std=True)
            got = compute(*res)
            for i in range(3):
                assert_same_array(got[i], ref[i], f"T={t} [{i}]")
            stds[t] = got[2]
    finally:
        numba.set_num_threads(old)
    if old > 1:  # canary: the comparison can tell thread counts apart
        assert stds[1].tobytes() != stds[old].tobytes()


# -- AnnData -----------------------------------------------------------------------------------------

ANNDATA_CALLS = {
    "X": {},
    "X_copy": {"copy": True},
    "X_clip": {"max_value": 10.0},
    "layer": {"layer": "counts"},
    "obsm": {"obsm": "same_width"},
    "dtype": {"dtype": np.float32},
}


def make_adata(fmt: str, lazy: bool) -> AnnData:
    def rep():
        x = in_memory("lognorm_float32", fmt)
        return to_dask(x) if lazy else x

    a = AnnData(rep())
    a.layers["counts"] = rep()
    a.obsm["same_width"] = rep()
    return a


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("call", list(ANNDATA_CALLS))
def test_anndata(client, call, fmt, zero_center):
    kwargs = dict(ANNDATA_CALLS[call], zero_center=zero_center)
    dtype = kwargs.pop("dtype", None)
    ref_a = make_adata(fmt, lazy=False)
    ref_ret = SCANPY_SCALE(ref_a, **kwargs)
    ours_a = make_adata(fmt, lazy=True)
    ours_ret = scscale.pp.scale(ours_a, dtype=dtype, **kwargs)
    if kwargs.get("copy"):
        assert ref_ret is not None and ours_ret is not None
        ref_a, ours_a = ref_ret, ours_ret
    else:
        assert ref_ret is None and ours_ret is None
    assert list(ours_a.var.columns) == list(ref_a.var.columns) == ["mean", "std"]
    for c in ref_a.var.columns:
        assert ours_a.var[c].dtype == np.float64
        assert_same_array(ours_a.var[c].to_numpy(), ref_a.var[c].to_numpy(), f"var[{c!r}]")
    for where in ("X", "layers", "obsm"):
        for key, ref_x, ours_x in _reps(ref_a, ours_a, where):
            assert isinstance(ours_x, da.Array), f"{where}[{key}] stays lazy"
            want = ref_x if dtype is None or not _was_scaled(call, where) else ref_x.astype(dtype)
            assert_same_array(ours_x.compute(), want, f"{where}[{key}]")


def _was_scaled(call, where):
    target = {"layer": "layers", "obsm": "obsm"}.get(call, "X")
    return where == target


def _reps(ref_a, ours_a, where):
    if where == "X":
        yield "X", ref_a.X, ours_a.X
        return
    for key in getattr(ref_a, where):
        if key is None:  # anndata >= 0.13 lists X as layers[None]
            continue
        yield key, getattr(ref_a, where)[key], getattr(ours_a, where)[key]


def test_anndata_statistics_run_once(client):
    """Scanpy lets pandas compute mean and std separately; scscale computes both in one pass."""
    a = make_adata("csr_matrix", lazy=True)
    x = a.X
    seen = []

    def count(block, block_info=None):
        seen.append(block_info[0]["chunk-location"])
        return block

    a.X = x.map_blocks(count, meta=x._meta, dtype=x.dtype)
    with dask.config.set(scheduler="sync"):  # the counter lives in this process
        scscale.pp.scale(a)
    assert len(seen) == len(ROW_CHUNKS)


# -- laziness, warnings, logs and types: as Scanpy's own Dask path -----------------------------------


def _boom(block):
    raise AssertionError("a chunk was computed at call time")


@pytest.mark.parametrize("fmt", FORMATS)
def test_nothing_is_computed_at_call_time(fmt):
    x = to_dask(in_memory("lognorm_float32", fmt))
    poisoned = x.map_blocks(_boom, meta=x._meta, dtype=x.dtype)
    for reduction in ("fold", "tree"):
        res = scscale.pp.scale(poisoned, return_mean_std=True, max_value=1.0, dask_reduction=reduction)
        assert all(isinstance(r, da.Array) for r in res)
        with pytest.raises(AssertionError, match="call time"), dask.config.set(scheduler="sync"):
            res[1].compute()


@pytest.mark.parametrize("max_value", [None, 1.0])
@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", ["lognorm_float32", "counts_int64"])
def test_warnings_logs_and_types_like_scanpy_dask(case, fmt, zero_center, max_value):
    kwargs = dict(zero_center=zero_center, max_value=max_value, return_mean_std=True)
    ref = run(SCANPY_SCALE_ARRAY, to_dask(in_memory(case, fmt)), kwargs)
    ours = run(scscale.pp.scale, to_dask(in_memory(case, fmt)), kwargs)
    assert ref.error is None and ours.error is None
    assert ours.warnings == ref.warnings
    assert ours.logs == ref.logs
    for r, o in zip(ref.result, ours.result):
        assert type(o) is type(r) and o.chunks == r.chunks and type(o._meta) is type(r._meta)
    # The documented differences (README): Scanpy's Dask path computes float32 dense input, and
    # float32 CSR input without centring, in float64 (and its meta claims float32 for the latter).
    want_dtype = np.dtype(np.float64) if case == "counts_int64" or (fmt != "dense" and zero_center) else np.dtype(np.float32)
    assert ours.result[0].dtype == ours.result[0].compute(scheduler="sync").dtype == want_dtype


# -- fallbacks -----------------------------------------------------------------------------------


def _fallback(x, **kwargs):
    before = dict(scscale_scale.calls)
    res = scscale.pp.scale(x, **kwargs)
    assert scscale_scale.calls["fallback"] == before["fallback"] + 1
    assert scscale_scale.calls["native"] == before["native"]
    return res


def test_mask_falls_back_to_scanpy(client):
    x = in_memory("lognorm_float32", "dense")
    mask = np.arange(x.shape[0]) % 3 != 0
    ref = run(SCANPY_SCALE_ARRAY, to_dask(x.copy()), dict(mask_obs=mask, return_mean_std=True))
    ours = run(lambda d, **k: _fallback(d, **k), to_dask(x.copy()), dict(mask_obs=mask, return_mean_std=True))
    assert (ref.error is None) == (ours.error is None)
    if ref.error is not None:
        assert type(ref.error) is type(ours.error) and str(ref.error) == str(ours.error)
    else:
        for r, o in zip(ref.result, ours.result):
            assert_same_array(np.asarray(o.compute() if hasattr(o, "compute") else o),
                           np.asarray(r.compute() if hasattr(r, "compute") else r), "masked")


def test_other_chunk_types_fall_back(client):
    x = in_memory("lognorm_float32", "csr_matrix")
    csc = da.from_array(x.tocsc(), chunks=(40, -1), asarray=False)
    ref = SCANPY_SCALE_ARRAY(da.from_array(x.tocsc(), chunks=(40, -1), asarray=False), zero_center=False)
    ours = _fallback(csc, zero_center=False)
    assert_same_array(ours.compute(), ref.compute(), "csc chunks")
    _fallback(to_dask(x.toarray()[:, :1]))  # one dense column: numpy's pairwise column sum
    _fallback(to_dask(x.toarray().astype(np.float16)))


def test_fallback_honours_dtype(client):
    x = in_memory("lognorm_float32", "csr_matrix")
    res = _fallback(da.from_array(x.tocsc(), chunks=(40, -1), asarray=False), zero_center=False, dtype=np.float32)
    assert res.dtype == np.float32 and res.compute().dtype == np.float32


def test_bad_reduction_name():
    x = to_dask(in_memory("lognorm_float32", "csr_matrix"))
    with pytest.raises(ValueError, match="dask_reduction"):
        scscale.pp.scale(x, dask_reduction="pairwise")
    with pytest.raises(ValueError, match="dask_reduction"):
        scscale.pp.scale(AnnData(x), dask_reduction="pairwise")


# -- the tree reduction ------------------------------------------------------------------------------


def _ulps(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ia, ib = a.view(np.int64), b.view(np.int64)
    # Monotone integer image of the doubles, so the difference counts representable values.
    ia = np.where(ia < 0, np.int64(-(2**63)) - ia, ia)
    ib = np.where(ib < 0, np.int64(-(2**63)) - ib, ib)
    return np.abs(ia - ib).max(initial=0)


def _slow_first(block, block_info=None):
    """Chunk i finishes after chunk i+1: a completion order opposite to the row order."""
    i = block_info[0]["chunk-location"][0]
    n = block_info[0]["num-chunks"][0]
    time.sleep(0.05 * (n - i))
    return block


@pytest.mark.parametrize("zero_center", ZERO_CENTER)
@pytest.mark.parametrize("fmt", FORMATS)
def test_tree_is_close_and_deterministic(client, fmt, zero_center):
    x = tenx_lognorm()[:3000]
    x = x.toarray() if fmt == "dense" else getattr(sparse, fmt)(x)
    row_chunks = (500, 301, 1, 700, 498, 1000)
    ref = SCANPY_SCALE_ARRAY(x.copy(), zero_center=zero_center, return_mean_std=True)

    def tree(slow: bool, **compute_kwargs):
        d = to_dask(x, row_chunks=row_chunks)
        if slow:
            d = d.map_blocks(_slow_first, meta=d._meta, dtype=d.dtype)
        res = scscale.pp.scale(d, zero_center=zero_center, return_mean_std=True, dask_reduction="tree")
        return dask.compute(*res, **compute_kwargs)

    runs = [
        tree(False),  # 2 worker processes
        tree(True, scheduler="threads", num_workers=3),  # reversed completion order, 3 threads
        tree(False, scheduler="sync"),  # one at a time, in graph order
    ]
    for other in runs[1:]:
        for i in range(3):
            assert_same_array(other[i], runs[0][i], f"tree run [{i}]")
    _, mean, std = runs[0]
    assert _ulps(mean, ref[1]) <= 32
    assert _ulps(std, ref[2]) <= 32
    fold = dask.compute(*scscale.pp.scale(to_dask(x, row_chunks=row_chunks), zero_center=zero_center,
                                          return_mean_std=True))
    assert_same_array(fold[2], ref[2], "fold std")
