#!/usr/bin/env python
"""Times ``sc.pp.scale(adata, max_value=10)`` (zero_center=True: CSR float32 X, dense result) with
the interpreter's installed Scanpy (the locked venvs: 1.10.4 to 1.13.0a2), scscale (float64, bit-identical; float32) and AutoZyme (if installed) on synthetic
log-normalised CSR matrices shaped like the public benchmark's datasets after HVG selection.

Each tool runs in its own subprocess (clean peak-memory numbers; numba compiled before timing).
Next to them, the floor: ``adata.X = np.ones(shape, dtype)`` (fill_f64, fill_f32), what numpy
itself pays to hand back a fresh dense array of the result's size on this machine.
Prints medians, speed-ups and peak memory; writes out/bench_scale.{md,json,png}.

    python bench/python/bench_scale.py [--repeats 3] [--fraction 1.0] [--datasets pbmc68k,...]
    # against Scanpy 1.11.5 (AutoZyme 0.3.1's own baseline), scscale installed in that venv:
    "$(bash scripts/python-venv.sh scanpy-1.11)" bench/python/bench_scale.py --out bench/python/out/scanpy-1.11.5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / ".cache" / "bench"
N_GENES = 2000
DENSITY = 0.10
MAX_VALUE = 10.0
DATASETS = {"pbmc68k": 68_579, "splitseq": 156_049, "pbmc200k": 208_000, "gastrulation": 139_331}
TOOLS = ["scanpy", "scscale_f64", "scscale_f32", "autozyme", "fill_f64", "fill_f32"]
# fill_*: not a scaler but the floor: numpy's own price for handing back a fresh dense array of
# the result's size (np.ones), which every tool here pays in some form.
FLOORS = ("fill_f64", "fill_f32")


def matrix_path(name: str, n_cells: int) -> Path:
    return CACHE / f"{name}_{n_cells}x{N_GENES}_d{DENSITY}.npz"


def lognorm_csr(rng, per_row: np.ndarray, gene_p: np.ndarray):
    """CSR float32 with per_row[i] entries in cell i drawn (with replacement, duplicates summed)
    from the gene probabilities gene_p, counts normalised to 1e4 per cell, then log1p."""
    from scipy import sparse

    n_cells, n_genes = per_row.size, gene_p.size
    rows = np.repeat(np.arange(n_cells, dtype=np.int32), per_row)
    cols = rng.choice(n_genes, size=rows.size, p=gene_p).astype(np.int32)
    counts = rng.geometric(0.4, size=rows.size).astype(np.float32)
    x = sparse.csr_matrix((counts, (rows, cols)), shape=(n_cells, n_genes), dtype=np.float32)
    x.sum_duplicates()
    totals = np.asarray(x.sum(axis=1)).ravel()
    x.data *= np.repeat((1e4 / np.maximum(totals, 1)).astype(np.float32), np.diff(x.indptr))
    np.log1p(x.data, out=x.data)
    return x


def make_matrix(name: str, n_cells: int):
    """Deterministic log-normalised CSR float32 (entries drawn with replacement, duplicates summed)."""
    from scipy import sparse

    path = matrix_path(name, n_cells)
    if path.exists():
        return sparse.load_npz(path)
    rng = np.random.default_rng(sum(map(ord, name)))
    per_row = rng.binomial(N_GENES, DENSITY, n_cells)
    # Gene popularity varies, like real HVGs.
    weights = rng.gamma(0.8, size=N_GENES)
    x = lognorm_csr(rng, per_row, weights / weights.sum())
    CACHE.mkdir(parents=True, exist_ok=True)
    sparse.save_npz(path, x, compressed=False)
    return x


def proc_status_bytes(field: str) -> int:
    """A memory field of /proc/self/status ("VmHWM", "VmRSS") in bytes; 0 where there is none."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(tool: str, name: str, n_cells: int, repeats: int) -> dict:
    import scanpy as sc
    from scipy import sparse

    x = make_matrix(name, n_cells)
    kwargs = {"max_value": MAX_VALUE}
    if tool == "scanpy":
        scale = sc.pp.scale
    elif tool.startswith("scscale"):
        import scscale.pp

        scale = scscale.pp.scale
        if tool == "scscale_f32":
            kwargs["dtype"] = np.float32
    elif tool == "autozyme":
        sys.path.insert(0, str(AUTOZYME_SITE))
        import autozyme

        original = sc.pp.scale
        autozyme.activate("scanpy")
        if sc.pp.scale is original:
            print("# autozyme.activate('scanpy') did not replace sc.pp.scale", file=sys.stderr)
        scale = sc.pp.scale  # AutoZyme accelerates AnnData input only
    elif tool in FLOORS:
        fill_dtype = np.float64 if tool == "fill_f64" else np.float32

        def scale(adata, **_):
            adata.X = np.ones(adata.shape, fill_dtype)
    else:
        raise SystemExit(f"unknown tool {tool}")
    from anndata import AnnData

    scale(AnnData(sparse.csr_matrix(x[:1000])), **kwargs)  # compiles numba kernels outside the timing
    base = rss_bytes()
    times = []
    out_dtype = None
    for _ in range(repeats):
        adata = AnnData(x)  # shares x, which zero-centring does not modify
        t0 = time.perf_counter()
        scale(adata, **kwargs)
        times.append(time.perf_counter() - t0)
        out_dtype = f"{type(adata.X).__name__} {adata.X.dtype}"
        del adata
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"times": times, "median": statistics.median(times), "peak_extra": peak - base, "dtype": out_dtype}


