"""Regenerates the Scanpy golden files under tests/golden/scanpy from the real Scanpy 1.12.4.

    "$(bash scripts/python-venv.sh scanpy-1.12)" tests/golden/make_golden_scanpy.py

Inputs are written once to tests/golden/inputs/<name>/; each case runs the real `sc.pp.scale`
in a subprocess with NUMBA_NUM_THREADS = T (the partition count of Scanpy's CSR statistics),
and records its output (bytes, or their SHA-256 when large), mean and std. See README.md there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
OUT = HERE / "scanpy"
FULL_OUTPUT_LIMIT = 256 * 1024  # bytes; larger outputs are stored as SHA-256 only


def write_input(name: str, x, note: str) -> None:
    d = INPUTS / name
    d.mkdir(parents=True, exist_ok=True)
    meta = {"note": note, "n_rows": int(x.shape[0]), "n_cols": int(x.shape[1]), "value_type": str(x.dtype)}
    if sp.issparse(x):
        meta["layout"] = "csr" if x.format == "csr" else "csc"
        meta["index_type"] = str(x.indices.dtype)
        x.indptr.tofile(d / "indptr.bin")
        x.indices.tofile(d / "indices.bin")
        x.data.tofile(d / "data.bin")
    else:
        meta["layout"] = "dense"
        np.ascontiguousarray(x).tofile(d / "data.bin")
    (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def read_input(name: str):
    d = INPUTS / name
    meta = json.loads((d / "meta.json").read_text())
    shape = (meta["n_rows"], meta["n_cols"])
    data = np.fromfile(d / "data.bin", dtype=meta["value_type"])
    if meta["layout"] == "dense":
        return data.reshape(shape)
    it = meta["index_type"]
    cls = sp.csr_matrix if meta["layout"] == "csr" else sp.csc_matrix
    m = cls((data, np.fromfile(d / "indices.bin", dtype=it), np.fromfile(d / "indptr.bin", dtype=it)), shape=shape)
    m.has_sorted_indices = False  # keep the stored order exactly as written
    return m


def random_inputs(rng: np.random.Generator) -> None:
    """Small matrices with the hard cases of ../shared/spec/scanpy-scale.md."""
    n_rows, n_cols = 23, 9
    dense = np.where(rng.random((n_rows, n_cols)) < 0.4, np.log1p(rng.gamma(2.0, 2.0, (n_rows, n_cols))), 0.0)
    dense[:, 0] = 0.0  # all-zero gene
    dense[:, 1] = 0.1  # constant gene (near-constant after f32 squares)
    dense[:, 2] = 0.3
    dense[::3, 3] *= -1.0  # negative values
    dense[5, 4] = 3e19  # f32 square overflows
    dense[6, 5] = 1e-20  # f32 square underflows
    for dtype in ("float32", "float64"):
        m = sp.csr_matrix(dense.astype(dtype))
        # Explicit zeros and unsorted indices: reverse every row and store a few zeros.
        rows = []
        for r in range(n_rows):
            s = slice(m.indptr[r], m.indptr[r + 1])
            idx, val = list(m.indices[s][::-1]), list(m.data[s][::-1])
            if r % 4 == 0:
                zero_col = [c for c in range(n_cols) if c not in idx][:1]
                idx += zero_col
                val += [0.0] * len(zero_col)
            rows.append((idx, val))
        indptr = np.cumsum([0] + [len(i) for i, _ in rows]).astype(np.int32)
        indices = np.concatenate([np.asarray(i, dtype=np.int32) for i, _ in rows])
        data = np.concatenate([np.asarray(v, dtype=dtype) for _, v in rows])
        hard = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
        write_input(f"random_hard_{dtype}", hard, "23 x 9 with all-zero, constant, negative, extreme genes; unsorted, explicit zeros")
        dup = hard.copy()
        dup.indices = dup.indices.copy()
        row0 = slice(dup.indptr[0], dup.indptr[1])
        dup.indices[row0] = dup.indices[row0][0]  # duplicates in row 0
        write_input(f"random_dups_{dtype}", dup, "as random_hard with row 0's entries all in one gene (duplicates)")
        for n in (0, 1, 2):
            write_input(f"random_{n}rows_{dtype}", hard[:n], f"the first {n} rows of random_hard")
        write_input(f"random_hard_{dtype}_csc", sp.csc_matrix(hard.toarray()), "random_hard as CSC (sorted, summed)")
        write_input(f"random_hard_{dtype}_dense", hard.toarray(), "random_hard densified (C order)")


def real_inputs() -> None:
    import scanpy as sc

    x = sc.datasets.pbmc68k_reduced().raw.X
    write_input("pbmc68k_reduced_raw", x, "scanpy.datasets.pbmc68k_reduced().raw.X: 700 x 765 CSR float32, log-normalised, unsorted")
    write_input("pbmc68k_reduced_raw_csc", sp.csc_matrix(x), "the same as CSC")
    write_input("pbmc68k_reduced_raw_dense", x.toarray(), "the same densified (C order, float32)")
    write_input("pbmc68k_reduced_raw_dense64", x.toarray().astype(np.float64), "the same densified as float64")


def cases() -> list[dict]:
    """(input, kind, zero_center, max_value, mask) combinations; each runs for every T where T matters."""
    out = []
    mask_seed = 7
    for name in ["pbmc68k_reduced_raw"] + [f"random_{k}_{t}" for t in ("float32", "float64") for k in ("hard", "dups", "0rows", "1rows", "2rows")]:
        for zc in (True, False):
            for mv in (None, 10.0, 0.5):
                out.append({"input": name, "zero_center": zc, "max_value": mv, "mask_seed": None})
        out.append({"input": name, "zero_center": True, "max_value": 1.0, "mask_seed": mask_seed})
    for name in ["pbmc68k_reduced_raw_csc", "random_hard_float32_csc", "random_hard_float64_csc",
                 "pbmc68k_reduced_raw_dense", "pbmc68k_reduced_raw_dense64", "random_hard_float32_dense", "random_hard_float64_dense"]:
        for zc in (True, False):
            for mv in (None, 0.5):
                out.append({"input": name, "zero_center": zc, "max_value": mv, "mask_seed": None})
        if "dense" in name:
            out.append({"input": name, "zero_center": True, "max_value": None, "mask_seed": mask_seed})
    return out


def case_name(c: dict, t: int) -> str:
    mv = "none" if c["max_value"] is None else str(c["max_value"]).replace(".", "p")
    mask = "" if c["mask_seed"] is None else "_mask"
    return f"{c['input']}__zc{int(c['zero_center'])}_max{mv}{mask}_T{t}"


def run_worker(t: int) -> None:
    """Runs every case with the real Scanpy in this process (NUMBA_NUM_THREADS = t)."""
    import warnings

    import numba
    import scanpy as sc

    assert numba.get_num_threads() == t, (numba.get_num_threads(), t)
    warnings.simplefilter("ignore")
    for c in cases():
        x = read_input(c["input"])
        layout = "dense" if not sp.issparse(x) else x.format
        if t > 1 and layout != "csr":
            continue  # only CSR statistics depend on T
        mask = None
        if c["mask_seed"] is not None:
            mask = np.random.default_rng(c["mask_seed"]).random(x.shape[0]) < 0.5
        inp = x.copy()
        res, mean, std = sc.pp.scale(inp, zero_center=c["zero_center"], max_value=c["max_value"],
                                     mask_obs=mask, return_mean_std=True)
        if sp.issparse(res) and not c["zero_center"] and mask is None:
            kind = f"{layout}_values"
            assert np.array_equal(res.indices, x.indices), "pattern changed"
            out = res.data
        else:
            kind = f"{layout}_dense"
            out = res.toarray() if sp.issparse(res) else np.asarray(res)
        d = OUT / case_name(c, t)
        d.mkdir(parents=True, exist_ok=True)
        raw = np.ascontiguousarray(out).tobytes()
        meta = {
            "tool": "scanpy 1.12.4",
            "input": c["input"],
            "kind": kind,
            "zero_center": c["zero_center"],
            "max_value": None if c["max_value"] is None else repr(float(c["max_value"])),
            "n_partitions": t,
            "mask": mask is not None,
            "out_type": str(out.dtype),
            "out_len": int(out.size),
            "out_sha256": hashlib.sha256(raw).hexdigest(),
        }
        if mask is not None:
            labels = np.where(mask, 0, -1).astype(np.int32)
            labels.tofile(d / "groups.bin")
        if len(raw) <= FULL_OUTPUT_LIMIT:
            (d / "out.bin").write_bytes(raw)
        np.asarray(mean, dtype=np.float64).tofile(d / "mean.bin")
        np.asarray(std, dtype=np.float64).tofile(d / "std.bin")
        (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        run_worker(int(sys.argv[2]))
        return
    for d in (INPUTS, OUT):
        shutil.rmtree(d, ignore_errors=True)
    real_inputs()
    random_inputs(np.random.default_rng(20261126))
    for t in (1, 2, 3, 4):
        env = dict(os.environ, NUMBA_NUM_THREADS=str(t))
        subprocess.run([sys.executable, __file__, "--worker", str(t)], check=True, env=env)
    print(f"wrote {len(list(OUT.iterdir()))} Scanpy cases")


if __name__ == "__main__":
    main()
