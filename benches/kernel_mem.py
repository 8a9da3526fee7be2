#!/usr/bin/env python3
"""Kernel memory and `nft -f` load time of labnet rulesets, one or more labnet
binaries side by side (run as root):

    sudo python3 benches/kernel_mem.py NEW=target/release/labnet OLD=/tmp/old-target/release/labnet

For each binary and size: `synth N` writes the benchmark lab, the binary
compiles it (nft target), and the script is loaded with `nft -f` into a fresh
namespace, RUNS times (default 3). Memory is the growth of the kernel's slab
and vmalloc use (/proc/meminfo Slab + VmallocUsed) across the load, which is
where nf_tables keeps sets, elements, chains and rules; the namespace is
deleted (and the memory given back) between runs. Medians of the runs.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(s) for s in os.environ.get("SIZES", "200 1000 2000").split()]
RUNS = int(os.environ.get("RUNS", "3"))


def meminfo():
    vals = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, v = line.split(":", 1)
        vals[k] = int(v.split()[0])
    return (vals["Slab"] + vals["VmallocUsed"]) / 1024.0  # MiB


def settle():
    # RCU frees the old namespace's objects a little later.
    subprocess.run(["sync"], check=True)
    time.sleep(1.0)


def main():
    bins = [a.split("=", 1) for a in sys.argv[1:]]
    if not bins:
        sys.exit(__doc__)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "labkit-benches"], cwd=ROOT, check=True)
    synth = ROOT / "target" / "release" / "synth"
    rows = []
    with tempfile.TemporaryDirectory() as t:
        for n in SIZES:
            subprocess.run([synth, str(n), f"{t}/{n}"], check=True, stdout=subprocess.DEVNULL)
            for name, labnet in bins:
                out = f"{t}/{n}-{name}.nft"
                subprocess.run([labnet, "-q", "compile", f"{t}/{n}/lab.toml", "-o", out], check=True)
                mems, secs = [], []
                for r in range(RUNS):
                    ns = f"labnet-mem-{os.getpid()}-{r}"
                    subprocess.run(["ip", "netns", "add", ns], check=True)
                    try:
                        settle()
                        before = meminfo()
                        t0 = time.perf_counter()
                        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", out], check=True)
                        secs.append(time.perf_counter() - t0)
                        settle()
                        mems.append(meminfo() - before)
                    finally:
                        subprocess.run(["ip", "netns", "del", ns], check=True)
                rows.append((n, name, statistics.median(secs), statistics.median(mems), os.path.getsize(out)))
                print(f"n={n} {name}: {rows[-1][2]:.3f} s, {rows[-1][3]:.1f} MiB", file=sys.stderr)
    print("| segments | layout | `nft -f` load, median | kernel memory, median | script size |")
    print("|---:|---|---:|---:|---:|")
    for n, name, s, m, size in rows:
        print(f"| {n} | {name} | {s:.3f} s | {m:.1f} MiB | {size / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
