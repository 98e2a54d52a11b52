#!/usr/bin/env bash
# heapcost vs google/pprof on the real Envoy corpus: all 13 gperftools dumps merged, inuse_space.
#
# Usage: benches/vs_pprof.sh [N]          (from any directory; N runs per case, default 5)
# Env:   N=5            runs per case (the first argument wins)
#        HEAPCOST=...   heapcost binary (default target/release/heapcost, built with
#                       `cargo build --release` unless NO_BUILD=1)
#        PPROF=...      pprof binary (default: pprof on PATH, else ../shared/tools/install-pprof.sh)
#        CORPUS=...     corpus root (default ../shared/corpus, relative to the repo root)
#        WARMUP=1       untimed runs per case before timing (page cache, binary loading)
#        ONLY=pprof|heapcost   time only one tool (no ratios); for testing the script
# Exits non-zero if a tool exits non-zero (or prints nothing), or if setup fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

N=${1:-${N:-5}}
WARMUP=${WARMUP:-1}
ONLY=${ONLY:-}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, got '$N'" >&2; exit 2; }
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "WARMUP must be a non-negative integer, got '$WARMUP'" >&2; exit 2; }
case $ONLY in ''|pprof|heapcost) ;; *) echo "ONLY must be pprof or heapcost, got '$ONLY'" >&2; exit 2;; esac

