#!/usr/bin/env bash
# Re-resolves the Python locks to the newest versions their direct requirements allow:
#   bash scripts/update-locks.sh              # every locks/python/*.in and locks/tools.in
#   bash scripts/update-locks.sh scanpy-1.11  # one environment
# Then run the test command (bash scripts/test-all.sh) and commit the new locks with its result:
# versions move only in such a tested commit. Cargo: `cargo update` in each workspace (root,
# bindings/python, bindings/r/src/rust, fuzz) is the same kind of deliberate step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/python-envs.sh
. "$root/scripts/lib/python-envs.sh"
uv=$(tools_uv)

compile() {  # compile IN OUT PYTHON_VERSION [EXCLUDE_NEWER]
  local args=(pip compile "$1" -o "$2" --python-version "$3" --python-platform x86_64-manylinux_2_28
              --generate-hashes --upgrade --quiet --custom-compile-command "bash scripts/update-locks.sh")
  [ -n "${4:-}" ] && args+=(--exclude-newer "$4")
  (cd "$root" && "$uv" "${args[@]}")
  echo "update-locks: $(realpath --relative-to="$root" "$2")"
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  compile "$locks_dir/tools.in" "$locks_dir/tools.txt" 3.11
  for f in "$locks_dir"/python/*.in; do names+=("$(basename "$f" .in)"); done
fi
for name in "${names[@]}"; do
  in="$locks_dir/python/$name.in"
  [ -f "$in" ] || { echo "update-locks: no $in" >&2; exit 1; }
  version=$(env_header "$name" python)
  [ -n "$version" ] || { echo "update-locks: $in has no '# python: X.Y' line" >&2; exit 1; }
  compile "$in" "$locks_dir/python/$name.txt" "$version" "$(env_header "$name" exclude-newer)"
done
