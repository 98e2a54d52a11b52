#!/usr/bin/env python3
"""Peak memory of a process tree, sampled: treerss.py ROOT_PID [INTERVAL_S]

Polls the descendants of ROOT_PID (not ROOT_PID itself: bench.sh passes GNU time's pid, whose
own ~2 MiB is not the tool's) every INTERVAL_S seconds (default 0.01) until ROOT_PID exits or
turns zombie, then prints one line:

    tree_rss_kib=N tree_anon_kib=N max_procs=N members=comm:KiBxCOUNT,...

- tree_rss_kib: the largest sum of RSS over the descendants alive at one instant. pprof keeps one
  llvm-symbolizer per mapped object file alive (about 30 here) next to itself, so this is the
  memory of the whole tree; but it counts the pages of shared files (libLLVM-14.so, ~55 MiB in
  each llvm-symbolizer) once per process, so it is an upper bound.
- tree_anon_kib: the same sum over RSS minus file-backed shared pages (statm resident - shared):
  the anonymous memory alone, a lower bound (leaves out mapped files, e.g. the debug file).
- max_procs: most descendants alive at once; members: per command name, the largest RSS of one
  process and how many distinct processes of that name ran.
Being sampled, it can miss a peak shorter than the interval. GNU time's %M (the kernel's exact
high-water mark, but of the largest single process) is reported next to it by bench.sh.
(/proc/PID/smaps_rollup would give PSS, but reading it takes ~30 ms for a 2 GiB process.)
"""
import os
import sys
import time

root = int(sys.argv[1])
interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
have_children = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def children(pid):
    kids = []
    if have_children:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids.extend(int(x) for x in f.read().split())
        except OSError:
            pass
        return kids
    # Fallback: scan /proc for ppid == pid.
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                    kids.append(int(d))
            except (OSError, ValueError):
                pass
    return kids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


tree_rss = tree_anon = max_procs = 0
member = {}  # comm -> max rss of one process
pids = {}  # comm -> set of pids seen
while alive(root):
    total = anon = procs = 0
    todo = children(root)
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                fields = f.read().split()
            rss, shared = int(fields[1]) * page_kib, int(fields[2]) * page_kib
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except (OSError, ValueError, IndexError):
            continue
        total += rss
        anon += rss - shared
        procs += 1
        member[comm] = max(member.get(comm, 0), rss)
        pids.setdefault(comm, set()).add(pid)
        todo.extend(children(pid))
    tree_rss = max(tree_rss, total)
    tree_anon = max(tree_anon, anon)
    max_procs = max(max_procs, procs)
    time.sleep(interval)

print("tree_rss_kib=%d tree_anon_kib=%d max_procs=%d members=%s" % (
    tree_rss, tree_anon, max_procs,
    ",".join(f"{c}:{k}x{len(pids[c])}" for c, k in sorted(member.items(), key=lambda x: -x[1]))))
