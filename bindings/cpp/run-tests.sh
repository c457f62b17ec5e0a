#!/usr/bin/env bash
# C++ binding: configure + build (cargo runs inside), install into .cache/cpp-prefix, ctest,
# build the example against the installed package (CMake and pkg-config), valgrind memcheck.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/.cache/cpp-build"
prefix="$root/.cache/cpp-prefix"
example_build="$root/.cache/cpp-example-build"
jobs="${JOBS:-2}"

bash "$root/scripts/install-system-deps.sh"
bash "$root/scripts/print-versions.sh" cpp

cmake -S "$root/bindings/cpp" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$build" -j "$jobs"
rm -rf "$prefix"
cmake --install "$build"

# The installed library must carry the ABI version in its SONAME.
abi=$(sed -n 's/^#define SC_ABI_VERSION \([0-9]*\).*/\1/p' "$root/include/scscale.h")
soname=$(readelf -d "$prefix/lib/libscscale.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "libscscale.so.$abi" ]; then
  echo "run-tests: SONAME is '$soname', expected libscscale.so.$abi" >&2
  exit 1
fi
echo "run-tests: installed SONAME $soname"

(cd "$build" && ctest --output-on-failure -j "$jobs")

rm -rf "$example_build"
cmake -S "$root/examples/cpp" -B "$example_build" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$example_build"
"$example_build/scale_example"

# Same example through pkg-config only.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -std=c++17 "$root/examples/cpp/main.cpp" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs scscale) \
  -Wl,-rpath,"$prefix/lib" -o "$example_build/scale_example_pc"
"$example_build/scale_example_pc" > /dev/null
echo "run-tests: pkg-config build of the example ran"

valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --quiet \
  "$build/tests/scscale_tests" --gtest_brief=1
echo "run-tests: valgrind memcheck clean"
