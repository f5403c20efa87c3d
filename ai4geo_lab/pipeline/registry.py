"""The registry of steps, by name: the built-in steps, and any a user registers."""

from __future__ import annotations

from ai4geo_lab.errors import UnknownStepError
from ai4geo_lab.pipeline.builtin import BUILTIN_STEPS
from ai4geo_lab.pipeline.spec import StepSpec

_REGISTRY: dict[str, StepSpec] = {s.name: s for s in BUILTIN_STEPS}


def register(spec: StepSpec) -> StepSpec:
    """Add a step to the registry (names are unique)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"a step named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a step added with :func:`register` (built-in steps stay)."""
    if name in {s.name for s in BUILTIN_STEPS}:
        raise ValueError(f"{name!r} is a built-in step")
    _REGISTRY.pop(name, None)


def get_step(name: str) -> StepSpec:
    """The step registered under ``name``."""
    if name not in _REGISTRY:
        raise UnknownStepError(f"unknown step '{name}'", f"known steps: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_steps() -> list[StepSpec]:
    """All registered steps, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
