#!/usr/bin/env bash
# Every test suite, installing what it needs first (Debian packages, a Python 3.12 venv with
# Scanpy 1.12.4, Julia 1.5.3). Each suite runs even if an earlier one failed; the exit code is
# non-zero if any failed. This is what CI (.ci/run) runs.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TERM_COLOR=never

bash scripts/install-system-deps.sh || { echo "installing system packages failed"; exit 1; }
cargo build --release --locked || exit 1

suites=(core:scripts/test-core.sh lints:scripts/test-lints.sh example:scripts/run-example.sh sanitizers:scripts/test-sanitizers.sh fuzz:scripts/fuzz.sh)
for lang in python r cpp julia; do
  [ -x "bindings/$lang/run-tests.sh" ] && suites+=("$lang:bindings/$lang/run-tests.sh")
done

passed=0 failed=0 failed_names=()
for entry in "${suites[@]}"; do
  name=${entry%%:*} script=${entry#*:}
  echo
  echo "=================== suite: $name ($script)"
  start=$(date +%s)
  if bash "$script"; then
    passed=$((passed + 1)); status=passed
  else
    failed=$((failed + 1)); failed_names+=("$name"); status=FAILED
  fi
  echo "=================== suite $name $status in $(( $(date +%s) - start )) s"
done
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
