"""The CARS engine: one CARS run per ROI tile, in a subprocess, its outputs checked rather than its logs.

A tile is a rectangle of the output grid (UTM); CARS is given the tile plus a margin as its ROI, and only the
tile's core is kept, so neighbouring tiles meet without seams. CARS's own multiprocessing (``nb_workers``) runs
inside each tile; tiles are independent tasks (Dask, when a client is given).

CARS logs "Pipeline will pursue without failed tiles" and "all tiles are None" yet may exit 0; a run is judged
here by what it wrote: a DSM must exist and cover the part of the tile that the images overlap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pydantic import BaseModel, ConfigDict, Field
from rasterio.warp import Resampling, reproject

from ai4geo_lab.errors import ProcessingError, installed_version
from ai4geo_lab.geo.atomic import write_text_atomic
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.geo.sensor import SensorImage

#: Messages of CARS worth repeating when a run gives nothing.
_TELLING = ("all tiles are None", "Pipeline will pursue without failed tiles", "MemoryError", "Killed",
            "No overlap", "no overlap", "not enough", "terminated with following error")


class CarsDsmParams(BaseModel):
    """CARS (CNES) multi-view stereo over ROI tiles; the output grid is the run's grid."""

    model_config = ConfigDict(extra="forbid")
    tile_size_m: float = Field(default=1500.0, gt=0, description="side of a ROI tile (one CARS run), metres")
    margin_m: float = Field(default=60.0, ge=0, description="margin around each tile given to CARS (m)")
    workers: int = Field(default=2, ge=1, le=64, description="CARS processes per tile (its multiprocessing)")
    max_ram_per_worker: int = Field(default=2000, ge=500, description="memory per CARS process (MB)")
    geoid: bool = Field(default=False, description="heights above the EGM96 geoid instead of the ellipsoid")
    min_completeness: float = Field(default=0.5, ge=0, le=1,
                                    description="smallest share of the overlap a tile's DSM must cover")
    timeout_s: float = Field(default=3600.0, gt=0, description="longest a CARS run may take (s)")
    height_margins_m: tuple[float, float] | None = Field(
        default=None, description="metres below and above the tie points' heights that matching searches "
        "(default: CARS's 500 and 1000, shrunk to fit small tiles)")


def check_cars() -> str:
    """The installed CARS version, or a :class:`MissingDependencyError` naming the extra to install."""
    return installed_version("cars", "cars", "cars")


@dataclass(frozen=True)
class TileJob:
    """One CARS run: the tile's key, its core on the output grid and its ROI with margin (grid CRS)."""

    key: str
    core: tuple[int, int, int, int]  # row_off, col_off, height, width on the output grid
    roi: tuple[float, float, float, float]  # minx, miny, maxx, maxy with margin, in the grid's CRS
    domain_px: int  # pixels of the core inside the image overlap


# CARS retries the tasks of a pool process that died (pandora 1.9's confidence code can segfault) once this timeout
# has passed; CARS's default of 600 s makes each such loss cost ten minutes. Its tasks are sized to take far less.
CARS_TASK_TIMEOUT_S = 300


