#!/usr/bin/env python3
"""Checks mini-envoy's dumps against its ground truth, through google/pprof.

Usage: verify.py SEARCH_PATH BINARY DUMP... (run by build.sh; SEARCH_PATH is colon-separated)

For every dump it runs `pprof -raw BINARY DUMP` (exact values, every location with its inline
frames, as pprof names them) with PPROF_BINARY_PATH=SEARCH_PATH, and checks:
  1. for every path of ground-truth.json: the four values summed over the samples whose stack has
     the path's marker function (physical or inline frame) equal the ground truth;
  2. the samples grouped by the exact set of markers on their stack equal `marker_sets`;
  3. every location in mini-envoy and libmini_envoy_ext.so has a function name;
  4. (report) how many stacks reach gperftools' 32-frame limit, i.e. were truncated at the root
     (deep Lua parser recursion does; check 1 proves no marker was lost);
  5. GNU addr2line, given the ELF virtual address this script computes itself from the mapping
     and the PT_LOAD segments, agrees with pprof on the physical (outermost) function of every
     location in those two files: an independent check of the r-- / r-x layout handling.
     Locations where addr2line reports a different inline chain than pprof (whose names come
     from llvm-symbolizer when it is installed) are listed as notes.
Exits non-zero on any failure of 1-3 or 5.
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

VALUES = ["alloc_objects", "alloc_bytes", "inuse_objects", "inuse_bytes"]
OWN_FILES = {"mini-envoy", "libmini_envoy_ext.so"}


def run_pprof_raw(search_path, binary, dump):
    env = dict(os.environ, PPROF_BINARY_PATH=search_path)
    out = subprocess.run(["pprof", "-raw", binary, dump], env=env, check=True,
                         capture_output=True, text=True).stdout
    return parse_raw(out)


LOC_RE = re.compile(r"^\s+(\d+): 0x([0-9a-f]+) M=(\d+) ?(.*)$")
LINE_TAIL_RE = re.compile(r" s=\d+(\(.*\))?$")


def parse_frame(text):
    """'func file:line s=0(mangled)' -> func (the name may contain spaces)."""
    text = LINE_TAIL_RE.sub("", text.strip())
    if not text:
        return None
    head, _, _fileline = text.rpartition(" ")
    return head if head else text


def parse_raw(out):
    lines = out.splitlines()
    samples, locations, mappings = [], {}, {}
    section = None
    current_loc = None
    for line in lines:
        if line.startswith("Samples:"):
            section = "samples"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = "mappings"
            continue
        if section == "samples":
            m = re.match(r"^\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+):\s*([\d ]*)$", line)
            if m:
                vals = [int(m.group(i)) for i in range(1, 5)]
                samples.append((vals, [int(x) for x in m.group(5).split()]))
        elif section == "locations":
            m = LOC_RE.match(line)
            if m:
                current_loc = int(m.group(1))
                frame = parse_frame(m.group(4))
                locations[current_loc] = {
                    "addr": int(m.group(2), 16),
                    "mapping": int(m.group(3)),
                    "frames": [frame] if frame else [],
                }
            elif line.strip() and current_loc is not None:
                frame = parse_frame(line)
                if frame:
                    locations[current_loc]["frames"].append(frame)
        elif section == "mappings":
            m = re.match(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S*)", line)
            if m:
                mappings[int(m.group(1))] = {
                    "start": int(m.group(2), 16),
                    "limit": int(m.group(3), 16),
                    "offset": int(m.group(4), 16),
                    "file": m.group(5),
                }
    return samples, locations, mappings


def stack_depths(dump):
    depths = []
    with open(dump) as f:
        for line in f:
            if line.startswith("MAPPED_LIBRARIES"):
                break
            if "@" in line and not line.startswith("heap profile"):
                depths.append(len(line.split("@", 1)[1].split()))
    return depths


def load_segments(path):
    out = subprocess.run(["readelf", "-lW", path], check=True, capture_output=True,
                         text=True).stdout
    segs = []
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            segs.append((int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)))
    return segs  # (offset, vaddr, filesz)


def to_vaddr(segs, file_offset):
    for off, vaddr, filesz in segs:
        if off <= file_offset < off + filesz:
            return vaddr + (file_offset - off)
    return None


def strip_groups(name):
    """Drops (...) and <...> groups, keeping 'operator()'; lambda names are left as they are."""
    out, depth = [], 0
    i = 0
    while i < len(name):
        if name.startswith("operator()", i) and depth == 0:
            out.append("operator()")
            i += len("operator()")
            continue
        c = name[i]
        if c in "(<":
            depth += 1
        elif c in ")>" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(c)
        i += 1
    return "".join(out)


def last_component(name):
    name = re.sub(r" \[clone [^\]]*\]", "", name)  # GCC's .isra/.part/.constprop clones
    name = strip_groups(name.replace(" (inline)", "").replace("[abi:cxx11]", ""))
    name = name.replace(" const", "").strip()
    return name.split("::")[-1]


def find_file(search_path, base):
    for d in search_path.split(":"):
        if os.path.exists(os.path.join(d, base)):
            return os.path.join(d, base)
    raise FileNotFoundError(base)


def addr2line_check(search_path, locations, mappings):
    by_file = defaultdict(list)
    for loc in locations.values():
        mp = mappings[loc["mapping"]]
        base = os.path.basename(mp["file"])
        if base in OWN_FILES:
            by_file[base].append((loc, mp))
    problems, chains = [], []
    for base, items in by_file.items():
        path = find_file(search_path, base)
        segs = load_segments(path)
        queries = []
        for loc, mp in items:
            file_offset = loc["addr"] - mp["start"] + mp["offset"]
            queries.append(to_vaddr(segs, file_offset))
        out = subprocess.run(["addr2line", "-f", "-i", "-C", "-a", "-e", path] +
                             ["0x%x" % q for q in queries], check=True, capture_output=True,
                             text=True).stdout.splitlines()
        # -a prints the address, then (function, file:line) pairs, innermost first.
        results, cur = [], None
        for line in out:
            if re.match(r"^0x[0-9a-f]+$", line):
                cur = []
                results.append(cur)
            else:
                cur.append(line)
        for (loc, _), res in zip(items, results):
            gnu = [res[i] for i in range(0, len(res), 2)]
            pp = loc["frames"]
            if last_component(gnu[-1]) != last_component(pp[-1]):
                problems.append("%s 0x%x: pprof %s / addr2line %s" % (base, loc["addr"], pp, gnu))
            elif len(gnu) != len(pp):
                chains.append("%s 0x%x: pprof %d frames %s / addr2line %d frames %s" % (
                    base, loc["addr"], len(pp), pp, len(gnu), [last_component(g) for g in gnu]))
    return problems, chains


def main():
    search_path, binary = sys.argv[1], sys.argv[2]
    dumps = sys.argv[3:]
    truth_file = os.path.join(os.path.dirname(dumps[0]), "ground-truth.json")
    if not os.path.exists(truth_file):  # split/ shares the main build's ground truth
        truth_file = os.path.join(os.path.dirname(dumps[0]), "..", "ground-truth.json")
    truth = json.load(open(truth_file))
    markers = {key: p["marker"] for key, p in truth["paths"].items()}
    failures = 0
    for dump in dumps:
        name = os.path.basename(dump)
        gt = next(d for d in truth["dumps"] if d["file"] == name)
        samples, locations, mappings = run_pprof_raw(search_path, binary, dump)
        per_path = {key: [0, 0, 0, 0] for key in markers}
        per_set = defaultdict(lambda: [0, 0, 0, 0])
        for vals, locs in samples:
            names = set()
            for loc_id in locs:
                names.update(locations[loc_id]["frames"])
            names = {n.replace(" (inline)", "") for n in names}
            present = tuple(sorted(k for k, m in markers.items() if m in names))
            for key in present:
                per_path[key] = [a + b for a, b in zip(per_path[key], vals)]
            if present:
                per_set[present] = [a + b for a, b in zip(per_set[present], vals)]
        # 1. paths
        for key, want in gt["paths"].items():
            got = dict(zip(VALUES, per_path[key]))
            if any(got[v] != want[v] for v in VALUES):
                print("FAIL %s %s: pprof %s, ground truth %s" % (name, key, got, want))
                failures += 1
        # 2. marker sets: a set missing on one side counts as all zeros there
        want_sets = {tuple(sorted(s["paths"])): s["counts"] for s in gt["marker_sets"]}
        for key in set(want_sets) | set(per_set):
            want = want_sets.get(key, {v: 0 for v in VALUES})
            got = dict(zip(VALUES, per_set.get(key, [0, 0, 0, 0])))
            if any(got[v] != want[v] for v in VALUES):
                print("FAIL %s marker set %s: pprof %s, ground truth %s" % (name, key, got, want))
                failures += 1
        # 3. own frames named
        unnamed = defaultdict(int)
        for loc in locations.values():
            base = os.path.basename(mappings[loc["mapping"]]["file"])
            if not loc["frames"]:
                unnamed[base or "?"] += 1
        for base, n in sorted(unnamed.items()):
            status = "FAIL" if base in OWN_FILES else "note"
            print("%s %s: %d locations in %s have no name" % (status, name, n, base))
            failures += base in OWN_FILES
        # 4. depth
        depths = stack_depths(dump)
        truncated = sum(1 for d in depths if d >= 32)
        # 5. addr2line
        problems, chains = addr2line_check(search_path, locations, mappings)
        for p in problems[:10]:
            print("FAIL %s: addr2line disagrees: %s" % (name, p))
        for c in chains:
            print("note %s: inline chains differ: %s" % (name, c))
        failures += len(problems)
        print("ok   %s: %d samples, %d locations, deepest stack %d frames (%d at gperftools' "
              "limit of 32), paths and marker sets match, own frames named, addr2line agrees"
              % (name, len(samples), len(locations), max(depths), truncated))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
