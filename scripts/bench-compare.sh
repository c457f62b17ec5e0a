#!/usr/bin/env bash
# Before/after for `cargo bench --bench scale`, both in the same run (issue 19: a refactor of src/
# must show no slowdown). On this shared 2-core VM two runs minutes apart differ by more than most
# regressions, so a comparison is only worth something if machine noise hits both sides equally:
# this builds the `scale` bench binary at two revisions and runs them alternately, then prints
# one combined Markdown table per case.
#
# Usage: scripts/bench-compare.sh [-n ROUNDS] [-t REGEX] [BASE_REV] [AFTER_REV_OR_WORKTREE]
#   BASE_REV               the "before" revision (default HEAD, i.e. compare uncommitted changes)
#   AFTER_REV_OR_WORKTREE  the "after" side: a directory is taken as a work tree, as it is on disk
#                          (uncommitted changes included); anything else as a revision. Default:
#                          this script's own work tree, as it is on disk.
#   -n ROUNDS              runs per side, alternated before, after, before, after, ...
#                          (default 3, or $BENCH_COMPARE_ROUNDS)
#   -t REGEX               print only the timings whose name matches REGEX (Python re.search),
#                          e.g. -t 'scscale|statistics' (default: all)
# The bench's own settings pass through: SCSCALE_BENCH_QUICK=1 (one size, fewer repetitions,
# ~75 s per run on a quiet machine), SCSCALE_BENCH_REPS, SCSCALE_BENCH_ROWS. SCSCALE_BENCH_REUSE is unset (it
# prints no table). Example, a quick look at the last five commits:
#   SCSCALE_BENCH_QUICK=1 bash scripts/bench-compare.sh HEAD~5
#
# How:
# - A revision is checked out with `git worktree add --detach` under .cache/bench-compare/ (removed
#   on exit, also on failure) and built there with `cargo bench --bench scale --locked --no-run`
#   (the bench profile, i.e. release) into its own CARGO_TARGET_DIR under .cache/bench-compare/,
#   kept between calls so the next build is incremental and the work tree's target/ is never
#   invalidated (a work tree given as a directory gets a target dir of its own there too). This
#   script's own work tree builds in its usual target dir. The binaries are copied into the
#   run's directory, so a build during the runs cannot swap them.
# - Every run's stdout is kept in .cache/bench-compare/runs/<UTC time>/{before,after}-<i>.txt,
#   with the combined report as report.md.
# - Parsing: every Markdown table the bench prints; a row's label is its cells before the first
#   column whose header ends in "(s)" (matrix, flavor, output, threads), its timings the columns
#   whose header ends in "(s)" ("a / b" cells become two timings). Only the (case, timing) pairs
#   both binaries print are compared, matched by label and header, so the table may change a
#   little between revisions; the rest is listed as not compared.
# - Each run prints medians of its repetitions; "best" and "median" below are the smallest and
#   the median of those per-run medians over the rounds. Ratios are after/before: below 1 is
#   faster after. Nothing is asserted: the exit status is non-zero only when a build or a run
#   fails (or a run prints no table), never because of a timing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
invoked_from=$PWD
cd "$root"

