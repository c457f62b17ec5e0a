#!/usr/bin/env bash
# R package tests: install into a private library, run testthat against the installed Seurat,
# then R CMD check the built tarball. Needs scripts/install-system-deps.sh and cargo.
# Exit status is non-zero on any test failure or any check ERROR/WARNING.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib="$root/.cache/Rlib"
work="$root/.cache/r-check"
mkdir -p "$lib" "$work"
# One cargo target dir for both installs, so R CMD check does not rebuild the crates from scratch.
export SCSCALE_CARGO_TARGET_DIR="$root/.cache/r-cargo-target"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export R_LIBS="$lib${R_LIBS:+:$R_LIBS}"
# Tests and check never use more than the 2 cores this machine has.
export OMP_NUM_THREADS=1

echo "== R CMD INSTALL -> $lib"
R CMD INSTALL --no-multiarch -l "$lib" "$here"

echo "== testthat"
(cd "$here/tests" && Rscript -e '
  library(testthat)
  res <- test_dir("testthat", package = "scscale", load_package = "installed",
                  reporter = ProgressReporter$new(show_praise = FALSE), stop_on_failure = FALSE)
  df <- as.data.frame(res)
  cat(sprintf("testthat: %d expectations in %d tests, %d failed, %d errors, %d skipped\n",
              sum(df$nb), nrow(df), sum(df$failed), sum(df$error), sum(df$skipped)))
  if (sum(df$failed) > 0 || any(df$error)) quit(status = 1)')

echo "== R CMD build + check"
rm -rf "$work"/*
cd "$work"
R CMD build --no-build-vignettes "$here"
tarball=$(ls scscale_*.tar.gz)
# The tarball does not contain the core crate: configure takes it from SCSCALE_CORE_DIR.
SCSCALE_CORE_DIR="$root" _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "$tarball" || true
log="$work/scscale.Rcheck/00check.log"
tail -n 5 "$log"
if grep -qE '^Status: .*(ERROR|WARNING)' "$log" || ! grep -q '^Status:' "$log"; then
  echo "R CMD check: ERROR or WARNING (see $log)"
  exit 1
fi
echo "R CMD check: $(grep '^Status:' "$log")"
