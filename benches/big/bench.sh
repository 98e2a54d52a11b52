#!/usr/bin/env bash
# heapcost on a 1 GB gperftools heap dump: throughput and peak memory, and against google/pprof
# on the largest generated dump pprof can still read here.
#
# Usage: benches/big/bench.sh [N]     (from any directory; N timed runs per case, default 3)
# Env:   DATA=benches/big/data        where the generated dumps go (gitignored; ~2.5 GB)
#        BIG=1G                       size of the large dumps
#        PPROF_SIZES="128M 256M 512M 1G"   sizes tried with pprof, in order; the largest it
#                                     reads within the limits below is the comparison input
#        PPROF_MEM_GB=12              address-space limit for pprof (ulimit -v), so that a
#                                     failing try cannot take the machine's memory
#        PPROF_TIMEOUT=1200           seconds before a pprof try counts as failed
#        HEAPCOST=...  PPROF=...      binaries (defaults: target/release/heapcost, built; pprof on
#                                     PATH, else ../shared/tools/install-pprof.sh)
# Prints each run, then a Markdown table. Exits non-zero if heapcost fails or setup fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
N=${1:-${N:-3}}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
DATA=${DATA:-benches/big/data}
BIG=${BIG:-1G}
PPROF_SIZES=${PPROF_SIZES:-128M 256M 512M 1G}
PPROF_MEM_GB=${PPROF_MEM_GB:-12}
PPROF_TIMEOUT=${PPROF_TIMEOUT:-1200}
die() { echo "bench.sh: $*" >&2; exit 1; }

/usr/bin/time -f '%e %M' true >/dev/null 2>&1 || die "GNU time (/usr/bin/time) is needed: apt-get install time"
if [[ -n ${HEAPCOST:-} ]]; then heapcost=$HEAPCOST; else
  heapcost=target/release/heapcost
  cargo build --release --quiet || die "cargo build --release failed"
fi
if [[ -n ${PPROF:-} ]]; then pprof=$PPROF
elif command -v pprof >/dev/null; then pprof=$(command -v pprof)
else pprof=$(bash ../shared/tools/install-pprof.sh | tail -n1); fi
unset PPROF_BINARY_PATH

mkdir -p "$DATA"
gen() { # name size [gen.py options]
  local f=$DATA/$1.heap
  [[ -s $f ]] || python3 benches/big/gen.py "$f" --size "$2" "${@:3}" >&2
  echo "$f"
}
big=$(gen "big-$BIG" "$BIG")
repeated=$(gen "big-$BIG-repeat8" "$BIG" --repeat 8)
bytes() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bigbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run LABEL FILE CMD... -> "wall_s peak_kib exit" on stdout; output kept in $tmp/LABEL.out
run() {
  local label=$1 file=$2; shift 2
  local t0 t1 rc
  t0=$EPOCHREALTIME
  set +e
  ( ulimit -v $((PPROF_MEM_GB * 1024 * 1024)); exec /usr/bin/time -o "$tmp/$label.time" -f '%e %M' timeout "$PPROF_TIMEOUT" "$@" ) >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  local rss; rss=$(tail -n1 "$tmp/$label.time" 2>/dev/null | awk '{ print $2 }')
  [[ -s $tmp/$label.out ]] || rc=${rc/#0/99}
  awk -v a="$t0" -v b="$t1" -v r="${rss:-0}" -v c="$rc" 'BEGIN { printf "%.3f %d %d\n", b - a, r, c }'
}
report() { # label file wall rss
  awk -v l="$1" -v b="$(bytes "$2")" -v w="$3" -v r="$4" 'BEGIN {
    printf "  %-34s %7.0f MiB in %8.2f s = %7.1f MiB/s, peak RSS %7.1f MiB\n", l, b / 1048576, w, b / 1048576 / w, r / 1024 }' >&2
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

hc_cmd=("$heapcost" top -n 20)
pp_cmd=("$pprof" -top -inuse_space)

echo "== heapcost alone on the large dumps ($N runs each)" >&2
declare -A hwall hrss
for f in "$big" "$repeated"; do
  walls=() rsss=()
  for ((i = 1; i <= N; i++)); do
    read -r w r rc < <(run hc "$f" "${hc_cmd[@]}" "$f")
    (( rc == 0 )) || { tail -n 5 "$tmp/hc.err" >&2; die "heapcost failed on $f (exit $rc)"; }
    report "heapcost top $(basename "$f")" "$f" "$w" "$r"
    walls+=("$w") rsss+=("$r")
  done
  hwall[$f]=$(printf '%s\n' "${walls[@]}" | median)
  hrss[$f]=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -n1)
