"""A step added by a user: its module and one registration are all it takes to get a command, a form and a place
in configurations (the faces are generated from its parameter model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pydantic import BaseModel, ConfigDict, Field
from rasterio.transform import from_origin

from ai4geo_lab.execution.context import StepContext
from ai4geo_lab.execution.tiles import Tile
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import read_window


# ---- the capability's step module: parameters, tile function, run ----------------------------------------------
class ScaleParams(BaseModel):
    """Multiply a raster by a factor, then add an offset."""

    model_config = ConfigDict(extra="forbid")
    factor: float = Field(default=2.0, gt=0, description="multiplier of every pixel")
    offset: float = Field(default=0.0, description="added after the multiplication")
    mode: str = Field(default="linear", pattern="^(linear|square)$", description="linear or square")


def scale_tile(tile: Tile, grid: GroundGrid, src: Path, factor: float, offset: float, mode: str) -> np.ndarray:
    data, _ = read_window(src, tile.core)
    return (data if mode == "linear" else data**2) * factor + offset


def run_scale(ctx: StepContext, inputs: dict[str, Path], params: ScaleParams) -> dict[str, Path]:
    out = ctx.tiled_raster("scaled", scale_tile, overlap=0, dtype="float32", nodata=None, src=inputs["src"],
                           **params.model_dump())
    return {"scaled": out}


# ---- the registration line --------------------------------------------------------------------------------------
@pytest.fixture
def toy_step():
    from ai4geo_lab.pipeline import StepSpec, register
    from ai4geo_lab.pipeline.registry import unregister

    spec = register(StepSpec("toy_scale", ScaleParams, ("src",), ("scaled",), run_scale,
                             "a raster scaled by a factor (a step added at run time)"))
    yield spec
    unregister(spec.name)


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    path = tmp_path / "in.tif"
    data = np.arange(130 * 150, dtype="float32").reshape(130, 150) / 100
    with rasterio.open(path, "w", driver="GTiff", height=130, width=150, count=1, dtype="float32",
                       crs="EPSG:32631", transform=from_origin(500000, 4800000, 0.5, 0.5)) as dst:
        dst.write(data, 1)
    return path


def test_a_registered_step_gets_a_command_a_form_and_a_place_in_runs(toy_step, raster, tmp_path, capsys):
    from ai4geo_lab.cli import main
    from ai4geo_lab.pipeline import run
    from ai4geo_lab.widgets.forms import ParamsForm

    assert main(["steps"]) == 0
    assert "toy_scale" in capsys.readouterr().out
    assert main(["steps", "toy_scale"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["factor"]["default"] == 2.0

    assert main(["toy_scale", "--help"]) == 0
    shown = capsys.readouterr().out
    assert all(flag in shown for flag in ("--src", "--out", "--factor", "--offset", "--mode"))

    assert main(["toy_scale", "--src", str(raster), "--out", str(tmp_path / "o"), "--factor", "3",
                 "--offset", "1", "--tile-size", "64", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    with rasterio.open(raster) as a, rasterio.open(out["scaled"]) as b:
        np.testing.assert_allclose(b.read(1), a.read(1) * 3 + 1, rtol=1e-6)
    manifest = json.loads((tmp_path / "o" / "run.json").read_text())
    assert len(manifest["steps"]["toy_scale/scaled"]["tiles"]) == 9  # 130 × 150 px in 64 px tiles

    assert main(["toy_scale", "--src", str(raster), "--out", str(tmp_path / "o"), "--factor", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ai4geo: error:") and "factor" in err and "greater than 0" in err

    form = ParamsForm(toy_step.params)
    assert set(form.inputs) == {"factor", "offset", "mode"} and form.inputs["factor"].value == "2.0"
    form.inputs["mode"].value = "cubic"
    with pytest.raises(ValueError, match="mode"):
        form.params()
    assert "mode" in form.message.value

    result = run(_config(tmp_path, raster), progress=False, log=lambda _: None)
    with rasterio.open(raster) as a, rasterio.open(result.products["twice.scaled"]) as b:
        np.testing.assert_allclose(b.read(1), a.read(1) ** 2 * 2, rtol=1e-6)


def _config(tmp_path: Path, raster: Path):
    from ai4geo_lab.pipeline import RunConfig

    return RunConfig.model_validate({
        "output": str(tmp_path / "run"), "grid": {"like": str(raster)}, "inputs": {"r": str(raster)},
        "cluster": {"kind": "synchronous"},
        "steps": [{"id": "twice", "step": "toy_scale", "inputs": {"src": "r"},
                   "params": {"factor": 2, "mode": "square"}}]})


def test_the_step_is_gone_once_unregistered(toy_step, capsys):
    from ai4geo_lab.cli import main
    from ai4geo_lab.pipeline.registry import unregister

    unregister("toy_scale")
    assert main(["toy_scale", "--help"]) == 2
    assert "toy_scale" in capsys.readouterr().err
