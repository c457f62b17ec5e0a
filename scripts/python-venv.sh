#!/usr/bin/env bash
# Creates .venv (Python 3.12, needed by Scanpy 1.12) with the reference tool and test tools.
# Prints the venv's python path. Idempotent: reuses a venv whose stamp matches requirements.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
req="$root/scripts/requirements-test.txt"
py=""
for cand in "$HOME"/.pyenv/versions/3.12.*/bin/python3 /usr/bin/python3.12 "$(command -v python3.12 || true)"; do
  [ -x "$cand" ] && { py=$cand; break; }
done
[ -n "$py" ] || { echo "python-venv: no Python 3.12 found (Scanpy 1.12 needs >= 3.12)" >&2; exit 1; }
stamp="$venv/.req-stamp"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then echo "$venv/bin/python"; exit 0; fi
"$py" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --upgrade pip >&2
"$venv/bin/python" -m pip install -q -r "$req" >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
