#!/usr/bin/env bash
# Python binding tests: builds and installs ./bindings/python into the shared venv, fetches the
# Scanpy 1.12.4 sdist (test data and Scanpy's own tests) if missing, then runs
#   1. our bitwise comparison with the real Scanpy (+ API tests, + NUMBA_NUM_THREADS 1..4), and
#   2. Scanpy's own scale tests with scscale.activate() in force.
# Needs scripts/install-system-deps.sh (Rust, Python 3.12). Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=$(bash "$root/scripts/python-venv.sh" scanpy-1.12)
bash "$root/scripts/print-versions.sh" python "$py"

echo "== installing scscale (maturin, release build, --locked)"
# No build isolation and no dependencies: maturin, numpy and scipy come from the venv's lock
# (locks/python/scanpy-1.12.txt), so nothing unpinned is installed.
PATH="$(dirname "$py"):$PATH" "$py" -m pip install -q --no-deps --no-build-isolation "$here"

sdist_cache="$root/.cache/sdist"
sdist="$sdist_cache/scanpy-1.12.4"
if [ ! -d "$sdist/tests/_data/10x-10k-subset.zarr" ] || [ ! -d "$sdist/src/testing" ]; then
  echo "== fetching the Scanpy 1.12.4 source distribution"
  mkdir -p "$sdist_cache"
  # The sdist's hash must be one the lock names for scanpy==1.12.4.
  sed -n '/^scanpy==/,/^[^ ]/p' "$root/locks/python/scanpy-1.12.txt" | grep -v '^ *#' | sed '$!b;/^[^ ]/d' > "$sdist_cache/scanpy.req"
  "$py" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$sdist_cache/scanpy.req" -d "$sdist_cache"
  tar -xzf "$sdist_cache/scanpy-1.12.4.tar.gz" -C "$sdist_cache"
fi
export SCSCALE_SCANPY_SDIST="$sdist"

report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
export SCSCALE_REPORT_DIR="$report"

status=0
echo "== scscale tests (bitwise vs Scanpy 1.12.4; NUMBA_NUM_THREADS 1..4 in subprocesses)"
(cd "$here" && "$py" -m pytest tests -q -p no:cacheprovider -rfEs \
  --ignore=tests/scanpy_suite "$@") || status=1
cat "$report"/numba_threads_*.txt 2>/dev/null || true

echo "== Scanpy's own scale tests with scscale.activate()"
scanpy_tests=(
  tests/test_scaling.py
  tests/test_preprocessing.py::test_scale_matrix_types
  tests/test_preprocessing.py::test_scale_zero_center_warns_dask_sparse
  tests/test_preprocessing.py::test_scale
  tests/test_preprocessing.py::test_scale_rep
  tests/test_preprocessing.py::test_scale_array
)
(cd "$sdist" && PYTHONPATH="$sdist/src:$here/tests/scanpy_suite" \
  "$py" -m pytest -p scscale_activate -q -rfEs -o cache_dir="$root/.cache/pytest-scanpy" "${scanpy_tests[@]}") || status=1

if [ "$status" -ne 0 ]; then echo "== FAILED"; else echo "== all passed"; fi
exit "$status"
