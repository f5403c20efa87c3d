"""The ``landcover`` step: rule-based land cover from a 4-band image (R, G, B, NIR) and the nDSM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.landcover.algo import LandcoverRules, rule_based_landcover

if TYPE_CHECKING:
    from ai4geo_lab.chain.context import StepContext
    from ai4geo_lab.geo.grid import GroundGrid
    from ai4geo_lab.geo.tiles import Tile


class LandcoverParams(BaseModel):
    """Rule-based classification: spectral indices and height thresholds."""

    model_config = ConfigDict(extra="forbid")
    reflectance_scale: float = Field(default=10000.0, gt=0, description="image value of reflectance 1.0")
    rules: dict[str, float] = Field(default_factory=dict, description="overrides of LandcoverRules thresholds")
    majority: int = Field(default=3, ge=0, le=15, description="majority filter size (0: none)")


def landcover_tile(tile: Tile, grid: GroundGrid, image: Path, ndsm: Path, params: dict[str, Any]) -> np.ndarray:
    """Land cover of one tile."""
    bands, _ = read_window(image, tile.halo, band=None)
    height, _ = read_window(ndsm, tile.halo)
    rules = LandcoverRules(**params["rules"])
    out = rule_based_landcover(bands[:4] / params["reflectance_scale"], height, rules, majority=params["majority"])
    return out[tile.core_in_halo]


def run(ctx: StepContext, inputs: dict[str, Path], params: LandcoverParams) -> dict[str, Path]:
    """The land-cover raster, tile by tile."""
    out = ctx.tiled_raster("landcover", landcover_tile, overlap=params.majority + 2, dtype="uint8", nodata=0,
                           image=inputs["image"], ndsm=inputs["ndsm"], params=params.model_dump())
    return {"landcover": out}
