#!/usr/bin/env python3
"""Run the kernel load-time benchmark (root) and print medians as a Markdown table.

    sudo python3 benches/load_table.py          # runs `cargo bench -p labkit-benches --features nftnl --bench load`
    python3 benches/load_table.py --no-run      # only tabulate target/criterion/load

netlink: one libnftnl batch (labnet::kernel::nftnl); nft: `nft -f` of the same
policy (the nft target), both into a throwaway network namespace.
"""

import argparse
import json
import subprocess
from pathlib import Path

from benchfmt import fmt_s

ROOT = Path(__file__).resolve().parent.parent
CRIT = ROOT / "target" / "criterion" / "load"
SIZES = [5, 200, 1000, 2000]


def median(backend, n):
    p = CRIT / backend / str(n) / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"] / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-run", action="store_true")
    args = ap.parse_args()
    if not args.no_run:
        subprocess.run(
            ["cargo", "bench", "-q", "-p", "labkit-benches", "--features", "nftnl",
             "--bench", "load", "--", "--warm-up-time", "1", "--measurement-time", "5"],
            cwd=ROOT, check=True)
    print("| segments | netlink (libnftnl), median | nft -f, median | nft -f / netlink |")
    print("|---:|---:|---:|---:|")
    for n in SIZES:
        a, b = median("netlink", n), median("nft", n)
        print(f"| {n} | {fmt_s(a)} | {fmt_s(b)} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
