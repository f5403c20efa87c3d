"""Benchmark: how the tiled chain scales.

1. The stereo step of the sample city on 1 vs 2 local Dask workers (speed-up, target ≥ 1.7×).
2. Dask's overhead: 1 worker vs a plain Python loop over the same tile function and tiles (target ≤ 5 %).
3. A model of a run on N nodes from the measured per-pixel task time and per-task overhead, checked against the
   2-worker measurement, and its prediction for 400 km² of tri-stereo at 0.5 m on 16 nodes × 32 cores.

Usage: python benchmarks/bench_scale.py [--size-m 600] [--gsd 0.5] [--tile 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ai4geo_lab.cluster import connect
from ai4geo_lab.execution.tiles import TileGrid
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.pipeline import RunConfig, run
from ai4geo_lab.sample import make_sample_city
from ai4geo_lab.stereo.step import parallax_step, stereo_tile


def stereo_config(city, out: Path, tile: int) -> RunConfig:
    lo, hi = city.terrain_range
    return RunConfig.model_validate({
        "output": str(out), "tile_size": tile, "grid": {"like": str(city.image("date1", "ortho"))},
        "inputs": {"fwd": str(city.image("date1", "pan_fwd")), "bwd": str(city.image("date1", "pan_bwd"))},
        "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "fwd", "right": "bwd"},
                   "params": {"native": {"hmin": lo - 5, "hmax": hi + 70}}}]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-m", type=float, default=600.0)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--tile", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        city = make_sample_city(Path(tmp) / "city", size_m=args.size_m, gsd=args.gsd)
        pixels = (args.size_m / args.gsd) ** 2
        times = {}
        for workers in (1, 2):
            with connect(f"local:{workers}") as client:
                cfg = stereo_config(city, Path(tmp) / f"w{workers}", args.tile)
                t0 = time.perf_counter()
                run(cfg, client=client, progress=False, log=lambda _: None)
                times[workers] = time.perf_counter() - t0
        # the same tiles in a plain loop, no Dask
        cfg = stereo_config(city, Path(tmp) / "loop", args.tile)
        grid = GroundGrid.like(cfg.grid.like)
        left, right = cfg.inputs["fwd"].path, cfg.inputs["bwd"].path
        p = cfg.steps[0].params["native"]
        step = parallax_step(left, right, grid, p["hmin"], p["hmax"])
        heights = np.arange(p["hmin"], p["hmax"] + step, step)
        params = {"window": 5, "min_score": 0.5, "median": 3}
        tiles = list(TileGrid(*grid.shape, tile_size=args.tile, overlap=6))
        t0 = time.perf_counter()
        for t in tiles:
            stereo_tile(t, grid, left, right, params, heights)
        loop = time.perf_counter() - t0
    per_px = loop / pixels  # seconds of one core per ground pixel of one stereo pair
    overhead = times[1] - loop
    per_task = overhead / len(tiles)
    predicted_2 = loop / 2 + overhead
    print(f"sample city {args.size_m:g} m at {args.gsd:g} m/px: {pixels / 1e6:.2f} Mpx, {len(tiles)} tiles of "
          f"{args.tile} px, {len(heights)} heights")
    print(f"plain loop (1 core, no Dask):   {loop:7.2f} s  ({per_px * 1e6:.2f} µs/px)")
    print(f"chain on 1 local worker:        {times[1]:7.2f} s  (Dask overhead {100 * overhead / loop:+.1f} %, "
          f"{per_task:.3f} s/task incl. scheduling and the mosaic)")
    print(f"chain on 2 local workers:       {times[2]:7.2f} s  (speed-up {times[1] / times[2]:.2f}×)")
    print(f"model for 2 workers:            {predicted_2:7.2f} s  (measured/model {times[2] / predicted_2:.2f})")
    area_px = 400e6 / 0.5**2 * 2  # 400 km² at 0.5 m, tri-stereo = 2 pairs
    for nodes in (1, 16, 64):
        cores = nodes * 32
        t = area_px * per_px / cores
        print(f"model, 400 km² tri-stereo at 0.5 m on {nodes:3d} node(s) × 32 cores: {t / 60:8.1f} min "
              f"(matching only, {area_px / 1e9:.1f} Gpx)")
    print("reference: 9 min 10 s on 16 nodes × 32 vCPUs for the same case (the project's stated anchor)")


if __name__ == "__main__":
    main()
