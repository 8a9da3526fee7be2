#!/usr/bin/env python3
"""labnet vs Aerleon: the same synthetic policies compiled to nftables, side by side.

For each size N, `synth` writes one policy twice: a labnet lab file and the
equivalent Aerleon YAML (one term per allow rule). Both tools then run as
their command-line users run them, start to finish: read the policy, compile,
write an nftables file. Wall-clock medians of repeated runs, in the same run
of this script, and their ratio.

    python3 benches/peer_aerleon.py                # sizes 5 50 200 1000 5000
    python3 benches/peer_aerleon.py --sizes 5,50   # quick

Needs `pip install aerleon` (provides `aclgen`). Results go to stdout and to
benches/out/peer.md and benches/out/peer.json.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchfmt import fmt_b, fmt_s

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benches" / "out"


def limit_memory(gib):
    def apply():
        b = gib * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (b, b))
    return apply


def timed(cmd, cwd=None, timeout=None, mem_gib=None):
    """Run once; return (seconds, None) or (None, reason)."""
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout, preexec_fn=limit_memory(mem_gib) if mem_gib else None)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    dt = time.perf_counter() - t
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        tail = err[-1] if err else ""
        if "MemoryError" in p.stderr.decode(errors="replace"):
            return None, f"out of memory at the {mem_gib} GiB limit after {fmt_s(dt)}"
        return None, f"exit {p.returncode} after {fmt_s(dt)}: {tail[:120]}"
    return dt, None


def median_of(cmd, reps, **kw):
    times = []
    for _ in range(reps):
        dt, why = timed(cmd, **kw)
        if dt is None:
            return None, why, times
        times.append(dt)
    return statistics.median(times), None, times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="5,50,200,1000,5000")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per Aerleon run")
    ap.add_argument("--mem-gib", type=int, default=16, help="address-space limit per Aerleon run")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    aclgen = shutil.which("aclgen")
    if not aclgen:
        sys.exit("aclgen not found: pip install aerleon")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "labnet-cli", "-p", "labkit-benches", "--bin", "synth"],
                       cwd=ROOT, check=True)
    labnet = ROOT / "target" / "release" / "labnet"
    synth = ROOT / "target" / "release" / "synth"
    aer_ver = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('aerleon'))"],
                             capture_output=True, text=True).stdout.strip()
    lab_ver = subprocess.run([labnet, "--version"], capture_output=True, text=True).stdout.strip()

    # What Aerleon costs before compiling anything: the interpreter and its imports.
    # (`aclgen --help` would do, but absl exits 1 after printing help.)
    base, base_why, _ = median_of([sys.executable, "-c", "from aerleon import aclgen"], 5)
    if base is None:
        print(f"warning: could not time Aerleon's start-up: {base_why}", file=sys.stderr)
    rows = []
    for n in sizes:
        d = OUT / "peer" / str(n)
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([synth, str(n), d], check=True)
        lab_reps = 11 if n <= 1000 else 5
        aer_reps = 5 if n <= 200 else (3 if n <= 1000 else 1)
        ln, ln_why, ln_all = median_of([labnet, "-q", "compile", d / "lab.toml", "-o", d / "labnet.nft"], lab_reps)
        aer_out = d / "aerleon-out"
        an, an_why, an_all = median_of(
            [aclgen, "--base_directory=policies", "--definitions_directory=def", f"--output_directory={aer_out}"],
            aer_reps, cwd=d / "aerleon", timeout=args.timeout, mem_gib=args.mem_gib)
        size = lambda p: p.stat().st_size if p.exists() else None
        row = {
            "segments": n,
            "labnet_median_s": ln, "labnet_runs": len(ln_all), "labnet_error": ln_why,
            "aerleon_median_s": an, "aerleon_runs": len(an_all), "aerleon_error": an_why,
            "ratio": (an / ln) if (an and ln) else None,
            "labnet_bytes": size(d / "labnet.nft"),
            "aerleon_bytes": size(aer_out / "lab.nft"),
            "lab_file_bytes": size(d / "lab.toml"),
        }
        rows.append(row)
        print(f"n={n}: labnet {fmt_s(ln)} ({len(ln_all)} runs), aerleon {fmt_s(an)} ({len(an_all)} runs)"
              + (f" [{an_why}]" if an_why else "") + (f", ratio {row['ratio']:.0f}x" if row["ratio"] else ""), flush=True)
        # Keep the tree small: outputs at large N are hundreds of MB.
        for p in [d / "labnet.nft", aer_out / "lab.nft"]:
            if p.exists() and p.stat().st_size > 50 * 1024**2:
                p.unlink()

    lines = [
        f"labnet ({lab_ver}) vs Aerleon {aer_ver}, nftables output, whole command-line runs "
        f"(read policy, compile, write file); wall-clock medians measured in one run of benches/peer_aerleon.py.",
        f"Aerleon's start-up alone (its interpreter importing `aerleon.aclgen`, no policy) took {fmt_s(base)} (median of 5);",
        "it dominates the small sizes.",
        "",
        "| segments | labnet median | Aerleon median | Aerleon / labnet | labnet output | Aerleon output |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        an = fmt_s(r["aerleon_median_s"]) if r["aerleon_median_s"] else f"did not finish ({r['aerleon_error']})"
        ratio = f"{r['ratio']:.0f}x" if r["ratio"] else "-"
        lines.append(f"| {r['segments']} | {fmt_s(r['labnet_median_s'])} | {an} | {ratio} | "
                     f"{fmt_b(r['labnet_bytes'])} | {fmt_b(r['aerleon_bytes'])} |")
    table = "\n".join(lines) + "\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "peer.md").write_text(table)
    (OUT / "peer.json").write_text(json.dumps({"labnet": lab_ver, "aerleon": aer_ver, "aerleon_startup_s": base, "rows": rows}, indent=2) + "\n")
    print()
    print(table)


if __name__ == "__main__":
    main()
