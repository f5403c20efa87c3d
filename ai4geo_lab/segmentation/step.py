"""The ``building_mask`` step: buildings as elevated, non-vegetated pixels (a threshold on nDSM and NDVI)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.landcover.algo import ndvi
from ai4geo_lab.segmentation.algo import ndsm_threshold_mask

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid


class BuildingMaskParams(BaseModel):
    """Thresholds of the nDSM/NDVI building mask."""

    model_config = ConfigDict(extra="forbid")
    min_height: float = Field(default=2.5, ge=0, description="minimum height above ground (m)")
    max_ndvi: float = Field(default=0.3, ge=-1, le=1, description="NDVI above this is vegetation")
    opening_px: int = Field(default=1, ge=0, le=10)
    min_area_px: int = Field(default=30, ge=0)
    red_band: int = Field(default=1, ge=1, description="band of red in the image (1-based)")
    nir_band: int = Field(default=4, ge=1, description="band of near infrared in the image")


def mask_tile(tile: Tile, grid: GroundGrid, ndsm: Path, image: Path | None, params: dict[str, Any]) -> np.ndarray:
    """Building mask of one tile."""
    params = dict(params)
    height, _ = read_window(ndsm, tile.halo)
    veg = None
    if image is not None:
        red, _ = read_window(image, tile.halo, band=params.pop("red_band"))
        nir, _ = read_window(image, tile.halo, band=params.pop("nir_band"))
        veg = ndvi(red, nir)
    else:
        params.pop("red_band"), params.pop("nir_band")
    return ndsm_threshold_mask(height, veg, **params)[tile.core_in_halo]


def run(ctx: StepContext, inputs: dict[str, Path], params: BuildingMaskParams) -> dict[str, Path]:
    """The mask, tile by tile."""
    mask = ctx.tiled_raster("mask", mask_tile, overlap=params.opening_px + 16, dtype="uint8", nodata=None,
                            ndsm=inputs["ndsm"], image=inputs.get("image"), params=params.model_dump())
    return {"mask": mask}
