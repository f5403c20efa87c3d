"""The ``footprints`` step: building mask → regularised footprint polygons (GeoPackage)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.vector import write_vector
from ai4geo_lab.vectorize.algo import MIN_REGULARIZED_IOU, SNAP_ANGLE_DEG, mask_to_polygons, regularize

if TYPE_CHECKING:
    from ai4geo_lab.chain.context import StepContext


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


def run(ctx: StepContext, inputs: dict[str, Path], params: FootprintParams) -> dict[str, Path]:
    """Vectorise the whole mask (polygons may cross tile borders), then regularise."""
    with open_raster(inputs["mask"]) as src:
        mask, transform, crs = src.read(1), src.transform, src.crs
    gdf = mask_to_polygons(mask, transform, min_area_m2=params.min_area_m2, simplify_m=params.simplify_m)
    gdf = gdf.set_crs(crs, allow_override=True)
    if params.regularize and len(gdf):
        gdf = regularize(gdf, params.tolerance_m or ctx.grid.gsd, params.rectangularity,
                         params.snap_angle_deg, params.min_iou, params.remove_overlaps)
    ctx.log(f"[{ctx.step_id}] {len(gdf)} footprints")
    return {"footprints": write_vector(gdf, ctx.output_path("footprints", ".gpkg"), layer="footprints")}
