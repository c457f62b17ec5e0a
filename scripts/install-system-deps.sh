#!/usr/bin/env bash
# Debian packages every test suite needs: R + Seurat 4.3 (reference tool and R binding), debootstrap
# (the Seurat 5 chroot, scripts/seurat5-chroot.sh), C/C++ toolchain
# pieces (CMake, GoogleTest, Eigen, valgrind, clang for sanitizers). Idempotent: skips when present.
set -euo pipefail
pkgs=(r-base-dev r-cran-seurat r-cran-testthat cmake googletest libgtest-dev libeigen3-dev valgrind clang pkg-config zlib1g-dev debootstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-system-deps: installing ${missing[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
