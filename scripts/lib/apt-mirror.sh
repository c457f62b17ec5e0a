# Sourced, not run: sets `mirror` (the first non-security Debian URI of the machine's own apt
# sources, deb822 or one-line format) and `keyring` (its Signed-By file, else Debian's archive
# keyring). Returns 1 when no mirror is configured. Shared by the scripts that fetch Debian
# packages outside the system's apt state (install-julia.sh, seurat5-chroot.sh), so no mirror
# host is ever written into the repository.
apt_mirror() {
  mirror=""
  keyring=""
  local f
  local nullglob_was_set=0
  shopt -q nullglob && nullglob_was_set=1
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    mirror=$(awk -v RS= '/(^|\n)Types:[^\n]*deb/ && !/security/ && /Suites:[^\n]*(bookworm|trixie|sid|bullseye|stable|testing|unstable)/ {
        if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
    if [ -n "$mirror" ]; then
      keyring=$(awk -v RS= -v m="$mirror" 'index($0, m) && /Signed-By:/ {
          if (match($0, /Signed-By:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/Signed-By:[ \t]*/, "", s); print s; exit } }' "$f")
      break
    fi
  done
  if [ -z "$mirror" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      mirror=$(awk '$1 == "deb" && !/security/ && /(bookworm|trixie|sid|bullseye|stable|testing|unstable)/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
      [ -n "$mirror" ] && break
    done
  fi
  [ "$nullglob_was_set" -eq 1 ] || shopt -u nullglob
  [ -n "$mirror" ] || return 1
  [ -n "$keyring" ] && [ -f "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  return 0
}
