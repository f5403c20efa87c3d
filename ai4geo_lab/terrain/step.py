"""The ``terrain`` step: a DTM from the DSM (morphological filtering, or bulldozer) and the nDSM = DSM − DTM."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.params import EngineParams, EngineRun
from ai4geo_lab.terrain.algo import fill_nodata, morphological_dtm, ndsm
from ai4geo_lab.terrain.bulldozer_step import BulldozerParams, run_bulldozer

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid


class MorphologyParams(BaseModel):
    """Morphological DTM extraction (grey opening wider than the largest object, then smoothing)."""

    model_config = ConfigDict(extra="forbid")
    max_object_size_m: float = Field(default=60.0, gt=0, description="width of the largest above-ground object")
    smooth_m: float = Field(default=5.0, ge=0, description="smoothing of the DTM (m)")
    ground_threshold_m: float = Field(default=1.5, gt=0, description="DSM this close to the opening is ground (m)")


def dtm_tile(tile: Tile, grid: GroundGrid, dsm: Path, params: dict[str, Any]) -> np.ndarray:
    """DTM of one tile, computed on the hole-filled DSM of its halo."""
    data, _ = read_window(dsm, tile.halo)
    if not np.isfinite(data).any():
        return np.full((int(tile.core.height), int(tile.core.width)), np.nan, np.float32)
    dtm = morphological_dtm(fill_nodata(data), grid.gsd, **params)
    return dtm[tile.core_in_halo]


def ndsm_tile(tile: Tile, grid: GroundGrid, dsm: Path, dtm: Path) -> np.ndarray:
    """nDSM of one tile."""
    return ndsm(read_window(dsm, tile.core)[0], read_window(dtm, tile.core)[0])


def run_morphology(ctx: StepContext, inputs: dict[str, Path], params: MorphologyParams) -> dict[str, Path]:
    """DTM then nDSM, tile by tile."""
    overlap = math.ceil((params.max_object_size_m + params.smooth_m * 3) / ctx.grid.gsd)
    dtm = ctx.tiled_raster("dtm", dtm_tile, overlap=overlap, dtype="float32", nodata=np.nan,
                           dsm=inputs["dsm"], params=params.model_dump())
    out = ctx.tiled_raster("ndsm", ndsm_tile, overlap=0, dtype="float32", nodata=np.nan,
                           dsm=inputs["dsm"], dtm=dtm)
    return {"dtm": dtm, "ndsm": out}


class TerrainParams(EngineParams):
    """A DTM and nDSM from a DSM, by one of two engines; each engine's settings in its section."""

    engine: Literal["morphology", "bulldozer"] = Field(
        default="morphology", description="morphology: grey opening, tiled (fast); bulldozer: CNES's cloth "
                                          "simulation (cars extra)")
    morphology: MorphologyParams = Field(default_factory=MorphologyParams, description="settings of the "
                                         "morphological engine")
    bulldozer: BulldozerParams = Field(default_factory=BulldozerParams, description="settings of bulldozer")


def run(ctx: StepContext, inputs: dict[str, Path], params: TerrainParams) -> dict[str, Path]:
    """The ``terrain`` step: the chosen engine on the DSM's grid."""
    engines: dict[str, EngineRun] = {"morphology": run_morphology, "bulldozer": run_bulldozer}
    return engines[params.engine](ctx, inputs, params.settings)
