"""What a registered step is: its name, parameter model, inputs, outputs and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

StepFn = Callable[[Any, dict[str, Path], Any], dict[str, Path]]


@dataclass(frozen=True)
class StepSpec:
    """A registered step.

    ``run(ctx, inputs, params)`` receives a :class:`~ai4geo_lab.execution.context.StepContext`, the paths of its
    named inputs and its validated parameter model, and returns the paths of its named outputs.
    Steps with alternative engines (an ``engine`` field in their parameters) list in ``engine_outputs`` the
    outputs that only some engines make.
    """

    name: str
    params: type[BaseModel]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: StepFn
    description: str
    optional_inputs: tuple[str, ...] = ()
    engine_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def outputs_of(self, params: BaseModel | None) -> tuple[str, ...]:
        """The outputs this step makes with these parameters (its engine's extra outputs included)."""
        engine = getattr(params, "engine", None)
        return self.outputs + self.engine_outputs.get(engine, ()) if engine else self.outputs