def check_identical(name: str, n_cells: int) -> bool:
    """scscale float64 equals Scanpy bit for bit (and bytes) on this dataset."""
    import scanpy as sc

    import scscale.pp

    x = make_matrix(name, n_cells)
    a = sc.pp.scale(x, max_value=MAX_VALUE)
    b = scscale.pp.scale(x, max_value=MAX_VALUE)
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


AUTOZYME_SITE = CACHE / "autozyme-0.3.1"  # kept out of the shared venv


def autozyme_available() -> bool:
    """Installs AutoZyme 0.3.1 (no dependencies) into its own directory once; False if that fails."""
    if not (AUTOZYME_SITE / "autozyme").is_dir():
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(AUTOZYME_SITE),
               "autozyme==0.3.1"]
        if subprocess.run(cmd).returncode != 0:
            print("# AutoZyme 0.3.1 could not be installed: skipped", flush=True)
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fraction", type=float, default=1.0, help="scale every dataset's cell count (memory)")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "DATASET", "N_CELLS"), help=argparse.SUPPRESS)
    ap.add_argument("--check", nargs=2, metavar=("DATASET", "N_CELLS"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        tool, name, n = args.worker
        print(json.dumps(worker(tool, name, int(n), args.repeats)))
        return
    if args.check:
        print(json.dumps(check_identical(args.check[0], int(args.check[1]))))
        return

    import numba
    import scanpy as sc  # noqa: F401
    from importlib.metadata import version

    tools = [t for t in TOOLS if t != "autozyme" or autozyme_available()]
    env = {
        "scanpy": version("scanpy"), "numba_threads": numba.get_num_threads(), "cpus": os.cpu_count(),
        "autozyme": "0.3.1" if "autozyme" in tools else "not installed",
        "repeats": args.repeats, "fraction": args.fraction,
        "loadavg_start": os.getloadavg()[0],  # the machine may be shared: timings are noisy then
    }
    print(f"# environment: {env}", flush=True)
    results: dict[str, dict] = {}
    for name in args.datasets.split(","):
        n = max(1000, int(DATASETS[name] * args.fraction))
        make_matrix(name, n)
        results[name] = {"n_cells": n}
        for tool in tools:
            cmd = [sys.executable, __file__, "--repeats", str(args.repeats), "--worker", tool, name, str(n)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{name} {tool}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                results[name][tool] = None
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results[name][tool] = r
            print(f"{name:13s} {tool:12s} median {r['median']:7.3f} s  min {min(r['times']):7.3f} s  peak +{r['peak_extra'] / 2**30:5.2f} GiB  {r['dtype']}", flush=True)
        ident = subprocess.run([sys.executable, __file__, "--check", name, str(n)], capture_output=True, text=True)
        results[name]["identical"] = ident.returncode == 0 and json.loads(ident.stdout.strip().splitlines()[-1])
    env["loadavg_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_scale.json").write_text(json.dumps({"env": env, "results": results}, indent=1))
    table = render_table(results, tools, env)
    print(table)
    (args.out / "bench_scale.md").write_text(table + "\n")
    plot(results, tools, args.out / "bench_scale.png", env)


def render_table(results, tools, env) -> str:
    head = ["dataset", "cells"] + [f"{t} s" for t in tools] + ["f64 vs scanpy", "f32 vs scanpy"]
    if "autozyme" in tools:
        head += ["f32 vs autozyme"]
    head += ["scscale_f64 / fill_f64", "scanpy / fill_f64 (the most any tool can gain)"]
    head += ["peak GiB (" + "/".join(tools) + ")", "f64 bit-identical"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def med(r, t):
        return r[t]["median"] if r.get(t) else float("nan")

    for name, r in results.items():
        row = [name, f"{r['n_cells']:,}"] + [f"{med(r, t):.3f}" for t in tools]
        row += [f"{med(r, 'scanpy') / med(r, 'scscale_f64'):.1f}x", f"{med(r, 'scanpy') / med(r, 'scscale_f32'):.1f}x"]
        if "autozyme" in tools:
            row += [f"{med(r, 'autozyme') / med(r, 'scscale_f32'):.1f}x"]
        row += [f"{med(r, 'scscale_f64') / med(r, 'fill_f64'):.2f}x", f"{med(r, 'scanpy') / med(r, 'fill_f64'):.1f}x"]
        row += ["/".join(f"{r[t]['peak_extra'] / 2**30:.2f}" if r.get(t) else "-" for t in tools)]
        row += ["yes" if r.get("identical") else "NO"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"`sc.pp.scale(adata, max_value=10)` on CSR float32 X, {N_GENES} genes, ~{DENSITY:.0%} stored; "
                 f"median of {env['repeats']}; {env['cpus']} CPUs, numba threads {env['numba_threads']}; "
                 f"peak = max RSS above the RSS before the first timed call; "
                 f"load average {env['loadavg_start']:.1f} at start, {env['loadavg_end']:.1f} at end. "
                 "fill_f64/fill_f32: `adata.X = np.ones(shape, dtype)`, the floor (not a scaler).")
    return "\n".join(lines)


def plot(results, tools, path: Path, env) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(tools)
    for i, t in enumerate(tools):
        vals = [results[n][t]["median"] if results[n].get(t) else 0 for n in names]
        bars = ax.bar(np.arange(len(names)) + i * width, vals, width, label=t)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(names)) + width * (len(tools) - 1) / 2)
    ax.set_xticklabels([f"{n}\n{results[n]['n_cells']:,} cells" for n in names])
    ax.set_ylabel("median seconds (lower is better)")
    ax.set_title(f"sc.pp.scale(adata, max_value=10), CSR -> dense, {N_GENES} genes, {env['cpus']} CPUs")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
