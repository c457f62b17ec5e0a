#!/usr/bin/env bash
# The core's suites: Rust unit/property/golden/header tests, then the C ABI test compiled
# against include/scscale.h, run natively and under valgrind memcheck.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/print-versions.sh rust
cargo build --release --locked
cargo test --release --locked
mkdir -p target/c
cc -std=c99 -O1 -g -Wall -Wextra -Werror -Iinclude tests/c/test_abi.c \
   -Ltarget/release -lscscale -Wl,-rpath,"$root/target/release" -lm -o target/c/test_abi
echo "== C ABI test"
target/c/test_abi > target/c/test_abi.log || { cat target/c/test_abi.log; exit 1; }
tail -n 1 target/c/test_abi.log
echo "== C ABI test under valgrind memcheck (the fork case runs natively above)"
SCSCALE_TEST_NO_FORK=1 valgrind --quiet --error-exitcode=3 --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite \
  target/c/test_abi > target/c/test_abi.valgrind.log
tail -n 1 target/c/test_abi.valgrind.log
