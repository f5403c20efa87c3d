"""The registry of chain steps: name → parameter model, inputs, outputs and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ai4geo_lab.errors import UnknownStepError

StepFn = Callable[[Any, dict[str, Path], Any], dict[str, Path]]


@dataclass(frozen=True)
class StepSpec:
    """A registered step.

    ``run(ctx, inputs, params)`` receives a :class:`~ai4geo_lab.chain.context.StepContext`, the paths of its
    named inputs and its validated parameter model, and returns the paths of its named outputs.
    """

    name: str
    params: type[BaseModel]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run: StepFn
    description: str
    optional_inputs: tuple[str, ...] = ()


_REGISTRY: dict[str, StepSpec] = {}


def register(spec: StepSpec) -> StepSpec:
    """Add a step to the registry (names are unique)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a step named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def _load_builtin() -> None:
    from ai4geo_lab.chain import steps  # noqa: F401  (registers the built-in steps)


def get_step(name: str) -> StepSpec:
    """The step registered under ``name``."""
    _load_builtin()
    if name not in _REGISTRY:
        raise UnknownStepError(f"unknown step '{name}'", f"known steps: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_steps() -> list[StepSpec]:
    """All registered steps, sorted by name."""
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
