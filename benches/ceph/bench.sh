#!/usr/bin/env bash
# heapcost vs google/pprof symbolizing one real ceph-osd heap dump (Debian bookworm, Ceph 16.2,
# 26 MB stripped PIE + ceph-osd-dbg: 230 MB of zlib-compressed DWARF 5 found by build id).
#
# Usage: benches/ceph/bench.sh [N]        (from any directory; N runs per case, default 3)
# Env:   N=3            runs per case (the first argument wins)
#        DUMP=...       the dump (default benches/ceph/out/osd.heap; benches/ceph/setup.sh makes
#                       it when missing)
#        HEAPCOST=...   heapcost binary (default target/release/heapcost, built with
#                       `cargo build --release` unless NO_BUILD=1)
#        PPROF=...      pprof (default: pprof on PATH, else ../shared/tools/install-pprof.sh)
#        POLL=0.01      interval (s) of the process-tree RSS sampler; POLL=0 turns it off
# Output: a Markdown table and ratio/agreement lines on stdout; each tool's output of the last run,
# per-run figures and benches/ceph/out/name-diff.txt (names that differ) under benches/ceph/out/.
# heapcost runs with its cache of decompressed debug sections in benches/ceph/out/cache/ (never
# ~/.cache): emptied before each "cold" run, as the previous run left it for each "warm" run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
out=$here/out

N=${1:-${N:-3}}
POLL=${POLL:-0.01}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, got '$N'" >&2; exit 2; }