die() { echo "vs_pprof.sh: $*" >&2; exit 1; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# --- tools -------------------------------------------------------------------------------------
# GNU time (for peak RSS, %M).
if ! /usr/bin/time -f '%e %M' true >/dev/null 2>&1; then
  echo "installing GNU time ..." >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
  /usr/bin/time -f '%e %M' true >/dev/null 2>&1 || die "/usr/bin/time (GNU time) still unusable"
fi

want_pprof=1 want_heapcost=1
[[ $ONLY == heapcost ]] && want_pprof=0
[[ $ONLY == pprof ]] && want_heapcost=0

pprof=
if (( want_pprof )); then
  if [[ -n ${PPROF:-} ]]; then pprof=$PPROF
  elif command -v pprof >/dev/null 2>&1; then pprof=$(command -v pprof)
  else
    [[ -f ../shared/tools/install-pprof.sh ]] || die "pprof not found and ../shared/tools/install-pprof.sh missing"
    echo "installing pprof with ../shared/tools/install-pprof.sh ..." >&2
    pprof=$(as_root bash ../shared/tools/install-pprof.sh | tail -n1)
  fi
  [[ -x $pprof ]] || die "pprof not executable: $pprof"
fi

heapcost=
if (( want_heapcost )); then
  if [[ -n ${HEAPCOST:-} ]]; then
    heapcost=$HEAPCOST
  else
    heapcost=target/release/heapcost
    # Always let cargo decide (a no-op when up to date), so a stale binary is never timed.
    if [[ ${NO_BUILD:-0} != 1 || ! -x $heapcost ]]; then
      command -v cargo >/dev/null 2>&1 || { [[ -f $HOME/.cargo/env ]] && . "$HOME/.cargo/env"; }
      command -v cargo >/dev/null 2>&1 || die "cargo not found; cannot build $heapcost"
      echo "cargo build --release ..." >&2
      cargo build --release --quiet || die "cargo build --release failed"
    fi
  fi
  [[ -x $heapcost ]] || die "heapcost binary not executable: $heapcost"
fi

# --- input -------------------------------------------------------------------------------------
corpus=${CORPUS:-../shared/corpus}
shopt -s nullglob
files=("$corpus"/envoy-1.34-ext-proc-full-duplex/envoy.prof.*.heap)
shopt -u nullglob
(( ${#files[@]} == 13 )) || die "expected 13 envoy.prof.*.heap files under $corpus/envoy-1.34-ext-proc-full-duplex, found ${#files[@]}"

# pprof looks for the profiled binaries (here /usr/local/bin/envoy and the libc of the profiled
# machine) and, not finding them, prints warnings and reports addresses per mapping. That is what
# a user without the 434 MB envoy-static gets, so it is the main case. PPROF_BINARY_PATH is
# cleared so a local setting cannot turn on real symbolization and change what is measured.
unset PPROF_BINARY_PATH

# --- cases -------------------------------------------------------------------------------------
# name | stderr (pprof's goes to /dev/null, as for a user who ignores the warnings) | command
names=() labels=() stderrs=()
declare -A cmd
add_case() { names+=("$1"); labels+=("$2"); stderrs+=("$3"); shift 3; cmd[${names[-1]}]=$(printf '%q ' "$@"); }
(( want_heapcost )) && add_case heapcost "heapcost top (default: 20 rows)" keep \
  "$heapcost" top "${files[@]}"
(( want_heapcost )) && add_case heapcost_all "heapcost top --nodecount 0 (all 30k rows)" keep \
  "$heapcost" top --nodecount 0 "${files[@]}"
(( want_pprof )) && add_case pprof "pprof -text -inuse_space (symbolization attempted, fails)" null \
  "$pprof" -text -inuse_space "${files[@]}"
(( want_pprof )) && add_case pprof_nosym "pprof -text -inuse_space -symbolize=none" null \
  "$pprof" -text -inuse_space -symbolize=none "${files[@]}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vs_pprof.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run_once CASE IDX -> appends "wall_s rss_kib" to $tmp/CASE.times (IDX 0 = warm-up, not recorded)
# Wall time is taken with bash's microsecond clock around the process; GNU time's own %e has only
# 10 ms resolution, too coarse for a fast tool. Both include GNU time's fork/exec (~1 ms), alike
# for every case. Peak RSS is GNU time's %M (max resident set size, KiB).
run_once() {
  local c=$1 i=$2 i_cmd rc t0 t1 err=/dev/null
  eval "i_cmd=(${cmd[$c]})"
  [[ ${stderrs[$3]} == keep ]] && err=$tmp/$c.err
  t0=$EPOCHREALTIME
  set +e
  /usr/bin/time -o "$tmp/$c.time" -f '%e %M' "${i_cmd[@]}" >"$tmp/$c.out" 2>"$err"
  rc=$?
  set -e
  t1=$EPOCHREALTIME
  if (( rc != 0 )) || [[ ! -s $tmp/$c.out ]]; then
    local why="exit status $rc"; (( rc == 0 )) && why="exit status 0 but no output on stdout"
    echo "FAILED: $c ($why)" >&2
    echo "command: ${cmd[$c]}" >&2
    if [[ $err == /dev/null ]]; then   # rerun once to show why
      "${i_cmd[@]}" 2>&1 >/dev/null | tail -n 20 >&2 || true
    else
      tail -n 20 "$err" >&2
    fi
    exit 1
  fi
  (( i == 0 )) && return 0
  local gnu; gnu=$(tail -n1 "$tmp/$c.time")
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  echo "$wall ${gnu#* } ${gnu%% *}" >> "$tmp/$c.times"
  printf '  run %2d  %-12s wall %8.3f s  (GNU time %%e %5s s)  peak RSS %8.1f MiB\n' \
    "$i" "$c" "$wall" "${gnu%% *}" "$(awk -v k="${gnu#* }" 'BEGIN { print k / 1024 }')"
}

echo "heapcost vs pprof: ${#files[@]} envoy dumps merged, inuse_space; $N timed run(s) per case after $WARMUP warm-up(s), cases interleaved"
for k in "${!names[@]}"; do echo "  ${names[k]}: ${cmd[${names[k]}]}"; done | sed "s|$corpus/envoy-1.34-ext-proc-full-duplex/envoy.prof.[0-9]*.heap ||g; s|\$| <13 files>|"
for ((w = 0; w < WARMUP; w++)); do for k in "${!names[@]}"; do run_once "${names[k]}" 0 "$k"; done; done
for ((i = 1; i <= N; i++)); do for k in "${!names[@]}"; do run_once "${names[k]}" "$i" "$k"; done; done

# --- summary -----------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.4f", v[(NR + 1) / 2]; else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A wall rss
for c in "${names[@]}"; do
  wall[$c]=$(cut -d' ' -f1 "$tmp/$c.times" | median)
  rss[$c]=$(cut -d' ' -f2 "$tmp/$c.times" | sort -n | tail -n1)
done

echo
echo "first lines of each tool's output (last run):"
for c in "${names[@]}"; do echo "--- $c"; head -n 6 "$tmp/$c.out"; done

ratio_lines=()
if (( want_heapcost && want_pprof )); then
  for h in heapcost heapcost_all; do
    hwhat="heapcost top"; [[ $h == heapcost_all ]] && hwhat="heapcost top --nodecount 0"
    for p in pprof pprof_nosym; do
      what="pprof -text"; [[ $p == pprof_nosym ]] && what="pprof -text -symbolize=none"
      speed=$(awk -v h="${wall[$h]}" -v p="${wall[$p]}" -v w="$what" -v hw="$hwhat" 'BEGIN {
        if (h <= 0) { print "?"; exit } r = p / h
        if (r >= 1) printf "%s is %.1fx faster than %s", hw, r, w; else printf "%s is %.1fx slower than %s", hw, 1 / r, w }')
      mem=$(awk -v h="${rss[$h]}" -v p="${rss[$p]}" 'BEGIN { printf "%.0f", 100 * h / p }')
      ratio_lines+=("speed: $speed; peak memory: ${mem}% of ${what}'s")
    done
  done
fi

pprof_ver=$(dpkg -s golang-github-google-pprof-dev 2>/dev/null | awk '/^Version:/ { print $2 }')
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit"); [[ -n $(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]] && rev+=" (+ uncommitted changes)"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)

if (( ${#ratio_lines[@]} )); then echo; printf '%s\n' "${ratio_lines[@]}"; fi
echo
echo "Markdown (paste into the README):"
echo
echo "13 Envoy gperftools heap dumps merged (\`../shared/corpus/envoy-1.34-ext-proc-full-duplex/envoy.prof.*.heap\`, 13 MiB), inuse_space;"
versions=(); (( want_heapcost )) && versions+=("heapcost ${rev}"); (( want_pprof )) && versions+=("pprof ${pprof_ver:-(unknown version)}")
echo "median wall time of $N runs, max peak RSS; $(date -u +%Y-%m-%d), ${cpu:-unknown CPU} x $(nproc) CPUs, $(IFS=,; echo "${versions[*]}" | sed 's/,/, /g')."
echo
echo "| tool | command (+ the 13 files) | median wall time | max peak RSS |"
echo "|---|---|---:|---:|"
for k in "${!names[@]}"; do
  c=${names[k]}
  case $c in
    heapcost)    tool=heapcost; shown="heapcost top";;
    heapcost_all) tool="heapcost, every row"; shown="heapcost top --nodecount 0";;
    pprof)       tool="pprof (tries to symbolize, binaries absent)"; shown="pprof -text -inuse_space";;
    pprof_nosym) tool="pprof, no symbolization"; shown="pprof -text -inuse_space -symbolize=none";;
  esac
  printf '| %s | `%s` | %.3f s | %.1f MiB |\n' "$tool" "$shown" "${wall[$c]}" "$(awk -v k="${rss[$c]}" 'BEGIN { print k / 1024 }')"
done
if (( ${#ratio_lines[@]} )); then
  echo
  printf -- '- %s\n' "${ratio_lines[@]}"
fi
