#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 100000x), one after another.
# FUZZTIME is an execution count by default: with a duration, Go 1.26's coordinator can report a
# bare "context deadline exceeded" failure as the time runs out (go.dev/issue/75804).
# Targets are discovered with `go test -list '^Fuzz'` in the packages whose tests define one.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-100000x}

mapfile -t dirs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . 2>/dev/null |
  grep -v '^./node_modules/' | xargs -r -n1 dirname | sort -u)
if ((${#dirs[@]} == 0)); then
  echo "fuzz: no fuzz targets"
  exit 0
fi
n=0
for dir in "${dirs[@]}"; do
  while read -r target; do
    [[ $target == Fuzz* ]] || continue
    echo "fuzz: $dir $target ($FUZZTIME)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$dir"
    n=$((n + 1))
  done < <(go test -list '^Fuzz' "$dir")
done
echo "fuzz: $n targets passed"
