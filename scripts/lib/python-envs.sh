# Sourced by scripts/python-venv.sh and scripts/update-locks.sh: where the locks and venvs live and
# how an environment's header is read. An environment NAME is locks/python/NAME.in (its direct
# requirements, with "# python: X.Y" and optionally "# exclude-newer: YYYY-MM-DD" header lines)
# compiled into locks/python/NAME.txt (exact versions with hashes: the only file ever installed).
locks_dir="$root/locks"
venvs_dir="$root/.cache/venvs"
# uv and pip verify TLS with the machine's CA bundle (the registries are reached through it).
export SSL_CERT_FILE="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"

# env_header NAME KEY: the value of "# KEY: value" in locks/python/NAME.in.
env_header() {
  sed -n "s/^# $2: *\([^ ]*\).*/\1/p" "$locks_dir/python/$1.in" | head -n 1
}

# find_python X.Y: a CPython X.Y interpreter on this machine (pyenv first, then the system's).
find_python() {
  local cand
  for cand in "$HOME"/.pyenv/versions/"$1".*/bin/python3 "/usr/bin/python$1" "$(command -v "python$1" || true)"; do
    [ -n "$cand" ] && [ -x "$cand" ] && { echo "$cand"; return 0; }
  done
  return 1
}

# tools_uv: the path of uv, installed from locks/tools.txt (hash-checked) into its own venv.
tools_uv() {
  local venv="$venvs_dir/tools" lock="$locks_dir/tools.txt" py
  if [ -x "$venv/bin/uv" ] && cmp -s "$lock" "$venv/.lock-stamp"; then echo "$venv/bin/uv"; return 0; fi
  py=$(find_python 3.11 || find_python 3.12 || command -v python3) || { echo "no python3 for the tools venv" >&2; return 1; }
  rm -rf "$venv"
  "$py" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --no-deps --require-hashes -r "$lock" >&2
  cp "$lock" "$venv/.lock-stamp"
  echo "$venv/bin/uv"
}
