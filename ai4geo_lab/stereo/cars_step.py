"""The CARS engine of the ``dsm`` step: a DSM and its ortho image on the run's grid, from a pair or tri-stereo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ai4geo_lab.errors import ProcessingError
from ai4geo_lab.stereo.cars_engine import CarsDsmParams

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


def run_cars_dsm(ctx: StepContext, inputs: dict[str, Path], params: CarsDsmParams) -> dict[str, Path]:
    """Run CARS over the grid's area (tiles as Dask tasks on the run's client)."""
    from ai4geo_lab.stereo.sensor_dsm import dsm

    images = [inputs[k] for k in ("left", "right", "third") if k in inputs]
    to_ll = ctx.grid.footprint_wgs84()
    result = dsm(images, ctx.root / ctx.step_id, roi=to_ll, client=ctx.client,
                 grid=(ctx.grid.crs, ctx.grid.transform, ctx.grid.shape), log=ctx.log, manifest=ctx.manifest,
                 record_id=f"{ctx.step_id}/cars", progress=ctx.progress, params=params)
    if result.ortho is None:
        raise ProcessingError(f"CARS gave no ortho image for step '{ctx.step_id}'", "see the CARS logs in its tiles")
    return {"dsm": result.dsm, "ortho": result.ortho}
