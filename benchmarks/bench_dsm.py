"""The project's DSM step against the plain ``cars`` command line, on the same pair, ROI and configuration.

    python benchmarks/bench_dsm.py [--site kahramanmaras|gizeh] [--roi-m 400] [--workers 2]

1. ``ai4geo_lab.stereo.dsm`` (one tile: sensor reading and validation, CARS in a subprocess, output checks,
   COG + ortho mosaic, STAC) runs in a child process;
2. the CARS configuration it wrote for its tile is given, with another output folder, to ``cars`` itself.
Both are timed (wall clock) and their peak memory is the largest sum of RSS over the process tree (sampled every
0.2 s). Printed: times, peak memory, the overhead of the project step, the DSM difference between the two
(on the project's grid), and km² of DSM per core-hour.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio
from rasterio.warp import Resampling, reproject
from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pleiades"
SITES = {"kahramanmaras": ("kahramanmaras", "pre_event_img1.tif", "pre_event_img2.tif"),
         "gizeh": ("gizeh", "img1.tif", "img2.tif")}


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measured(cmd: list[str], log: Path, cwd: Path, env: dict | None = None) -> tuple[float, float, int]:
    """Run ``cmd``; (wall seconds, peak tree RSS in MB, exit code)."""
    peak = 0
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        child = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        proc = psutil.Process(child.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(proc))
                stop.wait(0.2)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = child.wait()
        stop.set()
        thread.join()
    return time.perf_counter() - t0, peak / 1e6, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", choices=sorted(SITES), default="kahramanmaras")
    parser.add_argument("--roi-m", type=float, default=400.0, help="side of the square ROI (m)")
    parser.add_argument("--workers", type=int, default=2, help="CARS processes")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from ai4geo_lab.geo.sensor import overlap, read_sensor

    folder, a, b = SITES[args.site]
    images = [DATA / folder / a, DATA / folder / b]
    sensors = [read_sensor(p) for p in images]
    c = overlap(sensors).centroid
    half_lat = args.roi_m / 2 / 111_320
    half_lon = half_lat / np.cos(np.radians(c.y))
    roi = tuple(float(v) for v in (c.x - half_lon, c.y - half_lat, c.x + half_lon, c.y + half_lat))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-dsm-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}

    # 1. the project's step (one tile covering the ROI)
    ours = work / "project"
    shutil.rmtree(ours, ignore_errors=True)
    code = (f"from ai4geo_lab.stereo import dsm; dsm({[str(p) for p in images]!r}, {str(ours)!r}, roi={roi!r}, "
            f"tile_size_m=1e6, workers={args.workers})")
    t_ours, mem_ours, rc = measured([sys.executable, "-c", code], work / "project.log", work, env)
    if rc != 0:
        sys.exit(f"the project's DSM step failed (exit {rc}); see {work / 'project.log'}")
    summary = json.loads((ours / "dsm.json").read_text())
    tile_conf = json.loads((ours / "tiles" / "r000_c000" / "cars.json").read_text())

    # 2. plain CARS on the same configuration
    plain = work / "plain"
    shutil.rmtree(plain, ignore_errors=True)
    tile_conf["output"]["directory"] = str(plain / "out")
    plain.mkdir(parents=True)
    (plain / "cars.json").write_text(json.dumps(tile_conf, indent=1))
    cars_bin = str(Path(sys.executable).with_name("cars"))
    t_plain, mem_plain, rc_plain = measured([cars_bin, "--logtype", "plain", str(plain / "cars.json")],
                                            work / "plain.log", plain)
    plain_dsm = plain / "out" / "dsm" / "dsm.tif"

    with rasterio.open(ours / "dsm.tif") as src:
        d_ours = src.read(1)
        grid = (src.transform, src.crs, src.shape)
    valid_ours = np.isfinite(d_ours)
    res = abs(grid[0].a)
    area_km2 = valid_ours.sum() * res * res / 1e6
    print(f"site {args.site}, ROI {args.roi_m:g} m × {args.roi_m:g} m, CARS workers {args.workers}, grid "
          f"{grid[2][1]}×{grid[2][0]} px at {res:g} m, DSM valid {valid_ours.mean():.1%} "
          f"({area_km2:.4f} km²), completeness in the overlap {summary['completeness']:.1%}")
    print(f"project dsm step : {t_ours:7.1f} s   peak {mem_ours:7.0f} MB   (CARS inside: "
          f"{summary['tiles'][0]['seconds']:.1f} s)")
    if rc_plain != 0 or not plain_dsm.is_file():
        print(f"plain cars CLI   : {t_plain:7.1f} s   peak {mem_plain:7.0f} MB   FAILED (exit {rc_plain}, DSM "
              f"{'present' if plain_dsm.is_file() else 'absent'}); see {work / 'plain.log'}")
        return
    print(f"plain cars CLI   : {t_plain:7.1f} s   peak {mem_plain:7.0f} MB")
    print(f"overhead         : {100 * (t_ours - t_plain) / t_plain:+6.1f} % time, "
          f"{100 * (mem_ours - mem_plain) / mem_plain:+6.1f} % peak memory")
    with rasterio.open(plain_dsm) as src:
        d_plain = np.full(grid[2], np.nan, np.float32)
        data = src.read(1).astype(np.float32)
        if src.nodata is not None:
            data[data == src.nodata] = np.nan
        reproject(data, d_plain, src_transform=src.transform, src_crs=src.crs, dst_transform=grid[0],
                  dst_crs=grid[1], src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear)
    both = valid_ours & np.isfinite(d_plain)
    diff = (d_ours - d_plain)[both]
    print(f"DSM difference   : {both.sum()} px compared, median {np.median(diff):+.3f} m, "
          f"mean |Δ| {np.mean(np.abs(diff)):.3f} m, 99th pct |Δ| {np.percentile(np.abs(diff), 99):.3f} m, "
          f"valid here only {np.sum(valid_ours & ~np.isfinite(d_plain))} px, "
          f"there only {np.sum(~valid_ours & np.isfinite(d_plain))} px")
    cores = args.workers
    print(f"throughput       : project {area_km2 / (t_ours / 3600 * cores):.3f} km²/core-hour, plain CARS "
          f"{area_km2 / (t_plain / 3600 * cores):.3f} km²/core-hour ({cores} cores; ROI footprint "
          f"{box(*roi).area * 111.32**2 * np.cos(np.radians(c.y)):.3f} km²)")
    print(f"outputs in {work}")


if __name__ == "__main__":
    main()
