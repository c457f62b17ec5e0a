#!/usr/bin/env bash
# A Debian sid chroot with Seurat 5 (R 4.6, Seurat 5.5.1, SeuratObject 5.4.0, matrixStats 1.5.0,
# rustc/cargo) under .cache/seurat5-sid, for testing the R package against Seurat 5.
#   scripts/seurat5-chroot.sh ensure        build it if missing (or incomplete), else reuse it
#   scripts/seurat5-chroot.sh run CMD...    run CMD inside it (as root, cwd /repo = this
#                                           repository, bind-mounted), /proc and /dev mounted in
#                                           a mount namespace of its own (gone when CMD ends)
#   scripts/seurat5-chroot.sh versions      print the versions of the packages under test
# The mirror is the machine's own (scripts/lib/apt-mirror.sh). The mirror's sid is a dated
# snapshot, so a rebuild gets the same versions; the expected ones are checked after install.
# Needs root, unshare (util-linux) and debootstrap (installed here if missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${SCSCALE_SEURAT5_CHROOT:-$root/.cache/seurat5-sid}"
stamp="$dir/.scscale-ready"
# The packages the tests need; --no-install-recommends keeps it small.
pkgs=(r-cran-seurat r-cran-seuratobject r-cran-matrixstats r-cran-matrix r-base-dev r-cran-testthat cargo rustc ca-certificates)
# What the suite was written against; a different sid snapshot fails loudly instead of silently
# testing something else.
want_seurat="5.5.1"

log() { echo "seurat5-chroot: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "needs root (debootstrap, chroot, mount)"; exit 1; }

# Every command runs in its own mount namespace: /proc, /dev and the repository (at /repo) are
# mounted there only, so no other process ever sees them and they vanish with the command, even
# when it is killed (nothing to unmount, and an rm -rf of .cache can never reach through them).
in_chroot() {
  mkdir -p "$dir/proc" "$dir/dev" "$dir/repo" "$dir/etc/ssl/host"
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  # cargo fetches crates.io over HTTPS with the host's CA bundle.
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/host/ca-certificates.crt"
  unshare --mount --propagation private -- /bin/bash -c '
    set -e
    d=$1 r=$2; shift 2
    mount -t proc proc "$d/proc"
    mount --bind /dev "$d/dev"
    mount --bind "$r" "$d/repo"
    exec chroot "$d" "$@"' in_chroot "$dir" "$root" \
    /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive CARGO_HTTP_CAINFO=/etc/ssl/host/ca-certificates.crt \
    CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" OMP_NUM_THREADS=1 "$@"
}

build() {
  source "$root/scripts/lib/apt-mirror.sh"
  apt_mirror || { log "no Debian mirror in the machine's apt sources"; exit 1; }
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  fi
  log "building $dir from $mirror (sid, minbase)"
  # A half-built chroot left by an interrupted run. Its mounts lived in the dead command's own
  # namespace; should anything still be mounted under it here, do not delete through it.
  if findmnt -rn -o TARGET | grep -qF "$dir/"; then log "something is mounted under $dir; not deleting it"; exit 1; fi
  rm -rf --one-file-system "$dir"
  mkdir -p "$dir"
  local t0=$SECONDS
  debootstrap --variant=minbase --keyring="$keyring" sid "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 \
    || { tail -20 "$dir.debootstrap.log" >&2; log "debootstrap failed (log: $dir.debootstrap.log)"; exit 1; }
  log "debootstrap done in $((SECONDS - t0)) s"
  # The snapshot's Release file has a Valid-Until in the past.
  echo 'Acquire::Check-Valid-Until "false";' > "$dir/etc/apt/apt.conf.d/99scscale-snapshot"
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >"$dir.apt.log" 2>&1 \
    || { tail -20 "$dir.apt.log" >&2; log "apt-get install failed (log: $dir.apt.log)"; exit 1; }
  in_chroot apt-get clean
  local got
  got=$(in_chroot Rscript -e 'cat(as.character(packageVersion("Seurat")))')
  [ "$got" = "$want_seurat" ] || { log "the mirror's sid has Seurat $got, expected $want_seurat"; exit 1; }
  # Freeze: nothing inside may upgrade these by accident.
  in_chroot apt-mark hold "${pkgs[@]}" >/dev/null
  in_chroot dpkg-query -W "${pkgs[@]}" r-base-core > "$stamp"
  log "ready in $((SECONDS - t0)) s"
}

ensure() {
  if [ -f "$stamp" ] && [ -x "$dir/usr/bin/Rscript" ]; then
    return 0
  fi
  build
}

cmd="${1:-ensure}"
shift || true
case "$cmd" in
  ensure) ensure ;;
  versions) ensure; in_chroot /bin/sh -c 'cd /repo && exec bash scripts/print-versions.sh r' ;;
  run)
    ensure
    in_chroot /bin/sh -c 'cd /repo && exec "$@"' sh "$@"
    ;;
  *) log "usage: $0 ensure | versions | run CMD..."; exit 2 ;;
esac
