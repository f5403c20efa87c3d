"""An ipywidgets form generated from a step's pydantic parameter model (numbers, booleans, optional numbers)."""

from __future__ import annotations

import typing
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ParamsForm(Generic[M]):
    """One input per field of ``model`` (with its description as tooltip); :meth:`params` validates them.

    Nested settings models (e.g. one per engine) get a titled section of their own. Validation errors are shown in
    the form and raised, with the same messages as the CLI and config files.
    """

    def __init__(self, model: type[M], **values: Any) -> None:
        import ipywidgets as w

        self.model = model
        self.inputs: dict[str, Any] = {}
        self.sections: dict[str, ParamsForm[Any]] = {}
        self.widget: Any = None
        rows: list[Any] = []
        for name, info in model.model_fields.items():
            label = name.replace("_", " ")
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                sub: ParamsForm[Any] = ParamsForm(info.annotation, **(values.get(name) or {}))
                self.sections[name] = sub
                rows.append(w.VBox([w.HTML(f"<b>{label}</b> <i>{info.description or ''}</i>"), sub.widget],
                                   layout={"margin": "4px 0 4px 24px"}))
                continue
            value = values[name] if name in values else (None if info.is_required() else info.get_default(
                call_default_factory=True))
            if isinstance(value, bool):
                box = w.Checkbox(value=value, description=label)
            elif typing.get_origin(info.annotation) is typing.Literal:
                box = w.Dropdown(options=list(typing.get_args(info.annotation)), value=value, description=label)
            elif isinstance(value, int | float) or value is None:
                box = w.Text(value="" if value is None else str(value), description=label,
                             placeholder="required" if info.is_required() else ("default" if value is None else ""))
            else:
                box = w.Text(value=str(value), description=label)
            box.tooltip = info.description or ""
            box.style = {"description_width": "160px"}
            self.inputs[name] = box
            rows.append(box)
        self.message = w.HTML()
        self.widget = w.VBox([*rows, self.message])

    def raw(self) -> dict[str, Any]:
        """What the form holds, as the mapping a configuration file would (empty boxes left out)."""
        raw = {k: (b.value if not isinstance(b.value, str) else b.value.strip()) for k, b in self.inputs.items()}
        raw = {k: _structured(v) for k, v in raw.items() if v != ""}
        raw = {k: (float(v) if isinstance(v, str) and _number(v) else v) for k, v in raw.items()}
        fields = self.model.model_fields
        raw = {k: v for k, v in raw.items()  # what is left at its default stays unset, as in a configuration file
               if fields[k].is_required() or v != fields[k].get_default(call_default_factory=True)}
        for name, sub in self.sections.items():
            if values := sub.raw():
                raw[name] = values
        return raw

    def params(self) -> M:
        """The validated parameters (empty text boxes are left to their defaults)."""
        try:
            out = self.model.model_validate(self.raw())
        except ValidationError as exc:
            self.message.value = "<br>".join(f"<b>{'.'.join(map(str, e['loc']))}</b>: {e['msg']}"
                                             for e in exc.errors())
            raise
        self.message.value = ""
        return out

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _structured(value: Any) -> Any:
    """A JSON list or object typed into a text box (e.g. ``[1, 2, 3]``), else the value itself."""
    if isinstance(value, str) and value[:1] in "[{":
        import json

        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