usage() { sed -n '8,21p' "$0" | sed 's/^# \{0,1\}//'; }
rounds=${BENCH_COMPARE_ROUNDS:-3}
timings=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--rounds) [ $# -ge 2 ] || { usage >&2; exit 2; }; rounds=$2; shift 2 ;;
    -t|--timings) [ $# -ge 2 ] || { usage >&2; exit 2; }; timings=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    -*) echo "bench-compare: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -le 2 ] || { usage >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench-compare: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
python3 -c 'import re, sys; re.compile(sys.argv[1])' "$timings" 2>/dev/null ||
  { echo "bench-compare: -t '$timings' is not a Python regular expression" >&2; exit 2; }
base_rev=${args[0]:-HEAD}
after_arg=${args[1]:-}
unset SCSCALE_BENCH_REUSE
git -C "$root" rev-parse --verify --quiet "$base_rev^{commit}" >/dev/null ||
  { echo "bench-compare: BASE_REV '$base_rev' is not a commit" >&2; exit 2; }
after_dir=""
if [ -n "$after_arg" ] && [ -d "$(cd "$invoked_from" && realpath -m -- "$after_arg")" ]; then
  after_dir=$(cd "$invoked_from" && realpath -- "$after_arg")
elif [ -n "$after_arg" ] && ! git -C "$root" rev-parse --verify --quiet "$after_arg^{commit}" >/dev/null; then
  echo "bench-compare: '$after_arg' is neither a directory nor a commit" >&2; exit 2
fi

cache="$root/.cache/bench-compare"
mkdir -p "$cache/runs"
# One comparison at a time: the work trees and target dirs below have fixed paths.
exec 9>"$cache/lock"
flock -n 9 || { echo "bench-compare: another comparison holds $cache/lock; waiting" >&2; flock 9; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
started=$(date -u '+%Y-%m-%d %H:%M:%S')
run_dir="$cache/runs/$(date -u '+%Y%m%dT%H%M%SZ')"
mkdir -p "$run_dir"

worktrees=()
cleanup() {
  local wt
  for wt in ${worktrees[@]+"${worktrees[@]}"}; do
    git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
  done
  git -C "$root" worktree prune
  rm -f "$run_dir"/*.bin
  rmdir "$run_dir" 2>/dev/null || true # nothing was run
}
trap cleanup EXIT

# checkout SIDE REV: a detached work tree of REV at a fixed path (a stale one is replaced), in
# $wt. Not called in $(...): the cleanup list must grow in this shell.
checkout() {
  wt="$cache/wt-$1"
  git -C "$root" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
  git -C "$root" worktree prune
  worktrees+=("$wt")
  git -C "$root" worktree add --quiet --detach "$wt" "$2" >&2
}

# describe DIR [REV]: "<short sha> <subject>" of REV in DIR, or of DIR's HEAD and its state.
describe() {
  local dir=$1 rev=${2:-} extra=""
  if [ -z "$rev" ]; then
    rev=HEAD
    local branch
    branch=$(git -C "$dir" symbolic-ref --short -q HEAD || echo "detached")
    extra=" (work tree $dir, branch $branch"
    if [ -n "$(git -C "$dir" status --porcelain --untracked-files=no)" ]; then
      extra+=", with uncommitted changes"
    fi
    extra+=")"
  fi
  echo "$(git -C "$dir" log -1 --format='%h %s' "$rev")$extra"
}

# build SIDE DIR TARGET_DIR: builds the scale bench in DIR, copies it to $run_dir/SIDE.bin.
build() {
  local side=$1 dir=$2 target=$3 exe
  [ -f "$dir/benches/scale.rs" ] || { echo "bench-compare: $dir has no benches/scale.rs" >&2; return 1; }
  echo "== building the scale bench ($side) in $dir, CARGO_TARGET_DIR=$target" >&2
  exe=$(cd "$dir" && CARGO_TARGET_DIR="$target" cargo bench --bench scale --locked --no-run --message-format=json |
    python3 -c 'import json, sys
exes = [d["executable"] for d in map(json.loads, sys.stdin)
        if d.get("reason") == "compiler-artifact" and d.get("executable") and d["target"]["name"] == "scale"]
print(exes[-1] if exes else "")')
  [ -n "$exe" ] && [ -x "$exe" ] || { echo "bench-compare: no scale bench binary from the build in $dir" >&2; return 1; }
  cp "$exe" "$run_dir/$side.bin"
}

before_desc="$(describe "$root" "$base_rev") (BASE_REV $base_rev)"
checkout before "$base_rev"
before_dir=$wt
build before "$before_dir" "$cache/target-before"

if [ -z "$after_arg" ]; then
  after_desc=$(describe "$root")
  build after "$root" "${CARGO_TARGET_DIR:-$root/target}"
elif [ -n "$after_dir" ]; then
  # A target dir of its own per directory: cargo decides freshness by mtimes, and files last
  # touched before an artifact built from another tree's sources would pass for built.
  after_desc=$(describe "$after_dir")
  build after "$after_dir" "$cache/target-dir-$(printf %s "$after_dir" | sha1sum | cut -c1-12)"
else
  after_desc="$(describe "$root" "$after_arg") ($after_arg)"
  checkout after "$after_arg"
  after_dir=$wt
  build after "$after_dir" "$cache/target-after"
fi

load_runs=$(loadavg)
for i in $(seq 1 "$rounds"); do
  for side in before after; do
    echo "== round $i/$rounds: $side ($(date -u +%H:%M:%S) UTC, load $(loadavg))" >&2
    "$run_dir/$side.bin" >"$run_dir/$side-$i.txt" ||
      { echo "bench-compare: the $side binary failed in round $i; its output: $run_dir/$side-$i.txt" >&2; exit 1; }
    grep -q '^|' "$run_dir/$side-$i.txt" ||
      { echo "bench-compare: the $side binary printed no table in round $i: $run_dir/$side-$i.txt" >&2; exit 1; }
  done
done
load_end=$(loadavg)
finished=$(date -u '+%Y-%m-%d %H:%M:%S')

settings=$(env | grep -E '^(SCSCALE_BENCH_|RAYON_NUM_THREADS=)' | sort | paste -sd ' ' || true)
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "unknown")

BC_BEFORE="$before_desc" BC_AFTER="$after_desc" BC_ROUNDS="$rounds" BC_SETTINGS="${settings:-none (full run)}" \
BC_MACHINE="${cpu:-unknown CPU}, $(nproc) cores (nproc), THP: $thp" \
BC_LOAD="$load_start at the start (before the builds), $load_runs when the runs began, $load_end at the end" \
BC_TIMINGS="$timings" BC_WHEN="$started to $finished UTC" BC_RUN_DIR="${run_dir#"$root"/}" \
python3 - "$run_dir" <<'PY' | tee "$run_dir/report.md"
import glob, math, os, re, statistics, sys

run_dir = sys.argv[1]
rounds = int(os.environ["BC_ROUNDS"])

def split_row(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]

def timing_names(header, k):
    """Names of the k timings in a column: 'x, a / b (s)' gives 'x, a (s)' and 'x, b (s)'."""
    if k == 1:
        return [header]
    h = header[: -len("(s)")].rstrip()
    alts = h.split(" / ")
    if len(alts) == k:
        prefix, sep, first = alts[0].rpartition(", ")
        alts[0] = first
        return [f"{prefix}{sep}{a} (s)" for a in alts]
    return [f"{header} [{i + 1}/{k}]" for i in range(k)]

def parse(path):
    """{case label: {timing name: seconds}}, case and timing order, decimals per timing."""
    cases, order, names, decimals = {}, [], [], {}
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1])):
            i += 1
            continue
        header = split_row(lines[i])
        first_t = next((j for j, h in enumerate(header) if h.endswith("(s)")), None)
        i += 2
        while i < len(lines) and lines[i].startswith("|"):
            cells = split_row(lines[i])
            i += 1
            if first_t is None or len(cells) != len(header):
                continue
            label = ", ".join(f"{h}: {c}" for h, c in zip(header[:first_t], cells[:first_t]))
            if label not in cases:
                cases[label] = {}
                order.append(label)
            for h, c in zip(header[first_t:], cells[first_t:]):
                if not h.endswith("(s)"):
                    continue
                parts = [p.strip() for p in c.split(" / ")]
                if not all(re.fullmatch(r"[0-9]+(\.[0-9]+)?", p) for p in parts):
                    continue
                for name, p in zip(timing_names(h, len(parts)), parts):
                    if name in cases[label]:
                        continue  # the same name twice in one run: keep the first
                    cases[label][name] = float(p)
                    decimals[name] = max(decimals.get(name, 0), len(p.partition(".")[2]))
                    if name not in names:
                        names.append(name)
    if not cases:
        sys.exit(f"bench-compare: no timing table in {path}")
    return cases, order, names, decimals

runs = {side: [parse(os.path.join(run_dir, f"{side}-{i}.txt")) for i in range(1, rounds + 1)] for side in ("before", "after")}

def collect(side):
    """{case: {timing: [per-run medians]}} and the order seen."""
    out, order, names, dec = {}, [], [], {}
    for cases, o, n, d in runs[side]:
        for c in o:
            if c not in order:
                order.append(c)
            for name, v in cases[c].items():
                out.setdefault(c, {}).setdefault(name, []).append(v)
        names += [x for x in n if x not in names]
        for k, v in d.items():
            dec[k] = max(dec.get(k, 0), v)
    return out, order, names, dec

b, b_order, b_names, b_dec = collect("before")
a, a_order, a_names, a_dec = collect("after")
first_line = lambda side: open(os.path.join(run_dir, f"{side}-1.txt")).readline().strip()

print("## `cargo bench --bench scale`: before/after in one run")
print()
print(f"- before: {os.environ['BC_BEFORE']}")
print(f"- after: {os.environ['BC_AFTER']}")
print(f"- {rounds} runs of each binary, alternated (before, after, before, after, ...); bench settings: {os.environ['BC_SETTINGS']}")
print(f"- machine: {os.environ['BC_MACHINE']}; threads: as in each case's `threads` (the bench sets them per call)")
print(f"- load average (1/5/15 min): {os.environ['BC_LOAD']}")
print(f"- {os.environ['BC_WHEN']}; every run's output in {os.environ['BC_RUN_DIR']}/")
print(f"- the bench's own first line, before: {first_line('before')}")
print(f"- after: {first_line('after')}")
print()
print(f"Each run prints medians of its repetitions; best and median are over the {rounds} runs' medians, in seconds. "
      "after/before below 1: faster after. Fresh-buffer timings swing with this VM's page faults (docs/benchmarks.md); "
      "the present-pages and statistics timings are the ones to read for the code. "
      "Ratios are of the printed (rounded) values: coarse for timings printed to 3 decimals under ~0.05 s.")

ratios = {}
skipped = []
for case in [c for c in a_order if c in b]:
    names = [n for n in a_names if n in b[case] and n in a.get(case, {}) and re.search(os.environ["BC_TIMINGS"], n)]
    skipped += [f"{case}: {n} (before only)" for n in b_names if n in b[case] and n not in a.get(case, {})]
    skipped += [f"{case}: {n} (after only)" for n in a_names if n in a.get(case, {}) and n not in b[case]]
    if not names:
        continue
    print()
    print(f"### {case}")
    print()
    print("| timing (s) | before best | before median | after best | after median | after/before, medians | after/before, bests |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        d = max(b_dec.get(n, 3), a_dec.get(n, 3))
        bb, bm = min(b[case][n]), statistics.median(b[case][n])
        ab, am = min(a[case][n]), statistics.median(a[case][n])
        rm = am / bm if bm > 0 else float("nan")
        rb = ab / bb if bb > 0 else float("nan")
        if bm > 0 and am > 0:
            ratios.setdefault(n, []).append(rm)
        print(f"| {n} | {bb:.{d}f} | {bm:.{d}f} | {ab:.{d}f} | {am:.{d}f} | {rm:.3f}x | {rb:.3f}x |")

print()
print("### All cases: after/before of the medians")
print()
print("| timing (s) | cases | geometric mean | smallest | largest |")
print("|---|---|---|---|---|")
for n in [x for x in a_names if x in ratios]:
    r = ratios[n]
    g = math.exp(sum(map(math.log, r)) / len(r))
    print(f"| {n} | {len(r)} | {g:.3f}x | {min(r):.3f}x | {max(r):.3f}x |")

only_b = [c for c in b_order if c not in a]
only_a = [c for c in a_order if c not in b]
if only_b or only_a or skipped:
    print()
    print("Not compared (printed by one side only):")
    for c in only_b:
        print(f"- case {c} (before only)")
    for c in only_a:
        print(f"- case {c} (after only)")
    for s in skipped:
        print(f"- {s}")
PY
