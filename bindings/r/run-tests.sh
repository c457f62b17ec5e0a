#!/usr/bin/env bash
# R package tests in two environments, against the real Seurat of each:
#   host     Debian bookworm's R 4.2 + Seurat 4.3.0 / SeuratObject 4.1.3 (scripts/install-system-deps.sh)
#   seurat5  Debian sid's R 4.6 + Seurat 5.5.1 / SeuratObject 5.4.0, in a chroot that
#            scripts/seurat5-chroot.sh builds under .cache/seurat5-sid (reused when present)
# In each: install into a private library, testthat, then R CMD check of the built tarball.
# Exit status is non-zero on any test failure or any check ERROR/WARNING in either environment.
#   bindings/r/run-tests.sh                 both environments
#   bindings/r/run-tests.sh host|seurat5    one of them
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

# One environment, in the current system (the chroot runs this same script with "inner").
suite() {
  local name=$1
  local lib="$root/.cache/Rlib-$name" work="$root/.cache/r-check-$name"
  mkdir -p "$lib" "$work"
  # One cargo target dir per environment for both installs, so R CMD check does not rebuild the
  # crates from scratch (and the two rustc versions never share one).
  export SCSCALE_CARGO_TARGET_DIR="$root/.cache/r-cargo-target-$name"
  export R_LIBS="$lib${R_LIBS:+:$R_LIBS}"
  # Tests and check never use more than the 2 cores this machine has.
  export OMP_NUM_THREADS=1
  export SCSCALE_R_ENV="$name"
  echo -n "== [$name] "; bash "$root/scripts/print-versions.sh" r

  echo "== [$name] R CMD INSTALL -> $lib"
  # --preclean: the objects in src/ may come from the other environment (other R headers, gcc).
  R CMD INSTALL --preclean --no-multiarch -l "$lib" "$here"

  echo "== [$name] testthat"
  (cd "$here/tests" && Rscript -e '
    library(testthat)
    res <- test_dir("testthat", package = "scscale", load_package = "installed",
                    reporter = ProgressReporter$new(show_praise = FALSE), stop_on_failure = FALSE)
    df <- as.data.frame(res)
    cat(sprintf("testthat [%s]: %d expectations in %d tests, %d failed, %d errors, %d skipped\n",
                Sys.getenv("SCSCALE_R_ENV"), sum(df$nb), nrow(df), sum(df$failed), sum(df$error), sum(df$skipped)))
    if (sum(df$failed) > 0 || any(df$error)) quit(status = 1)')

  echo "== [$name] R CMD build + check"
  rm -rf "${work:?}"/*
  cd "$work"
  R CMD build --no-build-vignettes "$here"
  local tarball
  tarball=$(ls scscale_*.tar.gz)
  # The tarball does not contain the core crate: configure takes it from SCSCALE_CORE_DIR.
  SCSCALE_CORE_DIR="$root" _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "$tarball" || true
  local log="$work/scscale.Rcheck/00check.log"
  tail -n 5 "$log"
  if ! grep -q '^Status:' "$log" || grep -qE '^Status: .*ERROR' "$log"; then
    echo "R CMD check [$name]: ERROR (see $log)"
    return 1
  fi
  if grep -qE '^Status: .*WARNING' "$log"; then
    echo "R CMD check [$name]: WARNING (see $log)"
    return 1
  fi
  echo "R CMD check [$name]: $(grep '^Status:' "$log")"
}

case "${1:-both}" in
  inner) suite "$2"; exit ;;
  host|seurat5|both) ;;
  *) echo "usage: $0 [host|seurat5|both]" >&2; exit 2 ;;
esac
which=${1:-both}

status=0
start=$SECONDS
if [ "$which" != host ]; then
  # Built (about 2-5 minutes) only when missing; each environment prints its versions as its suite starts.
  bash "$root/scripts/seurat5-chroot.sh" ensure
fi

if [ "$which" != seurat5 ]; then
  t0=$SECONDS
  if suite host; then echo "== host: passed in $((SECONDS - t0)) s"; else echo "== host: FAILED"; status=1; fi
fi
if [ "$which" != host ]; then
  t0=$SECONDS
  if bash "$root/scripts/seurat5-chroot.sh" run env CARGO_BUILD_JOBS="$CARGO_BUILD_JOBS" bash bindings/r/run-tests.sh inner seurat5; then
    echo "== seurat5: passed in $((SECONDS - t0)) s"
  else
    echo "== seurat5: FAILED"; status=1
  fi
fi
echo "== R suite: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s"
exit $status
