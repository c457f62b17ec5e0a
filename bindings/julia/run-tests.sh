#!/usr/bin/env bash
# Julia binding: installs Julia 1.5.3 (scripts/install-julia.sh), builds the crate, runs
# test/runtests.jl (which also runs examples/julia/example.jl) and the example itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

julia=$(bash scripts/install-julia.sh | tail -n 1)
bash scripts/print-versions.sh julia "$julia"
cargo build --release --lib --locked
pkg="$root/bindings/julia/SCScale"
# A private depot: no user state, no registry access needed (stdlib dependencies only).
export JULIA_DEPOT_PATH="$root/.cache/julia/depot"
export SCSCALE_LIB="${SCSCALE_LIB:-$root/target/release/libscscale.so}"

"$julia" --startup-file=no --project="$pkg" "$pkg/test/runtests.jl"
"$julia" --startup-file=no --project="$pkg" "$root/examples/julia/example.jl"
