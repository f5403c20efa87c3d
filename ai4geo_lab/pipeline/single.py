"""``run_step``: one registered step on files, for every face (CLI, widgets, server, notebooks)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ai4geo_lab.errors import ConfigError, InputNotFoundError, format_validation_error
from ai4geo_lab.execution.executor import Progress
from ai4geo_lab.execution.step_run import run_single
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.pipeline.registry import get_step
from ai4geo_lab.pipeline.spec import StepSpec


def step_params(spec: StepSpec, params: BaseModel | Mapping[str, Any] | None) -> BaseModel:
    """``params`` validated into the step's parameter model (errors said as one :class:`ConfigError` line)."""
    if isinstance(params, spec.params):
        return params
    raw = params.model_dump() if isinstance(params, BaseModel) else dict(params or {})
    try:
        return spec.params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"step '{spec.name}': invalid parameters: {format_validation_error(exc)}",
                          f"see `ai4geo steps {spec.name}` for the parameters") from exc


def step_inputs(spec: StepSpec, inputs: Mapping[str, str | Path | None]) -> dict[str, Path]:
    """The step's named inputs as existing paths (unknown, missing or absent files said clearly)."""
    given = {k: Path(v).expanduser() for k, v in inputs.items() if v is not None and str(v) != ""}
    missing = [n for n in spec.inputs if n not in given]
    if missing:
        raise ConfigError(f"step '{spec.name}': missing input(s) {', '.join(missing)}",
                          f"this step needs: {', '.join(spec.inputs)}")
    extra = [n for n in given if n not in spec.inputs + spec.optional_inputs]
    if extra:
        raise ConfigError(f"step '{spec.name}': unknown input(s) {', '.join(extra)}",
                          f"this step takes: {', '.join(spec.inputs + spec.optional_inputs)}")
    for role, path in given.items():
        if not path.exists():
            raise InputNotFoundError(f"input '{role}': {path} does not exist", "check the path")
    return given


def run_step(step: str, inputs: Mapping[str, str | Path | None], params: BaseModel | Mapping[str, Any] | None,
             out: str | Path, client: Any = None, *, grid: GroundGrid | str | Path | None = None,
             tile_size: int = DEFAULT_TILE_SIZE, progress: Progress = True,
             log: Callable[[str], None] = print) -> dict[str, Path]:
    """Run the registered ``step`` on ``inputs`` ({input name: file}) with ``params`` into ``out``.

    The ground grid is ``grid`` (a :class:`GroundGrid` or a raster to copy it from), else that of the step's first
    input. Tiles run as Dask tasks on ``client`` (in this process when None). ``progress``: a bar per tiled product
    on a terminal (True), none (False), or a callable told ``(record id, tiles done, tiles total)``. Rerun to
    resume: finished tiles are kept in ``out/run.json``. Returns the step's products by output name.
    """
    spec = get_step(step)
    p = step_params(spec, params)
    paths = step_inputs(spec, inputs)
    if not isinstance(grid, GroundGrid):
        grid = GroundGrid.like(Path(grid) if grid is not None else paths[spec.inputs[0]])
    return run_single(spec.name, spec.run, paths, p, Path(out), grid, tile_size, client, progress, log)
