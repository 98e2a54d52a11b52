#!/usr/bin/env bash
# Collects heap profiles from a running gperftools build of Envoy (see Dockerfile and envoy.yaml):
# enables the heap profiler through the admin endpoint, drives load through the listener,
# disables the profiler (Envoy then writes a last dump), and copies the dumps, the Envoy binary
# (and its .dwp) and their build ids into one directory, ready for heapcost.
#
# Usage: collect.sh [options]
#   -a URL    admin endpoint                  (default http://127.0.0.1:9901)
#   -u URL    where to send the load          (default http://127.0.0.1:10000/upload)
#   -b PATH   the running Envoy binary        (default: /proc/<pid>/exe of the process listening
#                                              on the admin port, found with `ss`, else
#                                              /usr/local/bin/envoy)
#   -p PATH   admin profile_path of envoy.yaml (default /tmp/envoy-heap/envoy.prof)
#   -n N      requests                        (default 200)
#   -c N      concurrent clients              (default 10)
#   -s MB     body size per request, in MiB   (default 16)
#   -o DIR    output directory                (default ./envoy-heap-<date>)
#
# Loopback only: it refuses admin or load URLs that are not 127.0.0.1, ::1 or localhost.
# Load: `hey` if installed, else `wrk` is not used (it cannot stream a body), else parallel curl.
# It was not run where heapcost is developed (no Envoy there); see README.md.
set -euo pipefail

admin=http://127.0.0.1:9901
url=http://127.0.0.1:10000/upload
binary=
profile_path=/tmp/envoy-heap/envoy.prof
requests=200
clients=10
body_mb=16
out=./envoy-heap-$(date -u +%Y%m%dT%H%M%SZ)

while getopts "a:u:b:p:n:c:s:o:h" opt; do
  case $opt in
    a) admin=$OPTARG ;;
    u) url=$OPTARG ;;
    b) binary=$OPTARG ;;
    p) profile_path=$OPTARG ;;
    n) requests=$OPTARG ;;
    c) clients=$OPTARG ;;
    s) body_mb=$OPTARG ;;
    o) out=$OPTARG ;;
    h) sed -n '2,23p' "$0"; exit 0 ;;
    *) exit 2 ;;
  esac
done

die() { echo "collect.sh: $*" >&2; exit 1; }
loopback() { [[ $1 =~ ^https?://(127\.[0-9.]+|\[::1\]|localhost)(:[0-9]+)?(/|$) ]]; }
loopback "$admin" || die "admin URL $admin is not a loopback address"
loopback "$url" || die "load URL $url is not a loopback address"
command -v curl >/dev/null || die "curl is required"

# 1. Envoy is up and built with gperftools.
server_info=$(curl -fsS "$admin/server_info") || die "no Envoy admin endpoint at $admin"
mkdir -p "$out"
printf '%s\n' "$server_info" >"$out/server_info.json"
if [[ -z $binary ]]; then
  port=${admin##*:}
  port=${port%%/*}
  pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  if [[ -n $pid && -r /proc/$pid/exe ]]; then binary=/proc/$pid/exe; else binary=/usr/local/bin/envoy; fi
fi

# 2. Start the heap profiler. Envoy answers 400 when it was not built with gperftools.
curl -fsS -X POST "$admin/heapprofiler?enable=y" >/dev/null ||
  die "POST /heapprofiler?enable=y failed: is this a --define tcmalloc=gperftools build? Is it already on?"
echo "collect.sh: heap profiler on; dumps go to $profile_path.NNNN.heap"

# 3. Load: $clients clients streaming $body_mb MiB bodies, $requests requests in all.
body=$(mktemp /tmp/collect-body.XXXXXX)
trap 'rm -f "$body"' EXIT
head -c $((body_mb * 1024 * 1024)) /dev/urandom >"$body"
started=$(date +%s)
if command -v hey >/dev/null; then
  hey -n "$requests" -c "$clients" -m POST -T application/octet-stream -D "$body" "$url" \
    >"$out/load.txt" 2>&1 || true
else
  per_client=$(( (requests + clients - 1) / clients ))
  for ((c = 0; c < clients; c++)); do
    (for ((i = 0; i < per_client; i++)); do
       curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
         -H 'content-type: application/octet-stream' --data-binary @"$body" "$url" || true
     done) >>"$out/load.txt" 2>&1 &
  done
  wait
fi
echo "collect.sh: load done in $(( $(date +%s) - started ))s ($(wc -l <"$out/load.txt") lines in load.txt)"

# 4. Stop the profiler: Envoy calls HeapProfilerDump() then HeapProfilerStop().
curl -fsS -X POST "$admin/heapprofiler?enable=n" >/dev/null || die "POST /heapprofiler?enable=n failed"
sleep 1

# 5. Collect: dumps, binary, split DWARF package, build ids.
shopt -s nullglob
dumps=("$profile_path".*.heap)
((${#dumps[@]})) || die "no $profile_path.*.heap files (is this script on the same filesystem as Envoy?)"
cp "${dumps[@]}" "$out/"
cp -L "$binary" "$out/envoy-static"
# Split DWARF: the package sits beside the binary as <binary>.dwp (Bazel's envoy-static.dwp, or
# envoy.dwp in the Dockerfile's image).
real=$(readlink -f "$binary")
for dwp in "$real.dwp" "$(dirname "$real")/envoy.dwp" "$(dirname "$real")/envoy-static.dwp"; do
  if [[ -s $dwp ]]; then
    cp "$dwp" "$out/envoy-static.dwp"
    break
  fi
done
{
  echo "binary: $real"
  echo "envoy-static build id: $(readelf -n "$out/envoy-static" 2>/dev/null | awk '/Build ID/ {print $NF}')"
  if [[ -f $out/envoy-static.dwp ]]; then echo "envoy-static.dwp: copied"; else echo "envoy-static.dwp: none"; fi
  echo "dumps: ${#dumps[@]}"
} | tee "$out/build-id.txt"

# 6. What to run next.
cat <<EOF

Collected into $out. Next:
  heapcost info --binary $out/envoy-static $out/$(basename "$profile_path").*.heap
  heapcost top  --binary $out/envoy-static $out/$(basename "$profile_path").*.heap
EOF