done
head -n 4 "$tmp/hc.out" >&2

echo "== the largest dump pprof reads (limits: ${PPROF_MEM_GB} GiB address space, ${PPROF_TIMEOUT} s)" >&2
cmp_file=
declare -A tried
for s in $PPROF_SIZES; do
  f=$( [[ $s == "$BIG" ]] && echo "$big" || gen "big-$s" "$s" )
  read -r w r rc < <(run pp "$f" "${pp_cmd[@]}" "$f")
  tried[$s]="$w $r $rc"
  if (( rc == 0 )); then
    report "pprof -top $(basename "$f")" "$f" "$w" "$r"
    cmp_file=$f
  else
    echo "  pprof on $(basename "$f"): failed (exit $rc after $w s, peak RSS $((r / 1024)) MiB): $(grep -v '^$' "$tmp/pp.err" | tail -n 1)" >&2
    break
  fi
done
[[ -n $cmp_file ]] || die "pprof read none of the sizes tried ($PPROF_SIZES)"

echo "== heapcost vs pprof on $(basename "$cmp_file"), interleaved, $N runs each" >&2
hw=() hr=() pw=() pr=()
for ((i = 1; i <= N; i++)); do
  read -r w r rc < <(run hc "$cmp_file" "${hc_cmd[@]}" "$cmp_file"); (( rc == 0 )) || die "heapcost failed"
  report "heapcost top" "$cmp_file" "$w" "$r"; hw+=("$w"); hr+=("$r")
  read -r w r rc < <(run pp "$cmp_file" "${pp_cmd[@]}" "$cmp_file"); (( rc == 0 )) || die "pprof failed on a file it read before"
  report "pprof -top" "$cmp_file" "$w" "$r"; pw+=("$w"); pr+=("$r")
done
echo "--- heapcost" >&2; sed -n 3p "$tmp/hc.out" >&2
echo "--- pprof" >&2; grep -m1 "Showing nodes" "$tmp/pp.out" >&2 || true

hcw=$(printf '%s\n' "${hw[@]}" | median); hcr=$(printf '%s\n' "${hr[@]}" | sort -n | tail -n1)
ppw=$(printf '%s\n' "${pw[@]}" | median); ppr=$(printf '%s\n' "${pr[@]}" | sort -n | tail -n1)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
rev=$(git rev-parse --short HEAD)
row() { # what file wall rss
  awk -v w="$3" -v r="$4" -v b="$(bytes "$2")" -v what="$1" 'BEGIN {
    printf "| %s | %.0f MiB | %.2f s | %.0f MiB/s | %.0f MiB |\n", what, b / 1048576, w, b / 1048576 / w, r / 1024 }'
}
echo
echo "Generated gperftools dumps (\`benches/big/gen.py\`); median wall time and max peak RSS (GNU time) of $N runs;"
echo "$(date -u +%Y-%m-%d), ${cpu:-unknown CPU} x $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, heapcost $rev, pprof $(dpkg -s golang-github-google-pprof-dev 2>/dev/null | awk '/^Version:/ { print $2 }')."
echo
echo "| run | input | wall time | throughput | peak RSS |"
echo "|---|---:|---:|---:|---:|"
row "\`heapcost top\` on $(basename "$big") (every stack distinct)" "$big" "${hwall[$big]}" "${hrss[$big]}"
row "\`heapcost top\` on $(basename "$repeated") (each stack listed 8 times)" "$repeated" "${hwall[$repeated]}" "${hrss[$repeated]}"
row "\`heapcost top\` on $(basename "$cmp_file")" "$cmp_file" "$hcw" "$hcr"
row "\`pprof -top -inuse_space\` on $(basename "$cmp_file")" "$cmp_file" "$ppw" "$ppr"
echo
awk -v h="$hcw" -v p="$ppw" -v hr="$hcr" -v pr="$ppr" -v f="$(basename "$cmp_file")" 'BEGIN {
  printf "On %s: heapcost is %.1fx faster than pprof and uses %.1f%% of its peak memory.\n", f, p / h, 100 * hr / pr }'
for s in $PPROF_SIZES; do
  [[ -n ${tried[$s]:-} ]] || continue
  read -r w r rc <<<"${tried[$s]}"
  echo "- pprof try on $s: exit $rc after $w s, peak RSS $((r / 1024)) MiB"
done
