#!/usr/bin/env bash
# Runs every fuzz target of heapcost for N seconds each and prints a summary.
#
# Usage: fuzz/run.sh N [TARGET...]      (from any directory; default: every target)
# Env:   SANITIZER=address|none   (default: address when it builds, else none)
#        RSS_LIMIT_MB=2048        memory limit per input (libFuzzer reports an OOM past it)
#        TIMEOUT=10               seconds per input before libFuzzer reports a hang
#
# Installs cargo-fuzz (crates.io) when missing. The fuzz crate needs nightly
# flags; with the stable toolchain they are unlocked with RUSTC_BOOTSTRAP=1.
# Seed corpora are built in fuzz/seeds/<target>/ from fixtures/ and
# ../shared/corpus/ (small windows of the large dumps); what the fuzzer adds
# goes to fuzz/corpus/<target>/ (kept between runs, not committed). A crash,
# hang or out-of-memory input is written to fuzz/artifacts/<target>/: copy it
# to tests/data/fuzz-regressions/<target>/ once fixed (tests/suite/
# fuzz_regressions.rs runs every file there).
#
# Exit status: 0 when no target found anything, 1 on a finding, 2 on a
# usage or build error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
N=${1:-}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2; }
shift
RSS_LIMIT_MB=${RSS_LIMIT_MB:-2048}
TIMEOUT=${TIMEOUT:-10}

