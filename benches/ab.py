#!/usr/bin/env python3
"""Run commands alternately, round after round, and print each one's median.

    python3 benches/ab.py ROUNDS "CMD A" "CMD B" ...

On this machine (a VM whose speed drifts by tens of percent within minutes)
hyperfine's one-command-after-another can credit a drift to whichever
command ran second; alternating puts every command under the same drift.
Wall-clock time of the whole process (subprocess start to exit), output
discarded.
"""

import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = sys.argv[2:]
    times = [[] for _ in cmds]
    for _ in range(rounds):
        for i, c in enumerate(cmds):
            t = time.perf_counter()
            subprocess.run(c.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[i].append(time.perf_counter() - t)
    for c, ts in zip(cmds, times):
        print(f"median {statistics.median(ts) * 1000:9.1f} ms  min {min(ts) * 1000:9.1f} ms  {c}")


if __name__ == "__main__":
    main()
