#!/usr/bin/env python3
"""Run the criterion compile benchmarks and print their medians as a Markdown table.

    python3 benches/criterion_table.py            # runs `cargo bench -p labkit-benches --bench compile`
    python3 benches/criterion_table.py --log F    # only tabulate a saved run's output (F) and its estimates

Medians come from target/criterion/<group>/<id>/new/estimates.json; output
sizes from the "size n=... target=..." lines the benchmark prints.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from benchfmt import fmt_b, fmt_s

ROOT = Path(__file__).resolve().parent.parent
CRIT = ROOT / "target" / "criterion"


def median(group, ident):
    p = CRIT / group / ident / "new" / "estimates.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())["median"]["point_estimate"] / 1e9  # ns -> s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", help="output of a previous `cargo bench` run")
    args = ap.parse_args()
    if args.log:
        log = Path(args.log).read_text()
    else:
        p = subprocess.run(["cargo", "bench", "-p", "labkit-benches", "--bench", "compile"], cwd=ROOT,
                           capture_output=True, text=True)
        sys.stderr.write(p.stderr[-2000:])
        if p.returncode != 0:
            sys.exit("cargo bench failed")
        log = p.stdout + p.stderr
    sizes, pairs = {}, {}
    for m in re.finditer(r"size n=(\d+) target=([\w-]+): (\d+) bytes, (\d+) lines, (\d+) of (\d+) pairs", log):
        n, t = int(m[1]), m[2]
        sizes[(n, t)] = int(m[3])
        pairs[n] = (int(m[5]), int(m[6]))
    ns = sorted({n for n, _ in sizes})
    targets = ["nft", "nft-json", "iptables"]
    print("| segments | allowed pairs | parse+validate | compile nft | nft size | compile nft-json | nft-json size | compile iptables | iptables size |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in ns:
        a, total = pairs[n]
        cells = [str(n), f"{a:,} of {total:,}", fmt_s(median("parse+validate", str(n)))]
        for t in targets:
            cells += [fmt_s(median("compile", f"{t}/{n}")), fmt_b(sizes.get((n, t), 0))]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
