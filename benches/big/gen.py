#!/usr/bin/env python3
"""Writes a large gperftools heap dump (`@ heapprofile`) for the scale benchmark.

Realistic in shape, synthetic in content: stacks of 8 to 32 frames (gperftools records
32), leaf first, drawn from a bounded set of distinct return addresses (default 20,000,
inside the executable mappings of a real Envoy dump), with in-use and allocation counts
and sizes of plausible spread; the header's totals equal the listed stacks' (not a cut
dump); the memory-map trailer is the one of fixtures/envoy/envoy.prof.0001.heap.

Each generated stack is distinct (as in a real dump, where a bucket is a distinct stack)
unless --repeat R > 1 writes each one R times, spread over the file (as a growth dump,
or several dumps pasted together, repeat stacks). Deterministic for a given seed.

usage: benches/big/gen.py OUT --size 1G [--locations 20000] [--repeat 1] [--seed 1]
"""
import argparse
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAILER_FROM = os.path.join(ROOT, "fixtures", "envoy", "envoy.prof.0001.heap")


def size_arg(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=size_arg, required=True, help="bytes to write (K, M, G suffixes)")
    ap.add_argument("--locations", type=int, default=20000, help="distinct return addresses")
    ap.add_argument("--repeat", type=int, default=1, help="times each stack is listed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    with open(TRAILER_FROM, "rb") as f:
        dump = f.read()
    trailer = dump[dump.index(b"MAPPED_LIBRARIES:"):]
    # Executable ranges of the trailer: the Envoy binary holds most frames.
    envoy = (0x4000000000, 0x400C2D6000)
    libc = (0x400F2B1000, 0x400F429000)

    # Distinct addresses: 32 levels of call depth, allocator frames in libc.
    per_level = max(1, args.locations // 33)
    alloc_frames = ["%#x" % rng.randrange(*libc) for _ in range(per_level)]
    levels = [["%#x" % rng.randrange(*envoy) for _ in range(per_level)] for _ in range(32)]
    sizes = [16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 4096, 16384, 65536, 1 << 20]

    def stack_line():
        depth = rng.choice((8, 12, 16, 20, 24, 28, 32, 32, 32, 32))
        frames = [rng.choice(alloc_frames)]
        frames += [rng.choice(levels[k]) for k in range(depth - 1)]
        size = rng.choice(sizes)
        inuse = rng.choice((0, 0, 1, 1, 1, 1, 2, 2, 3, 4, 8, 16, 64))
        alloc = max(1, inuse + rng.choice((0, 0, 1, 2, 5, 20, 100)))
        return (inuse, inuse * size, alloc, alloc * size), " ".join(frames)

    header_width = 100
    totals = [0, 0, 0, 0]
    written = 0
    lines = unique = 0
    with open(args.out, "wb") as out:
        out.write(b" " * header_width + b"\n")
        written += header_width + 1
        pending = []  # (lines left, values, frames) for --repeat
        buf = []
        while written < args.size:
            if args.repeat > 1 and pending and rng.random() < 1 - 1 / args.repeat:
                i = rng.randrange(len(pending))
                left, values, frames = pending[i]
                if left == 1:
                    pending[i] = pending[-1]
                    pending.pop()
                else:
                    pending[i] = (left - 1, values, frames)
            else:
                values, frames = stack_line()
                unique += 1
                if args.repeat > 1:
                    pending.append((args.repeat - 1, values, frames))
            line = "%6d: %8d [%6d: %8d] @ %s\n" % (values + (frames,))
            for k in range(4):
                totals[k] += values[k]
            buf.append(line)
            written += len(line)
            lines += 1
            if len(buf) >= 20000:
                out.write("".join(buf).encode())
                buf = []
        out.write("".join(buf).encode())
        out.write(trailer)
        header = "heap profile: %6d: %8d [%6d: %8d] @ heapprofile" % tuple(
            totals[k] for k in (0, 1, 2, 3)
        )
        if len(header) > header_width:
            sys.exit("totals too large for the header")
        out.seek(0)
        out.write(header.ljust(header_width).encode())
    print(
        "%s: %d bytes, %d stack lines, %d distinct stacks, %d locations, inuse_space %d"
        % (args.out, os.path.getsize(args.out), lines, unique, args.locations, totals[1])
    )


if __name__ == "__main__":
    main()
