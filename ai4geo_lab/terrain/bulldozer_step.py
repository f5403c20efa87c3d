"""The bulldozer engine of the ``terrain`` step: DTM with bulldozer and nDSM = DSM − DTM, on the DSM's grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.terrain.products import CITY_MAX_OBJECT_SIZE_M

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext


class BulldozerParams(BaseModel):
    """bulldozer (CNES): a cloth draped under the DSM, objects narrower than max_object_size_m removed."""

    model_config = ConfigDict(extra="forbid")
    max_object_size_m: float = Field(default=CITY_MAX_OBJECT_SIZE_M, gt=0,
                                     description="widest above-ground object (m); 16 suits houses, 30 cities")
    workers: int = Field(default=2, ge=1, le=64, description="bulldozer processes")


def run_bulldozer(ctx: StepContext, inputs: dict[str, Path], params: BulldozerParams) -> dict[str, Path]:
    """DTM then nDSM of the whole DSM (bulldozer tiles internally)."""
    from ai4geo_lab.terrain.products import dtm, ndsm

    ground = dtm(inputs["dsm"], params.max_object_size_m, out=ctx.output_path("dtm", ".tif"),
                 workers=params.workers)
    height = ndsm(inputs["dsm"], ground, out=ctx.output_path("ndsm", ".tif"))
    return {"dtm": ground, "ndsm": height}
