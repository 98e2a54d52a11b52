#!/usr/bin/env python3
"""Checks mini-envoy-tcmalloc's profiles against its ground truth, through google/pprof.

Usage: verify.py [--exact] SEARCH_PATH BINARY RUN_DIR
(run by build.sh; SEARCH_PATH is colon-separated, RUN_DIR holds ground-truth.json and the
profiles it names).

For every profile that ground-truth.json names (heap dumps, the peak heap, the allocation profile)
it runs `pprof -raw BINARY PROFILE` with PPROF_BINARY_PATH=SEARCH_PATH and sums, per path, over the
samples whose stack (as pprof names it, after drop_frames) has the path's marker:
  objects, space (the values), request x objects and bytes x objects (the labels).
With --exact (a run with sampling interval 1) these must equal the ground truth:
  heap, peak_heap:  objects = inuse_objects, space = inuse_allocated_bytes,
                    request = inuse_bytes, bytes = inuse_allocated_bytes
  allocations:      objects = alloc_objects, space = alloc_allocated_bytes,
                    request = alloc_bytes, bytes = alloc_allocated_bytes
and the same per marker set. Without it (tcmalloc's default interval) it prints the ratio of the
estimate to the truth for the largest paths, and checks nothing. It also prints each profile's
sample types, default sample type, period, time and duration, drop_frames, label keys and
mapping count, and checks that every location in mini-envoy-tcmalloc and libmini_envoy_ext.so has
a name. Exits non-zero on a failed check.
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

OWN_FILES = {"mini-envoy-tcmalloc", "libmini_envoy_ext.so"}
LOC_RE = re.compile(r"^\s+(\d+): 0x([0-9a-f]+)(?: M=(\d+))? ?(.*)$")
LINE_TAIL_RE = re.compile(r" s=\d+(\(.*\))?$")
SAMPLE_RE = re.compile(r"^\s+((?:-?\d+\s+)*-?\d+):\s*([\d ]*)$")
LABEL_RE = re.compile(r"([A-Za-z_][A-Za-z_ ]*?):\[([^\]]*)\]")


def parse_frame(text):
    text = LINE_TAIL_RE.sub("", text.strip())
    if not text:
        return None
    head, _, _fileline = text.rpartition(" ")
    return head if head else text


def parse_raw(out):
    header, samples, locations, mappings = {}, [], {}, {}
    section = "header"
    current_loc = None
    for line in out.splitlines():
        if line.startswith("Samples:"):
            section = "samples"
            continue
        if line.startswith("Locations"):
            section = "locations"
            continue
        if line.startswith("Mappings"):
            section = "mappings"
            continue
        if section == "header":
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
        elif section == "samples":
            m = SAMPLE_RE.match(line)
            if m:
                samples.append({"values": [int(x) for x in m.group(1).split()],
                                "locs": [int(x) for x in m.group(2).split()], "labels": {}})
                continue
            labels = LABEL_RE.findall(line)
            if labels and samples:
                for k, v in labels:
                    samples[-1]["labels"][k.strip()] = v
            elif line.strip() and "/" in line and not samples:
                header["sample_types"] = line.split()
        elif section == "locations":
            m = LOC_RE.match(line)
            if m:
                current_loc = int(m.group(1))
                frame = parse_frame(m.group(4))
                locations[current_loc] = {"addr": int(m.group(2), 16),
                                          "mapping": int(m.group(3) or 0),
                                          "frames": [frame] if frame else []}
            elif line.strip() and current_loc is not None:
                frame = parse_frame(line)
                if frame:
                    locations[current_loc]["frames"].append(frame)
        elif section == "mappings":
            m = re.match(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S*)", line)
            if m:
                mappings[int(m.group(1))] = {"file": m.group(5)}
    return header, samples, locations, mappings


def label_num(value):
    """'112' or '112B' (pprof may print the unit) -> 112."""
    m = re.match(r"^(\d+)", value.strip())
    return int(m.group(1)) if m else 0


def profile_facts(path):
    """Facts pprof -raw does not print: read the protobuf with the project-free decoder below."""
    import gzip
    data = gzip.open(path).read()
    return decode_profile(data)


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def decode_profile(data):
    """A minimal reader of profile.proto's top level: string table, sample types, labels."""
    strings, sample_types, mappings = [], [], 0
    label_keys = set()
    out = {"samples": 0}
    raw_samples = []
    for num, wt, v in fields(data):
        if num == 6:
            strings.append(v.decode("utf-8", "replace"))
        elif num == 1:
            st = dict((n, x) for n, _, x in fields(v))
            sample_types.append((st.get(1, 0), st.get(2, 0)))
        elif num == 2:
            out["samples"] += 1
            raw_samples.append(v)
        elif num == 3:
            mappings += 1
        elif num in (9, 10, 12, 14):
            out[{9: "time_nanos", 10: "duration_nanos", 12: "period", 14: "default_sample_type"}[num]] = v
        elif num == 11:
            pt = dict((n, x) for n, _, x in fields(v))
            out["period_type"] = (pt.get(1, 0), pt.get(2, 0))
        elif num == 7:
            out["drop_frames"] = v
        elif num == 8:
            out["keep_frames"] = v
    for s in raw_samples:
        for n, _, x in fields(s):
            if n == 3:
                lab = dict((k, y) for k, _, y in fields(x))
                label_keys.add(lab.get(1, 0))
    name = lambda i: strings[i] if i < len(strings) else "?"
    return {
        "sample_types": ["%s/%s" % (name(t), name(u)) for t, u in sample_types],
        "default_sample_type": name(out.get("default_sample_type", 0)) or "(unset)",
        "period_type": "%s/%s" % tuple(name(x) for x in out.get("period_type", (0, 0))),
        "period": out.get("period", 0),
        "time_nanos": out.get("time_nanos", 0),
        "duration_nanos": out.get("duration_nanos", 0),
        "drop_frames": name(out.get("drop_frames", 0)),
        "keep_frames": name(out.get("keep_frames", 0)),
        "label_keys": sorted(name(k) for k in label_keys),
        "mappings": mappings,
        "samples": out["samples"],
    }


