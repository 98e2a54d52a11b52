#!/usr/bin/env bash
# Capture a real gperftools heap dump of Debian's ceph-osd (Ceph 16.2) under tcmalloc's heap
# profiler, for benches/ceph/bench.sh.
#
# Usage: benches/ceph/setup.sh            (from any directory; as root, or with sudo for apt-get)
# Env:   FORCE=1          capture a new dump even if benches/ceph/out/osd.*.heap exists
#        MON_PORT=46789   loopback port of the monitor (msgr v2); the next free one is used
#        BENCH_SECS=20    duration of `rados bench ... write`
#        SEQ_SECS=8       duration of the following `rados bench ... seq` read
#        KEEP_CLUSTER=1   keep benches/ceph/out/cluster (mon store, OSD block file) afterwards
#
# What it does, all on 127.0.0.1 and all from Debian packages:
#   1. apt-get installs ceph-mon ceph-osd ceph-osd-dbg ceph-common libgoogle-perftools4 time
#      uuid-runtime (skipped when they are installed).
#   2. Creates a throwaway one-monitor cluster under benches/ceph/out/cluster: auth none,
#      msgr v2 on 127.0.0.1 only, one BlueStore OSD on a sparse file, pool size 1, small memory
#      targets. No systemd units, nothing under /etc/ceph or /var/lib/ceph.
#   3. Runs ceph-mon, and ceph-osd with LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=out/osd
#      HEAPPROFILESIGNAL=12 (Debian's ceph-osd is not linked with tcmalloc).
#   4. Creates a pool, runs `rados bench write --no-cleanup` then a short `seq` read, sends
#      SIGUSR2 (12) to the OSD, waits for the dump it writes, stops both daemons (bounded waits,
#      SIGKILL on timeout) and deletes the cluster directory.
# Result: benches/ceph/out/osd.NNNN.heap (the dump taken on SIGUSR2; the automatic dumps
# tcmalloc writes every 1 GiB allocated are deleted) and benches/ceph/out/osd.heap -> that file.
# benches/ceph/out/ is in .gitignore: the dump is large and only valid with this exact build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
cl=$out/cluster
conf=$cl/ceph.conf
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
BENCH_SECS=${BENCH_SECS:-20}
SEQ_SECS=${SEQ_SECS:-8}

