"""The ``dsm_cars`` step: a DSM and its ortho image on the run's ground grid, from a pair or tri-stereo with CARS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.errors import ProcessingError

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


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


def run(ctx: StepContext, inputs: dict[str, Path], params: CarsDsmParams) -> dict[str, Path]:
    """Run CARS over the grid's area (tiles as Dask tasks on the run's client)."""
    from ai4geo_lab.stereo.sensor_dsm import dsm

    images = [inputs[k] for k in ("left", "right", "third") if k in inputs]
    to_ll = ctx.grid.footprint_wgs84()
    result = dsm(images, ctx.root / ctx.step_id, roi=to_ll, client=ctx.client,
                 grid=(ctx.grid.crs, ctx.grid.transform, ctx.grid.shape), log=ctx.log, manifest=ctx.manifest,
                 record_id=f"{ctx.step_id}/cars", progress=ctx.progress, **params.model_dump())
    if result.ortho is None:
        raise ProcessingError(f"CARS gave no ortho image for step '{ctx.step_id}'", "see the CARS logs in its tiles")
    return {"dsm": result.dsm, "ortho": result.ortho}