def cars_config(sensors: list[SensorImage], pairs: list[tuple[int, int]], out_dir: Path,
                roi: tuple[float, float, float, float] | None, epsg: int, workers: int, max_ram_per_worker: int,
                geoid: bool, height_margins: tuple[float, float] | None = None) -> dict[str, Any]:
    """A CARS 1.3 configuration: sensors (image + geometry file, or the image's RPC tags), pairing, ROI, output;
    ``height_margins``: metres below and above the tie points' heights searched at every resolution. Pixels whose
    search range leaves the image are matched, not dropped."""
    names = [f"img{i}" for i in range(len(sensors))]
    inputs: dict[str, Any] = {"sensors": {}, "pairing": [[names[a], names[b]] for a, b in pairs]}
    for name, s in zip(names, sensors, strict=True):
        entry: dict[str, Any] = {"image": str(s.image)}
        if s.geomodel is not None:
            entry["geomodel"] = str(s.geomodel)
        inputs["sensors"][name] = entry
    if roi is not None:
        minx, miny, maxx, maxy = roi
        inputs["roi"] = {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": f"EPSG:{epsg}"}},
            "features": [{"type": "Feature", "properties": {}, "geometry": {
                "type": "Polygon",
                "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]]}}],
        }
    conf: dict[str, Any] = {
        "input": inputs,
        "output": {"directory": str(out_dir), "epsg": epsg, "geoid": geoid, "auxiliary": {"image": ["b0"]}},
        "orchestrator": {"mode": "multiprocessing", "nb_workers": workers, "max_ram_per_worker": max_ram_per_worker,
                         "task_timeout": CARS_TASK_TIMEOUT_S},
    }
    # CARS drops every pixel whose disparity search leaves the epipolar image; near tile edges (and everywhere on a
    # small tile) that removes the ground the tile was cut for. Those pixels are matched within the image instead.
    conf["surface_modeling"] = {"applications": {"all": {"dense_matching": {
        "filter_incomplete_disparity_range": False}}}}
    if height_margins is not None:
        lower, upper = height_margins
        conf["tie_points"] = {"applications": {"all": {"sparse_matching": {
            "disparity_bounds_estimation": {"lower_margin": round(lower), "upper_margin": round(upper)}}}}}
    return conf


def _log_excerpt(log: Path, lines: int = 6) -> str:
    if not log.is_file():
        return ""
    text = log.read_text(errors="replace").splitlines()
    telling = [t.split(" :: ")[-1].strip() for t in text if any(k in t for k in _TELLING)]
    return "; ".join(dict.fromkeys(telling[-lines:]))


def run_cars(config: dict[str, Any], work: Path, timeout_s: float) -> tuple[Path, float]:
    """Write ``config`` to ``work/cars.json`` and run CARS on it in a subprocess; returns (log, seconds).

    A non-zero exit, a kill (out of memory) or a timeout raise :class:`ProcessingError` quoting CARS's log.
    """
    check_cars()
    work.mkdir(parents=True, exist_ok=True)
    conf = write_text_atomic(work / "cars.json", json.dumps(config, indent=1))
    log = work / "cars.log"
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    # Dask's nanny (and our worker settings) fix glibc's trim and mmap thresholds; with them, CARS's pool processes
    # segfaulted in pandora's confidence code (a read past an array's end) and CARS waited for the lost task until
    # its task timeout. CARS runs with glibc's own adaptive thresholds.
    for name in [k for k in env if k.startswith("MALLOC_")]:
        env.pop(name)
    cmd = [sys.executable, "-m", "ai4geo_lab.stereo.cars_run", str(conf)]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=work,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise ProcessingError(f"CARS did not finish within {timeout_s:.0f} s (log: {log})",
                                  "give a smaller ROI or tile size, more workers, or a longer timeout") from None
        except BaseException:  # interrupted: do not leave CARS running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    elapsed = time.perf_counter() - t0
    if code < 0:
        name = signal.Signals(-code).name
        raise ProcessingError(
            f"CARS was killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
            + f" (log: {log})", "lower max_ram_per_worker or the workers, or use smaller tiles")
    if code != 0:
        raise ProcessingError(f"CARS failed (exit code {code}): {_log_excerpt(log) or 'see the log'} (log: {log})",
                              "check the images and their geometry, the ROI, and the log")
    return log, elapsed


def check_tie_points(log: Path) -> None:
    """:class:`ProcessingError` when CARS found too few tie points to place the disparity search.

    CARS then warns ("Insufficient amount of matches found") and goes on around its initial elevation: on images
    with nothing to match it writes a smooth, complete and invented DSM. Such a run is not a DSM.
    """
    import re

    text = log.read_text(errors="replace") if log.is_file() else ""
    found = re.findall(r"Insufficient amount of matches found \((\d+) < (\d+)\)", text)
    if found:
        n, need = found[0]
        raise ProcessingError(f"CARS found {n} tie points where it needs {need} to estimate the disparity range "
                              f"(log: {log})", "the images may be featureless, cloudy or of different areas; "
                              "a larger tile (tile_size_m, margin_m) gives it more texture")


def cars_products(out_dir: Path, log: Path) -> tuple[Path, Path | None]:
    """The DSM (and ortho image) CARS wrote in ``out_dir``, or :class:`ProcessingError` when there is no DSM."""
    dsm = out_dir / "dsm" / "dsm.tif"
    image = out_dir / "dsm" / "image.tif"
    if not dsm.is_file():
        raise ProcessingError(f"CARS wrote no DSM in {out_dir}: {_log_excerpt(log) or 'nothing in its log'}",
                              "the images may not overlap over the ROI, or matching failed everywhere; "
                              f"see {log}")
    return dsm, image if image.is_file() else None


def resample_to(src_path: Path, transform: Affine, shape: tuple[int, int], crs: str,
                resampling: Resampling) -> np.ndarray:
    """Read a CARS raster onto a window of the output grid (float32, NaN where CARS has no data)."""
    out = np.full(shape, np.nan, np.float32)
    with rasterio.open(src_path) as src:
        data = src.read(1).astype(np.float32)
        if src.nodata is not None:
            data[data == src.nodata] = np.nan
        if np.allclose(tuple(src.transform)[:6], tuple(transform)[:6], atol=1e-6) and data.shape == shape:
            return data
        reproject(data, out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform, dst_crs=crs,
                  src_nodata=np.nan, dst_nodata=np.nan, resampling=resampling)
    return out


def run_tile(job: TileJob, sensors: list[SensorImage], pairs: list[tuple[int, int]], work: Path,
             grid_transform: Affine, grid_crs: str, epsg: int, options: dict[str, Any]) -> dict[str, Any]:
    """Run CARS on one tile and write its core DSM and ortho on the output grid (``work/<key>/core_*.tif``).

    Runs on a Dask worker or in-process, as a task of the tiled executor (which records it and skips it on a
    rerun).
    """
    tile_dir = work / job.key
    r0, c0, h, w = job.core
    core_transform = grid_transform * Affine.translation(c0, r0)
    core_dsm, core_ortho = tile_dir / "core_dsm.tif", tile_dir / "core_ortho.tif"
    config = cars_config(sensors, pairs, tile_dir / "cars", job.roi, epsg, options["workers"],
                         options["max_ram_per_worker"], options["geoid"], options.get("height_margins"))
    if job.domain_px == 0:  # outside the images' overlap: nothing to match, nothing expected
        write_raster(core_dsm, np.full((h, w), np.nan, np.float32), core_transform, grid_crs, np.nan, cog=False)
        return {"key": job.key, "core": list(job.core), "config": config, "seconds": 0.0, "ortho": False}
    log, seconds = run_cars(config, tile_dir, options["timeout_s"])
    check_tie_points(log)
    dsm_path, image_path = cars_products(tile_dir / "cars", log)
    dsm = resample_to(dsm_path, core_transform, (h, w), grid_crs, Resampling.bilinear)
    write_raster(core_dsm, dsm, core_transform, grid_crs, np.nan, cog=False)
    if image_path is not None:
        ortho = resample_to(image_path, core_transform, (h, w), grid_crs, Resampling.bilinear)
        write_raster(core_ortho, ortho, core_transform, grid_crs, np.nan, cog=False)
    return {"key": job.key, "core": list(job.core), "config": config, "seconds": round(seconds, 2),
            "ortho": image_path is not None, "log": str(log)}
