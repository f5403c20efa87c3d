"""The ``dsm`` step: a DSM on the ground grid from a panchromatic stereo pair (or tri-stereo set) with RPC models,
by the native engine (ground-space plane sweep) or by CARS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rasterio.windows import Window

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.geo.raster import open_raster, read_window
from ai4geo_lab.geo.sensor import read_rpc
from ai4geo_lab.params import EngineParams, EngineRun
from ai4geo_lab.stereo.algo import plane_sweep_ncc
from ai4geo_lab.stereo.cars_step import CarsDsmParams, run_cars_dsm
from ai4geo_lab.stereo.heights import derive_height_range

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid


#: Working memory of plane-sweep stereo per ground pixel: the RPC height polynomials (128 B), the running
#: best/score arrays, the two warped images and the box-filter temporaries.
BYTES_PER_PX = 320.0


class NativeStereoParams(BaseModel):
    """Ground-space plane-sweep stereo with NCC (winner-takes-all over candidate heights)."""

    model_config = ConfigDict(extra="forbid")
    hmin: float | None = Field(default=None, description="lowest height searched (m, as in the RPC models); "
                               "default: from tie points between the images")
    hmax: float | None = Field(default=None, description="highest height searched (m); default: from tie points")
    height_step: float | None = Field(default=None, gt=0, description="sweep step (m); default: 0.5 px parallax")
    window: int = Field(default=5, ge=3, le=21, description="NCC window side (odd, px)")
    min_score: float = Field(default=0.5, ge=-1, le=1, description="best NCC below this → nodata")
    median: int = Field(default=3, ge=0, le=9, description="median filter size on the result (0: none)")

    @model_validator(mode="after")
    def _check(self) -> NativeStereoParams:
        if self.hmin is not None and self.hmax is not None and self.hmax <= self.hmin:
            raise ValueError("hmax must be greater than hmin")
        if self.window % 2 == 0:
            raise ValueError("window must be odd")
        return self


def parallax_step(left: Path, right: Path, grid: GroundGrid, hmin: float, hmax: float) -> float:
    """Height step giving 0.5 px of parallax between the two views at the grid's centre."""
    rows, cols = grid.shape
    lon, lat = grid.window_lonlat(Window(cols // 2, rows // 2, 1, 1))
    rl, rr = read_rpc(left), read_rpc(right)
    (r0l, c0l), (r1l, c1l) = rl.project(lon, lat, hmin), rl.project(lon, lat, hmax)
    (r0r, c0r), (r1r, c1r) = rr.project(lon, lat, hmin), rr.project(lon, lat, hmax)
    parallax = np.hypot((r1l - r0l) - (r1r - r0r), (c1l - c0l) - (c1r - c0r)).item() / (hmax - hmin)
    return 0.5 / max(parallax, 1e-6)


def _image_window(path: Path, rows: np.ndarray, cols: np.ndarray, margin: int = 4) -> Window | None:
    with open_raster(path) as src:
        h, w = src.height, src.width
    r0 = max(0, int(np.floor(np.nanmin(rows))) - margin)
    c0 = max(0, int(np.floor(np.nanmin(cols))) - margin)
    r1 = min(h, int(np.ceil(np.nanmax(rows))) + margin + 1)
    c1 = min(w, int(np.ceil(np.nanmax(cols))) + margin + 1)
    if r1 <= r0 or c1 <= c0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def stereo_tile(tile: Tile, grid: GroundGrid, left: Path, right: Path, params: dict[str, Any],
                heights: np.ndarray) -> np.ndarray:
    """DSM of one tile (core window), NaN where matching failed."""
    lon, lat = grid.window_lonlat(tile.halo)
    sweeps, images, origins = [], [], []
    for path in (left, right):
        sweep = read_rpc(path).height_sweep(lon, lat)
        (ra, ca), (rb, cb) = sweep.project(heights[0]), sweep.project(heights[-1])
        win = _image_window(path, np.concatenate([ra, rb], axis=None), np.concatenate([ca, cb], axis=None))
        if win is None:  # the tile is outside this image
            return np.full((int(tile.core.height), int(tile.core.width)), np.nan, np.float32)
        image, _ = read_window(path, win)
        sweeps.append(sweep)
        images.append(image)
        origins.append((int(win.row_off), int(win.col_off)))
    result = plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], heights, left_origin=origins[0],
                             right_origin=origins[1], window=params["window"], min_score=params["min_score"],
                             median=params["median"])
    return result.dsm[tile.core_in_halo]


def run_native(ctx: StepContext, inputs: dict[str, Path], params: NativeStereoParams) -> dict[str, Path]:
    """Match the pair tile by tile and mosaic the DSM."""
    if "third" in inputs:
        raise ConfigError("the native DSM engine matches one pair", "give left and right, or use engine: cars")
    hmin, hmax = params.hmin, params.hmax
    if hmin is None or hmax is None:
        found = derive_height_range(inputs["left"], inputs["right"], ctx.grid)
        ctx.log(f"[{ctx.step_id}] {found.describe()}")
        hmin = found.hmin if hmin is None else hmin
        hmax = found.hmax if hmax is None else hmax
        if hmax <= hmin:
            raise ConfigError(f"the heights to search are empty: {hmin:.1f} to {hmax:.1f} m (one given, one from "
                              "tie points)", "give both native.hmin and native.hmax")
    step = params.height_step or parallax_step(inputs["left"], inputs["right"], ctx.grid, hmin, hmax)
    heights = np.arange(hmin, hmax + step, step)
    ctx.log(f"[{ctx.step_id}] sweeping {len(heights)} heights from {hmin:.1f} to {heights[-1]:.1f} m "
            f"(step {step:.2f} m)")
    dsm = ctx.tiled_raster("dsm", stereo_tile, overlap=params.window // 2 + params.median + 1, dtype="float32",
                           nodata=np.nan, bytes_per_px=BYTES_PER_PX, left=inputs["left"], right=inputs["right"],
                           params=params.model_dump(), heights=heights)
    return {"dsm": dsm}


class DsmParams(EngineParams):
    """A DSM from a stereo pair or tri-stereo set, by one of two engines; each engine's settings in its section."""

    engine: Literal["native", "cars"] = Field(default="native", description="native: the package's plane sweep "
                                              "(fast); cars: CARS (CNES) multi-view stereo (cars extra)")
    native: NativeStereoParams = Field(default_factory=NativeStereoParams, description="settings of the native "
                                       "engine")
    cars: CarsDsmParams = Field(default_factory=CarsDsmParams, description="settings of the CARS engine")


def run(ctx: StepContext, inputs: dict[str, Path], params: DsmParams) -> dict[str, Path]:
    """The ``dsm`` step: the chosen engine over the run's grid."""
    engines: dict[str, EngineRun] = {"native": run_native, "cars": run_cars_dsm}
    return engines[params.engine](ctx, inputs, params.settings)
