"""Benchmark: masks to 3D buildings on the sample city and on Kampala's OpenStreetMap outlines.

Prints (1) the regularisation comparison — truth outlines rasterised at the image resolution, vectorised, then
left as they are, regularised by ai4geo_lab, or regularised by the PyPI package ``buildingregulariser`` on the
same inputs — with IoU, PoLiS, C-IoU, N-ratio and max tangent-angle error against the truth; (2) buildings per
second for vectorise, regularise, LOD1 and LOD2 with 1 and 2 worker processes.

Needs the ``bench`` extra (``pip install -e .[bench]``). Usage:
python benchmarks/bench_buildings.py [--size-m 600] [--gsd 0.5] [--repeat 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from affine import Affine

from ai4geo_lab.buildings.algo import building_models, footprint_heights
from ai4geo_lab.execution.tiles import TileGrid
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.quality.polygons import polygon_scores
from ai4geo_lab.vectorize.algo import (
    finish_polygons,
    mask_to_polygons,
    merge_tile_polygons,
    regularize,
)

KAMPALA = Path(__file__).resolve().parents[2] / "shared" / "data" / "buildings" / "kampala"
#: the Kampala chips' pixel size (m): 2.68e-6° of longitude at the equator
KAMPALA_GSD = 0.30


def rasterised(truth: gpd.GeoDataFrame, gsd: float) -> tuple[np.ndarray, Affine]:
    """The truth outlines burnt into a mask of ``gsd`` pixels (a 5 m margin around them)."""
    minx, miny, maxx, maxy = truth.total_bounds
    transform = Affine(gsd, 0, np.floor(minx) - 5, 0, -gsd, np.ceil(maxy) + 5)
    shape = (int((maxy - miny + 10) / gsd) + 2, int((maxx - minx + 10) / gsd) + 2)
    return rasterio.features.rasterize([(g, 1) for g in truth.geometry], out_shape=shape, transform=transform,
                                       dtype="uint8"), transform


def compare(name: str, truth: gpd.GeoDataFrame, gsd: float, min_area: float) -> pd.DataFrame:
    """Unregularised, ai4geo_lab and buildingregulariser outlines scored against the truth."""
    from buildingregulariser import regularize_geodataframe

    mask, transform = rasterised(truth, gsd)
    raw = mask_to_polygons(mask, transform, min_area_m2=min_area, crs=truth.crs)
    rows = []
    for method, fn in (("unregularised", lambda g: g),
                       ("ai4geo_lab", lambda g: regularize(g, gsd)),
                       ("buildingregulariser", lambda g: regularize_geodataframe(
                           g, simplify_tolerance=gsd, num_cores=1)),
                       ("buildingregulariser (defaults)", lambda g: regularize_geodataframe(g, num_cores=1))):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(raw)
        dt = time.perf_counter() - t0
        s = polygon_scores(out, truth)
        a, b = out.sindex.query(out.geometry, predicate="overlaps")
        inter = shapely.area(shapely.intersection(out.geometry.to_numpy()[a], out.geometry.to_numpy()[b]))
        overlaps = int(np.sum(inter > 1e-4) // 2)  # pairs sharing more than 1 cm²
        rows.append({"data": name, "method": method, **s, "invalid": int((~out.geometry.is_valid).sum()),
                     "overlapping_pairs": overlaps,
                     "buildings_per_s": len(raw) / dt if method != "unregularised" else np.nan})
    return pd.DataFrame(rows)


def _tile_city(mask: np.ndarray, dsm: np.ndarray, dtm: np.ndarray, truth: gpd.GeoDataFrame, transform: Affine,
               repeat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, gpd.GeoDataFrame]:
    """The city repeated ``repeat`` × ``repeat`` times (buildings never touch the city's edges)."""
    h, w = mask.shape
    parts = []
    for i in range(repeat):
        for j in range(repeat):
            parts.append(truth.translate(j * w * transform.a, i * h * transform.e))
    big = gpd.GeoDataFrame(geometry=pd.concat(parts, ignore_index=True), crs=truth.crs)
    return np.tile(mask, (repeat, repeat)), np.tile(dsm, (repeat, repeat)), np.tile(dtm, (repeat, repeat)), big


def _vectorise_chunk(args: tuple) -> list:
    arr, transform = args
    from ai4geo_lab.vectorize.algo import raw_polygons

    return raw_polygons(arr, transform)


def _regularise_chunk(args: tuple) -> gpd.GeoDataFrame:
    gdf, tol = args
    return regularize(gdf, tol)


def _lod1_chunk(args: tuple) -> gpd.GeoDataFrame:
    gdf, ndsm, dtm, transform = args
    return footprint_heights(gdf, ndsm, dtm, transform)


def _lod2_chunk(args: tuple) -> gpd.GeoDataFrame:
    gdf, ndsm, dtm, transform = args
    return building_models(gdf, ndsm, dtm, transform)


def _window(gdf: gpd.GeoDataFrame, arrays: list[np.ndarray], transform: Affine) -> tuple:
    """The rasters cropped to the buildings' bounds (so that a worker gets only what it needs)."""
    minx, miny, maxx, maxy = gdf.total_bounds
    c0, r0 = (int(np.floor(v)) for v in ~transform * (minx, maxy))
    c1, r1 = (int(np.ceil(v)) for v in ~transform * (maxx, miny))
    r0, c0 = max(r0 - 2, 0), max(c0 - 2, 0)
    return (gdf, *[a[r0:r1 + 2, c0:c1 + 2] for a in arrays], transform @ Affine.translation(c0, r0))


def throughput(city_root: Path, repeat: int, workers: int) -> pd.DataFrame:
    """Buildings per second of each stage with 1 and ``workers`` processes, on the repeated sample city."""
    from ai4geo_lab.sample import SampleCity

    city = SampleCity.load(city_root)
    truth = read_vector(city.truth("date1", "buildings"))
    with rasterio.open(city.truth("date1", "dsm")) as src:
        dsm, transform = src.read(1).astype(np.float64), src.transform
    with rasterio.open(city.truth("date1", "dtm")) as src:
        dtm = src.read(1).astype(np.float64)
    mask = rasterio.features.rasterize([(g, 1) for g in truth.geometry], out_shape=dsm.shape, transform=transform,
                                       dtype="uint8")
    mask, dsm, dtm, truth = _tile_city(mask, dsm, dtm, truth, transform, repeat)
    ndsm = dsm - dtm
    n = len(truth)
    gsd = abs(transform.a)
    raw = mask_to_polygons(mask, transform)
    rows = []
    for nproc in sorted({1, workers}):
        with ProcessPoolExecutor(nproc) as pool:
            list(pool.map(abs, range(nproc)))  # start the workers before timing
            t0 = time.perf_counter()
            tiles = [(mask[t.core.toslices()], transform @ Affine.translation(t.core.col_off, t.core.row_off))
                     for t in TileGrid(*mask.shape, tile_size=500)]
            pieces = [p for part in pool.map(_vectorise_chunk, tiles) for p in part]
            vec = finish_polygons(merge_tile_polygons(pieces, gsd / 1000), gsd, 25.0)  # the merge: in the parent
            times = {"vectorise": time.perf_counter() - t0}
            chunks = np.array_split(np.arange(len(raw)), 4 * nproc)
            t0 = time.perf_counter()
            list(pool.map(_regularise_chunk, [(raw.iloc[c], gsd) for c in chunks]))
            times["regularise"] = time.perf_counter() - t0
            order = np.argsort(truth.geometry.centroid.y.to_numpy())  # spatial chunks: small raster windows
            chunks = np.array_split(order, 4 * nproc)
            jobs = [_window(truth.iloc[c], [ndsm, dtm], transform) for c in chunks]
            for stage, fn in (("LOD1", _lod1_chunk), ("LOD2", _lod2_chunk)):
                t0 = time.perf_counter()
                list(pool.map(fn, jobs))
                times[stage] = time.perf_counter() - t0
        rows += [{"stage": k, "processes": nproc, "buildings": n if k != "vectorise" else len(vec),
                  "seconds": v, "buildings_per_s": (n if k != "vectorise" else len(vec)) / v}
                 for k, v in times.items()]
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-m", type=float, default=600.0)
    ap.add_argument("--gsd", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="the city is repeated N × N times for throughput")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from ai4geo_lab.sample import make_sample_city

    pd.set_option("display.width", 200)
    with tempfile.TemporaryDirectory() as tmp:
        city = make_sample_city(Path(tmp) / "city", seed=args.seed, size_m=args.size_m, gsd=args.gsd)
        tables = [compare(f"sample city {args.size_m:g} m", read_vector(city.truth("date1", "buildings")),
                          args.gsd, 25.0)]
        if (KAMPALA / "aoi_buildings_osm.geojson").is_file():
            osm = gpd.read_file(KAMPALA / "aoi_buildings_osm.geojson").to_crs(32636)
            tables.append(compare("Kampala OSM", osm, KAMPALA_GSD, 2.0))
        else:
            print(f"Kampala outlines not found under {KAMPALA}: sample city only")
        table = pd.concat(tables, ignore_index=True)
        print("Regularisation against the truth outlines (means over matched pairs, IoU ≥ 0.5):")
        print(table.round(3).to_string(index=False))
        for data, g in table.groupby("data", sort=False):
            by = g.set_index("method")
            ours, br, raw = by.loc["ai4geo_lab"], by.loc["buildingregulariser"], by.loc["unregularised"]
            br = br if br["polis"] <= by.loc["buildingregulariser (defaults)", "polis"] else by.loc[
                "buildingregulariser (defaults)"]  # its better setting
            print(f"{data}: IoU loss vs unregularised {raw['iou'] - ours['iou']:+.4f} (best buildingregulariser "
                  f"{raw['iou'] - br['iou']:+.4f}); PoLiS ratio ai4geo/it "
                  f"{ours['polis'] / br['polis']:.3f}; N-ratio {ours['n_ratio']:.3f}")
        tp = throughput(city.root, args.repeat, args.workers)
        print(f"\nThroughput on the sample city repeated {args.repeat}×{args.repeat} (truth mask, DSM and DTM):")
        print(tp.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
