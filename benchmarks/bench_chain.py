"""Benchmark: the demo chain on the sample city with 1 and with N local Dask workers.

Prints the wall time of every step, the DSM throughput (km² per hour) and the speed-up of N workers over one,
both measured in this run. Usage: python benchmarks/bench_chain.py [--size-m 600] [--gsd 0.5] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ai4geo_lab.demo import run_demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-m", type=float, default=600.0)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    area_km2 = (args.size_m / 1000) ** 2
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in sorted({1, args.workers}):
            t0 = time.perf_counter()
            metrics = run_demo(Path(tmp) / f"w{workers}", size_m=args.size_m, gsd=args.gsd, workers=workers,
                               progress=False, log=lambda _: None, register=False)
            results[workers] = (time.perf_counter() - t0, metrics["wall_time_s"])
    print(f"sample city {args.size_m:g} m at {args.gsd:g} m/px ({area_km2:.3f} km²)")
    steps = [k for k in results[1][1] if k.startswith("step.")]
    print(f"{'step':22s}" + "".join(f"{f'{w} worker(s)':>14s}" for w in results))
    for k in ["sample_city", "chain", "evaluation", *steps, "total"]:
        print(f"{k:22s}" + "".join(f"{results[w][1].get(k, float('nan')):13.1f}s" for w in results))
    for w, (_, times) in results.items():
        dsm_s = times["step.dsm_1"]
        print(f"DSM throughput with {w} worker(s): {area_km2 / (dsm_s / 3600):.2f} km²/h")
    if len(results) > 1:
        print(f"speed-up of the chain with {args.workers} workers over 1: "
              f"{results[1][1]['chain'] / results[args.workers][1]['chain']:.2f}×")


if __name__ == "__main__":
    main()
