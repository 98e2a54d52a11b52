#!/usr/bin/env bash
# Rebuilds mini-envoy-tcmalloc (../mini-envoy's workload, linked against Google tcmalloc), runs it
# once with sampling interval 1 and RUNS times at tcmalloc's default interval, and refreshes
# fixtures/mini-envoy-tcmalloc/: the executable, the profiles, the ground truth and google/pprof's
# outputs for every profile. `cargo test` only reads the committed results.
#
# It does not fetch or build tcmalloc: it takes a Google tcmalloc that was built elsewhere, as a
# shared library, and the two source trees for their headers.
#   TCMALLOC_SRC  google/tcmalloc source tree (headers: tcmalloc/malloc_extension.h, ...)
#   ABSL_SRC      abseil/abseil-cpp source tree, the one that tcmalloc was built with
#   TCMALLOC_SO   that tcmalloc as one shared library, soname libtcmalloc.so: tcmalloc::tcmalloc,
#                 tcmalloc::profile_marshaler and everything they need (abseil, profile.pb.cc),
#                 linked against the system's libprotobuf
#   TCMALLOC_COMMIT, ABSL_COMMIT  the commits of those trees, for BUILD-INFO.txt (default: read
#                 with git from the trees if they are work trees, else "unknown")
#   TCMALLOC_BUILT_WITH  one line for BUILD-INFO.txt on how TCMALLOC_SO was built
# Nothing built from tcmalloc or abseil is written into the repository: the shared library and
# libmini_envoy_profiler.so (profiler.cc, which instantiates abseil's StatusOr) stay in a
# temporary directory; the committed executable only refers to them (NEEDED), which this script
# checks with readelf and nm.
#
# Other needs (Debian bookworm): g++ (12), lld, liblua5.1-0-dev, libprotobuf (the one TCMALLOC_SO
# links), binutils (readelf, nm), llvm-symbolizer, python3, google/pprof
# (../../../shared/tools/install-pprof.sh).
#
# Environment:
#   MINI_ENVOY_FIXTURES  output directory (default: <repo>/fixtures/mini-envoy-tcmalloc)
#   MINI_ENVOY_RUN_ROOT  where the program runs from (default: /opt/mini-envoy-tcmalloc); must not
#                        exist, is created and removed again, so the profiles name files that are
#                        gone (as ../mini-envoy/build.sh does)
#   RUNS                 default-interval runs (default 5)
#   CXX, PPROF           compiler and pprof (default: g++, pprof)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
me=$repo/envoy-gperftools/mini-envoy
out=${MINI_ENVOY_FIXTURES:-$repo/fixtures/mini-envoy-tcmalloc}
run_root=${MINI_ENVOY_RUN_ROOT:-/opt/mini-envoy-tcmalloc}
runs=${RUNS:-5}
CXX=${CXX:-g++}
PPROF=${PPROF:-pprof}
: "${TCMALLOC_SRC:?set TCMALLOC_SRC to a google/tcmalloc source tree}"
: "${ABSL_SRC:?set ABSL_SRC to the abseil-cpp source tree tcmalloc was built with}"
: "${TCMALLOC_SO:?set TCMALLOC_SO to tcmalloc built as a shared library (libtcmalloc.so)}"

for tool in "$CXX" ld.lld readelf nm llvm-symbolizer python3 "$PPROF"; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found" >&2; exit 1; }
done
[[ -f $TCMALLOC_SRC/tcmalloc/malloc_extension.h ]] || { echo "build.sh: no tcmalloc in $TCMALLOC_SRC" >&2; exit 1; }
[[ -f $ABSL_SRC/absl/base/config.h ]] || { echo "build.sh: no abseil in $ABSL_SRC" >&2; exit 1; }
[[ -f $TCMALLOC_SO ]] || { echo "build.sh: $TCMALLOC_SO not found" >&2; exit 1; }
[[ -f /usr/include/lua5.1/lua.h ]] || { echo "build.sh: install liblua5.1-0-dev" >&2; exit 1; }
if [[ -e $run_root ]]; then
  echo "build.sh: $run_root exists; remove it or set MINI_ENVOY_RUN_ROOT" >&2
  exit 1
