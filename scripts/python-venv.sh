#!/usr/bin/env bash
# Creates (or reuses) the test venv .cache/venvs/NAME from its lock, locks/python/NAME.txt, and
# prints the venv's python path. NAME defaults to scanpy-1.12. Exactly the locked versions are
# installed, hash-checked (uv pip sync); the venv is rebuilt only when its lock file changes.
#   bash scripts/python-venv.sh scanpy-1.11
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/python-envs.sh
. "$root/scripts/lib/python-envs.sh"
name=${1:-scanpy-1.12}
lock="$locks_dir/python/$name.txt"
[ -f "$lock" ] || { echo "python-venv: no lock $lock (see scripts/update-locks.sh)" >&2; exit 1; }
venv="$venvs_dir/$name"
stamp="$venv/.lock-stamp"
if [ -x "$venv/bin/python" ] && cmp -s "$lock" "$stamp"; then echo "$venv/bin/python"; exit 0; fi

version=$(env_header "$name" python)
py=$(find_python "$version") || { echo "python-venv: no Python $version found for $name" >&2; exit 1; }
uv=$(tools_uv)
echo "python-venv: $name: Python $version ($py) from $lock" >&2
rm -rf "$venv"
"$uv" venv -q --python "$py" "$venv" >&2
"$uv" pip sync -q --require-hashes --python "$venv/bin/python" "$lock" >&2
cp "$lock" "$stamp"
echo "$venv/bin/python"
