#!/usr/bin/env bash
# Rebuilds mini-envoy and refreshes fixtures/mini-envoy/ (binaries, heap dumps, ground truth, and
# google/pprof's names for every dump). `cargo test` only reads the committed results.
#
# Needs (Debian bookworm): g++ (12), lld, libgoogle-perftools-dev, liblua5.1-0-dev, binutils
# (objcopy, strip, readelf, addr2line, dwp), llvm (llvm-symbolizer, which pprof runs), python3 and
# google/pprof
# (../../../shared/tools/install-pprof.sh builds it from Debian's source package).
# It takes under a minute.
#
# Environment:
#   MINI_ENVOY_FIXTURES  output directory (default: <repo>/fixtures/mini-envoy)
#   MINI_ENVOY_RUN_ROOT  where the program runs from (default: /opt/mini-envoy); must not exist,
#                        is created and removed again. The dumps record this path, not the
#                        fixture's: a profile whose binary has moved since it ran.
#   CXX, PPROF           compiler and pprof (default: g++, pprof)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${MINI_ENVOY_FIXTURES:-$repo/fixtures/mini-envoy}
run_root=${MINI_ENVOY_RUN_ROOT:-/opt/mini-envoy}
CXX=${CXX:-g++}
PPROF=${PPROF:-pprof}

for tool in "$CXX" ld.lld objcopy strip readelf addr2line dwp llvm-symbolizer python3 "$PPROF"; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found" >&2; exit 1; }
done
[[ -f /usr/include/gperftools/heap-profiler.h ]] || { echo "build.sh: install libgoogle-perftools-dev" >&2; exit 1; }
[[ -f /usr/include/lua5.1/lua.h ]] || { echo "build.sh: install liblua5.1-0-dev" >&2; exit 1; }
if [[ -e $run_root ]]; then
  echo "build.sh: $run_root exists; remove it or set MINI_ENVOY_RUN_ROOT" >&2
  exit 1
fi

