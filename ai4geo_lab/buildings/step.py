"""The ``lod1`` and ``lod2`` steps: footprints + nDSM/DTM → building models (GeoPackage with heights, CityJSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS

from ai4geo_lab.buildings.algo import building_models, footprint_heights
from ai4geo_lab.buildings.cityjson import buildings_cityjson, lod1_cityjson, validate_cityjson
from ai4geo_lab.buildings.roofs import COMPLEXITY_PENALTY, MIN_RISE_M
from ai4geo_lab.errors import ProcessingError
from ai4geo_lab.geo.atomic import write_text_atomic
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.vector import read_vector, write_vector

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


class Lod1Params(BaseModel):
    """How a building's height is taken from the nDSM inside its footprint."""

    model_config = ConfigDict(extra="forbid")
    percentile: float = Field(default=90.0, gt=0, le=100, description="percentile of nDSM inside the footprint")
    min_height: float = Field(default=2.0, ge=0, description="footprints lower than this are dropped (m)")
    outlier_margin_m: float | None = Field(default=6.0, gt=0, description="pixels this far above the median are "
                                           "blunders, not roof (m; null keeps all)")


def run(ctx: StepContext, inputs: dict[str, Path], params: Lod1Params) -> dict[str, Path]:
    """Heights per footprint, then extruded LOD1 solids, validated before writing."""
    footprints = read_vector(inputs["footprints"])
    ndsm, transform = read_window(inputs["ndsm"])
    dtm, _ = read_window(inputs["dtm"])
    buildings = footprint_heights(footprints, ndsm, dtm, transform, percentile=params.percentile,
                                  outlier_margin_m=params.outlier_margin_m)
    buildings = buildings[buildings["height"] >= params.min_height].reset_index(drop=True)
    epsg = CRS.from_user_input(ctx.grid.crs).to_epsg()
    doc = lod1_cityjson(buildings, epsg)
    problems = validate_cityjson(doc)
    if problems:
        raise ProcessingError(f"the LOD1 CityJSON is invalid: {problems[0]} ({len(problems)} problems)")
    ctx.log(f"[{ctx.step_id}] {len(buildings)} LOD1 buildings")
    return {
        "buildings": write_vector(buildings, ctx.output_path("buildings", ".gpkg"), layer="buildings"),
        "cityjson": write_text_atomic(ctx.output_path("buildings", ".city.json"),
                                      json.dumps(doc, separators=(",", ":"))),
    }


class Lod2Params(Lod1Params):
    """LOD1 heights plus the roof model fitted to the DSM inside each footprint."""

    erode_px: float = Field(default=1.0, ge=0, description="footprints are shrunk by this many pixels before "
                            "fitting roofs (walls and eaves blur the outline)")
    complexity_penalty: float = Field(default=COMPLEXITY_PENALTY, ge=0, description="a roof model with one more "
                                      "parameter must fit this fraction better to be chosen")
    min_rise_m: float = Field(default=MIN_RISE_M, ge=0, description="sloped roofs rising less are flat (m)")


def run_lod2(ctx: StepContext, inputs: dict[str, Path], params: Lod2Params) -> dict[str, Path]:
    """Heights and roofs per footprint, then LOD1 and LOD2 solids in one CityJSON, validated before writing."""
    footprints = read_vector(inputs["footprints"])
    ndsm, transform = read_window(inputs["ndsm"])
    dtm, _ = read_window(inputs["dtm"])
    buildings = building_models(footprints, ndsm, dtm, transform, percentile=params.percentile,
                                outlier_margin_m=params.outlier_margin_m, erode_px=params.erode_px,
                                complexity_penalty=params.complexity_penalty, min_rise_m=params.min_rise_m)
    buildings = buildings[buildings["height"] >= params.min_height].reset_index(drop=True)
    epsg = CRS.from_user_input(ctx.grid.crs).to_epsg()
    doc = buildings_cityjson(buildings, epsg)
    if validate_cityjson(doc):  # a roof whose solid does not close: that building keeps its LOD1.2 block only
        broken = [i for i in range(len(buildings)) if validate_cityjson(buildings_cityjson(buildings.iloc[[i]], epsg))]
        buildings.loc[buildings.index[broken], "roof_planes"] = None
        ctx.log(f"[{ctx.step_id}] {len(broken)} building(s) kept at LOD1.2 only: their LOD2 solid did not close")
        doc = buildings_cityjson(buildings, epsg)
    problems = validate_cityjson(doc)
    if problems:
        raise ProcessingError(f"the LOD2 CityJSON is invalid: {problems[0]} ({len(problems)} problems)")
    counts = buildings["roof_type"].value_counts().to_dict()
    ctx.log(f"[{ctx.step_id}] {len(buildings)} LOD2 buildings: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return {
        "buildings": write_vector(buildings, ctx.output_path("buildings", ".gpkg"), layer="buildings"),
        "cityjson": write_text_atomic(ctx.output_path("buildings", ".city.json"),
                                      json.dumps(doc, separators=(",", ":"))),
    }
