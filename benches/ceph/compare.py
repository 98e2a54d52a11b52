#!/usr/bin/env python3
"""Compare pprof's -top rows with heapcost's `top --format json` rows.

compare.py PPROF_TOP_TXT HEAPCOST_JSON DIFF_OUT

PPROF_TOP_TXT is `pprof -top -unit=B -nodecount=1000000 -nodefraction=0 -edgefraction=0 ...`
output (values in exact bytes). pprof appends " (inline)" to nodes of inlined functions; that
suffix (or " (partial-inline)" when only some of the node's frames are inlined) is stripped
before comparing (heapcost has no such marker).

Prints agreement lines (Markdown list items) on stdout and writes DIFF_OUT: rows whose names
differ, pprof's and heapcost's side by side when a row of the other side has the same flat and
cum values, and rows whose name matches but values differ.
"""
import collections
import json
import re
import sys

pp_path, hc_path, diff_path = sys.argv[1:4]

row_re = re.compile(r"^\s*(-?\d+)B?\s+(?:-?[\d.e+-]+|NaN)%\s+(?:-?[\d.e+-]+|NaN)%\s+(-?\d+)B?\s+(?:-?[\d.e+-]+|NaN)%\s+(.*)$")
pp_rows, pp_total, header_seen = [], None, False
with open(pp_path) as f:
    for line in f:
        line = line.rstrip("\n")
        m = re.match(r"^Showing nodes accounting for (-?\d+)B, [\d.]+% of (-?\d+)B total", line)
        if m:
            pp_total = int(m.group(2))
            continue
        if line.lstrip().startswith("flat "):
            header_seen = True
            continue
        if not header_seen:
            continue
        m = row_re.match(line)
        if not m:
            sys.exit(f"compare.py: unparsable pprof row: {line!r}")
        name = m.group(3)
        inline = ""
        for suffix in (" (inline)", " (partial-inline)"):
            if name.endswith(suffix):
                name, inline = name[: -len(suffix)], suffix
                break
        pp_rows.append((name, int(m.group(1)), int(m.group(2)), inline))

with open(hc_path) as f:
    hc = json.load(f)
hc_rows = [(r["name"], int(r["flat"]), int(r["cum"])) for r in hc["rows"]]

if not pp_rows:
    sys.exit("compare.py: no pprof rows")

hc_names = collections.Counter(n for n, _, _ in hc_rows)
pp_names = collections.Counter(n for n, _, _, _ in pp_rows)
hc_exact = collections.Counter((n, fl, c) for n, fl, c in hc_rows)
pp_exact = collections.Counter((n, fl, c) for n, fl, c, _ in pp_rows)

# (i) name present on the other side; (ii) name, flat and cum all equal (multiset matching, so a
# name that occurs twice in pprof needs two equal heapcost rows).
name_ok, exact_ok = [], []
avail_exact = hc_exact.copy()
for n, fl, c, inl in pp_rows:
    name_ok.append(n in hc_names)
    k = (n, fl, c)
    if avail_exact[k] > 0:
        avail_exact[k] -= 1
        exact_ok.append(True)
    else:
        exact_ok.append(False)

cum_all = sum(abs(c) for _, _, c, _ in pp_rows) or 1
def share(flags, weight_cum):
    if weight_cum:
        return 100.0 * sum(abs(r[2]) for r, ok in zip(pp_rows, flags) if ok) / cum_all
    return 100.0 * sum(flags) / len(flags)

n_pp, n_hc = len(pp_rows), len(hc_rows)
hc_only_names = [r for r in hc_rows if r[0] not in pp_names]
pp_only = [r for r, ok in zip(pp_rows, name_ok) if not ok]
value_diff = [r for r, ok, ex in zip(pp_rows, name_ok, exact_ok) if ok and not ex]

