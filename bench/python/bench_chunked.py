#!/usr/bin/env python
"""The chunked path against the in-memory one, on a synthetic pbmc68k-like CSR float32 matrix
(68,579 x 2,000, ~10% stored; bench_scale.py's generator), ``max_value=10``, zero-centred:

1. Time (median of --repeats): in-memory ``scscale.pp.scale(x)`` (float64; float32) vs the chunked
   path: fold every chunk into an ``Accumulator``, finalize, then ``scale_block`` each chunk into
   one output array (allocated inside the timing, like the in-memory result), per chunk size.
   Chunks are views of the CSR buffers (no copies), so this measures the core, not the slicing.
2. Peak memory of ``scscale.pp.scale_h5ad`` writing a float64 .h5ad, per chunk size, each in a
   fresh subprocess (peak RSS = VmHWM), next to reading the .h5ad and scaling it in memory.

Prints a Markdown table and writes out/bench_chunked.md (quick mode: out/bench_chunked_quick.md).

    nice -n 19 python bench/python/bench_chunked.py [--repeats 5]
    SCSCALE_BENCH_QUICK=1 python bench/python/bench_chunked.py    # smoke test: 10,000 cells
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scale import CACHE, make_matrix, proc_status_bytes  # noqa: E402  (same generator and cache)

QUICK = os.environ.get("SCSCALE_BENCH_QUICK", "") not in ("", "0")
N_CELLS = 10_000 if QUICK else 68_579
CHUNKS = [1_000, 5_000, 10_000] if QUICK else [1_000, 5_000, 20_000, 68_579]
MAX_VALUE = 10.0
GiB = 2**30


def matrix():
    return make_matrix("pbmc68k", N_CELLS)


def row_view(x, a: int, b: int):
    """Rows a..b of a CSR sharing its buffers (only indptr is shifted, a copy of b - a + 1 ints)."""
    from scipy import sparse

    lo, hi = x.indptr[a], x.indptr[b]
    return sparse.csr_matrix((x.data[lo:hi], x.indices[lo:hi], x.indptr[a : b + 1] - lo), shape=(b - a, x.shape[1]))


def chunked_scale(x, chunk_size: int, dtype):
    from scscale._chunked import Accumulator, scale_block
    from scscale.pp import numba_threads

    n = x.shape[0]
    spans = [(a, min(a + chunk_size, n)) for a in range(0, n, chunk_size)]
    acc = Accumulator(x.shape[1], n_partitions=numba_threads())
    for a, b in spans:
        acc.fold(row_view(x, a, b), n_threads=0)  # all cores, as the in-memory call uses
    mean, _var, std = acc.finalize()
    out = np.empty(x.shape, dtype)
    for a, b in spans:
        scale_block(row_view(x, a, b), mean, std, max_value=MAX_VALUE, dtype=dtype, out=out[a:b])
    return out


def time_median(fn, repeats: int):
    fn()  # first call: lazy imports, thread pool start-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        del res
    return statistics.median(times)


def timings(repeats: int) -> list[dict]:
    import scscale.pp

    x = matrix()
    rows = []
    ref = {}
    for dt in (np.float64, np.float32):
        ref[dt] = scscale.pp.scale(x, max_value=MAX_VALUE, dtype=dt)
    for label, chunk in [("in-memory", None)] + [("chunked", c) for c in CHUNKS]:
        row = {"path": label, "chunk": chunk}
        for dt in (np.float64, np.float32):
            if chunk is None:
                fn = lambda dt=dt: scscale.pp.scale(x, max_value=MAX_VALUE, dtype=dt)  # noqa: E731
            else:
                fn = lambda dt=dt, c=chunk: chunked_scale(x, c, dt)  # noqa: E731
                row[f"identical_{np.dtype(dt).name}"] = fn().tobytes() == ref[dt].tobytes()
            row[np.dtype(dt).name] = time_median(fn, repeats)
        rows.append(row)
        print(f"# {label:9s} chunk {chunk or '-':>6}: f64 {row['float64']:.3f} s, f32 {row['float32']:.3f} s", flush=True)
    return rows


def memory_worker(src: str, out: str, chunk: int) -> dict:
    """One configuration in a fresh process: chunk > 0 is scale_h5ad, 0 reads and scales in memory."""
    import anndata as ad
    from scipy import sparse

    import scscale.pp

    tiny = out + ".warmup.h5ad"  # lazy imports and first calls outside the measurement
    ad.AnnData(sparse.random(100, 20, density=0.1, format="csr", dtype=np.float32, random_state=0)).write_h5ad(tiny)
    scscale.pp.scale_h5ad(tiny, tiny + ".out.h5ad")
    scscale.pp.scale(ad.read_h5ad(tiny))
    os.remove(tiny)
    os.remove(tiny + ".out.h5ad")
    base = proc_status_bytes("VmRSS")
    t0 = time.perf_counter()
    if chunk:
        scscale.pp.scale_h5ad(src, out, max_value=MAX_VALUE, chunk_size=chunk)
    else:
        adata = ad.read_h5ad(src)
        scscale.pp.scale(adata, max_value=MAX_VALUE)
        adata.write_h5ad(out)
    wall = time.perf_counter() - t0
    size = os.path.getsize(out)
    os.remove(out)
    return {"chunk": chunk, "wall": wall, "vm_hwm": proc_status_bytes("VmHWM"), "base": base, "out_bytes": size}


def memory(workdir: Path) -> list[dict]:
    import anndata as ad

    src = workdir / "pbmc68k_like.h5ad"
    ad.AnnData(matrix()).write_h5ad(src)
    rows = []
    for chunk in [0] + CHUNKS:
        cmd = [sys.executable, __file__, "--memory-worker", str(src), str(workdir / "out.h5ad"), str(chunk)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"# memory worker chunk {chunk} FAILED:\n{proc.stderr[-3000:]}", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"# scale_h5ad chunk {chunk or 'in-memory':>9}: {r['wall']:.2f} s, VmHWM {r['vm_hwm'] / GiB:.2f} GiB", flush=True)
    src.unlink()
    return rows


def render(times: list[dict], mem: list[dict], env: dict) -> str:
    base = times[0]
    lines = [f"## Chunked vs in-memory scaling{' (QUICK MODE: smoke test, not a measurement)' if QUICK else ''}", "",
             f"CSR float32 {N_CELLS:,} x 2,000 (~10% stored, pbmc68k-like), `max_value=10`, zero-centred "
             "(dense result); median of {repeats}.".format(**env), "",
             "| path | chunk size | chunks | f64 s | f64 cells/s | f64 vs in-memory | f32 s | f32 cells/s | "
             "f32 vs in-memory | bit-identical f64/f32 |", "|" + "---|" * 10]
    for r in times:
        n_chunks = "-" if r["chunk"] is None else f"{-(-N_CELLS // r['chunk']):,}"
        same = "-" if r["chunk"] is None else "/".join("yes" if r[f"identical_{d}"] else "NO" for d in ("float64", "float32"))
        cells = [r["path"], "-" if r["chunk"] is None else f"{r['chunk']:,}", n_chunks]
        for d in ("float64", "float32"):
            cells += [f"{r[d]:.3f}", f"{N_CELLS / r[d]:,.0f}", f"{base[d] / r[d]:.2f}x"]
        lines.append("| " + " | ".join(cells + [same]) + " |")
    lines += ["", "\"vs in-memory\" is the in-memory time over this time (above 1x: faster). The chunked path "
              "folds views of the CSR buffers, then scales each chunk into one output allocated inside the timing.",
              "", "### Peak memory of `scscale.pp.scale_h5ad` (float64 .h5ad output), fresh process each", "",
              "| configuration | wall s | peak RSS GiB (VmHWM) | above RSS after imports GiB | output GiB |",
              "|---|---|---|---|---|"]
    for r in mem:
        name = "read_h5ad + scscale.pp.scale + write_h5ad" if r["chunk"] == 0 else f"scale_h5ad, chunk_size={r['chunk']:,}"
        lines.append(f"| {name} | {r['wall']:.2f} | {r['vm_hwm'] / GiB:.2f} | {(r['vm_hwm'] - r['base']) / GiB:.2f} | "
                     f"{r['out_bytes'] / GiB:.2f} |")
    lines += ["", f"Machine: {env['machine']}, {env['cpus']} CPUs, numba threads {env['numba_threads']}, native "
              f"threads: all cores; load average {env['load_start']:.2f} at start, {env['load_end']:.2f} at end "
              f"(shared machine: timings are noisy when it is busy). {env['date']}."]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2 if QUICK else 5)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--memory-worker", nargs=3, metavar=("SRC", "OUT", "CHUNK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_worker:
        src, out, chunk = args.memory_worker
        print(json.dumps(memory_worker(src, out, int(chunk))))
        return

    import numba

    env = {"machine": f"{cpu_model()} ({platform.machine()})", "cpus": os.cpu_count(),
           "numba_threads": numba.get_num_threads(), "repeats": args.repeats, "load_start": os.getloadavg()[0],
           "date": time.strftime("%Y-%m-%d %H:%M")}
    print(f"# environment: {env}{' QUICK' if QUICK else ''}", flush=True)
    matrix()
    times = timings(args.repeats)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as d:
        mem = memory(Path(d))
    env["load_end"] = os.getloadavg()[0]
    table = render(times, mem, env)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / ("bench_chunked_quick.md" if QUICK else "bench_chunked.md")).write_text(table + "\n")


if __name__ == "__main__":
    main()
