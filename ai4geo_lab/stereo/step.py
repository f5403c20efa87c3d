"""The ``dsm`` step: a DSM on the ground grid from a panchromatic stereo pair (or tri-stereo set) with RPC models,
by the native engine (epipolar rectification + semi-global matching, :mod:`~ai4geo_lab.stereo.native`) or by CARS."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field
from rasterio.windows import Window

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.execution.context import RasterOut
from ai4geo_lab.geo.sensor import SensorImage, read_sensor
from ai4geo_lab.params import EngineParams, EngineRun
from ai4geo_lab.stereo.cars_step import CarsDsmParams, run_cars_dsm
from ai4geo_lab.stereo.geometry import MIN_PARALLAX_PX_PER_M, choose_pairs, height_sensitivity
from ai4geo_lab.stereo.heights import derive_height_range
from ai4geo_lab.stereo.native import (
    FILLED_LEGEND,
    HALO_PX,
    NativeStereoParams,
    bytes_per_px,
    image_paths,
    native_tile,
    surface_statistics,
)

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


def native_pairs(sensors: list[SensorImage], where: tuple[float, float, float]) -> list[tuple[int, int]]:
    """Pairs the native engine matches: every pair of the set with a stereo base (:func:`choose_pairs` when none
    has, to say so), the strongest first."""
    found = [(i, j) for i, j in combinations(range(len(sensors)), 2)
             if height_sensitivity(sensors[i], sensors[j], *where) >= MIN_PARALLAX_PX_PER_M]
    if not found:
        return choose_pairs(sensors, where)
    return sorted(found, key=lambda p: -height_sensitivity(sensors[p[0]], sensors[p[1]], *where))


def run_native(ctx: StepContext, inputs: dict[str, Path], params: NativeStereoParams) -> dict[str, Path]:
    """Rectify, match and triangulate every pair tile by tile; mosaic the DSM, its confidence and filled mask."""
    images = [inputs[k] for k in ("left", "right", "third") if k in inputs]
    sensors = [read_sensor(p) for p in images]
    lon, lat = ctx.grid.window_lonlat(Window(ctx.grid.shape[1] // 2, ctx.grid.shape[0] // 2, 1, 1))
    h_ref = float(np.mean([s.rpc.height_off for s in sensors]))
    where = (float(lon.item()), float(lat.item()), h_ref)
    pairs = native_pairs(sensors, where)
    hmin, hmax = params.hmin, params.hmax
    tie_points, precision = None, 0.0
    if hmin is None or hmax is None:
        found = [derive_height_range(images[i], images[j], ctx.grid) for i, j in pairs]
        if params.hmin is None and params.hmax is None:  # each tile searches around its own tie points
            tie_points = np.concatenate([f.points_xyh for f in found]).astype(np.float32)
            precision = max(f.precision_m for f in found)
        for f in found:
            ctx.log(f"[{ctx.step_id}] {f.describe()}")
        hmin = min(f.hmin for f in found) if hmin is None else hmin
        hmax = max(f.hmax for f in found) if hmax is None else hmax
        if hmax <= hmin:
            raise ConfigError(f"the heights to search are empty: {hmin:.1f} to {hmax:.1f} m (one given, one from "
                              "tie points)", "give both native.hmin and native.hmax")
    sensitivity = [height_sensitivity(sensors[i], sensors[j], *where) for i, j in pairs]
    disparities = (hmax - hmin) * max(sensitivity)
    names = [p.name for p in images]
    ctx.log(f"[{ctx.step_id}] matching {[(names[i], names[j]) for i, j in pairs]} over heights {hmin:.1f} to "
            f"{hmax:.1f} m (about {disparities:.0f} px of disparity)")
    outputs = {"dsm": RasterOut("float32", np.nan, "ZSTD"),
               "dsm_confidence": RasterOut("float32", np.nan, "ZSTD"),
               "dsm_filled": RasterOut("uint8", None, tags={"VALUES": FILLED_LEGEND}),
               "ortho": RasterOut("float32", np.nan, "ZSTD")}
    made = ctx.tiled_rasters(outputs, native_tile, overlap=HALO_PX, bytes_per_px=bytes_per_px(disparities),
                             images=image_paths(images), pairs=pairs, hmin=hmin, hmax=hmax,
                             params=params.model_dump(), weights=[s * s for s in sensitivity],
                             tie_points=tie_points, precision_m=precision)
    stats = surface_statistics(made["dsm"], made["dsm_confidence"], made["dsm_filled"])
    ctx.statistics["dsm"] = {**stats, "engine": "native", "pairs": [[names[i], names[j]] for i, j in pairs],
                             "heights_searched_m": [round(hmin, 2), round(hmax, 2)],
                             "disparities_px": round(disparities, 1)}
    ctx.log(f"[{ctx.step_id}] {stats['valid']:.1%} of the grid has a height: {stats['matched']:.1%} matched, "
            f"{stats['matched_coarse']:.1%} matched at half resolution, {stats['interpolated']:.1%} interpolated")
    return {"dsm": made["dsm"], "ortho": made["ortho"], "confidence": made["dsm_confidence"],
            "filled": made["dsm_filled"]}


class DsmParams(EngineParams):
    """A DSM from a stereo pair or tri-stereo set, by one of two engines; each engine's settings in its section."""

    engine: Literal["native", "cars"] = Field(default="native", description="native: the package's semi-global "
                                              "matching (fast); cars: CARS (CNES) multi-view stereo (cars extra)")
    native: NativeStereoParams = Field(default_factory=NativeStereoParams, description="settings of the native "
                                       "engine")
    cars: CarsDsmParams = Field(default_factory=CarsDsmParams, description="settings of the CARS engine")


def run(ctx: StepContext, inputs: dict[str, Path], params: DsmParams) -> dict[str, Path]:
    """The ``dsm`` step: the chosen engine over the run's grid."""
    engines: dict[str, EngineRun] = {"native": run_native, "cars": run_cars_dsm}
    return engines[params.engine](ctx, inputs, params.settings)
