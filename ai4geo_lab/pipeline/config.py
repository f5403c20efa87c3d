"""Run configurations: one YAML file names the inputs, the ground grid, the cluster and the steps."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ai4geo_lab.cluster import ClusterConfig
from ai4geo_lab.errors import ConfigError, InputNotFoundError, format_validation_error
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE
from ai4geo_lab.pipeline.registry import get_step
from ai4geo_lab.yamlfile import read_yaml


class InputConfig(BaseModel):
    """An input file and, optionally, its acquisition date."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    datetime: dt.datetime | None = None


class GridConfig(BaseModel):
    """The ground grid of the products: like an existing raster; or bounds + crs + gsd; or the ground that sensor
    images (run inputs) all see, inside an optional ``roi`` (west, south, east, north in degrees), at ``gsd`` m
    on its UTM zone."""

    model_config = ConfigDict(extra="forbid")
    like: Path | None = None
    bounds: tuple[float, float, float, float] | None = None
    crs: str | None = None
    gsd: float | None = Field(default=None, gt=0)
    overlap: list[str] | None = Field(default=None, min_length=1)
    roi: tuple[float, float, float, float] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> GridConfig:
        ways = [self.like is not None, self.bounds is not None or self.crs is not None, self.overlap is not None]
        if sum(ways) != 1 or (ways[1] and (self.bounds is None or self.crs is None or self.gsd is None)) or (
                ways[2] and self.gsd is None):
            raise ValueError("give one of 'like: <raster>', all of 'bounds', 'crs' and 'gsd', or 'overlap: "
                             "[<sensor image inputs>]' and 'gsd'")
        if self.roi is not None and not ways[2]:
            raise ValueError("'roi' goes with 'overlap'")
        return self


class StepConfig(BaseModel):
    """One step of a run: which registered step, its inputs (names of run inputs or ``step_id.output``)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    step: str
    inputs: dict[str, str] = {}
    params: dict[str, Any] = {}


class RunConfig(BaseModel):
    """A whole run. Relative paths are relative to the configuration file's folder; ``${VAR}`` in a path is the
    environment variable ``VAR`` (e.g. where a team keeps its data)."""

    model_config = ConfigDict(extra="forbid")
    output: Path
    grid: GridConfig
    inputs: dict[str, InputConfig] = {}
    steps: list[StepConfig] = Field(min_length=1)
    tile_size: int = Field(default=DEFAULT_TILE_SIZE, ge=64, le=10000)
    cluster: ClusterConfig = ClusterConfig()
    report: bool = Field(default=False, description="write OUT/report.html (the products and their quality) "
                         "at the end")

    @field_validator("inputs", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"path": v} if isinstance(v, str | Path) else v) for k, v in value.items()}
        return value

    def resolve(self, base: Path) -> RunConfig:
        """A copy with relative paths made absolute against ``base``."""
        def absolute(p: Path) -> Path:
            text = os.path.expandvars(str(p))
            if "$" in text:
                raise ConfigError(f"the path {p} names an environment variable that is not set",
                                  "set it (e.g. AI4GEO_DATA=/path/to/data) or write the path in full")
            p = Path(text)
            return p if p.is_absolute() else (base / p).resolve()

        data = self.model_copy(deep=True)
        data.output = absolute(data.output)
        if data.grid.like is not None:
            data.grid.like = absolute(data.grid.like)
        for inp in data.inputs.values():
            inp.path = absolute(inp.path)
        return data

    def validate_steps(self) -> dict[str, Any]:
        """Check every step (known, valid parameters, resolvable inputs, existing files); return the parsed params."""
        produced: dict[str, tuple[str, ...]] = {}
        primary: dict[str, tuple[str, ...]] = {}
        parsed: dict[str, Any] = {}
        for s in self.steps:
            where = f"step '{s.id}' ({s.step})"
            if s.id in produced or s.id in self.inputs:
                raise ConfigError(f"{where}: the id '{s.id}' is used twice", "give every step a unique id")
            spec = get_step(s.step)
            try:
                parsed[s.id] = spec.params.model_validate(s.params)
            except ValidationError as exc:
                raise ConfigError(f"{where}: invalid parameters: {format_validation_error(exc, 'params.')}",
                                  f"see `ai4geo steps {s.step}` for the parameters") from exc
            missing = [n for n in spec.inputs if n not in s.inputs]
            if missing:
                raise ConfigError(f"{where}: missing input(s) {', '.join(missing)}",
                                  f"this step needs: {', '.join(spec.inputs)}")
            extra = [n for n in s.inputs if n not in spec.inputs + spec.optional_inputs]
            if extra:
                raise ConfigError(f"{where}: unknown input(s) {', '.join(extra)}",
                                  f"this step takes: {', '.join(spec.inputs + spec.optional_inputs)}")
            for role, ref in s.inputs.items():
                self.resolve_ref(ref, produced, where=f"{where}, input '{role}'", role=role, primary=primary)
            produced[s.id] = spec.outputs_of(parsed[s.id])
            primary[s.id] = spec.outputs
        for name, inp in self.inputs.items():
            if not inp.path.exists():
                raise InputNotFoundError(f"input '{name}': {inp.path} does not exist", "check the path in the config")
        unknown = [n for n in self.grid.overlap or [] if n not in self.inputs]
        if unknown:
            raise ConfigError(f"grid.overlap: {', '.join(unknown)} not among the run inputs",
                              f"run inputs: {', '.join(self.inputs) or 'none'}")
        if self.grid.like is not None and not self.grid.like.exists():
            raise InputNotFoundError(f"grid.like: {self.grid.like} does not exist", "check the path in the config")
        return parsed

    def resolve_ref(self, ref: str, produced: dict[str, tuple[str, ...]], where: str, role: str | None = None,
                    primary: dict[str, tuple[str, ...]] | None = None) -> tuple[str, str | None]:
        """Split an input reference into (source, output) and check that it exists earlier in the run.

        A bare step id names its only output; among several, the one named like the input ``role`` it feeds
        (``dsm: dsm_1`` takes ``dsm_1.dsm``), else the step's only ``primary`` output (what every engine makes:
        ``dsm_before: dsm_1`` takes ``dsm_1.dsm``, not the native engine's ``confidence``)."""
        if ref in self.inputs:
            return ref, None
        step_id, _, out = ref.partition(".")
        if step_id not in produced:
            raise ConfigError(f"{where}: '{ref}' is neither a run input nor the output of an earlier step",
                              f"run inputs: {', '.join(self.inputs) or 'none'}; earlier steps: "
                              f"{', '.join(produced) or 'none'}")
        outputs = produced[step_id]
        if not out and role in outputs and len(outputs) > 1:
            out = role
        main = (primary or {}).get(step_id, ())
        if not out and len(outputs) > 1 and len(main) == 1:
            out = main[0]
        if not out:
            if len(outputs) != 1:
                raise ConfigError(f"{where}: step '{step_id}' has several outputs",
                                  f"name one: {', '.join(f'{step_id}.{o}' for o in outputs)}")
            out = outputs[0]
        if out not in outputs:
            raise ConfigError(f"{where}: step '{step_id}' has no output '{out}'", f"outputs: {', '.join(outputs)}")
        return step_id, out


def load_config(path: str | Path) -> RunConfig:
    """Read, validate and resolve a YAML run configuration."""
    path = Path(path)
    raw = read_yaml(path, "configuration file")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping (output, grid, inputs, steps)", "see the README's example")
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc)}", "see the README's example") from exc
    return config.resolve(path.parent.resolve())