print(f"- totals: pprof {pp_total} B, heapcost {hc['total']} B ({'equal' if pp_total == hc['total'] else 'DIFFERENT'})")
n_inl = sum(r[3] == " (inline)" for r in pp_rows)
n_pinl = sum(r[3] == " (partial-inline)" for r in pp_rows)
print(f"- rows: pprof {n_pp} ({n_inl} marked (inline), {n_pinl} (partial-inline)), heapcost {n_hc}")
print(f"- pprof rows whose name heapcost also has: {sum(name_ok)}/{n_pp} = {share(name_ok, False):.2f}% of rows, "
      f"{share(name_ok, True):.2f}% of cum bytes")
print(f"- pprof rows with the same name, flat and cum in heapcost: {sum(exact_ok)}/{n_pp} = {share(exact_ok, False):.2f}% of rows, "
      f"{share(exact_ok, True):.2f}% of cum bytes")
print(f"- names only in pprof: {len(pp_only)}; only in heapcost: {len(hc_only_names)}; "
      f"same name, different values: {len(value_diff)}")
print(f"- names (goal: every pprof row found in heapcost with the same name, flat and cum): "
      f"{'met' if all(exact_ok) and not hc_only_names else 'NOT met'}")

# Pair the rows whose names differ by their (flat, cum) values: usually the same frame named two ways.
hc_by_val = collections.defaultdict(list)
for r in hc_only_names:
    hc_by_val[(r[1], r[2])].append(r[0])
pp_by_val = collections.defaultdict(list)
for r in pp_only:
    pp_by_val[(r[1], r[2])].append(r[0])

LIMIT = 30


def short(name, width=160):
    return name if len(name) <= width else f"{name[:width]}...({len(name)} chars)"


def several(names, k=4):
    names = [short(n, 100) for n in names]
    return ", ".join(names[:k]) + (f", ... ({len(names)} in all)" if len(names) > k else "")

with open(diff_path, "w") as out:
    out.write(f"# pprof vs heapcost, names that differ ({pp_path} vs {hc_path})\n")
    out.write("# values are inuse_space bytes: flat cum; '(inline)'/'(partial-inline)' = pprof's marker, stripped for comparing\n\n")
    out.write(f"## pprof rows whose name heapcost does not have ({len(pp_only)}; first {LIMIT} by cum)\n")
    for n, fl, c, inl in sorted(pp_only, key=lambda r: -abs(r[2]))[:LIMIT]:
        others = hc_by_val.get((fl, c), [])
        out.write(f"pprof   : {short(n)}{inl}   [{fl} {c}]\n")
        if len(others) == 1:
            out.write(f"heapcost: {short(others[0])}   [same flat/cum]\n")
        elif others:
            out.write(f"heapcost: one of: {several(others)}   [same flat/cum]\n")
        else:
            out.write("heapcost: (no heapcost-only row with the same flat/cum)\n")
        out.write("\n")
    out.write(f"## heapcost rows whose name pprof does not have ({len(hc_only_names)}; first {LIMIT} by cum)\n")
    for n, fl, c in sorted(hc_only_names, key=lambda r: -abs(r[2]))[:LIMIT]:
        others = pp_by_val.get((fl, c), [])
        out.write(f"heapcost: {short(n)}   [{fl} {c}]\n")
        out.write(f"pprof   : {short(others[0]) if len(others) == 1 else (('one of: ' + several(others)) if others else '(none with the same flat/cum)')}\n\n")
    out.write(f"## same name, different flat/cum ({len(value_diff)}; first {LIMIT} by cum)\n")
    hc_vals = collections.defaultdict(list)
    for n, fl, c in hc_rows:
        hc_vals[n].append((fl, c))
    for n, fl, c, inl in sorted(value_diff, key=lambda r: -abs(r[2]))[:LIMIT]:
        out.write(f"{short(n)}{inl}\n  pprof    flat {fl} cum {c}\n  heapcost {', '.join(f'flat {a} cum {b}' for a, b in hc_vals[n])}\n")