die() { echo "setup.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# --- stats of a dump (also used at the end) -----------------------------------------------------
dump_stats() {
  awk '
    /^MAPPED_LIBRARIES:/ { maps = 1; next }
    maps { if (NF) nmap++; if ($NF ~ /^\//) files[$NF] = 1; next }
    /^heap(_v2)?\// { next }
    /^ *[0-9]+: *[0-9]+ \[ *[0-9]+: *[0-9]+\] @/ {
      stacks++
      for (i = 1; i <= NF; i++) if ($i == "@") break
      for (i++; i <= NF; i++) { addrs[$i] = 1; frames++ }
    }
    END {
      nf = 0; for (f in files) nf++; na = 0; for (a in addrs) na++
      printf "stacks %d, frames %d, unique addresses %d, mapping lines %d (%d distinct files)\n", stacks, frames, na, nmap, nf
    }' "$1"
}

shopt -s nullglob
existing=("$out"/osd.[0-9]*.heap)
shopt -u nullglob
if [[ ${FORCE:-0} != 1 && ${#existing[@]} -gt 0 && -s $out/osd.heap ]]; then
  d=$(readlink -f "$out/osd.heap")
  echo "dump exists (FORCE=1 to capture a new one): $d" >&2
  echo "  $(stat -c %s "$d") bytes; $(dump_stats "$d")" >&2
  echo "$d"
  exit 0
fi

# --- packages ------------------------------------------------------------------------------------
pkgs=(ceph-mon ceph-osd ceph-osd-dbg ceph-common libgoogle-perftools4 google-perftools time uuid-runtime)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  log "apt-get install ${missing[*]} (about 110 packages, 400 MB with ceph-osd-dbg) ..."
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Debian's maintainer scripts only enable systemd units; with no systemd nothing is started.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -r $tcmalloc ]] || die "missing $tcmalloc (libgoogle-perftools4)"
bid=$(readelf -n /usr/bin/ceph-osd | awk '/Build ID:/ { print $3 }')
dbg=/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
[[ -r $dbg ]] || die "no debug file $dbg for /usr/bin/ceph-osd (build id $bid): ceph-osd-dbg must match ceph-osd's version"

# --- clean slate ---------------------------------------------------------------------------------
pids=()
# stop_pid PID NAME: SIGTERM, wait up to 30 s, then SIGKILL and wait up to 10 s more.
stop_pid() {
  local pid=$1 name=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
  log "$name ($pid) did not stop in 30 s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
  log "WARNING: $name ($pid) still alive after SIGKILL"
}
# Daemons left over by an interrupted earlier run: only those whose pid file is ours and whose
# command line names our ceph.conf.
stale() {
  local f pid
  for f in "$cl"/run/*.pid; do
    [[ -f $f ]] || continue
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$conf"; then stop_pid "$pid" "stale $(basename "$f" .pid)"; fi
  done
}
cleanup() {
  local rc=$? k
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do stop_pid "${pids[k]}" "daemon"; done
  if (( rc != 0 )); then
    echo "setup.sh failed; daemon logs (last lines):" >&2
    for f in "$cl"/log/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
    echo "(cluster left in $cl for inspection; it is removed on the next run)" >&2
  elif [[ ${KEEP_CLUSTER:-0} != 1 ]]; then
    rm -rf "$cl"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stale
rm -rf "$cl" "$out"/osd.[0-9]*.heap "$out/osd.heap" "$out/osd.0.stderr"
mkdir -p "$cl"/{run,log,crash,mon.a,osd.0,tmp}

port=${MON_PORT:-46789}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((n = 0; n < 50; n++)); do port_busy "$port" || break; port=$((port + 1)); done
port_busy "$port" && die "no free port near ${MON_PORT:-46789}"

fsid=$(uuidgen)
osd_uuid=$(uuidgen)
cat > "$conf" <<EOF
# throwaway cluster written by benches/ceph/setup.sh; loopback only
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$port]
mon_initial_members = a
public_network = 127.0.0.0/8
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_msgr1 = false
ms_bind_msgr2 = true
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_supported = none
run_dir = $cl/run
pid_file = $cl/run/\$name.pid
admin_socket = $cl/run/\$name.asok
log_file = $cl/log/\$name.log
mon_cluster_log_file = $cl/log/cluster.log
crash_dir = $cl/crash
tmp_dir = $cl/tmp
keyring = $cl/keyring
log_to_stderr = false
err_to_stderr = true
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1

[mon]
mon_data = $cl/mon.\$id

[osd]
osd_data = $cl/osd.\$id
osd_objectstore = bluestore
bluestore_block_path = $cl/osd.\$id.block
bluestore_block_create = true
bluestore_block_size = 17179869184
bluestore_block_db_create = false
bluestore_block_wal_create = false
osd_memory_target = 939524096
bluestore_cache_autotune = false
bluestore_cache_size = 268435456
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 2
osd_class_update_on_start = false
EOF
# An empty keyring: with auth none nothing is checked, but mkfs wants the file.
ceph-authtool --create-keyring "$cl/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null

log "cluster $fsid: mon.a on 127.0.0.1:$port (v2), osd.0 BlueStore on a 16 GiB sparse file, in $cl"
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$port]" "$cl/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$cl/monmap" --keyring "$cl/keyring" 2>"$cl/log/mkfs-mon.err" \
  || { cat "$cl/log/mkfs-mon.err" >&2; die "ceph-mon --mkfs failed"; }

ceph-mon -c "$conf" -i a -f 2>>"$cl/log/mon.a.stderr" &
pids+=($!)

cephc() { timeout 60 ceph -c "$conf" --connect-timeout 10 "$@"; }
for ((i = 0; ; i++)); do
  cephc mon stat >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || die "ceph-mon exited"
  (( i < 30 )) || die "monitor not answering after 30 s"
  sleep 1
done
log "monitor up"

id=$(cephc osd new "$osd_uuid")
[[ $id == 0 ]] || die "ceph osd new gave id '$id', expected 0"
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$cl/log/mkfs-osd.out" 2>&1 \
  || { tail -n 20 "$cl/log/mkfs-osd.out" >&2; die "ceph-osd --mkfs failed"; }

# Only the OSD is profiled. HEAP_PROFILE_ALLOCATION_INTERVAL is left at its default (a dump
# every 1 GiB allocated); those automatic dumps are deleted below and only the SIGUSR2 one kept.
LD_PRELOAD=$tcmalloc HEAPPROFILE=$out/osd HEAPPROFILESIGNAL=12 \
  ceph-osd -c "$conf" -i 0 -f 2>>"$cl/log/osd.0.stderr" >>"$cl/log/osd.0.stdout" &
osd_pid=$!
pids+=("$osd_pid")

for ((i = 0; ; i++)); do
  up=$(cephc osd dump -f json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(o["up"] for o in d["osds"]))' 2>/dev/null || echo 0)
  [[ $up == 1 ]] && break
  kill -0 "$osd_pid" 2>/dev/null || die "ceph-osd exited"
  (( i < 90 )) || die "osd.0 not up after 90 s"
  sleep 1
done
log "osd.0 up (pid $osd_pid, tcmalloc heap profiler on)"

pool=bench
cephc osd pool create "$pool" 32 32 replicated >/dev/null 2>&1
cephc osd pool application enable "$pool" rados >/dev/null 2>&1 || true
# Wait until the PGs are active: a write returns only then.
for ((i = 0; ; i++)); do
  timeout 10 rados -c "$conf" -p "$pool" put probe "$conf" >/dev/null 2>&1 && break
  kill -0 "$osd_pid" 2>/dev/null || die "ceph-osd exited"
  (( i < 12 )) || die "pool $pool not writable after 2 min"
  sleep 1
done
rados -c "$conf" -p "$pool" rm probe >/dev/null 2>&1 || true
log "pool $pool active"

log "rados bench $BENCH_SECS s write ..."
timeout $((BENCH_SECS + 120)) rados -c "$conf" -p "$pool" bench "$BENCH_SECS" write --no-cleanup \
  >"$cl/log/bench-write.out" 2>&1 || { tail -n 20 "$cl/log/bench-write.out" >&2; die "rados bench write failed"; }
grep -E '^(Total writes made|Bandwidth \(MB/sec\)|Average IOPS)' "$cl/log/bench-write.out" | sed 's/^/  /' >&2
log "rados bench $SEQ_SECS s seq ..."
timeout $((SEQ_SECS + 120)) rados -c "$conf" -p "$pool" bench "$SEQ_SECS" seq \
  >"$cl/log/bench-seq.out" 2>&1 || { tail -n 20 "$cl/log/bench-seq.out" >&2; die "rados bench seq failed"; }
grep -E '^(Total reads made|Bandwidth \(MB/sec\)|Average IOPS)' "$cl/log/bench-seq.out" | sed 's/^/  /' >&2

# --- the dump --------------------------------------------------------------------------------
shopt -s nullglob
before=("$out"/osd.[0-9]*.heap)
shopt -u nullglob
log "SIGUSR2 to ceph-osd ($osd_pid); ${#before[@]} automatic dump(s) so far"
kill -USR2 "$osd_pid"
dump=
for ((i = 0; i < 600; i++)); do
  shopt -s nullglob
  now=("$out"/osd.[0-9]*.heap)
  shopt -u nullglob
  if (( ${#now[@]} > ${#before[@]} )); then
    dump=$(printf '%s\n' "${now[@]}" | sort -V | tail -n1)
    # tcmalloc writes the stacks, then MAPPED_LIBRARIES and /proc/self/maps; wait for the size to settle.
    s1=-1
    for ((j = 0; j < 100; j++)); do
      s2=$(stat -c %s "$dump"); grep -q '^MAPPED_LIBRARIES:' "$dump" && (( s2 == s1 )) && break
      s1=$s2; sleep 0.2
    done
    break
  fi
  kill -0 "$osd_pid" 2>/dev/null || die "ceph-osd exited after SIGUSR2"
  sleep 0.1
done
[[ -n $dump ]] || die "no new dump 60 s after SIGUSR2"
grep -q '^MAPPED_LIBRARIES:' "$dump" || die "$dump has no MAPPED_LIBRARIES section"
log "dump written: $dump"

for ((k = ${#pids[@]} - 1; k >= 0; k--)); do stop_pid "${pids[k]}" "pid ${pids[k]}"; done
pids=()
for f in "${before[@]}"; do rm -f "$f"; done
# Any dump written after ours (none expected) goes too.
for f in "$out"/osd.[0-9]*.heap; do [[ $f == "$dump" ]] || rm -f "$f"; done
ln -sfn "$(basename "$dump")" "$out/osd.heap"
# tcmalloc's own messages ("Starting tracking the heap", "Dumping heap profile to ...").
cp "$cl/log/osd.0.stderr" "$out/osd.0.stderr" 2>/dev/null || true

echo "dump: $dump" >&2
echo "  $(stat -c %s "$dump") bytes; $(dump_stats "$dump")" >&2
echo "  ceph-osd $(dpkg-query -W -f '${Version}' ceph-osd), build id $bid, debug file $dbg ($(stat -c %s "$dbg") bytes)" >&2
echo "$dump"
