#!/usr/bin/env bash
# The C ABI test (tests/c/test_abi.c) under AddressSanitizer (Debian clang 14, with its leak
# checker) and under valgrind memcheck. The Rust library is built normally (release); ASan
# instruments the C side (its globals, stack and heap buffers handed to the library, and every
# malloc/free, which ASan intercepts for the library too); valgrind checks the whole process,
# library included. Exits non-zero on any finding of either tool or any failed check.
#
#   bash scripts/test-sanitizers.sh            # both
#   SKIP_VALGRIND=1 bash scripts/test-sanitizers.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/print-versions.sh rust

# clang's ASan runtime is a separate Debian package (libclang-rt-14-dev); install what is missing.
need=()
command -v clang >/dev/null || need+=(clang)
command -v valgrind >/dev/null || need+=(valgrind)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" || need+=(libclang-rt-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-sanitizers: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --locked
lib="$root/target/release"
mkdir -p target/sanitizers
out=target/sanitizers
fail=0 passed=0

echo "== C ABI test under AddressSanitizer (clang $(clang -dumpversion))"
clang -std=c99 -O1 -g -fno-omit-frame-pointer -fsanitize=address -Wall -Wextra -Werror -Iinclude \
  tests/c/test_abi.c -L"$lib" -lscscale -Wl,-rpath,"$lib" -lm -o "$out/test_abi_asan"
# detect_leaks: LeakSanitizer on exit; halt_on_error makes any report fatal with exit code 23.
if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=23:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1 \
   "$out/test_abi_asan" > "$out/test_abi_asan.log" 2>&1; then
  if grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\)" "$out/test_abi_asan.log"; then
    echo "ASan reported an error:"; cat "$out/test_abi_asan.log"; fail=$((fail + 1))
  else
    echo "ASan: clean; $(tail -n 1 "$out/test_abi_asan.log")"; passed=$((passed + 1))
  fi
else
  echo "ASan run failed:"; cat "$out/test_abi_asan.log"; fail=$((fail + 1))
fi

# The C++ binding's GoogleTest suite (bindings/cpp) under ASan: a separate CMake build with clang++
# and -fsanitize=address (its valgrind run is part of bindings/cpp/run-tests.sh).
if [ -f bindings/cpp/CMakeLists.txt ] && command -v cmake >/dev/null && [ -d /usr/include/gtest ]; then
  echo "== C++ binding tests under AddressSanitizer"
  b="$out/cpp-asan"
  # The thread-pool death test runs its child under an address-space limit (RLIMIT_AS), where
  # ASan cannot map its shadow memory; it runs natively and under valgrind in run-tests.sh.
  cpp_filter="-ErrorsDeathTest.ThreadPool"
  if cmake -S bindings/cpp -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
       -DCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address" \
       > "$out/cpp-asan-build.log" 2>&1 && cmake --build "$b" -j 2 >> "$out/cpp-asan-build.log" 2>&1; then
    if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=23:detect_stack_use_after_return=1 \
       "$b/tests/scscale_tests" --gtest_brief=1 --gtest_filter="$cpp_filter" > "$out/cpp-asan.log" 2>&1 \
       && ! grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer\)" "$out/cpp-asan.log"; then
      echo "ASan (C++): clean; $(grep -E '^\[  PASSED  \]' "$out/cpp-asan.log")"; passed=$((passed + 1))
    else
      echo "ASan (C++) run failed:"; tail -n 60 "$out/cpp-asan.log"; fail=$((fail + 1))
    fi
  else
    echo "C++ ASan build failed:"; tail -n 30 "$out/cpp-asan-build.log"; fail=$((fail + 1))
  fi
else
  echo "== C++ binding tests under ASan: skipped (no bindings/cpp, cmake or GoogleTest)"
fi

if [ "${SKIP_VALGRIND:-0}" != 1 ]; then
  echo "== C ABI test under valgrind memcheck"
  cc -std=c99 -O1 -g -Wall -Wextra -Werror -Iinclude tests/c/test_abi.c \
     -L"$lib" -lscscale -Wl,-rpath,"$lib" -lm -o "$out/test_abi"
  if SCSCALE_TEST_NO_FORK=1 valgrind --error-exitcode=3 --leak-check=full --show-leak-kinds=definite,indirect \
       --errors-for-leak-kinds=definite,indirect --track-origins=yes \
       --log-file="$out/test_abi.valgrind.txt" "$out/test_abi" > "$out/test_abi.valgrind.log" 2>&1; then
    echo "valgrind: clean; $(grep 'ERROR SUMMARY' "$out/test_abi.valgrind.txt" | sed 's/^==[0-9]*== //'); $(tail -n 1 "$out/test_abi.valgrind.log")"
    passed=$((passed + 1))
  else
    echo "valgrind run failed:"; cat "$out/test_abi.valgrind.txt" "$out/test_abi.valgrind.log"; fail=$((fail + 1))
  fi
fi

echo "sanitizers: $passed passed, $fail failed"
[ "$fail" -eq 0 ]
