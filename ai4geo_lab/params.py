"""What parameter models of steps share: an ``engine`` field with one settings section per engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: What runs one engine of a step: ``(ctx, inputs, settings) -> {output: path}``.
EngineRun = Callable[[Any, dict[str, Path], Any], dict[str, Path]]


class EngineParams(BaseModel):
    """Base of a step's parameters whose ``engine`` field picks one of several implementations, each with its
    settings in a section named after it (as CARS configures its applications). Settings given in the section of
    an engine that is not chosen are refused, rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")
    engine: str

    @property
    def settings(self) -> BaseModel:
        """The chosen engine's settings section."""
        return getattr(self, self.engine)

    @model_validator(mode="after")
    def _only_the_chosen_engine_is_set(self) -> EngineParams:
        for name, info in type(self).model_fields.items():
            is_section = isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
            if is_section and name != self.engine and name in self.model_fields_set \
                    and getattr(self, name).model_fields_set:
                raise ValueError(f"settings under '{name}' are for engine: {name}, but engine is {self.engine}")
        return self
