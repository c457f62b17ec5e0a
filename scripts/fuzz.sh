#!/usr/bin/env bash
# Runs the cargo-fuzz target `abi` (fuzz/fuzz_targets/abi.rs: random CSR/CSC/dense descriptions
# through every C ABI entry point, guard bytes, statuses, bit-identity with tests/common's
# reference) for a fixed budget, starting from the committed corpus fuzz/corpus/abi.
#
#   bash scripts/fuzz.sh            # 60 s
#   bash scripts/fuzz.sh 600        # a longer run
#   SCSCALE_FUZZ_KNOWN_BUGS=1 bash scripts/fuzz.sh   # also generate the inputs of the known core bugs
#
# Only stable Rust is installed: cargo-fuzz passes nightly-only flags (-Zsanitizer=address, the
# sanitizer-coverage passes), which stable rustc accepts under RUSTC_BOOTSTRAP=1. The library is
# built with AddressSanitizer and debug assertions (integer overflow checks, debug_assert!s).
# New inputs go to a scratch corpus in target/;
# a failing input is saved under fuzz/artifacts/abi/ and the script exits non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
budget=${1:-60}
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
scratch="$root/target/fuzz-corpus/abi"
mkdir -p "$scratch"
cargo fuzz build --debug-assertions abi
log="$root/target/fuzz-corpus/abi.log"
start=$(date +%s)
set +e
cargo fuzz run --debug-assertions abi "$scratch" fuzz/corpus/abi -- \
  -max_total_time="$budget" -max_len=1024 -len_control=0 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 > "$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
echo "fuzz: target abi, $(( $(date +%s) - start )) s, ${execs:-?} executions, $cov, exit $rc (log: $log)"
if [ "$rc" -ne 0 ]; then
  grep -E "panicked|ERROR|SUMMARY|artifact|deadly|Test unit written" "$log" | head -n 40
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
echo "fuzz: 1 passed, 0 failed"
