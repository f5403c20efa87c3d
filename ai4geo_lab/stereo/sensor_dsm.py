"""``ai4geo_lab.stereo.dsm``: a DSM (COG), its ortho image and STAC items from a stereo pair or tri-stereo set.

The area (the images' overlap, or a ROI inside it) is cut into ROI tiles of the output grid; each tile is one
CARS run (a Dask task when a client is given, CARS's multiprocessing inside), given the tile plus a margin and
keeping only the tile's core, so the mosaic has no seams. Outputs are checked, not logs: every tile that the
images overlap must have a DSM covering at least ``min_completeness`` of that overlap, else nothing is called
done (:class:`~ai4geo_lab.errors.IncompleteProductError`); finished tiles are kept for a rerun.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
import shapely
from affine import Affine
from pydantic import ValidationError
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from rasterio.windows import Window
from shapely.geometry import Polygon, box, mapping

from ai4geo_lab import __version__
from ai4geo_lab.errors import (
    Ai4geoError,
    ConfigError,
    IncompleteProductError,
    NoOverlapError,
    ProcessingError,
    format_validation_error,
)
from ai4geo_lab.execution.executor import Progress, TileTask, prepare_record, run_tiles
from ai4geo_lab.execution.lineage import product_item, write_catalog
from ai4geo_lab.execution.manifest import Manifest
from ai4geo_lab.execution.mosaic import mosaic_cog
from ai4geo_lab.geo.atomic import atomic_path, write_text_atomic
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.sensor import SensorImage, read_sensor
from ai4geo_lab.stereo.cars_engine import CarsDsmParams, TileJob, check_cars, run_tile
from ai4geo_lab.stereo.geometry import choose_pairs, height_sensitivity

ImageSpec = str | Path | SensorImage | tuple[str | Path, str | Path]
RoiSpec = Any

#: CARS 1.3's default search around the tie points' heights (m below, m above).
CARS_LOWER_MARGIN_M, CARS_UPPER_MARGIN_M = 500.0, 1000.0


@dataclass
class DsmResult:
    """What :func:`dsm` produced."""

    dsm: Path
    ortho: Path | None
    catalog: Path
    crs: str
    transform: Affine
    shape: tuple[int, int]
    completeness: float
    pairs: list[tuple[str, str]]
    tiles: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def area_km2(self) -> float:
        """Area of the output grid (km²)."""
        return self.shape[0] * self.shape[1] * abs(self.transform.a * self.transform.e) / 1e6


def _sensor(spec: ImageSpec) -> SensorImage:
    if isinstance(spec, SensorImage):
        return spec
    if isinstance(spec, tuple):
        return read_sensor(spec[0], spec[1])
    return read_sensor(spec)


def search_margins(sensors: list[SensorImage], pairs: list[tuple[int, int]], where: tuple[float, float, float],
                   tile_width_m: float, fill: float = 0.5) -> tuple[float, float]:
    """Heights (m) below and above the tie points that CARS's dense matching searches, for tiles of this width.

    CARS searches 500 m below and 1000 m above by default, and drops every pixel whose disparity range leaves
    the image; on a small tile (or a strong stereo base) that range is wider than the tile itself and the first,
    coarse DSM comes out empty. The margins keep CARS's 1 : 2 ratio and are shrunk so that the search spans
    at most ``fill`` of the tile's width along the base of the strongest pair; never widened.
    """
    lon, lat, h = where
    a = sensors[pairs[0][0]]
    to_map = Transformer.from_crs("EPSG:4326", f"EPSG:{utm_epsg(lon, lat)}", always_xy=True)
    to_ll = Transformer.from_crs(f"EPSG:{utm_epsg(lon, lat)}", "EPSG:4326", always_xy=True)
    e, n = to_map.transform(lon, lat)
    lon1, lat1 = to_ll.transform(e + 10.0, n)
    (r0, c0), (r1, c1) = a.project(lon, lat, h), a.project(lon1, lat1, h)
    gsd = 10.0 / max(float(np.hypot(r1 - r0, c1 - c0)), 1e-6)  # metres per image pixel
    parallax = max(height_sensitivity(sensors[i], sensors[j], lon, lat, h) for i, j in pairs)  # px per m
    span = fill * (tile_width_m / gsd) / max(parallax, 1e-6)  # heights the search may cover (m)
    scale = min(1.0, span / (CARS_LOWER_MARGIN_M + CARS_UPPER_MARGIN_M))
    return float(max(1, round(CARS_LOWER_MARGIN_M * scale))), float(max(2, round(CARS_UPPER_MARGIN_M * scale)))


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone of a point."""
    zone = min(60, int((lon + 180) // 6) + 1)
    return (32600 if lat >= 0 else 32700) + zone


def _roi_polygon(roi: RoiSpec) -> Polygon | None:
    """The ROI in EPSG:4326: a polygon, (w, s, e, n), GeoJSON, WKT, a vector file or an AOI."""
    if roi is None:
        return None
    from ai4geo_lab.aoi import to_aoi

    return to_aoi(roi, max_area_km2=None).geometry


def _imaging_datetime(sensors: list[SensorImage]) -> dt.datetime:
    for s in sensors:
        with open_raster(s.image) as src:
            tags = src.tags()
        date, hour = tags.get("IMAGING_DATE"), tags.get("IMAGING_TIME", "00:00:00Z")
        if date:
            try:
                return dt.datetime.fromisoformat(f"{date}T{hour.rstrip('Z')[:15]}").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
    return dt.datetime.now(dt.UTC)


def _splits(n_px: int, tile_px: int) -> list[tuple[int, int]]:
    """Offsets and sizes of near-equal tiles of about ``tile_px`` covering ``n_px`` (no thin slivers)."""
    n = max(1, round(n_px / tile_px))
    size = -(-n_px // n)
    return [(o, min(size, n_px - o)) for o in range(0, n_px, size)]


def plan_tiles(shape_px: tuple[int, int], transform: Affine, tile_px: int, margin_m: float,
               domain: np.ndarray) -> list[TileJob]:
    """Cut the grid into tiles of about ``tile_px`` and give each its ROI (core plus ``margin_m``) and overlap."""
    rows, cols = shape_px
    jobs = []
    res = abs(transform.a)
    for i, (r0, h) in enumerate(_splits(rows, tile_px)):
        for j, (c0, w) in enumerate(_splits(cols, tile_px)):
            minx, maxy = transform * (c0, r0)
            maxx, miny = minx + w * res, maxy - h * res
            jobs.append(TileJob(f"r{i:03d}_c{j:03d}", (r0, c0, h, w),
                                (minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m),
                                int(domain[r0:r0 + h, c0:c0 + w].sum())))
    return jobs


def _mosaic(work: Path, jobs: list[TileJob], name: str, out: Path, shape_px: tuple[int, int], transform: Affine,
            crs: str, description: str) -> bool:
    """Mosaic the tiles' core rasters ``work/<key>/core_<name>.tif`` into one COG; False if no tile has one."""
    parts = [(work / j.key / f"core_{name}.tif", Window(j.core[1], j.core[0], j.core[3], j.core[2])) for j in jobs]
    parts = [(f, w) for f, w in parts if f.is_file()]
    if not parts:
        return False
    mosaic_cog(parts, out, shape_px, transform, crs, "float32", np.nan, [description],
               overview_resampling="average", tags={"SOFTWARE": f"ai4geo-lab {__version__}"}, predictor=3)
    return True


def stereo_area(sensors: list[SensorImage], roi: RoiSpec = None) -> tuple[Polygon, Polygon | None, float]:
    """The ground the images all see (at their models' mean height), inside ``roi`` if given (EPSG:4326);
    the ROI as a polygon; and that mean height. Refuses images or a ROI without overlap."""
    h_ref = float(np.mean([s.rpc.height_off for s in sensors]))
    common = sensors[0].footprint(h_ref)
    for s in sensors[1:]:
        common = common.intersection(s.footprint(h_ref))
    if common.is_empty or common.area == 0:
        raise NoOverlapError("the images do not overlap on the ground",
                             "give images of the same area (a stereo pair)")
    area = common
    roi_poly = _roi_polygon(roi)
    if roi_poly is not None:
        area = common.intersection(roi_poly)
        if area.is_empty or area.area == 0:
            raise NoOverlapError(f"the ROI {tuple(round(v, 5) for v in roi_poly.bounds)} is outside the images' "
                                 f"overlap {tuple(round(v, 5) for v in common.bounds)}",
                                 "give a ROI inside the area both images see")
    return area, roi_poly, h_ref


def snapped_grid(bounds: tuple[float, float, float, float], resolution: float) -> tuple[Affine, tuple[int, int]]:
    """The transform and shape of a north-up grid covering ``bounds``, snapped outwards to ``resolution``."""
    minx, miny, maxx, maxy = bounds
    minx, miny = math.floor(minx / resolution) * resolution, math.floor(miny / resolution) * resolution
    maxx, maxy = math.ceil(maxx / resolution) * resolution, math.ceil(maxy / resolution) * resolution
    return (Affine(resolution, 0, minx, 0, -resolution, maxy),
            (round((maxy - miny) / resolution), round((maxx - minx) / resolution)))


def area_grid(images: Sequence[ImageSpec], roi: RoiSpec = None, resolution: float = 0.5) -> GroundGrid:
    """The UTM ground grid at ``resolution`` m over the images' overlap (inside ``roi``): where a DSM is made."""
    if resolution <= 0:
        raise ConfigError(f"resolution must be positive, got {resolution}")
    area, _, _ = stereo_area([_sensor(s) for s in images], roi)
    c = area.centroid
    crs = f"EPSG:{utm_epsg(c.x, c.y)}"
    area_map = shapely.transform(area, Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform,
                                 interleaved=False)
    transform, shape = snapped_grid(area_map.bounds, resolution)
    return GroundGrid(crs, transform, shape)


def dsm(images: Sequence[ImageSpec], out: str | Path, resolution: float = 0.5, engine: Literal["cars"] = "cars",
        roi: RoiSpec = None, client: Any = None, *, grid: tuple[str, Affine, tuple[int, int]] | None = None,
        params: CarsDsmParams | None = None, log: Callable[[str], None] = print, manifest: Manifest | None = None,
        record_id: str = "dsm/cars", progress: Progress = True, **settings: Any) -> DsmResult:
    """A DSM from a stereo pair or a tri-stereo set of sensor images with RPC models.

    ``images``: paths (geometry found beside them or in their RPC tags), ``(image, geomodel)`` tuples or
    :class:`~ai4geo_lab.geo.sensor.SensorImage`. ``roi``: a polygon or ``(w, s, e, n)`` in degrees, GeoJSON, WKT
    or a vector file (default: the images' overlap). ``grid``: an explicit output grid ``(crs, transform, shape)``
    instead of the UTM grid at ``resolution`` metres. ``params`` (or its fields as keyword ``settings``, e.g.
    ``tile_size_m=300``): the engine's settings, :class:`~ai4geo_lab.stereo.cars_engine.CarsDsmParams`. Heights
    are ellipsoidal (as in the RPC models) unless ``geoid``. Tiles of ``tile_size_m`` (plus ``margin_m``) run as
    Dask tasks on ``client`` (else one after the other), each with CARS's multiprocessing on ``workers``
    processes of ``max_ram_per_worker`` MB. ``height_margins_m``: how far below and above the tie points' heights
    dense matching searches (default: CARS's 500 and 1000 m, shrunk to fit small tiles: :func:`search_margins`).

    Writes ``out/dsm.tif`` (float32 COG, NaN nodata), ``out/ortho.tif`` (the image CARS projects on the DSM),
    ``out/stac/catalog.json`` and ``out/dsm.json`` (summary); ``out/tiles/<key>/`` keeps each CARS run. Tiles run
    through the package's tiled executor and are recorded in ``manifest`` (default ``out/run.json``) under
    ``record_id``: a rerun with the same options computes only the missing tiles.
    """
    if engine != "cars":
        raise ConfigError(f"unknown DSM engine '{engine}'", "engines: cars (the native engine is the 'dsm' step's "
                          "default engine)")
    if resolution <= 0:
        raise ConfigError(f"resolution must be positive, got {resolution}")
    try:
        params = CarsDsmParams.model_validate({**(params.model_dump() if params is not None else {}), **settings})
    except ValidationError as exc:
        raise ConfigError(f"invalid CARS settings: {format_validation_error(exc)}") from exc
    tile_size_m, margin_m, min_completeness = params.tile_size_m, params.margin_m, params.min_completeness
    height_margins_m = params.height_margins_m
    cars_version = check_cars()
    t0 = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sensors = [_sensor(s) for s in images]
    area, roi_poly, h_ref = stereo_area(sensors, roi)
    c = area.centroid
    pairs = choose_pairs(sensors, (c.x, c.y, h_ref))
    if grid is None:
        epsg: int | None = utm_epsg(c.x, c.y)
        crs = f"EPSG:{epsg}"
    else:
        crs, transform, shape_px = grid
        epsg = CRS.from_user_input(crs).to_epsg()
        if epsg is None:
            raise ConfigError(f"the output grid's CRS {crs} has no EPSG code", "use a UTM or other EPSG grid")
        resolution = abs(transform.a)
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    area_map = shapely.transform(area, to_map.transform, interleaved=False)
    if grid is None:
        transform, shape_px = snapped_grid(area_map.bounds, resolution)
    # where a DSM is expected: the overlap (inside the ROI), loosely at first (heights are not known yet)
    loose = rasterize([area_map.buffer(margin_m)], out_shape=shape_px, transform=transform, fill=0,
                      default_value=1, dtype="uint8").astype(bool)
    if not loose.any():
        raise NoOverlapError("the output grid does not cross the images' overlap", "check the grid or the ROI")
    tile_px = max(64, round(tile_size_m / resolution))
    jobs = plan_tiles(shape_px, transform, tile_px, margin_m, loose)
    work = out / "tiles"
    if height_margins_m is None:
        widest = max(min(j.roi[2] - j.roi[0], j.roi[3] - j.roi[1]) for j in jobs)
        height_margins_m = search_margins(sensors, pairs, (c.x, c.y, h_ref), widest)
    if min(height_margins_m) <= 0:
        raise ConfigError(f"height margins must be positive, got {height_margins_m}")
    options: dict[str, Any] = {"workers": params.workers, "max_ram_per_worker": params.max_ram_per_worker,
                               "geoid": params.geoid, "timeout_s": params.timeout_s,
                               "height_margins": tuple(float(m) for m in height_margins_m)}
    names = [s.image.name for s in sensors]
    log(f"[dsm] CARS {cars_version}: {len(jobs)} tile(s) of ≤ {tile_px} px at {resolution:g} m, "
        f"{shape_px[1]}×{shape_px[0]} px, pairs {[(names[a], names[b]) for a, b in pairs]}, search "
        f"−{options['height_margins'][0]:g}/+{options['height_margins'][1]:g} m around the tie points")
    manifest = manifest if manifest is not None else Manifest(out)
    prepare_record(manifest, record_id, {"sensors": [str(s.image) for s in sensors], "pairs": pairs,
                                         "grid": [crs, list(transform)[:6], list(shape_px)], "tile_px": tile_px,
                                         "margin_m": margin_m, **options})
    args = (sensors, pairs, work, transform, crs, epsg, options)
    tasks = [TileTask(j.key, run_tile, (j, *args), (work / j.key / "core_dsm.tif",)) for j in jobs]

    def said(info: dict[str, Any]) -> None:
        log(f"[dsm] tile {info['key']}: {info['seconds']:.0f} s")

    ran = run_tiles(tasks, manifest, record_id, client, progress, retries=0, on_done=said)
    if ran.failures:
        key, failure = ran.failures[0]
        first = failure if isinstance(failure, Ai4geoError) else ProcessingError(  # a worker lost, a bug
            f"{type(failure).__name__}: {failure}")
        raise type(first)(f"{len(ran.failures)} of {len(jobs)} DSM tile(s) failed (first, {key}: {first.message})",
                          first.hint or "finished tiles are kept; rerun to resume")
    records = manifest.step(record_id)["tiles"]
    infos = [records[j.key] for j in jobs]
    dsm_path, ortho_path = out / "dsm.tif", out / "ortho.tif"
    tmp_dsm = atomic_path(out / "dsm.unchecked.tif")
    try:
        _mosaic(work, jobs, "dsm", tmp_dsm, shape_px, transform, crs, "surface height (m, "
                + ("EGM96 geoid" if params.geoid else "WGS84 ellipsoid") + ")")
        with rasterio.open(tmp_dsm) as src:
            data = src.read(1)
        valid = np.isfinite(data)
        # the expected area, now at the DSM's own height, minus a few pixels of border
        h_obs = float(np.nanmedian(data)) if valid.any() else h_ref
        seen = sensors[0].footprint(h_obs)
        for s in sensors[1:]:
            seen = seen.intersection(s.footprint(h_obs))
        expected = seen.intersection(roi_poly) if roi_poly is not None else seen
        exp_map = shapely.transform(expected, to_map.transform, interleaved=False).buffer(-3 * resolution)
        domain = rasterize([exp_map], out_shape=shape_px, transform=transform, fill=0, default_value=1,
                           dtype="uint8").astype(bool) if not exp_map.is_empty else np.zeros(shape_px, bool)
        stats = _completeness(jobs, valid, domain)
        bad = [(k, v) for k, v in stats["tiles"].items() if v is not None and v < min_completeness]
        if bad or not valid.any():
            raise IncompleteProductError(
                f"the DSM covers only {stats['completeness']:.0%} of the images' overlap"
                + (f"; tile(s) below {min_completeness:.0%}: " + ", ".join(f"{k} {v:.0%}" for k, v in bad[:5])
                   if bad else ""),
                f"tiles are kept in {work} (each with its CARS log); check the images, or lower min_completeness")
        os.replace(tmp_dsm, dsm_path)
    finally:
        tmp_dsm.unlink(missing_ok=True)
    has_ortho = _mosaic(work, jobs, "ortho", ortho_path, shape_px, transform, crs, "panchromatic ortho image (CARS)")
    products = {"dsm": dsm_path} | ({"ortho": ortho_path} if has_ortho else {})
    extent = box(*rasterio.transform.array_bounds(*shape_px, transform))
    footprint = shapely.transform(extent, to_ll.transform, interleaved=False)
    used = {"engine": engine, "resolution": resolution, "roi": mapping(roi_poly) if roi_poly is not None else None,
            **params.model_dump(mode="json"), "height_margins_m": list(options["height_margins"]),
            "pairs": [[names[a], names[b]] for a, b in pairs], "cars": cars_version}
    inputs = {f"image{i}": s.image for i, s in enumerate(sensors)}
    when = _imaging_datetime(sensors)
    items = [product_item(f"{out.name}-{name}", path, mapping(footprint), when, "dsm", used, inputs, epsg,
                          software={"cars": cars_version},
                          properties={"ai4geo:completeness": stats["completeness"]} if name == "dsm" else None)
             for name, path in products.items()]
    catalog = write_catalog(out, items, "DSM from satellite stereo (CARS) and its ortho image", "ai4geo-dsm")
    elapsed = time.perf_counter() - t0
    summary = {"dsm": str(dsm_path), "ortho": str(ortho_path) if has_ortho else None, "crs": crs,
               "transform": list(transform)[:6], "shape": list(shape_px), "completeness": stats["completeness"],
               "tile_completeness": stats["tiles"], "wall_time_s": round(elapsed, 2), "parameters": used,
               "tiles": [{k: v for k, v in i.items() if k != "config"} for i in infos]}
    write_text_atomic(out / "dsm.json", json.dumps(summary, indent=1))
    log(f"[dsm] done in {elapsed:.1f} s: {dsm_path} ({stats['completeness']:.1%} of the overlap)")
    return DsmResult(dsm_path, ortho_path if has_ortho else None, catalog, crs, transform, shape_px,
                     stats["completeness"], [(names[a], names[b]) for a, b in pairs], infos, round(elapsed, 2))


def _completeness(jobs: list[TileJob], valid: np.ndarray, domain: np.ndarray) -> dict[str, Any]:
    tiles: dict[str, float | None] = {}
    for j in jobs:
        r0, c0, h, w = j.core
        d = domain[r0:r0 + h, c0:c0 + w]
        n = int(d.sum())
        tiles[j.key] = round(float(valid[r0:r0 + h, c0:c0 + w][d].mean()), 4) if n > 100 else None
    n = int(domain.sum())
    return {"completeness": round(float(valid[domain].mean()), 4) if n else float("nan"), "tiles": tiles}