build=$(mktemp -d /tmp/mini-envoy-build.XXXXXX)
created_run_root=
cleanup() {
  rm -rf "$build"
  if [[ -n $created_run_root ]]; then rm -rf "$run_root"; fi
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------ build
# Fixed flags: -O2 -g (inlining on, DWARF 5 as g++ 12 emits it), PIE, lld (which, as in Envoy's
# builds, puts an r-- PT_LOAD before r-x, so text's virtual address differs from its file
# offset), a SHA-1 GNU build id. -fno-optimize-sibling-calls keeps every call of the documented
# call paths as a frame (g++ would otherwise turn some final calls into jumps). Source paths in
# DWARF are made repo-relative, so the same toolchain rebuilds the same bytes (same build ids).
common=(-std=c++17 -O2 -g -fno-optimize-sibling-calls -Wall -Wextra
        "-ffile-prefix-map=$here=envoy-gperftools/mini-envoy")
link=(-fuse-ld=lld -Wl,--build-id=sha1)
srcs=(main.cc buffer_grpc.cc http.cc ext_proc.cc filters.cc stats.cc ground_truth.cc)
libs=(-L"$build" -lmini_envoy_ext -Wl,-rpath,'$ORIGIN' -llua5.1 -ltcmalloc)

cd "$here"
mkdir -p "$build/split"
"$CXX" "${common[@]}" -fPIC -shared "${link[@]}" -Wl,-soname,libmini_envoy_ext.so \
  -o "$build/libmini_envoy_ext.so" proxy_wasm.cc
# The executable's DWARF is zlib-compressed (-gz), as Debian and Fedora ship theirs, to keep
# fixtures/ small (3.5 MB -> 1.3 MB); the shared library's stays uncompressed.
"$CXX" "${common[@]}" -gz=zlib -I/usr/include/lua5.1 -fPIE -pie "${link[@]}" \
  -o "$build/mini-envoy" "${srcs[@]}" "${libs[@]}"

# Split DWARF: skeleton units in the binary, the rest in .dwo files packed into a .dwp. DWARF 4,
# because with g++ 12's DWARF 5 .dwo files binutils 2.40's dwp writes a package whose string
# offsets are wrong (llvm-symbolizer then reads garbage names) and llvm-dwp 14 does not finish.
split_objs=()
for src in "${srcs[@]}"; do
  obj=$build/split/${src%.cc}.o
  (cd "$build/split" && "$CXX" "${common[@]}" -gdwarf-4 -gsplit-dwarf \
     "-ffile-prefix-map=$build/split=." -I"$here" -I/usr/include/lua5.1 -fPIE \
     -c "$here/$src" -o "${src%.cc}.o")
  split_objs+=("$obj")
done
"$CXX" -fPIE -pie "${link[@]}" -o "$build/split/mini-envoy.full" "${split_objs[@]}" "${libs[@]}"
if ! (cd "$build/split" && dwp -e mini-envoy.full -o mini-envoy.dwp.full 2>"$build/dwp.log"); then
  echo "build.sh: dwp failed:" >&2
  cat "$build/dwp.log" >&2
  exit 1
fi
dwp_tool="dwp (GNU binutils $(dwp --version | head -1 | awk '{print $NF}')), DWARF 4"
# Size: drop the skeleton's name-lookup accelerator tables (g++ emits them with -gsplit-dwarf
# whatever -gno-pubnames says; symbolizers do not read them) and zlib-compress the package.
objcopy --remove-section=.debug_gnu_pubnames --remove-section=.debug_gnu_pubtypes \
  "$build/split/mini-envoy.full" "$build/split/mini-envoy"
objcopy --compress-debug-sections=zlib "$build/split/mini-envoy.dwp.full" "$build/split/mini-envoy.dwp"

# The text segment's virtual address must differ from its file offset.
read -r text_off text_vaddr < <(readelf -lW "$build/mini-envoy" |
  awk '$1 == "LOAD" && $7 == "R" && $8 == "E" {print $2, $3}')
if [[ $((text_off)) -eq $((text_vaddr)) ]]; then
  echo "build.sh: r-x PT_LOAD has vaddr == offset ($text_vaddr); lld layout expected" >&2
  exit 1
fi

# -------------------------------------------------------------------------------------- run
# The binary runs from $run_root/bin, its system libraries from copies in $run_root/lib, and all
# of it is deleted afterwards: pprof (and heapcost) can then name only what fixtures/ holds
# (mini-envoy, libmini_envoy_ext.so, liblua5.1.so.0), whatever this machine has installed.
mkdir -p "$run_root"/{bin,lib}
created_run_root=1
cp "$build/libmini_envoy_ext.so" "$run_root/bin/"
LD_LIBRARY_PATH=$build ldd "$build/mini-envoy" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
  while read -r soname path; do
    [[ $soname == libmini_envoy_ext.so ]] && continue
    cp -L "$path" "$run_root/lib/$soname"
  done

run_mini_envoy() { # BINARY OUTDIR
  local bin=$1 dir=$2
  cp "$bin" "$run_root/bin/mini-envoy"
  mkdir -p "$dir"
  (cd "$dir" && env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$run_root/lib" \
     HEAP_PROFILE_ALLOCATION_INTERVAL=0 HEAP_PROFILE_INUSE_INTERVAL=0 \
     "$run_root/bin/mini-envoy" "$dir/mini-envoy" >"$dir/ground-truth.json" 2>"$dir/stderr.txt")
  local n
  n=$(find "$dir" -name 'mini-envoy.*.heap' | wc -l)
  if [[ $n -ne 4 ]]; then
    echo "build.sh: expected 4 dumps in $dir, found $n" >&2
    cat "$dir/stderr.txt" >&2
    exit 1
  fi
}
# Both builds run from the same paths, so that their dumps differ only in addresses.
run_mini_envoy "$build/mini-envoy" "$run_root/run"
mv "$run_root/run" "$build/run"
run_mini_envoy "$build/split/mini-envoy" "$run_root/run"
mv "$run_root/run" "$build/run-split"
rm -rf "$run_root"
created_run_root=

# ---------------------------------------------------------------------------------- fixtures
rm -rf "$out"
mkdir -p "$out"/{stripped,nodwarf,split}
cp "$build/mini-envoy" "$build/libmini_envoy_ext.so" "$out/"
cp -L /usr/lib/x86_64-linux-gnu/liblua5.1.so.0 "$out/liblua5.1.so.0"
cp "$build"/run/mini-envoy.000?.heap "$out/"
python3 -m json.tool --indent 1 "$build/run/ground-truth.json" >"$out/ground-truth.json"

build_id() { readelf -nW "$1" 2>/dev/null | awk '/Build ID/ {print $NF}'; }
main_id=$(build_id "$out/mini-envoy")
debug_file=debug/.build-id/${main_id:0:2}/${main_id:2}.debug
mkdir -p "$out/$(dirname "$debug_file")"
# Detached debug info as Debian ships it: found by build id, sections zlib-compressed.
objcopy --only-keep-debug --compress-debug-sections=zlib "$out/mini-envoy" "$out/$debug_file"
# Fully stripped (no .symtab, no DWARF; .dynsym stays), with a .gnu_debuglink to mini-envoy.debug,
# which is a symlink to the build-id file.
objcopy --strip-all "$out/mini-envoy" "$out/stripped/mini-envoy.tmp"
(cd "$out/stripped" && ln -s "../$debug_file" mini-envoy.debug &&
 objcopy --add-gnu-debuglink=mini-envoy.debug mini-envoy.tmp mini-envoy && rm mini-envoy.tmp)
# DWARF removed, .symtab kept: names without inline frames or lines.
strip --strip-debug -o "$out/nodwarf/mini-envoy" "$out/mini-envoy"
# Split DWARF.
cp "$build/split/mini-envoy" "$build/split/mini-envoy.dwp" "$out/split/"
# Envoy's release layout: a stripped production binary with the split build's build id, whose
# names come from the debug files (tests/suite/release_layout.rs lays out dbg/ from split/).
mkdir -p "$out/release"
objcopy --strip-all "$build/split/mini-envoy" "$out/release/mini-envoy"
cp "$build"/run-split/mini-envoy.0001.heap "$out/split/"
python3 -m json.tool --indent 1 "$build/run-split/ground-truth.json" >"$build/split-ground-truth.json"
if cmp -s "$build/split-ground-truth.json" "$out/ground-truth.json"; then
  split_truth="identical to ../ground-truth.json (not copied)"
else
  cp "$build/split-ground-truth.json" "$out/split/ground-truth.json"
  split_truth="differs from ../ground-truth.json: split/ground-truth.json"
fi

# ------------------------------------------------------------------------------------- pprof
# Which symbolizer pprof runs: a logging llvm-symbolizer first on PPROF_TOOLS.
mkdir -p "$build/tools"
cat >"$build/tools/llvm-symbolizer" <<EOF
#!/bin/sh
echo "llvm-symbolizer \$*" >>"$build/tools/log"
exec $(command -v llvm-symbolizer) "\$@"
EOF
chmod +x "$build/tools/llvm-symbolizer"
(cd "$out" && PPROF_TOOLS="$build/tools" PPROF_BINARY_PATH=. "$PPROF" -traces mini-envoy \
   mini-envoy.0001.heap >/dev/null 2>&1)
symbolizer_calls=$(sort -u "$build/tools/log" 2>/dev/null | sed "s|$out/||g" || true)

pprof_traces() { # DIR BINARY DUMP OUTPUT
  (cd "$1" && PPROF_BINARY_PATH=. "$PPROF" -traces "$2" "$3" >"$4" 2>>"$build/pprof-stderr.txt")
}
for dump in "$out"/mini-envoy.000?.heap; do
  base=$(basename "$dump" .heap)
  pprof_traces "$out" mini-envoy "$base.heap" "$base.traces.txt"
done
(cd "$out" && PPROF_BINARY_PATH=. "$PPROF" -raw mini-envoy mini-envoy.0001.heap \
   >mini-envoy.0001.raw.txt 2>>"$build/pprof-stderr.txt")
# Symtab only: expected names when DWARF is missing.
(cd "$out" && PPROF_BINARY_PATH=. "$PPROF" -traces nodwarf/mini-envoy mini-envoy.0001.heap \
   >nodwarf/mini-envoy.0001.traces.txt 2>>"$build/pprof-stderr.txt")
# Split DWARF: llvm-symbolizer reads mini-envoy.dwp beside the binary.
(cd "$out/split" && PPROF_BINARY_PATH=.:.. "$PPROF" -traces mini-envoy mini-envoy.0001.heap \
   >mini-envoy.0001.traces.txt 2>>"$build/pprof-stderr.txt")
if ! grep -q "(inline)" "$out/split/mini-envoy.0001.traces.txt"; then
  echo "build.sh: pprof found no inline frames in split/mini-envoy.dwp" >&2
  exit 1
fi
# The stripped binary with its debuglink.
(cd "$out" && PPROF_BINARY_PATH=. "$PPROF" -traces stripped/mini-envoy mini-envoy.0001.heap \
   >"$build/stripped.traces.txt" 2>>"$build/pprof-stderr.txt")
if diff -q "$build/stripped.traces.txt" "$out/mini-envoy.0001.traces.txt" >/dev/null; then
  stripped_same="identical to mini-envoy.0001.traces.txt (llvm-symbolizer followed the debuglink)"
else
  cp "$build/stripped.traces.txt" "$out/stripped/mini-envoy.0001.traces.txt"
  ndiff=$(diff "$build/stripped.traces.txt" "$out/mini-envoy.0001.traces.txt" | grep -c '^<' || true)
  stripped_same="differs from mini-envoy.0001.traces.txt in $ndiff lines: committed as stripped/mini-envoy.0001.traces.txt"
fi

# ------------------------------------------------------------------------------------ verify
python3 "$here/verify.py" "$out" "$out/mini-envoy" "$out"/mini-envoy.000?.heap |
  tee "$build/verify.txt"
python3 "$here/verify.py" "$out/split:$out" "$out/split/mini-envoy" "$out"/split/mini-envoy.0001.heap |
  tee "$build/verify-split.txt"

# -------------------------------------------------------------------------------- build info
{
  echo "# Generated by envoy-gperftools/mini-envoy/build.sh; do not edit."
  echo
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "g++: $("$CXX" --version | head -1)"
  echo "ld.lld: $(ld.lld --version | head -1)"
  echo "gperftools: $(dpkg-query -W -f '${Package} ${Version}' libgoogle-perftools-dev 2>/dev/null || echo unknown)"
  echo "liblua: $(dpkg-query -W -f '${Package} ${Version}' liblua5.1-0 2>/dev/null || echo unknown)"
  echo "pprof: $(command -v "$PPROF") built from $(dpkg-query -W -f '${Package} ${Version}' golang-github-google-pprof-dev 2>/dev/null || echo 'unknown source')"
  echo "llvm-symbolizer: $(llvm-symbolizer --version | grep -o 'LLVM version [0-9.]*')"
  echo "addr2line: $(addr2line --version | head -1)"
  echo "split DWARF packed by: $dwp_tool"
  echo
  echo "compile: $CXX ${common[*]} [-gz=zlib -fPIE -pie | -fPIC -shared] -fuse-ld=lld -Wl,--build-id=sha1"
  echo "split: same, with -gdwarf-4 -gsplit-dwarf, compiled one file at a time; dwp -e; pubnames removed; .dwp zlib-compressed"
  echo "link: ... ${libs[*]}"
  echo "run: LD_LIBRARY_PATH=$run_root/lib HEAP_PROFILE_ALLOCATION_INTERVAL=0 HEAP_PROFILE_INUSE_INTERVAL=0 $run_root/bin/mini-envoy $run_root/run/mini-envoy > ground-truth.json"
  echo
  echo "pprof ran: $symbolizer_calls"
  echo "stripped/mini-envoy under pprof: $stripped_same"
  echo "split/mini-envoy's ground truth: $split_truth"
  echo
  for f in mini-envoy libmini_envoy_ext.so liblua5.1.so.0 stripped/mini-envoy nodwarf/mini-envoy split/mini-envoy "$debug_file"; do
    echo "build id $f: $(build_id "$out/$f")"
  done
  echo
  echo "readelf -lW mini-envoy (PT_LOAD):"
  readelf -lW "$out/mini-envoy" | awk '$1 == "LOAD"' | sed 's/^ */  /'
  echo "readelf -lW libmini_envoy_ext.so (PT_LOAD):"
  readelf -lW "$out/libmini_envoy_ext.so" | awk '$1 == "LOAD"' | sed 's/^ */  /'
  echo
  echo "pprof stderr (all runs, deduplicated):"
  sort -u "$build/pprof-stderr.txt" | sed "s|$out/||g; s/^/  /"
  echo
  echo "verify.py:"
  sed 's/^/  /' "$build/verify.txt"
  echo "verify.py (split):"
  sed 's/^/  /' "$build/verify-split.txt"
  echo
  echo "files:"
  (cd "$out" && find . -type f -o -type l | sort | while read -r f; do
     if [[ -L $f ]]; then echo "  $f -> $(readlink "$f")"; else printf '  %-55s %9d\n' "$f" "$(stat -c %s "$f")"; fi
   done)
  echo "total: $(du -sb "$out" | cut -f1) bytes"
} >"$out/BUILD-INFO.txt"
# README: the template with the ground-truth table of this build.
text_load() { readelf -lW "$1" | awk '$1 == "LOAD" && $7 == "R" && $8 == "E" {print $2, $3}'; }
main_map=$(grep -m1 'r-xp.*/bin/mini-envoy$' "$out/mini-envoy.0001.heap" | awk '{print $3}')
main_base=$(grep -m1 'r--p 00000000 .*/bin/mini-envoy$' "$out/mini-envoy.0001.heap" | cut -d- -f1)
main_text=$(grep -m1 'r-xp.*/bin/mini-envoy$' "$out/mini-envoy.0001.heap" | cut -d- -f1)
read -r m_off m_vaddr < <(text_load "$out/mini-envoy")
read -r e_off e_vaddr < <(text_load "$out/libmini_envoy_ext.so")
layout="in \`mini-envoy\` text is at file offset \`$m_off\` but virtual address \`$(printf 0x%x "$m_vaddr")\`; the dumps map it as \`r-xp\` with offset \`0x$main_map\` at base + \`$(printf 0x%x $((0x$main_text - 0x$main_base)))\`. \`libmini_envoy_ext.so\` likewise: offset \`$e_off\`, virtual address \`$(printf 0x%x "$e_vaddr")\`."
python3 - "$out/ground-truth.json" "$here/fixtures-README.md" "$layout" >"$out/README.md" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))
rows = ["| path | marker | " + " | ".join("%s %s" % (d["file"][11:15], d["reason"])
                                         for d in truth["dumps"]) + " |",
        "|---|---|" + "---:|" * len(truth["dumps"])]
