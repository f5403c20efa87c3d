"""The steps of the pipeline: names, inputs, outputs and the JSON Schema of their parameters (for forms)."""

from __future__ import annotations

from typing import Any

import tornado.web

from ai4geo_lab.errors import InputNotFoundError, UnknownStepError
from ai4geo_lab.server.base import BaseHandler, json_errors


def describe(spec: Any) -> dict[str, Any]:
    """A registered step as JSON: name, description, inputs, optional inputs, outputs, parameter schema."""
    return {"name": spec.name, "description": spec.description, "inputs": list(spec.inputs),
            "optional_inputs": list(spec.optional_inputs), "outputs": list(spec.outputs),
            "schema": spec.params.model_json_schema()}


def all_steps() -> list[dict[str, Any]]:
    """Every registered step, sorted by name."""
    from ai4geo_lab.pipeline import list_steps

    return [describe(s) for s in list_steps()]


def one_step(name: str) -> dict[str, Any]:
    """One registered step (an unknown name is a 404 that lists the known ones)."""
    from ai4geo_lab.pipeline import get_step

    try:
        return describe(get_step(name))
    except UnknownStepError as exc:
        raise InputNotFoundError(exc.message, exc.hint) from exc


class StepsHandler(BaseHandler):
    """GET: the registered steps."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        self.reply(await self.call(all_steps))


class StepHandler(BaseHandler):
    """GET: one registered step."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, name: str) -> None:
        self.reply(await self.call(one_step, name))
