#!/usr/bin/env bash
# Python binding tests against each supported Scanpy, one locked venv per series
# (locks/python/scanpy-1.1X.txt, made by scripts/python-venv.sh):
#   scanpy-1.12  full suite: tests/ (bitwise vs Scanpy, API, versions, ABI layout, Dask, out of
#                core) with the sparse cases again under NUMBA_NUM_THREADS = 1..4;
#   scanpy-1.10, scanpy-1.11, scanpy-1.13  the representative subset: the whole bitwise
#                comparison (tests/test_bitwise.py) plus API and version tests in-process, the CSR
#                cases under NUMBA_NUM_THREADS = 1..4;
# and in every venv that version's own scale tests from its sdist with scscale.activate().
#   bindings/python/run-tests.sh                  # all four
#   bindings/python/run-tests.sh scanpy-1.11      # only these environments
# SCSCALE_FULL_ENV=scanpy-1.11 picks which environment runs the full suite. Extra pytest arguments
# go in SCSCALE_PYTEST_ARGS. Needs scripts/install-system-deps.sh (Rust, Python 3.11 and 3.12).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(scanpy-1.12 scanpy-1.10 scanpy-1.11 scanpy-1.13)
full_env=${SCSCALE_FULL_ENV:-scanpy-1.12}
read -r -a extra <<<"${SCSCALE_PYTEST_ARGS:-}"
start=$(date +%s)

declare -A py
for e in "${envs[@]}"; do
  py[$e]=$(bash "$root/scripts/python-venv.sh" "$e")
done
echo "== versions tested against"
for e in "${envs[@]}"; do
  echo "$e: $(bash "$root/scripts/print-versions.sh" python "${py[$e]}")"
done

echo "== building scscale once (maturin, release, --locked; one abi3 wheel for every venv)"
wheels="$root/.cache/python-wheel"
rm -rf "$wheels"
builder=${py[${envs[0]}]}
(cd "$here" && PATH="$(dirname "$builder"):$PATH" "$builder" -m maturin build -q --release --locked -o "$wheels")
for e in "${envs[@]}"; do
  # No dependencies: numpy and scipy come from the venv's lock, so nothing unpinned is installed.
  "${py[$e]}" -m pip install -q --no-deps --force-reinstall "$wheels"/scscale-*.whl
done

# fetch_sdist ENV: unpacks the sdist of the venv's Scanpy (hash-checked against its lock) into
# .cache/sdist/scanpy-VERSION and prints that directory.
fetch_sdist() {
  local e=$1 lock="$root/locks/python/$1.txt" cache="$root/.cache/sdist" version dir
  version=$(sed -n 's/^scanpy==\([^ ]*\).*/\1/p' "$lock")
  dir="$cache/scanpy-$version"
  if [ ! -d "$dir/tests/_data/10x-10k-subset.zarr" ]; then
    mkdir -p "$cache"
    sed -n '/^scanpy==/,/^[^ ]/p' "$lock" | grep -v '^ *#' | sed '$!b;/^[^ ]/d' >"$cache/scanpy-$version.req"
    "${py[$e]}" -m pip download -q --no-deps --no-binary :all: --require-hashes \
      -r "$cache/scanpy-$version.req" -d "$cache" >&2
    tar -xzf "$cache/scanpy-$version.tar.gz" -C "$cache"
  fi
  echo "$dir"
}

report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
summary=()
status=0
scanpy_tests=(
  tests/test_scaling.py
  tests/test_preprocessing.py::test_scale_matrix_types
  tests/test_preprocessing.py::test_scale_zero_center_warns_dask_sparse
  tests/test_preprocessing.py::test_scale
  tests/test_preprocessing.py::test_scale_rep
  tests/test_preprocessing.py::test_scale_array
)
last_line() { grep -E '(passed|failed|error|skipped|no tests ran)' "$1" | tail -n 1 || true; }

for e in "${envs[@]}"; do
  p=${py[$e]}
  sdist=$(fetch_sdist "$e")
  export SCSCALE_SCANPY_SDIST="$sdist"
  mkdir -p "$report/$e"
  export SCSCALE_REPORT_DIR="$report/$e"
  t0=$(date +%s)
  echo "== $e: scscale tests (bitwise vs $(basename "$sdist"))"
  if [ "$e" = "$full_env" ]; then
    what="full suite"
    unset SCSCALE_THREADS_SUBSET
    (cd "$here" && "$p" -m pytest tests --ignore=tests/scanpy_suite -q -p no:cacheprovider -rfEs "${extra[@]}") \
      | tee "$report/$e/ours.log" || status=1
  else
    # Every case of test_bitwise.py once: the CSR ones only under NUMBA_NUM_THREADS = 1..4
    # (tests/test_numba_threads.py, SCSCALE_THREADS_SUBSET=csr), the rest in-process.
    what="subset"
    export SCSCALE_THREADS_SUBSET=csr
    csr=$(cd "$here/tests" && "$p" -c 'import test_numba_threads as t; print(t.CSR_SUBSET)')
    (cd "$here" && "$p" -m pytest tests/test_bitwise.py tests/test_api.py tests/test_versions.py \
      tests/test_interrupt.py tests/test_batches.py tests/test_numba_threads.py \
      -k "not test_bitwise.py or not ($csr)" -q -p no:cacheprovider -rfEs "${extra[@]}") \
      | tee "$report/$e/ours.log" || status=1
  fi
  cat "$report/$e"/numba_threads_*.txt 2>/dev/null || true
  t1=$(date +%s)
  echo "== $e: Scanpy's own scale tests ($(basename "$sdist")) with scscale.activate()"
  (cd "$sdist" && PYTHONPATH="$sdist/src:$here/tests/scanpy_suite" \
    "$p" -m pytest -p scscale_activate -q -rfEs -o cache_dir="$root/.cache/pytest-$e" "${scanpy_tests[@]}") \
    | tee "$report/$e/scanpy.log" || status=1
  t2=$(date +%s)
  threads=$(cat "$report/$e"/numba_threads_*.txt 2>/dev/null | sed 's/^NUMBA_NUM_THREADS=\([0-9]*\): /T=\1 /' | tr '\n' ';' || true)
  summary+=("$e ($what): scscale tests: $(last_line "$report/$e/ours.log") [$((t1 - t0)) s]; ${threads:+under numba threads: $threads }Scanpy's own: $(last_line "$report/$e/scanpy.log"), $(grep -o 'scscale: .*' "$report/$e/scanpy.log" | tail -n 1) [$((t2 - t1)) s]")
done

echo "== summary ($(($(date +%s) - start)) s in all)"
printf '%s\n' "${summary[@]}"
if [ "$status" -ne 0 ]; then echo "== FAILED"; else echo "== all passed"; fi
exit "$status"
