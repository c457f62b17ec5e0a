#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a fixed total budget, each from its committed corpus
# fuzz/corpus/<target>:
#   abi (fuzz/fuzz_targets/abi.rs): random CSR/CSC/dense descriptions through every scaling and
#       statistics entry point, guard bytes, statuses, bit-identity with tests/common's reference;
#   acc (fuzz/fuzz_targets/acc.rs): the chunked statistics (sc_accumulator_*, sc_accumulate_*),
#       random chunkings folded in order == the in-memory call, refused calls and corrupted
#       accumulators left untouched.
#
#   bash scripts/fuzz.sh            # 90 s: 60 s abi, 30 s acc
#   bash scripts/fuzz.sh 600        # a longer run
#   SCSCALE_FUZZ_KNOWN_BUGS=1 bash scripts/fuzz.sh   # also generate the inputs of the known core bugs
#
# Only stable Rust is installed: cargo-fuzz passes nightly-only flags (-Zsanitizer=address, the
# sanitizer-coverage passes), which stable rustc accepts under RUSTC_BOOTSTRAP=1. The library is
# built with AddressSanitizer and debug assertions (integer overflow checks, debug_assert!s).
# New inputs go to a scratch corpus in target/;
# a failing input is saved under fuzz/artifacts/<target>/ and the script exits non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
budget=${1:-90}
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
bash scripts/print-versions.sh rust
echo "versions: $(cargo fuzz --version)"
# cargo fuzz has no --locked: fetch with --locked first (fails if fuzz/Cargo.lock is stale), and
# check after the builds that the lock was not rewritten.
cargo fetch --locked --manifest-path fuzz/Cargo.toml
lock_before=$(mktemp)
cp fuzz/Cargo.lock "$lock_before"
# The budget is shared: two thirds to `abi`, one third to `acc`.
acc_budget=$(( budget / 3 ))
abi_budget=$(( budget - acc_budget ))
passed=0 failed=0
for target in abi acc; do
  t_budget=$abi_budget; [ "$target" = acc ] && t_budget=$acc_budget
  scratch="$root/target/fuzz-corpus/$target"
  mkdir -p "$scratch" "fuzz/corpus/$target"
  cargo fuzz build --debug-assertions "$target"
  log="$root/target/fuzz-corpus/$target.log"
  start=$(date +%s)
  set +e
  cargo fuzz run --debug-assertions "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$t_budget" -max_len=1024 -len_control=0 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 > "$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  echo "fuzz: target $target, $(( $(date +%s) - start )) s, ${execs:-?} executions, $cov, exit $rc (log: $log)"
  if [ "$rc" -ne 0 ]; then
    grep -E "panicked|ERROR|SUMMARY|artifact|deadly|Test unit written" "$log" | head -n 40
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
done
if ! cmp -s fuzz/Cargo.lock "$lock_before"; then
  echo "fuzz: cargo fuzz rewrote fuzz/Cargo.lock (it must be committed up to date)"; failed=$((failed + 1))
fi
rm -f "$lock_before"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
