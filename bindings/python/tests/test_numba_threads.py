"""The CSR statistics depend on numba's thread count: re-run the sparse bitwise cases in
subprocesses with NUMBA_NUM_THREADS = 1, 2, 3 and 4 (numba reads it once, at import)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
# Dense statistics do not depend on T; the full matrix runs once in the main process.
# Array classes share one code path, so the matrix classes suffice here.
SPARSE_SUBSET = (
    "(csr_matrix or csc_matrix or pbmc or 10x or wrong_partition or thread_count)"
    " and not dense and not anndata and not dtype and not copy_and"
)


# run-tests.sh narrows this on the environments that run the representative subset: only CSR
# statistics depend on T, so SCSCALE_THREADS_SUBSET=csr keeps the CSR matrix cases.
CSR_SUBSET = "(csr_matrix or pbmc or 10x or wrong_partition or thread_count) and not dense and not anndata and not dtype and not copy_and and not csc"


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_bitwise_under_numba_threads(threads):
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    subset = CSR_SUBSET if os.environ.get("SCSCALE_THREADS_SUBSET") == "csr" else SPARSE_SUBSET
    cmd = [sys.executable, "-m", "pytest", str(HERE / "test_bitwise.py"), "-q", "-p", "no:cacheprovider",
           "-k", subset, "--no-header", "-rfE"]
    proc = subprocess.run(cmd, env=env, cwd=HERE.parent, capture_output=True, text=True, timeout=1800)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    report = os.environ.get("SCSCALE_REPORT_DIR")
    if report:  # run-tests.sh prints these counts
        Path(report, f"numba_threads_{threads}.txt").write_text(f"NUMBA_NUM_THREADS={threads}: {summary}\n")
    assert proc.returncode == 0, f"NUMBA_NUM_THREADS={threads}: {summary}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert re.search(r"\b[1-9]\d* passed", summary), summary
