"""An ipywidgets form generated from a step's pydantic parameter model (numbers, booleans, optional numbers)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ParamsForm(Generic[M]):
    """One input per field of ``model`` (with its description as tooltip); :meth:`params` validates them.

    Validation errors are shown in the form and raised, with the same messages as the CLI and config files.
    """

    def __init__(self, model: type[M], **values: Any) -> None:
        import ipywidgets as w

        self.model = model
        self.inputs: dict[str, Any] = {}
        defaults = model().model_dump() | values
        for name, info in model.model_fields.items():
            value = defaults.get(name)
            label = name.replace("_", " ")
            if isinstance(value, bool):
                box = w.Checkbox(value=value, description=label)
            elif isinstance(value, int | float) or value is None:
                box = w.Text(value="" if value is None else str(value), description=label,
                             placeholder="default" if value is None else "")
            else:
                box = w.Text(value=str(value), description=label)
            box.tooltip = info.description or ""
            box.style = {"description_width": "160px"}
            self.inputs[name] = box
        self.message = w.HTML()
        self.widget = w.VBox([*self.inputs.values(), self.message])

    def params(self) -> M:
        """The validated parameters (empty text boxes are left to their defaults)."""
        raw = {k: (b.value if not isinstance(b.value, str) else b.value.strip()) for k, b in self.inputs.items()}
        raw = {k: _structured(v) for k, v in raw.items() if v != ""}
        try:
            out = self.model.model_validate({k: (float(v) if isinstance(v, str) and _number(v) else v)
                                             for k, v in raw.items()})
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
