#!/usr/bin/env bash
# `heapcost report` against `heapcost top` (and pprof -top) on the 13 Envoy corpus dumps,
# in the same run: the goal is report <= 1.5x top (each snapshot read, named and labelled once).
#
# Usage: benches/report.sh [N]     N runs per case, interleaved (default 5); prints medians.
# Env:   HEAPCOST=...  binary (default target/release/heapcost, built unless NO_BUILD=1)
#        PPROF=...     pprof (default: pprof on PATH; skipped when there is none)
#        CORPUS=...    corpus root (default ../shared/corpus)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
N=${1:-5}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
corpus=${CORPUS:-../shared/corpus}/envoy-1.34-ext-proc-full-duplex
dumps=("$corpus"/envoy.prof.*.heap)
(( ${#dumps[@]} == 13 )) || { echo "expected 13 dumps in $corpus, found ${#dumps[@]}" >&2; exit 1; }
heapcost=${HEAPCOST:-target/release/heapcost}
if [[ -z ${HEAPCOST:-} && ${NO_BUILD:-0} != 1 ]]; then cargo build --release --quiet; fi
pprof=${PPROF:-$(command -v pprof || true)}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT

# wall seconds of one command (stdout discarded)
timed() { local t0=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
          echo "$EPOCHREALTIME - $t0" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -a t_top t_report t_pprof
for _ in 1 2; do  # warm the page cache
  "$heapcost" top -q "${dumps[@]}" >/dev/null 2>&1
done
for ((i = 0; i < N; i++)); do
  t_top+=("$(timed "$heapcost" top -q "${dumps[@]}")")
  t_report+=("$(timed "$heapcost" report -q "${dumps[@]}" -o "$out/r.html" --markdown "$out/r.md" --json "$out/r.json")")
  if [[ -n $pprof ]]; then t_pprof+=("$(timed "$pprof" -top "${dumps[@]}")"); fi
done
top=$(printf '%s\n' "${t_top[@]}" | median)
report=$(printf '%s\n' "${t_report[@]}" | median)
printf '| case | command | median wall (s), %d runs |\n|---|---|---:|\n' "$N"
printf '| heapcost top | `heapcost top envoy.prof.*.heap` (13 dumps merged) | %.3f |\n' "$top"
printf '| heapcost report | `heapcost report envoy.prof.*.heap -o r.html --markdown r.md --json r.json` | %.3f |\n' "$report"
if [[ -n $pprof ]]; then
  printf '| pprof | `pprof -top envoy.prof.*.heap` | %.3f |\n' "$(printf '%s\n' "${t_pprof[@]}" | median)"
fi
printf '\nreport / top = %.2fx (goal <= 1.5x); report.html %s bytes, r.md %s characters\n' \
  "$(echo "$report / $top" | bc -l)" "$(stat -c %s "$out/r.html")" "$(wc -m < "$out/r.md")"