for key, path in truth["paths"].items():
    rows.append("| `%s` | `%s` | " % (key, path["marker"]) + " | ".join(
        "%d / %d" % (d["paths"][key]["inuse_bytes"], d["paths"][key]["inuse_objects"])
        for d in truth["dumps"]) + " |")
peak = truth["dumps"][2]
total = dec = enc = 0
for s in peak["marker_sets"]:
    paths = set(s["paths"])
    if {"buffer_slice_new_storage", "ext_proc_send_body_chunk"} <= paths:
        total += s["counts"]["inuse_bytes"]
        dec += s["counts"]["inuse_bytes"] if "ext_proc_decode_data" in paths else 0
        enc += s["counts"]["inuse_bytes"] if "ext_proc_encode_data" in paths else 0
split = ("At the peak (dump %s), `newStorage` under `sendBodyChunk` holds %d bytes: %.2f%% via "
         "`decodeData`, %.2f%% via `encodeData`." % (peak["file"][11:15], total,
                                                     100.0 * dec / total, 100.0 * enc / total))
text = open(sys.argv[2]).read()
text = text.replace("@GROUND_TRUTH_TABLE@", "\n".join(rows)).replace("@EXT_PROC_SPLIT@", split)
text = text.replace("@LAYOUT@", sys.argv[3])
sys.stdout.write(text)
PY
echo "build.sh: refreshed $out"
