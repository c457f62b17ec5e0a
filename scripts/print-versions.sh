#!/usr/bin/env bash
# Prints, at the start of a suite, the versions of what that suite tests against, so a failure
# names its environment:
#   bash scripts/print-versions.sh rust
#   bash scripts/print-versions.sh python PYTHON    # that interpreter's Scanpy stack
#   bash scripts/print-versions.sh r [RSCRIPT]      # R, Seurat, SeuratObject, Matrix, matrixStats, rustc
#   bash scripts/print-versions.sh julia JULIA
#   bash scripts/print-versions.sh cpp
set -uo pipefail
what=${1:?rust|python|r|julia|cpp}
case "$what" in
  rust)
    echo "versions: $(rustc --version); $(cargo --version)" ;;
  python)
    "${2:?python path}" - <<'PY'
import importlib.metadata as md, platform
names = ["scanpy", "anndata", "numpy", "scipy", "numba", "pandas", "dask", "distributed", "h5py", "zarr"]
def v(n):
    try:
        return md.version(n)
    except md.PackageNotFoundError:
        return "absent"
print("versions: Python " + platform.python_version() + ", " + ", ".join(f"{n} {v(n)}" for n in names))
PY
    ;;
  r)
    "${2:-Rscript}" -e 'p <- c("Seurat", "SeuratObject", "Matrix", "matrixStats", "testthat");
      v <- vapply(p, function(x) tryCatch(as.character(packageVersion(x)), error = function(e) "absent"), "");
      cat("versions: ", R.version.string, ", ", paste(p, v, collapse = ", "), ", ", sep = "")'
    rustc --version ;;
  julia)
    "${2:?julia path}" --startup-file=no -e 'println("versions: Julia ", VERSION)' ;;
  cpp)
    echo "versions: $(c++ --version | head -n 1); $(cmake --version | head -n 1); GoogleTest $(dpkg-query -W -f='${Version}' libgtest-dev 2>/dev/null || echo absent)" ;;
  *) echo "print-versions: unknown suite $what" >&2; exit 2 ;;
esac
