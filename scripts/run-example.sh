#!/usr/bin/env bash
# The main job: scale the bundled real 10x dataset (examples/data/10x-10k-subset) with the C
# example, then with each language binding's example that is built on this machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v cc >/dev/null && [ -f /usr/include/zlib.h ] || bash scripts/install-system-deps.sh
cargo build --release --locked --quiet
mkdir -p target/c
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/c/scale_10x.c -Ltarget/release -lscscale \
   -Wl,-rpath,"$root/target/release" -lz -lm -o target/c/scale_10x
echo "== C: examples/c/scale_10x.c"
target/c/scale_10x examples/data/10x-10k-subset
