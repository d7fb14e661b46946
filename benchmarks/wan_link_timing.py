"""How close the emulated link's completion times come to L + S/B on this machine (2 CPU ranks).

    python benchmarks/wan_link_timing.py [latency_ms bandwidth_mbps numel repeats]
"""

import os
import sys

from sharegrad.train.launch import run_local
from sharegrad.wan.probes import time_collectives

if __name__ == "__main__":
    latency, bandwidth, numel, repeats = (float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]),
                                          int(sys.argv[4])) if len(sys.argv) > 4 else (150.0, 100.0, 250_000, 3)
    ranks = run_local(time_collectives, 2, (latency, bandwidth, numel, repeats), timeout_s=300)
    print(f"cores {len(os.sched_getaffinity(0))}, 1-min load {os.getloadavg()[0]:.1f}")
    for rank, rows in enumerate(ranks):
        for row in rows:
            print(f"rank {rank} {row['kind']:>14}: {1000 * row['elapsed_s']:8.1f} ms "
                  f"(L + S/B = {1000 * row['expected_s']:.1f} ms, {row['elapsed_s'] / row['expected_s'] - 1:+.1%})")
