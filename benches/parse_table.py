#!/usr/bin/env python3
"""Run the parse benchmark (spanned TOML readers side by side) and print medians and MB/s.

    python3 benches/parse_table.py            # runs `cargo bench -p labkit-benches --bench parse`
    python3 benches/parse_table.py --log F    # only tabulate a saved run's output (F)

Medians come from target/criterion/parse/<reader>/<n>/new/estimates.json;
lab sizes from the "lab n=...: ... bytes" lines the benchmark prints.
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from benchfmt import fmt_b, fmt_s

ROOT = Path(__file__).resolve().parent.parent
CRIT = ROOT / "target" / "criterion" / "parse"
READERS = [("labfile", "labfile (spans)"), ("toml-span", "toml-span 0.7 (spans)"),
           ("toml-detable", "toml 1.x `DeTable` (spans)"), ("toml-table", "toml 1.x `Table` (no spans)")]


def median(reader, n):
    p = CRIT / reader / str(n) / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"] / 1e9 if p.exists() else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    args = ap.parse_args()
    if args.log:
        log = Path(args.log).read_text()
    else:
        p = subprocess.run(["cargo", "bench", "-p", "labkit-benches", "--bench", "parse"], cwd=ROOT,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr[-2000:])
            sys.exit("cargo bench failed")
        log = p.stdout + p.stderr
    sizes = {int(m[1]): int(m[2]) for m in re.finditer(r"lab n=(\d+): (\d+) bytes", log)}
    print("| reader | " + " | ".join(f"N={n} ({fmt_b(b)})" for n, b in sorted(sizes.items())) + " |")
    print("|---|" + "---:|" * len(sizes))
    for key, label in READERS:
        cells = []
        for n, b in sorted(sizes.items()):
            m = median(key, n)
            cells.append(f"{fmt_s(m)}, {b / m / 1e6:.0f} MB/s" if m else "-")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
