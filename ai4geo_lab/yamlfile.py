"""Reading YAML files with errors that point at the line to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError


def read_yaml(path: str | Path, what: str = "configuration file") -> Any:
    """The content of a YAML file, or an error naming the file, the line and what to fix."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{what} {path} does not exist", "check the path")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInputError(f"{path} is not valid YAML{at}: {getattr(exc, 'problem', exc)}",
                                "fix the syntax (indentation, colons, quotes)") from exc
