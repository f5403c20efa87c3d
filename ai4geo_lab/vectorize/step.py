"""The ``footprints`` step: building mask → regularised footprint polygons (GeoPackage)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import shapely
from pydantic import BaseModel, ConfigDict, Field
from rasterio.windows import Window

from ai4geo_lab.execution.tiles import TileGrid
from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.vector import write_vector
from ai4geo_lab.vectorize.algo import (
    MIN_REGULARIZED_IOU,
    SNAP_ANGLE_DEG,
    finish_polygons,
    merge_tile_polygons,
    pixel_size,
    raw_polygons,
    regularize,
)

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


class FootprintParams(BaseModel):
    """Polygonisation and regularisation of a building mask."""

    model_config = ConfigDict(extra="forbid")
    min_area_m2: float = Field(default=25.0, ge=0, description="smaller polygons are dropped")
    simplify_m: float | None = Field(default=None, ge=0, description="Douglas–Peucker tolerance (default: 1 px)")
    regularize: bool = Field(default=True, description="square the outlines (rectangles, dominant directions)")
    tolerance_m: float | None = Field(default=None, gt=0, description="regularisation tolerance (default: 1 px)")
    rectangularity: float = Field(default=0.85, ge=0, le=1, description="outlines filling this much of their "
                                  "minimum rotated rectangle may become a rectangle")
    snap_angle_deg: float = Field(default=SNAP_ANGLE_DEG, ge=0, le=45, description="edges within this angle of "
                                  "a building's dominant directions are snapped to them")
    min_iou: float = Field(default=MIN_REGULARIZED_IOU, ge=0, le=1, description="a regularised outline must "
                           "overlap its input this much, or the input is kept")
    remove_overlaps: bool = Field(default=True, description="no overlaps between neighbouring footprints")


def tile_polygons(path: Path, window: Window) -> list[bytes]:
    """Exact pixel-edge polygons (WKB) of one window of a mask file."""
    with open_raster(path) as src:
        arr = src.read(1, window=window)
        transform = src.window_transform(window)
    return [shapely.to_wkb(p) for p in raw_polygons(arr, transform)]


def run(ctx: StepContext, inputs: dict[str, Path], params: FootprintParams) -> dict[str, Path]:
    """Vectorise the mask tile by tile (on the cluster), merge the pieces across tile borders, then regularise."""
    with open_raster(inputs["mask"]) as src:
        transform, crs, height, width = src.transform, src.crs, src.height, src.width
    windows = [t.core for t in TileGrid(height, width, tile_size=max(16, ctx.tile_size))]
    if ctx.client is None:
        parts = [tile_polygons(inputs["mask"], w) for w in windows]
    else:
        parts = ctx.client.gather([ctx.client.submit(tile_polygons, inputs["mask"], w, pure=False)
                                   for w in windows])
    pieces = [shapely.from_wkb(b) for part in parts for b in part]
    merged = merge_tile_polygons(pieces, grid_size=pixel_size(transform) / 1000.0)
    tol = pixel_size(transform) if params.simplify_m is None else params.simplify_m
    gdf = finish_polygons(merged, tol, params.min_area_m2, crs)
    ctx.log(f"[{ctx.step_id}] {len(pieces)} pieces from {len(windows)} tiles merged into {len(gdf)} polygons")
    if params.regularize and len(gdf):
        gdf = regularize(gdf, params.tolerance_m or ctx.grid.gsd, params.rectangularity,
                         params.snap_angle_deg, params.min_iou, params.remove_overlaps)
    ctx.log(f"[{ctx.step_id}] {len(gdf)} footprints")
    return {"footprints": write_vector(gdf, ctx.output_path("footprints", ".gpkg"), layer="footprints")}
