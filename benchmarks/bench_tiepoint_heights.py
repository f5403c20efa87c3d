"""Benchmark: heights to search derived from tie points, on the real Pléiades pairs.

For each pair (Gizeh; Kahramanmaraş before and after the earthquake) a square grid at the centre of the pair's
overlap: tie points found, the derived search range, and the time taken. Usage:
python benchmarks/bench_tiepoint_heights.py [--size-m 300] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyproj import Transformer

from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.sensor import centre_box, read_sensor
from ai4geo_lab.stereo.heights import derive_height_range
from ai4geo_lab.stereo.sensor_dsm import utm_epsg

PAIRS = {"gizeh": ("gizeh/img1.tif", "gizeh/img2.tif"),
         "kahramanmaras pre": ("kahramanmaras/pre_event_img1.tif", "kahramanmaras/pre_event_img2.tif"),
         "kahramanmaras post": ("kahramanmaras/post_event_img1.tif", "kahramanmaras/post_event_img2.tif")}


def centre_grid(images: list[Path], size_m: float) -> GroundGrid:
    """A 0.5 m UTM grid of ``size_m`` × ``size_m`` at the centre of the images' overlap."""
    w, s, e, n = centre_box(images, size_m, size_m)
    epsg = utm_epsg((w + e) / 2, (s + n) / 2)
    (x0, x1), (y0, y1) = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform([w, e], [s, n])
    return GroundGrid.from_bounds((x0, y0, x1, y1), f"EPSG:{epsg}", 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-m", type=float, default=300.0)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    for name, pair in PAIRS.items():
        images = [args.data / "pleiades" / p for p in pair]
        grid = centre_grid(images, args.size_m)
        t0 = time.perf_counter()
        found = derive_height_range(*images, grid)
        seconds = time.perf_counter() - t0
        rpc = read_sensor(images[0]).rpc
        print(f"{name}: {args.size_m:g} m grid, {seconds:.2f} s, {found.points} tie points of {found.matched} "
              f"matches, range {found.hmin:.1f}–{found.hmax:.1f} m ({found.hmax - found.hmin:.0f} m; observed "
              f"{found.observed[0]:.1f}–{found.observed[1]:.1f} m), models {rpc.height_off:g} ± "
              f"{rpc.height_scale:g} m")


if __name__ == "__main__":
    main()
