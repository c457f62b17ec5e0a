#!/usr/bin/env python
"""Out-of-core demonstration of ``scscale.pp.scale_h5ad``: scales an .h5ad whose dense result does
not fit in this machine's memory.

1. Writes a synthetic log-normalised CSR float32 .h5ad (default 2M cells x 2,000 genes, ~9%
   stored, as bench_scale.py's generator) chunk by chunk (anndata's ``sparse_dataset(...).append``),
   never holding it in memory.
2. Runs ``scale_h5ad(..., max_value=10)`` with float64 output (32 GB dense: more than this
   machine's RAM) in a child process and reports wall time and the child's peak RSS (VmHWM and
   ru_maxrss), then how long the kernel takes to flush the written pages (``sync``).
3. Verifies: var['mean'] / var['std'] equal Scanpy's own in-memory statistics of the whole matrix
   (``mean_var`` as ``sc.pp.scale`` calls it), and random rows of the output equal Scanpy's
   formula applied to those rows with them (both bit for bit).
4. Deletes the big files (unless --keep) and saves the report to out/outofcore_demo.txt.

    nice -n 19 python bench/python/outofcore_demo.py [--dir /tmp/scscale_outofcore_demo]
        [--cells 2000000] [--genes 2000] [--chunk-size 10000] [--dtype float64] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench_scale import DENSITY, lognorm_csr, proc_status_bytes  # the benchmarks' generator

HERE = Path(__file__).resolve().parent
MAX_VALUE = 10.0
GEN_CHUNK = 50_000
GiB = 2**30


def size_on_disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())
    return path.stat().st_blocks * 512


def lognorm_chunk(i: int, n_cells: int, n_genes: int, weights: np.ndarray):
    """Chunk i of the synthetic matrix: counts per cell ~ Binomial(genes, 10%), gene popularity
    from a gamma draw (like real HVGs), normalised to 1e4 per cell, log1p (as bench_scale.py)."""
    rng = np.random.default_rng((12345, i))
    return lognorm_csr(rng, rng.binomial(n_genes, DENSITY, n_cells), weights)


def write_input(path: Path, n_cells: int, n_genes: int) -> None:
    import anndata as ad
    import h5py
    import pandas as pd
    from anndata.io import sparse_dataset, write_elem

    weights = np.random.default_rng(7).gamma(0.8, size=n_genes)
    weights /= weights.sum()
    skeleton = ad.AnnData(
        obs=pd.DataFrame({"batch": pd.Categorical(np.arange(n_cells) % 4)}, index=[f"cell{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)]),
    )
    skeleton.uns["generator"] = "bench/python/outofcore_demo.py"
    skeleton.write_h5ad(path)
    del skeleton
    with h5py.File(path, "r+") as f:
        for i, a in enumerate(range(0, n_cells, GEN_CHUNK)):
            block = lognorm_chunk(i, min(GEN_CHUNK, n_cells - a), n_genes, weights)
            if i == 0:
                # Large HDF5 chunks: the first block's size would make millions of tiny ones.
                write_elem(f, "X", block, dataset_kwargs={"chunks": (1 << 20,)})
                x = sparse_dataset(f["X"])
            else:
                x.append(block)


def worker(src: str, out: str, chunk_size: int, dtype: str) -> dict:
    import anndata as ad
    from scipy import sparse

    import scscale.pp

    # Import-time and first-call costs (lazy imports of anndata/h5py) stay out of the timing.
    tiny = out + ".warmup.h5ad"
    ad.AnnData(sparse.random(100, 20, density=0.1, format="csr", dtype=np.float32, random_state=0)).write_h5ad(tiny)
    scscale.pp.scale_h5ad(tiny, tiny + ".out.h5ad", max_value=MAX_VALUE)
    os.remove(tiny)
    os.remove(tiny + ".out.h5ad")
    rss_before = proc_status_bytes("VmRSS")
    t0 = time.perf_counter()
    scscale.pp.scale_h5ad(src, out, max_value=MAX_VALUE, dtype=np.dtype(dtype), chunk_size=chunk_size)
    wall = time.perf_counter() - t0
    import numba

    return {"wall": wall, "vm_hwm": proc_status_bytes("VmHWM"), "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "rss_before": rss_before, "numba_threads": numba.get_num_threads()}


def verify(src: Path, out: Path, n_rows: int) -> dict:
    """Scanpy's statistics of the whole matrix in memory (the CSR fits; its dense result does not),
    then random output rows against Scanpy's elementwise steps on those rows."""
    import anndata as ad
    import h5py
    import numba
    from anndata.io import read_elem
    from scanpy.preprocessing._scale import mean_var  # what sc.pp.scale calls

    with h5py.File(src, "r") as f:
        x = read_elem(f["X"])
    t0 = time.perf_counter()
    mean, var = mean_var(x, axis=0, correction=1)
    std = np.sqrt(var)
    std[std == 0] = 1
    stats_s = time.perf_counter() - t0
    backed = ad.read_h5ad(out, backed="r")  # also checks that anndata reads the output
    same_mean = backed.var["mean"].to_numpy().tobytes() == mean.tobytes()
    same_std = backed.var["std"].to_numpy().tobytes() == std.tobytes()
    rows = np.sort(np.random.default_rng(0).choice(x.shape[0], n_rows, replace=False))
    got = backed.X[rows]
    # Scanpy: x -= mean (CSR - dense -> float64 dense), x /= std in place, then clip (row-wise ops).
    want = np.asarray(x[rows].todense() - mean)
    np.divide(want, std, out=want)
    np.clip(want, -MAX_VALUE, MAX_VALUE, out=want)
    want = want.astype(got.dtype)
    result = {
        "shape": list(backed.shape), "dtype": str(got.dtype), "stats_in_memory_s": stats_s,
        "numba_threads": numba.get_num_threads(), "mean_identical": same_mean, "std_identical": same_std,
        "rows_checked": n_rows, "rows_identical": bool(got.tobytes() == want.tobytes()),
        "n_obs_obs": len(backed.obs), "uns": sorted(backed.uns.keys()),
    }
    backed.file.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/scscale_outofcore_demo"))
    ap.add_argument("--cells", type=int, default=2_000_000)
    ap.add_argument("--genes", type=int, default=2000)
    ap.add_argument("--chunk-size", type=int, default=10_000)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--verify-rows", type=int, default=2000)
    ap.add_argument("--keep", action="store_true", help="keep the input and output files")
    ap.add_argument("--report", type=Path, default=HERE / "out" / "outofcore_demo.txt")
    ap.add_argument("--worker", nargs=4, metavar=("SRC", "OUT", "CHUNK", "DTYPE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        src, out, chunk, dtype = args.worker
        print(json.dumps(worker(src, out, int(chunk), dtype)))
        return

    lines: list[str] = []

    def say(msg: str) -> None:
        print(msg, flush=True)
        lines.append(msg)

    args.dir.mkdir(parents=True, exist_ok=True)
    src, out = args.dir / "lognorm.h5ad", args.dir / "scaled.h5ad"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    say(f"# scscale out-of-core demo, {time.strftime('%Y-%m-%d %H:%M')}")
    say(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {ram / GiB:.1f} GiB RAM, "
        f"load average {os.getloadavg()[0]:.2f}; free disk in {args.dir}: {shutil.disk_usage(args.dir).free / GiB:.1f} GiB")

    t0 = time.perf_counter()
    if not src.exists():
        write_input(src, args.cells, args.genes)
    gen_s = time.perf_counter() - t0
    import h5py

    with h5py.File(src, "r") as f:
        nnz = f["X/data"].shape[0]
    say(f"input:  {src} ({size_on_disk(src) / GiB:.2f} GiB on disk): CSR float32 {args.cells:,} x {args.genes:,}, "
        f"{nnz:,} stored ({nnz / args.cells / args.genes:.1%}); written chunk by chunk in {gen_s:.0f} s")

    dtype = np.dtype(args.dtype)
    need = args.cells * args.genes * dtype.itemsize
    free = shutil.disk_usage(args.dir).free
    if need > free - 4 * GiB and dtype == np.float64:
        dtype = np.dtype(np.float32)
        need //= 2
        say(f"NOTE: only {free / GiB:.1f} GiB free: writing float32 instead of float64")
    say(f"dense result: {need / GiB:.1f} GiB {dtype} ({need / ram:.1f}x this machine's RAM)")

    cmd = [sys.executable, __file__, "--worker", str(src), str(out), str(args.chunk_size), dtype.name]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    child_s = time.perf_counter() - t0
    if proc.returncode != 0:
        say(f"scale_h5ad FAILED:\n{proc.stderr[-4000:]}")
        sys.exit(1)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    t0 = time.perf_counter()
    os.sync()  # the child's time ends when the file is closed; part of it may still be in the page cache
    sync_s = time.perf_counter() - t0
    say(f"scale_h5ad(max_value={MAX_VALUE:g}, dtype={dtype.name}, chunk_size={args.chunk_size:,}), numba threads "
        f"{r['numba_threads']}:")
    say(f"  output: {out} ({size_on_disk(out) / GiB:.2f} GiB on disk)")
    say(f"  wall time: {r['wall']:.1f} s ({args.cells / r['wall']:,.0f} cells/s, "
        f"{need / GiB / r['wall']:.2f} GiB/s written); child process total {child_s:.1f} s; "
        f"sync afterwards (flushing what was still in the page cache) {sync_s:.1f} s")
    say(f"  peak RSS of the scaling process: VmHWM {r['vm_hwm'] / GiB:.2f} GiB, ru_maxrss {r['ru_maxrss'] / GiB:.2f} GiB "
        f"(RSS after imports and a warm-up call {r['rss_before'] / GiB:.2f} GiB; one chunk's dense result "
        f"{args.chunk_size * args.genes * dtype.itemsize / GiB:.2f} GiB)")

    v = verify(src, out, args.verify_rows)
    say(f"verification (anndata.read_h5ad(out, backed='r'): shape {tuple(v['shape'])}, {v['dtype']}, "
        f"obs {v['n_obs_obs']:,} rows, uns {v['uns']}):")
    say(f"  var['mean'] / var['std'] == Scanpy's in-memory mean_var of the whole CSR (numba threads "
        f"{v['numba_threads']}, {v['stats_in_memory_s']:.1f} s): {v['mean_identical']} / {v['std_identical']}")
    say(f"  {v['rows_checked']:,} random rows == Scanpy's steps on those rows (x - mean, /= std, clip), "
        f"bytes: {v['rows_identical']}")
    ok = v["mean_identical"] and v["std_identical"] and v["rows_identical"]

    if not args.keep:
        for p in (src, out):
            p.unlink(missing_ok=True)
        say(f"deleted {src.name} and {out.name}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
