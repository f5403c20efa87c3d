"""Command-line options generated from pydantic parameter models, and one ``ai4geo <step>`` command per step.

A step's parameter model is the only place its parameters and defaults live: every field becomes an option
(``--field-name``; the fields of a nested settings model become ``--section-field-name``), with the field's
description and default as help. Options left out are left out of the parameters too, so the model's own defaults
apply, and validation errors read as they do in configuration files.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

#: Prefix of the destination names of generated parameter options (``p__section__field``).
_PARAM = "p__"
_INPUT = "i__"


def _flag(path: list[str]) -> str:
    return "--" + "-".join(path).replace("_", "-")


def _bare(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None`` and whether ``None`` was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(get_args(annotation))
    return annotation, False


def _structured(value: Any) -> Any:
    """A list, tuple or mapping typed on the command line: JSON, or comma-separated values for a list."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return [v.strip() for v in value.split(",") if v.strip()]


def _default_text(info: Any) -> str:
    if info.default_factory is not None:
        return ""
    if info.default is PydanticUndefined:
        return " (required)"
    return f" (default: {info.default})"


def model_parameters(model: type[BaseModel], section: list[str] | None = None) -> list[inspect.Parameter]:
    """One keyword parameter per field of ``model`` (recursively for nested settings models), annotated as a
    ``typer.Option`` named ``--field-name`` (``--section-field-name``), ``None`` when not given."""
    section = section or []
    out: list[inspect.Parameter] = []
    for name, info in model.model_fields.items():
        path = [*section, name]
        base, _ = _bare(info.annotation)
        dest = _PARAM + "__".join(path)
        help_text = (info.description or "") + _default_text(info)
        if isinstance(base, type) and issubclass(base, BaseModel):
            out += model_parameters(base, path)
            continue
        if base is bool:
            kind: Any = bool
            option = typer.Option(f"{_flag(path)}/{_flag([*section, 'no', name])}", help=help_text,
                                  show_default=False)
        elif get_origin(base) is Literal or base in (int, float, str, Path):
            kind = base
            option = typer.Option(_flag(path), help=help_text, show_default=False)
        else:
            kind = str
            option = typer.Option(_flag(path), help=help_text + " (JSON, or values separated by commas)",
                                  show_default=False)
        out.append(inspect.Parameter(dest, inspect.Parameter.KEYWORD_ONLY, default=None,
                                     annotation=Annotated[kind | None, option]))
    return out


def _is_structured(model: type[BaseModel], path: list[str]) -> bool:
    """Whether the field at ``path`` is a list, tuple or mapping (typed as text on the command line)."""
    base, _ = _bare(model.model_fields[path[0]].annotation)
    if len(path) > 1:
        return _is_structured(base, path[1:])
    return not (get_origin(base) is Literal or base in (bool, int, float, str, Path))


def collect(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """The nested raw parameters of the options a user gave (``None``: not given, left to the model)."""
    raw: dict[str, Any] = {}
    for dest, value in values.items():
        if not dest.startswith(_PARAM) or value is None:
            continue
        path = dest[len(_PARAM):].split("__")
        node = raw
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = _structured(value) if (isinstance(value, str) and value[:1] in "[{") or _is_structured(
            model, path) else value
    return raw


def step_function(spec: Any) -> Callable[..., None]:
    """The function behind ``ai4geo <step>``: its inputs, output folder and parameters as options, generated from
    the step's registration and parameter model; it runs :func:`ai4geo_lab.pipeline.run_step`."""
    kw_only = inspect.Parameter.KEYWORD_ONLY
    params = []
    for role in (*spec.inputs, *spec.optional_inputs):
        required = role in spec.inputs
        option = typer.Option(_flag([role]), help=f"input '{role}'" + ("" if required else " (optional)"))
        params.append(inspect.Parameter(_INPUT + role, kw_only, default=inspect.Parameter.empty if required else None,
                                        annotation=Annotated[Path, option] if required else
                                        Annotated[Path | None, option]))
    params += [
        inspect.Parameter("out", kw_only, annotation=Annotated[Path, typer.Option(
            "--out", help="output folder (holds run.json, the products and their STAC catalogue)")]),
        inspect.Parameter("grid", kw_only, default=None, annotation=Annotated[Path | None, typer.Option(
            help="a raster whose grid the products take (default: the first input's)")]),
        inspect.Parameter("tile_size", kw_only, default=None, annotation=Annotated[int | None, typer.Option(
            "--tile-size", help="tile side (px)", show_default=False)]),
        inspect.Parameter("cluster", kw_only, default=None, annotation=Annotated[str | None, typer.Option(
            help="run tiles on a Dask cluster (as for `ai4geo run`); default: in this process")]),
        inspect.Parameter("quiet", kw_only, default=False, annotation=Annotated[bool, typer.Option(
            help="no progress bars")]),
        *model_parameters(spec.params),
    ]

    def command(**kw: Any) -> None:
        from ai4geo_lab.cluster import connect
        from ai4geo_lab.pipeline import run_step

        inputs = {k[len(_INPUT):]: v for k, v in kw.items() if k.startswith(_INPUT) and v is not None}
        extra = {"tile_size": kw["tile_size"]} if kw["tile_size"] is not None else {}
        with connect(kw["cluster"] if kw["cluster"] is not None else "synchronous") as client:
            outputs = run_step(spec.name, inputs, collect(spec.params, kw), kw["out"], client, grid=kw["grid"],
                               progress=not kw["quiet"], log=lambda m: typer.echo(m, err=True), **extra)
        typer.echo(json.dumps({k: str(v) for k, v in outputs.items()}, indent=1))

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = (f"{spec.description[:1].upper()}{spec.description[1:]}.\n\nOutputs: "
                       f"{', '.join(spec.outputs)}; parameters as JSON Schema: `ai4geo steps {spec.name}`.")
    return command


def add_step_commands(app: typer.Typer, groups: dict[str, typer.Typer], steps: list[Any]) -> None:
    """One command per step on ``app``: ``ai4geo <step>``, or ``ai4geo <step> run`` where ``<step>`` names one of
    the command ``groups``. Commands of steps that are no longer registered are removed."""
    names = {s.name for s in steps}
    for target in (app, *groups.values()):
        target.registered_commands[:] = [c for c in target.registered_commands
                                         if getattr(c.callback, "ai4geo_step", None) in (None, *names)]
    for spec in steps:
        target = groups.get(spec.name, app)
        name = "run" if spec.name in groups else spec.name
        taken = {c.name or (c.callback.__name__ if c.callback else "") for c in target.registered_commands}
        if name in taken:
            continue
        fn = step_function(spec)
        fn.ai4geo_step = spec.name  # type: ignore[attr-defined]
        target.command(name)(fn)