# Every [[bin]] of fuzz/Cargo.toml. (The `budgets` target of issue 6 joins
# the list by being added there.)
mapfile -t all < <(awk '/^\[\[bin\]\]/ { bin = 1; next } bin && /^name *=/ { gsub(/"/, "", $3); print $3; bin = 0 }' "$here/Cargo.toml")
targets=("$@")
(( ${#targets[@]} )) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "unknown target '$t' (known: ${all[*]})" >&2; exit 2; }
done

export RUSTC_BOOTSTRAP=1
command -v cargo >/dev/null || { [[ -f $HOME/.cargo/env ]] && . "$HOME/.cargo/env"; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz ..." >&2
  cargo install cargo-fuzz --locked >&2 || { echo "cannot install cargo-fuzz" >&2; exit 2; }
fi

cd "$here"
san=${SANITIZER:-}
if [[ -z $san ]]; then
  if cargo fuzz build -O -s address >/dev/null 2>"$here/build.log"; then
    san=address
  else
    echo "AddressSanitizer build failed (see fuzz/build.log); building without a sanitizer" >&2
    san=none
  fi
fi
cargo fuzz build -O -s "$san" >/dev/null 2>"$here/build.log" || { tail -n 30 "$here/build.log" >&2; exit 2; }
rm -f "$here/build.log"

# --- seed corpora ---------------------------------------------------------------------------
corpus=$root/../shared/corpus
fixtures=$root/fixtures
seeds=$here/seeds
rm -rf "$seeds"
for t in "${all[@]}"; do mkdir -p "$seeds/$t"; done
# A window of a large text dump: its first LINES lines, then the first 40 lines of its trailer.
window() { # file lines
  awk -v n="$2" 'NR <= n { print; next } /MAPPED_LIBRARIES:|--- Memory map: ---/ { t = 1 } t && m++ < 41 { print }' "$1"
}
trailer() { awk 't && n++ < 120 { print } /MAPPED_LIBRARIES:|--- Memory map: ---/ { t = 1 }' "$1"; }
i=0
for f in "$fixtures"/envoy/*.heap "$fixtures"/mini-envoy/*.heap "$corpus"/envoy-1.34-ext-proc-full-duplex/*.heap; do
  [[ -f $f ]] || continue
  i=$((i + 1))
  window "$f" 12 > "$seeds/gperftools/dump-$i.heap"
  trailer "$f" > "$seeds/maps/trailer-$i.txt"
done
for f in cppbench.heap cppbench.growth gobench.heap; do
  [[ -f $corpus/pprof-testdata/$f ]] && cp "$corpus/pprof-testdata/$f" "$seeds/gperftools/$f"
done
if [[ -f $corpus/pprof-testdata/jemalloc.heap ]]; then
  window "$corpus/pprof-testdata/jemalloc.heap" 200 > "$seeds/jemalloc/jemalloc-200.heap"
  window "$corpus/pprof-testdata/jemalloc.heap" 30 > "$seeds/jemalloc/jemalloc-30.heap"
  trailer "$corpus/pprof-testdata/jemalloc.heap" > "$seeds/maps/trailer-jemalloc.txt"
  for f in cppbench.heap gobench.heap; do trailer "$corpus/pprof-testdata/$f" > "$seeds/maps/trailer-$f.txt"; done
fi
for f in "$fixtures"/pprof-proto/*.pb.gz; do
  b=$(basename "$f" .gz)
  gzip -dc "$f" > "$seeds/pprof/$b"
  cp "$f" "$seeds/gzip/$b.gz"
done
for f in "$seeds"/gperftools/* "$seeds"/jemalloc/*; do gzip -9c "$f" > "$seeds/gzip/$(basename "$f").gz"; done
cp "$seeds"/gperftools/* "$seeds"/jemalloc/* "$seeds"/pprof/* "$seeds"/gzip/* "$seeds/detect/"
cp "$root/src/attribute/envoy.toml" "$seeds/rules/envoy.toml"
awk '/^\[\[/ { n++ } n <= 3 { print }' "$root/src/attribute/envoy.toml" > "$seeds/rules/first-rules.toml"
printf '[[owner]]\nid = "acme_auth"\ntier = "filter"\nprefix = ["Acme::AuthFilter::"]\nexamples = ["Acme::AuthFilter::decodeHeaders"]\n' > "$seeds/rules/user.toml"
printf '[[kind]]\nid = "k"\nname = "$1"\ntier = "specific"\nregex = ["^(\\\\w+)::"]\nexamples = ["Abc::x"]\n' > "$seeds/rules/regex.toml"
# budgets (issue 6): seed it here with the example budgets files once that target exists, e.g.
#   cp "$root"/tests/data/gate/*.toml "$seeds/budgets/" 2>/dev/null || true
# Regression inputs are seeds too: a fixed bug stays covered.
for t in "${all[@]}"; do
  d=$root/tests/data/fuzz-regressions/$t
  [[ -d $d ]] && find "$d" -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$seeds/$t/" \;
done

# --- runs -----------------------------------------------------------------------------------
mkdir -p "$here/logs"
declare -A runs speed size result
found=0
for t in "${targets[@]}"; do
  mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
  log=$here/logs/$t.log
  before=$(ls "$here/artifacts/$t")
  echo "fuzzing $t for ${N}s ($san) ..." >&2
  set +e
  cargo fuzz run -O -s "$san" "$t" "$here/corpus/$t" "$seeds/$t" -- \
    -max_total_time="$N" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_LIMIT_MB" -max_len=65536 \
    -print_final_stats=1 \
    -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  runs[$t]=$(awk '/stat::number_of_executed_units/ { s += $NF } END { print s + 0 }' "$log")
  speed[$t]=$(awk '/stat::average_exec_per_sec/ { s += $NF } END { print s + 0 }' "$log")
  size[$t]=$(find "$here/corpus/$t" -type f | wc -l)
  artifacts=$(comm -13 <(echo "$before") <(ls "$here/artifacts/$t") | sed "s|^|fuzz/artifacts/$t/|" | head -n 3)
  if (( rc == 0 )) && [[ -z $artifacts ]]; then
    result[$t]=ok
  else
    found=1
    kind=$(grep -m1 -o -E "ERROR: libFuzzer: [a-z-]+|panicked at [^ ]+|ERROR: AddressSanitizer: [a-z-]+" "$log" || echo "exit $rc")
    result[$t]="FOUND ($kind): ${artifacts//$'\n'/, }"
  fi
done

echo
printf '%-12s %12s %10s %8s  %s\n' target runs execs/s corpus result
for t in "${targets[@]}"; do
  printf '%-12s %12s %10s %8s  %s\n' "$t" "${runs[$t]}" "${speed[$t]}" "${size[$t]}" "${result[$t]}"
done
echo
echo "$N s per target, sanitizer: $san, $(date -u +%Y-%m-%d), rustc $(rustc --version | awk '{ print $2 }'), cargo-fuzz $(cargo fuzz --version | awk '{ print $2 }'); logs in fuzz/logs/"
exit $found
