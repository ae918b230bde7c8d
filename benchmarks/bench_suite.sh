#!/usr/bin/env bash
# Side-by-side cold wall time of the test suite at two commits (issue 10's acceptance line
# "the whole test suite still passes; its wall time does not grow").
#
#   benchmarks/bench_suite.sh BASE [HEAD] [REPEATS]
#
# For each repeat, one after the other (nothing else should run meanwhile), each in a fresh
# clone, so numba's on-disk cache and pytest's caches start empty as in CI:
#   base     BASE's whole suite with BASE_CMD (default: `python -m pytest`, the README
#            command before pytest-xdist)
#   head     HEAD's whole suite with the README command (`python -m pytest -n auto --dist loadfile`)
#   common   HEAD's test files that also exist at BASE (plus RENAMED, files that replaced
#            one of BASE's), same command: the tests that existed at BASE, as HEAD runs them
# Prints wall and CPU seconds (user + sys, children included) per run; logs in $OUT.
# Dependencies come from the active environment (a .pth file in each clone's venv), so
# activate the project's venv first. Timings on a shared VM vary by 10-20% between runs
# of the same code: compare the runs of one invocation, and repeat.
set -euo pipefail

usage() { echo "usage: bench_suite.sh BASE [HEAD] [REPEATS]  ($1)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage "expected 1 to 3 arguments, found $#"
base=$1
head=${2:-HEAD}
repeats=${3:-1}
[[ $repeats =~ ^[1-9][0-9]?$ ]] || usage "REPEATS: expected an integer from 1 to 99, found '$repeats'"
base_cmd=${BASE_CMD:-python -m pytest}
renamed=${RENAMED:-tests/proofs_checks/test_confirmations.py}
repo=$(git rev-parse --show-toplevel 2>/dev/null) || usage "run it inside the neuronid repository (a git work tree)"
base_sha=$(git -C "$repo" rev-parse --short --verify -q "$base^{commit}") || usage "BASE: no commit '$base'"
head_sha=$(git -C "$repo" rev-parse --short --verify -q "$head^{commit}") || usage "HEAD: no commit '$head'"
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
OUT=${OUT:-$(mktemp -d /tmp/bench_suite.XXXXXX)}

common=$(comm -12 <(git -C "$repo" ls-tree -r --name-only "$base" tests | grep '/test_[^/]*\.py$' | sort) \
                  <(git -C "$repo" ls-tree -r --name-only "$head" tests | grep '/test_[^/]*\.py$' | sort))
for f in $renamed; do
  git -C "$repo" cat-file -e "$head:$f" 2>/dev/null && common="$common $f"
done

run() {  # label commit pytest-command...
  local label=$1 commit=$2; shift 2
  local dir=$OUT/clone_$label
  rm -rf "$dir"
  git clone -q "$repo" "$dir"
  git -C "$dir" checkout -q "$commit"
  python -m venv "$dir/.venv"
  echo "$site" > "$dir/.venv/lib/python$(python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages/deps.pth"
  (cd "$dir" && .venv/bin/python -m pip install -q --no-deps -e . > /dev/null 2>&1)
  (
    cd "$dir"
    export PATH="$dir/.venv/bin:$PATH" HYPOTHESIS_PROFILE=ci MPLBACKEND=Agg
    /usr/bin/time -o "$OUT/$label.time" -f "%e %U %S" "$@" > "$OUT/$label.log" 2>&1
  ) || failed=1
  read -r wall user sys < <(tail -1 "$OUT/$label.time")
  printf "%-10s %-8s wall %7.1f s  cpu %7.1f s  %s\n" "$label" "$commit" "$wall" "$(echo "$user + $sys" | bc)" \
    "$(tail -1 "$OUT/$label.log" | tr -d '=')"
  rm -rf "$dir"
}
failed=0

echo "logs in $OUT; common files: $(echo "$common" | wc -w)"
for i in $(seq 1 "$repeats"); do
  # shellcheck disable=SC2086
  run "base$i" "$base_sha" $base_cmd
  run "head$i" "$head_sha" python -m pytest -n auto --dist loadfile
  # shellcheck disable=SC2086
  run "common$i" "$head_sha" python -m pytest -n auto --dist loadfile $common
done
if [ "$failed" -ne 0 ]; then
  echo "a test run failed (see its log in $OUT); its time is not a suite time" >&2
  exit 1
fi