fi
commit_of() { git -C "$1" rev-parse HEAD 2>/dev/null || echo unknown; }
TCMALLOC_COMMIT=${TCMALLOC_COMMIT:-$(commit_of "$TCMALLOC_SRC")}
ABSL_COMMIT=${ABSL_COMMIT:-$(commit_of "$ABSL_SRC")}
TCMALLOC_BUILT_WITH=${TCMALLOC_BUILT_WITH:-unknown}

build=$(mktemp -d /tmp/mini-envoy-tcmalloc-build.XXXXXX)
created_run_root=
cleanup() {
  rm -rf "$build"
  if [[ -n $created_run_root ]]; then rm -rf "$run_root"; fi
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------ build
# ../mini-envoy/build.sh's flags, plus -fno-omit-frame-pointer: tcmalloc takes its stacks with
# abseil's x86-64 frame-pointer unwinder (absl::GetStackTrace), which stops at the first frame
# without one (TCMALLOC_SO must be built with it too). Frames in Debian's liblua5.1 and libstdc++,
# built without frame pointers, can end a stack early or hide their caller. main.cc and the workload come unchanged from ../mini-envoy;
# include/gperftools/heap-profiler.h stands in front of gperftools' header (which need not be
# installed); ground_truth_tcmalloc.cc replaces ../mini-envoy/ground_truth.cc.
common=(-std=c++17 -O2 -g -fno-optimize-sibling-calls -fno-omit-frame-pointer -Wall -Wextra
        "-ffile-prefix-map=$here=envoy-gperftools/mini-envoy-tcmalloc"
        "-ffile-prefix-map=$me=envoy-gperftools/mini-envoy"
        "-ffile-prefix-map=$TCMALLOC_SRC=tcmalloc" "-ffile-prefix-map=$ABSL_SRC=abseil-cpp")
inc=(-I"$here/include" -I"$me" -I"$TCMALLOC_SRC" -I"$ABSL_SRC" -I/usr/include/lua5.1)
link=(-fuse-ld=lld -Wl,--build-id=sha1)
srcs=("$me/main.cc" "$me/buffer_grpc.cc" "$me/http.cc" "$me/ext_proc.cc" "$me/filters.cc"
      "$me/stats.cc" "$here/ground_truth_tcmalloc.cc")
mkdir -p "$build/lib"
cp "$TCMALLOC_SO" "$build/lib/libtcmalloc.so"
"$CXX" "${common[@]}" -fPIC -shared "${link[@]}" -Wl,-soname,libmini_envoy_ext.so \
  -o "$build/libmini_envoy_ext.so" "$me/proxy_wasm.cc"
# Envoy's profiler (profiler.cc) in a library of its own: it instantiates abseil templates
# (StatusOr), so it is not committed. It calls the ledger's mini_envoy:: functions in the
# executable, which therefore exports them.
"$CXX" "${common[@]}" "${inc[@]}" -fPIC -shared "${link[@]}" -Wl,-soname,libmini_envoy_profiler.so \
  -o "$build/libmini_envoy_profiler.so" "$here/profiler.cc" "$build/lib/libtcmalloc.so"
libs=(-L"$build" -lmini_envoy_ext -lmini_envoy_profiler -Wl,-rpath,'$ORIGIN' -llua5.1
      "$build/lib/libtcmalloc.so")
# DWARF zlib-compressed (-gz), as ../mini-envoy/build.sh does for its executable.
"$CXX" "${common[@]}" -gz=zlib "${inc[@]}" -fPIE -pie "${link[@]}" \
  '-Wl,--export-dynamic-symbol=_ZN10mini_envoy*' \
  -o "$build/mini-envoy-tcmalloc" "${srcs[@]}" "${libs[@]}"

# The executable must hold none of tcmalloc's or abseil's code: they come from NEEDED libraries.
needed=$(readelf -dW "$build/mini-envoy-tcmalloc" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}' | tr '\n' ' ')
for lib in libtcmalloc.so libmini_envoy_profiler.so; do
  [[ " $needed " == *" $lib "* ]] || { echo "build.sh: $lib is not NEEDED ($needed)" >&2; exit 1; }
done
foreign=$(nm -C --defined-only "$build/mini-envoy-tcmalloc" | awk '{ $1 = ""; $2 = ""; print }' |
          grep -E '^ *(absl|tcmalloc)::|TCMalloc|MallocExtension' || true)
if [[ -n $foreign ]]; then
  echo "build.sh: mini-envoy-tcmalloc defines tcmalloc or abseil symbols:" >&2
  echo "$foreign" >&2
  exit 1
fi
[[ -z $(nm -D --defined-only "$build/mini-envoy-tcmalloc" | awk '$3 == "malloc" || $3 == "_Znwm"') ]] ||
  { echo "build.sh: mini-envoy-tcmalloc defines malloc or operator new" >&2; exit 1; }

# -------------------------------------------------------------------------------------- run
# From $run_root/bin (the executable and its own two libraries) with its system libraries and
# tcmalloc copied into $run_root/lib; all of it is deleted afterwards.
mkdir -p "$run_root"/{bin,lib}
created_run_root=1
cp "$build/mini-envoy-tcmalloc" "$build/libmini_envoy_ext.so" "$build/libmini_envoy_profiler.so" \
  "$run_root/bin/"
LD_LIBRARY_PATH=$build:$build/lib ldd "$build/mini-envoy-tcmalloc" |
  awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
  while read -r soname path; do
    [[ $soname == libmini_envoy_ext.so || $soname == libmini_envoy_profiler.so ]] && continue
    cp -L "$path" "$run_root/lib/$soname"
  done
run_one() { # NAME INTERVAL(empty: default)
  local dir=$run_root/$1
  mkdir -p "$dir"
  (cd "$dir" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$run_root/lib" \
     MINI_ENVOY_TCMALLOC_SAMPLING_INTERVAL="$2" \
     "$run_root/bin/mini-envoy-tcmalloc" "$dir/mini-envoy" >"$dir/ground-truth.raw.json" 2>"$dir/stderr.txt") ||
    { echo "build.sh: run $1 failed:" >&2; cat "$dir/stderr.txt" >&2; exit 1; }
  local n
  n=$(find "$dir" -name 'mini-envoy.*.pb.gz' | wc -l)
  if [[ $n -ne 6 ]]; then
    echo "build.sh: expected 6 profiles in $dir, found $n" >&2
    exit 1
  fi
  python3 -m json.tool --indent 1 "$dir/ground-truth.raw.json" >"$dir/ground-truth.json"
  rm "$dir/ground-truth.raw.json"
  [[ -s $dir/stderr.txt ]] || rm "$dir/stderr.txt"
  mv "$dir" "$build/runs/$1"
}
mkdir -p "$build/runs"
run_one interval-1 1
for i in $(seq 1 "$runs"); do run_one "default-$i" ""; done
rm -rf "$run_root"
created_run_root=

# ---------------------------------------------------------------------------------- fixtures
rm -rf "$out"
mkdir -p "$out"
cp "$build/mini-envoy-tcmalloc" "$out/"
# libmini_envoy_ext.so and liblua5.1.so.0: the same files as ../mini-envoy's when the build ids
# match (then not copied; pprof finds them with PPROF_BINARY_PATH=.:../mini-envoy).
build_id() { readelf -nW "$1" 2>/dev/null | awk '/Build ID/ {print $NF}'; }
shared_note=
search=.
if [[ -f $repo/fixtures/mini-envoy/libmini_envoy_ext.so &&
      $(build_id "$build/libmini_envoy_ext.so") == $(build_id "$repo/fixtures/mini-envoy/libmini_envoy_ext.so") &&
      $(build_id /usr/lib/x86_64-linux-gnu/liblua5.1.so.0) == $(build_id "$repo/fixtures/mini-envoy/liblua5.1.so.0") ]]; then
  shared_note="libmini_envoy_ext.so and liblua5.1.so.0: identical (same build ids) to ../mini-envoy/'s, not copied"
  search=.:../mini-envoy
else
  cp "$build/libmini_envoy_ext.so" "$out/"
  cp -L /usr/lib/x86_64-linux-gnu/liblua5.1.so.0 "$out/liblua5.1.so.0"
  shared_note="libmini_envoy_ext.so and liblua5.1.so.0: copied (they differ from ../mini-envoy/'s)"
fi
for r in interval-1 $(seq -f 'default-%g' 1 "$runs"); do
  cp -r "$build/runs/$r" "$out/$r"
done

# ------------------------------------------------------------------------------------- pprof
# Every output is made from $out with only the committed files (and ../mini-envoy's) to find:
# tcmalloc's own frames (libtcmalloc.so) and the profiler's (libmini_envoy_profiler.so) stay
# unnamed, and drop_frames therefore removes nothing of them. pprof-commands.txt lists each
# command.
cmds=$out/pprof-commands.txt
: >"$cmds"
: >"$build/pprof-stderr.txt"
pp() { # OUTPUT ARGS...: run pprof from $out, record the command
  local output=$1
  shift
  echo "(cd fixtures/mini-envoy-tcmalloc && PPROF_BINARY_PATH=$search pprof $* > $output)" >>"$cmds"
  (cd "$out" && PPROF_BINARY_PATH=$search "$PPROF" "$@" >"$output" 2>>"$build/pprof-stderr.txt")
}
sample_types() { # PROFILE -> its sample types (type/unit), one a line
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import verify; print("\n".join(t for t in verify.profile_facts(sys.argv[2])["sample_types"]))' "$here" "$1"
}
for prof in $(cd "$out" && find . -name '*.pb.gz' | sed 's|^\./||' | sort); do
  base=${prof%.pb.gz}
  pp "$base.raw.txt" -symbolize=local -raw mini-envoy-tcmalloc "$prof"
  pp "$base.traces.txt" -symbolize=local -traces mini-envoy-tcmalloc "$prof"
  for st in $(sample_types "$out/$prof"); do
    name=${st%/*}
    unit=${st#*/}
    [[ $unit == bytes ]] && u=B || u=$unit
    pp "$base.top.$name.txt" -symbolize=local -top -nodecount=100000 -nodefraction=0 \
      -edgefraction=0 -unit="$u" -sample_index="$name" mini-envoy-tcmalloc "$prof"
  done
done
# For reference: the traces of one heap profile with tcmalloc's library at hand (its frames named,
# so drop_frames applies, as it does for a real envoy-static, whose tcmalloc is linked in).
ref=interval-1/mini-envoy.0003.heap
cp "$build/lib/libtcmalloc.so" "$build/libmini_envoy_profiler.so" "$out/"
echo "(cd fixtures/mini-envoy-tcmalloc && PPROF_BINARY_PATH=$search pprof -symbolize=local -traces mini-envoy-tcmalloc $ref.pb.gz > $ref.traces.with-tcmalloc.txt)  # with libtcmalloc.so and libmini_envoy_profiler.so (not committed) beside mini-envoy-tcmalloc" >>"$cmds"
(cd "$out" && PPROF_BINARY_PATH=$search "$PPROF" -symbolize=local -traces mini-envoy-tcmalloc \
   "$ref.pb.gz" >"$ref.traces.with-tcmalloc.txt" 2>>"$build/pprof-stderr.txt")
rm "$out/libtcmalloc.so" "$out/libmini_envoy_profiler.so"

# ------------------------------------------------------------------------------------ verify
# Recorded in BUILD-INFO.txt; a failure does not stop the script (known: stacks that tcmalloc's
# frame-pointer unwinder cut short, see the fixtures README).
verify_status=0
(cd "$out" && python3 "$here/verify.py" --exact "$search" mini-envoy-tcmalloc interval-1) \
  >"$build/verify.txt" || verify_status=$?
for i in $(seq 1 "$runs"); do
  (cd "$out" && python3 "$here/verify.py" "$search" mini-envoy-tcmalloc "default-$i") |
    tee -a "$build/verify-default.txt"
done

# -------------------------------------------------------------------------------- build info
{
  echo "# Generated by envoy-gperftools/mini-envoy-tcmalloc/build.sh; do not edit."
  echo
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "g++: $("$CXX" --version | head -1)"
  echo "ld.lld: $(ld.lld --version | head -1)"
  echo "google/tcmalloc: commit $TCMALLOC_COMMIT"
  echo "abseil/abseil-cpp: commit $ABSL_COMMIT"
  echo "libtcmalloc.so (not committed): $TCMALLOC_BUILT_WITH"
  echo "libtcmalloc.so build id: $(build_id "$build/lib/libtcmalloc.so"), NEEDED: $(readelf -dW "$build/lib/libtcmalloc.so" | awk '/NEEDED/ {gsub(/[][]/, "", $NF); print $NF}' | tr '\n' ' ')"
  echo "libprotobuf: $(dpkg-query -W -f '${Package} ${Version}' libprotobuf32 2>/dev/null || echo unknown)"
  echo "liblua: $(dpkg-query -W -f '${Package} ${Version}' liblua5.1-0 2>/dev/null || echo unknown)"
  echo "pprof: $(command -v "$PPROF") built from $(dpkg-query -W -f '${Package} ${Version}' golang-github-google-pprof-dev 2>/dev/null || echo 'unknown source')"
  echo "llvm-symbolizer: $(llvm-symbolizer --version | grep -o 'LLVM version [0-9.]*')"
  echo
  echo "compile: $CXX ${common[*]} [-gz=zlib -fPIE -pie | -fPIC -shared] -fuse-ld=lld -Wl,--build-id=sha1" | sed "s|$TCMALLOC_SRC|TCMALLOC_SRC|g; s|$ABSL_SRC|ABSL_SRC|g"
  echo "executable: main.cc buffer_grpc.cc http.cc ext_proc.cc filters.cc stats.cc (../mini-envoy) + ground_truth_tcmalloc.cc; -Wl,--export-dynamic-symbol=_ZN10mini_envoy*; -lmini_envoy_ext -lmini_envoy_profiler -Wl,-rpath,\$ORIGIN -llua5.1 libtcmalloc.so"
  echo "libmini_envoy_profiler.so (not committed): profiler.cc, libtcmalloc.so"
  echo "mini-envoy-tcmalloc NEEDED: $needed"
  echo "mini-envoy-tcmalloc defines no absl::, tcmalloc::, TCMalloc* or MallocExtension* symbol, nor malloc or operator new (nm)"
  echo "run: LD_LIBRARY_PATH=$run_root/lib [MINI_ENVOY_TCMALLOC_SAMPLING_INTERVAL=1] $run_root/bin/mini-envoy-tcmalloc $run_root/RUN/mini-envoy > RUN/ground-truth.json"
  echo "runs: interval-1 (MINI_ENVOY_TCMALLOC_SAMPLING_INTERVAL=1), default-1..$runs (tcmalloc's default interval; its sampler is seeded from the cycle counter and a thread address, so every run samples differently)"
  echo "$shared_note"
  echo
  for f in mini-envoy-tcmalloc; do
    echo "build id $f: $(build_id "$out/$f")"
  done
  echo "build id libmini_envoy_ext.so: $(build_id "$build/libmini_envoy_ext.so")"
  echo "build id libmini_envoy_profiler.so (not committed): $(build_id "$build/libmini_envoy_profiler.so")"
  echo
  echo "profiles (read by verify.py's own protobuf decoder):"
  for prof in $(cd "$out" && find . -name '*.pb.gz' | sed 's|^\./||' | sort); do
    python3 -c '
import sys; sys.path.insert(0, sys.argv[1]); import verify
f = verify.profile_facts(sys.argv[2])
print("  %s: %d samples, sample types %s, default %s, period %d (%s), time_nanos %d, duration_nanos %d, %d mappings, labels [%s], keep_frames %r" % (
    sys.argv[3], f["samples"], " ".join(f["sample_types"]), f["default_sample_type"], f["period"],
    f["period_type"], f["time_nanos"], f["duration_nanos"], f["mappings"], ", ".join(f["label_keys"]),
    f["keep_frames"]))' "$here" "$out/$prof" "$prof"
  done
  echo "  drop_frames (the same in every profile):"
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import verify; print("    " + verify.profile_facts(sys.argv[2])["drop_frames"])' "$here" "$out/interval-1/mini-envoy.0001.heap.pb.gz"
  echo
  echo "pprof stderr (all runs, deduplicated):"
  sort -u "$build/pprof-stderr.txt" | sed "s|$out/||g; s/^/  /"
  echo
  echo "verify.py --exact (interval-1): exit status $verify_status, $(grep -c '^FAIL' "$build/verify.txt" || true) FAIL lines"
  sed 's/^/  /' "$build/verify.txt"
  echo "verify.py (default interval):"
  sed 's/^/  /' "$build/verify-default.txt"
  echo
  echo "files:"
  (cd "$out" && find . -type f | sort | while read -r f; do
     printf '  %-60s %9d\n' "$f" "$(stat -c %s "$f")"
   done)
  echo "total: $(du -sb "$out" | cut -f1) bytes"
} >"$out/BUILD-INFO.txt"
cp "$here/fixtures-README.md" "$out/README.md"
echo "build.sh: refreshed $out"