die() { echo "bench.sh: $*" >&2; exit 1; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# --- the dump --------------------------------------------------------------------------------------
dump=${DUMP:-$out/osd.heap}
if [[ ! -s $dump ]]; then
  [[ -z ${DUMP:-} ]] || die "DUMP=$DUMP does not exist"
  echo "no dump yet: running benches/ceph/setup.sh (about 1 min, plus package installation) ..." >&2
  "$here/setup.sh" >/dev/null
  [[ -s $dump ]] || die "setup.sh made no $dump"
fi
dump=$(readlink -f "$dump")
mkdir -p "$out"

# --- tools -----------------------------------------------------------------------------------------
if ! /usr/bin/time -f '%e %M' true >/dev/null 2>&1; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
if [[ -n ${PPROF:-} ]]; then pprof=$PPROF
elif command -v pprof >/dev/null 2>&1; then pprof=$(command -v pprof)
else
  [[ -f ../shared/tools/install-pprof.sh ]] || die "pprof not found and ../shared/tools/install-pprof.sh missing"
  pprof=$(as_root bash ../shared/tools/install-pprof.sh | tail -n1)
fi
[[ -x $pprof ]] || die "pprof not executable: $pprof"
if [[ -n ${HEAPCOST:-} ]]; then
  heapcost=$HEAPCOST
else
  heapcost=target/release/heapcost
  if [[ ${NO_BUILD:-0} != 1 || ! -x $heapcost ]]; then
    command -v cargo >/dev/null 2>&1 || { [[ -f $HOME/.cargo/env ]] && . "$HOME/.cargo/env"; }
    command -v cargo >/dev/null 2>&1 || die "cargo not found; cannot build $heapcost"
    echo "cargo build --release ..." >&2
    cargo build --release --quiet || die "cargo build --release failed"
  fi
fi
[[ -x $heapcost ]] || die "heapcost binary not executable: $heapcost"

# The binary the dump was taken from, and its detached debug info (found by build id by both tools).
bin=/usr/bin/ceph-osd
bid=$(readelf -n "$bin" | awk '/Build ID:/ { print $3 }')
dbg=/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
[[ -r $dbg ]] || die "no $dbg: install ceph-osd-dbg matching ceph-osd"
grep -q " $bin\$" "$dump" || die "$dump has no mapping of $bin (taken from another binary?)"

# pprof symbolizes with llvm-symbolizer when it is on PATH, else with addr2line (+ nm); the RSS
# sampler below records which child actually ran.
symbolizer=$(command -v llvm-symbolizer || true)
unset PPROF_BINARY_PATH PPROF_TOOLS HEAPCOST_CACHE HEAPCOST_CACHE_DIR

# --- cases -----------------------------------------------------------------------------------------
# pprof: -nodefraction=0 -edgefraction=0 so that no row is dropped (the default hides nodes under
# 0.5% of the total: 1,372 of them here), -unit=B for exact byte values to compare with heapcost.
# heapcost, three ways: cold (its section cache emptied first, so it inflates the compressed DWARF
# and writes the cache), warm (the cache the cold run just wrote), and --no-cache (inflates, writes
# nothing: what HEAPCOST_CACHE=off gives).
cache=$out/cache
names=(pprof heapcost_cold heapcost_warm heapcost_nocache heapcost_nosym)
declare -A cmd
cmd[pprof]=$(printf '%q ' "$pprof" -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -unit=B -inuse_space "$bin" "$dump")
cmd[heapcost_cold]=$(printf '%q ' env HEAPCOST_CACHE_DIR="$cache" "$heapcost" top -n 0 --format json "$dump")
cmd[heapcost_warm]=${cmd[heapcost_cold]}
cmd[heapcost_nocache]=$(printf '%q ' "$heapcost" top -n 0 --format json --no-cache "$dump")
cmd[heapcost_nosym]=$(printf '%q ' "$heapcost" top -n 0 --format json --no-symbolize "$dump")

runs=$out/runs
rm -rf "$runs"; mkdir -p "$runs"

# run_once CASE I: wall time with bash's microsecond clock around GNU time + the tool; CPU time
# (GNU time %U + %S, children included); GNU time's %M (the kernel's ru_maxrss from wait4: the high-water mark of the *largest single process* of
# the tree, since Linux folds a reaped child's maxrss into its parent's as a max, not a sum); and
# the sampled peak of the *sum* over the live tree (treerss.py), which counts pprof and its
# llvm-symbolizer child together.
run_once() {
  local c=$1 i=$2 i_cmd rc t0 t1 tpid ppid=
  eval "i_cmd=(${cmd[$c]})"
  # Untimed: a cold run starts without a cache; and every run starts with no dirty pages of an
  # earlier run in flight (a cold run leaves ~545 MB of new cache files for the kernel to write
  # back, which would otherwise land on whatever runs next).
  [[ $c == heapcost_cold ]] && rm -rf "$cache"
  sync
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$runs/$c.$i.time" -f '%e %M %U %S' "${i_cmd[@]}" >"$runs/$c.$i.out" 2>"$runs/$c.$i.err" &
  tpid=$!
  if [[ $POLL != 0 ]]; then python3 "$here/treerss.py" "$tpid" "$POLL" >"$runs/$c.$i.tree" & ppid=$!; fi
  set +e; wait "$tpid"; rc=$?; set -e
  t1=$EPOCHREALTIME
  [[ -n $ppid ]] && wait "$ppid"
  if (( rc != 0 )) || [[ ! -s $runs/$c.$i.out ]]; then
    echo "FAILED: $c (exit status $rc)"$'\n'"command: ${cmd[$c]}" >&2
    tail -n 20 "$runs/$c.$i.err" >&2
    exit 1
  fi
  local tree=0 anon=0 members=- e maxrss cpu_u cpu_s
  read -r e maxrss cpu_u cpu_s < <(tail -n1 "$runs/$c.$i.time")
  if [[ -s $runs/$c.$i.tree ]]; then
    tree=$(sed -n 's/.*tree_rss_kib=\([0-9]*\).*/\1/p' "$runs/$c.$i.tree")
    anon=$(sed -n 's/.*tree_anon_kib=\([0-9]*\).*/\1/p' "$runs/$c.$i.tree")
    members=$(sed -n 's/.*max_procs=\([0-9]*\) members=\(.*\)/\2 (at most \1 at once)/p' "$runs/$c.$i.tree" | tr ' ' '_')
  fi
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  local cpu; cpu=$(awk -v u="$cpu_u" -v s="$cpu_s" 'BEGIN { printf "%.2f", u + s }')
  echo "$wall $maxrss $tree $anon $members $cpu" >> "$runs/$c.times"
  printf '  run %d  %-15s wall %7.3f s  cpu %6.2f s  %%M %6.0f MiB  tree RSS %6.0f MiB  tree anon %6.0f MiB  %s\n' \
    "$i" "$c" "$wall" "$cpu" "$(awk -v k="$maxrss" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$tree" 'BEGIN { print k / 1024 }')" "$(awk -v k="$anon" 'BEGIN { print k / 1024 }')" "${members//_/ }" >&2
}

nstacks=$(awk '/^MAPPED_LIBRARIES:/ { exit } / @ 0x/ { n++ } END { print n + 0 }' "$dump")
echo "ceph-osd heap dump $dump ($(stat -c %s "$dump") bytes, $nstacks stacks); $N run(s) per case, interleaved" >&2
echo "heapcost's section cache: $cache (emptied before each cold run)" >&2
echo "debug info: $dbg ($(stat -c %s "$dbg") bytes); pprof's symbolizer: ${symbolizer:-addr2line (no llvm-symbolizer on PATH)}" >&2
for c in "${names[@]}"; do echo "  $c: ${cmd[$c]}" >&2; done
# Page cache: read the binary, the debug file and the mapped libraries once, so that the first
# timed run of either tool does not pay for the disk.
cat "$bin" "$dbg" > /dev/null
awk '/^MAPPED_LIBRARIES:/ { m = 1; next } m && $NF ~ /^\// { print $NF }' "$dump" | sort -u | while read -r f; do cat "$f" > /dev/null 2>&1 || true; done
for ((i = 1; i <= N; i++)); do for c in "${names[@]}"; do run_once "$c" "$i"; done; done
cache_size=$(du -sb "$cache" 2>/dev/null | cut -f1)

# --- summary ---------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A wall gnu tree anon members cpu
for c in "${names[@]}"; do
  wall[$c]=$(cut -d' ' -f1 "$runs/$c.times" | median)
  cpu[$c]=$(cut -d' ' -f6 "$runs/$c.times" | median)
  gnu[$c]=$(cut -d' ' -f2 "$runs/$c.times" | sort -n | tail -n1)
  tree[$c]=$(cut -d' ' -f3 "$runs/$c.times" | sort -n | tail -n1)
  anon[$c]=$(cut -d' ' -f4 "$runs/$c.times" | sort -n | tail -n1)
  members[$c]=$(tail -n1 "$runs/$c.times" | cut -d' ' -f5 | tr '_' ' ')
  cp "$runs/$c.$N.out" "$out/$c.out"
  # Same output every run?
  for ((i = 1; i < N; i++)); do cmp -s "$runs/$c.$i.out" "$runs/$c.$N.out" || echo "WARNING: $c printed different output in runs $i and $N" >&2; done
done
mib() { awk -v k="$1" 'BEGIN { if (k > 0) printf "%.0f MiB", k / 1024; else printf "(too short to sample)" }'; }

agreement=$(python3 "$here/compare.py" "$out/pprof.out" "$out/heapcost_cold.out" "$out/name-diff.txt")
same_output="heapcost printed the same output cold, warm and with --no-cache"
for c in heapcost_warm heapcost_nocache; do
  cmp -s "$out/heapcost_cold.out" "$out/$c.out" || same_output="WARNING: heapcost's $c output differs from heapcost_cold's"
done

hc_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
[[ -n $(git status --porcelain -- src vendor Cargo.toml Cargo.lock 2>/dev/null) ]] && hc_rev+=" + uncommitted changes"
pprof_ver=$(dpkg-query -W -f '${Version}' golang-github-google-pprof-dev 2>/dev/null || echo unknown)
llvm_ver=$( [[ -n $symbolizer ]] && "$symbolizer" --version | awk '/LLVM version/ { print $NF; exit }' )
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
sym_share=$(awk -v a="${wall[heapcost_warm]}" -v b="${wall[heapcost_nosym]}" 'BEGIN { if (a > 0) printf "%.0f", 100 * (a - b) / a; else print "?" }')

echo
echo "ceph-osd (Debian $(dpkg-query -W -f '${Version}' ceph-osd), build id ${bid:0:12}..., detached DWARF 5 in ceph-osd-dbg), one tcmalloc heap dump:"
echo "$nstacks stacks, $(stat -c %s "$dump") bytes; inuse_space, every row. Median wall time of $N runs, max peak RSS;"
echo "$(date -u +%Y-%m-%d), ${cpu:-unknown CPU} x $(nproc) CPUs, heapcost $hc_rev, pprof $pprof_ver with llvm-symbolizer ${llvm_ver:-(none: addr2line)}."
echo
echo "| tool | command (+ the dump) | median wall | median CPU (user+sys) | peak RSS, largest process (GNU time %M) | process tree, sampled: sum of RSS / of anonymous RSS |"
echo "|---|---|---:|---:|---:|---:|"
row() { printf '| %s | `%s` | %.2f s | %.2f s | %s | %s / %s |\n' "$1" "$2" "${wall[$3]}" "${cpu[$3]}" "$(mib "${gnu[$3]}")" "$(mib "${tree[$3]}")" "$(mib "${anon[$3]}")"; }
row pprof 'pprof -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -unit=B -inuse_space /usr/bin/ceph-osd' pprof
row "heapcost, cold (cache emptied before each run; it inflates and writes the cache)" 'heapcost top -n 0 --format json' heapcost_cold
row "heapcost, warm (the cache the cold run wrote)" 'heapcost top -n 0 --format json' heapcost_warm
row "heapcost, no cache" 'heapcost top -n 0 --format json --no-cache' heapcost_nocache
row "heapcost, no symbolization" 'heapcost top -n 0 --format json --no-symbolize' heapcost_nosym
echo
# Speed and memory ratios of each heapcost case: its own peak (%M; it is one process) against
# pprof's largest process (%M, the llvm-symbolizer on ceph-osd: the conservative comparison) and
# against pprof's tree.
for c in heapcost_cold heapcost_warm heapcost_nocache; do
  awk -v c="${c#heapcost_}" -v p="${wall[pprof]}" -v h="${wall[$c]}" -v pm="${gnu[pprof]}" -v pa="${anon[pprof]}" -v pt="${tree[pprof]}" -v hm="${gnu[$c]}" -v goal=10 'BEGIN {
    r = p / h
    printf "- %s: heapcost is **%.1fx** faster than pprof (goal >= %dx: %s); peak memory %.0f MiB = %.0f%% of the largest pprof process (%.0f MiB, GNU time %%M; goal below: %s)", c, r, goal, (r >= goal ? "met" : "NOT met"), hm / 1024, 100 * hm / pm, pm / 1024, (hm < pm ? "met" : "NOT met")
    if (pa > 0) printf ", %.0f%% of pprof'"'"'s whole tree (%.0f-%.0f MiB, anonymous-only to full RSS sum)", 100 * hm / pa, pa / 1024, pt / 1024
    printf "\n"
  }'
done
echo "- symbolization is $sym_share% of heapcost's warm wall time (the rest: reading the dump and building the table)"
echo "- heapcost's section cache after the runs: $(awk -v b="${cache_size:-0}" 'BEGIN { printf "%.0f MB", b / 1e6 }') in $cache"
echo "- pprof's processes: ${members[pprof]:-(not sampled)}"
echo "- $same_output"
echo "$agreement"
echo
echo "names that differ: $out/name-diff.txt; tool outputs: $out/{pprof,heapcost_cold,heapcost_warm,heapcost_nocache,heapcost_nosym}.out; per-run figures: $runs/" >&2