def main():
    args = sys.argv[1:]
    exact = args and args[0] == "--exact"
    if exact:
        args = args[1:]
    search_path, binary, run_dir = args
    truth = json.load(open(os.path.join(run_dir, "ground-truth.json")))
    markers = {key: p["marker"] for key, p in truth["paths"].items()}
    checks = []  # (profile file, kind, expected paths, expected marker sets)
    for d in truth["dumps"]:
        checks.append((d["file"], "heap", d["paths"], d["marker_sets"]))
        for kind, f in d.get("same_state", {}).items():
            checks.append((f, kind, d["paths"], d["marker_sets"]))
    if "allocation_profile" in truth:
        a = truth["allocation_profile"]
        checks.append((a["file"], "allocations", a["paths"], a["marker_sets"]))
    failures = 0
    for fname, kind, want_paths, want_sets in checks:
        path = os.path.join(run_dir, fname)
        facts = profile_facts(path)
        env = dict(os.environ, PPROF_BINARY_PATH=search_path)
        out = subprocess.run(["pprof", "-raw", binary, path], env=env, check=True,
                             capture_output=True, text=True).stdout
        header, samples, locations, mappings = parse_raw(out)
        types = [t.split("/")[0] for t in facts["sample_types"]]
        io, isp = types.index("objects"), types.index("space")
        per_path = defaultdict(lambda: [0, 0, 0, 0])
        per_set = defaultdict(lambda: [0, 0, 0, 0])
        for s in samples:
            names = set()
            for loc_id in s["locs"]:
                names.update(locations[loc_id]["frames"])
            names = {n.replace(" (inline)", "") for n in names}
            objs, space = s["values"][io], s["values"][isp]
            req = label_num(s["labels"].get("request", "0")) * objs
            byt = label_num(s["labels"].get("bytes", "0")) * objs
            present = tuple(sorted(k for k, m in markers.items() if m in names))
            for key in present:
                per_path[key] = [a + b for a, b in zip(per_path[key], (objs, space, req, byt))]
            if present:
                per_set[present] = [a + b for a, b in zip(per_set[present], (objs, space, req, byt))]
        if kind == "allocations":
            names4 = ("alloc_objects", "alloc_allocated_bytes", "alloc_bytes", "alloc_allocated_bytes")
        else:
            names4 = ("inuse_objects", "inuse_allocated_bytes", "inuse_bytes", "inuse_allocated_bytes")
        got_what = ("objects", "space", "request*objects", "bytes*objects")
        print("profile %s (%s): %d samples, %d locations; sample types %s, default %s, period %s %s, "
              "time_nanos %d, duration_nanos %d, %d mappings, labels %s" % (
                  fname, kind, facts["samples"], len(locations), ",".join(facts["sample_types"]),
                  facts["default_sample_type"], facts["period"], facts["period_type"],
                  facts["time_nanos"], facts["duration_nanos"], facts["mappings"],
                  ",".join(facts["label_keys"])))
        bad = 0
        if exact:
            for key, want in want_paths.items():
                got = per_path[key]
                exp = [want[n] for n in names4]
                if got != exp:
                    print("FAIL %s %s: pprof %s = %s, ground truth %s" % (
                        fname, key, got_what, got, dict(zip(names4, exp))))
                    bad += 1
            want_by_set = {tuple(sorted(s["paths"])): s["counts"] for s in want_sets}
            for key in set(want_by_set) | set(per_set):
                w = want_by_set.get(key)
                exp = [w[n] for n in names4] if w else [0, 0, 0, 0]
                if per_set.get(key, [0, 0, 0, 0]) != exp:
                    print("FAIL %s marker set %s: pprof %s, ground truth %s" % (
                        fname, key, per_set.get(key), exp))
                    bad += 1
        else:
            top = sorted(want_paths, key=lambda k: -want_paths[k][names4[1]])[:5]
            for key in top:
                want = want_paths[key][names4[1]]
                if want:
                    print("  estimate %s %s: space %d / ground truth %d = %.3f" % (
                        fname, key, per_path[key][1], want, per_path[key][1] / want))
        unnamed = defaultdict(int)
        for loc in locations.values():
            base = os.path.basename(mappings.get(loc["mapping"], {"file": "(no mapping)"})["file"])
            if not loc["frames"]:
                unnamed[base or "?"] += 1
        for base, n in sorted(unnamed.items()):
            status = "FAIL" if base in OWN_FILES else "note"
            print("%s %s: %d locations in %s have no name" % (status, fname, n, base))
            bad += base in OWN_FILES
        failures += bad
        if exact and not bad:
            print("ok   %s: every path and marker set matches (objects, space, request, bytes)" % fname)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
