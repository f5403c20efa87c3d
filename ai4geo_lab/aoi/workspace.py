"""Named AOIs saved in a workspace folder (``aois/NAME.geojson``), shared by the CLI, notebooks and the Lab."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ai4geo_lab.aoi.geometry import AOI, to_aoi
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, NameTakenError
from ai4geo_lab.geo.atomic import write_text_atomic

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def workspace_dir(workspace: str | Path | None = None) -> Path:
    """The workspace: the argument, else ``$AI4GEO_WORKSPACE``, else ``~/ai4geo-workspace``."""
    if workspace is not None:
        return Path(workspace)
    return Path(os.environ.get("AI4GEO_WORKSPACE") or Path.home() / "ai4geo-workspace")


def _path(name: str, workspace: str | Path | None) -> Path:
    if not NAME.match(name or "") or ".." in name:
        raise InvalidInputError(f"'{name}' is not a valid AOI name",
                                "use letters, digits, '_', '-' or '.', starting with a letter or digit")
    return workspace_dir(workspace) / "aois" / f"{name}.geojson"


def save_aoi(source: Any, name: str, workspace: str | Path | None = None, overwrite: bool = True,
             **kwargs: Any) -> Path:
    """Validate ``source`` (anything :func:`to_aoi` takes) and save it as ``aois/NAME.geojson``."""
    path = _path(name, workspace)
    if path.exists() and not overwrite:
        raise NameTakenError(f"an AOI named '{name}' is already saved", "choose another name, or replace it",
                             field="name")
    aoi = to_aoi(source, name=name, **kwargs)
    return write_text_atomic(path, json.dumps(aoi.to_geojson()))


def load_aoi(name: str, workspace: str | Path | None = None) -> AOI:
    """The AOI saved under ``name``."""
    path = _path(name, workspace)
    if not path.is_file():
        known = ", ".join(list_aois(workspace)) or "none"
        raise InputNotFoundError(f"no AOI named '{name}' in {path.parent}", f"saved AOIs: {known}")
    return to_aoi(json.loads(path.read_text()), name=name, max_area_km2=None)


def list_aois(workspace: str | Path | None = None) -> list[str]:
    """Names of the saved AOIs, sorted."""
    folder = workspace_dir(workspace) / "aois"
    return sorted(p.stem for p in folder.glob("*.geojson")) if folder.is_dir() else []


def unique_name(name: str, workspace: str | Path | None = None) -> str:
    """``name`` if no saved AOI has it, else ``name-2``, ``name-3``… (the first free one)."""
    taken = set(list_aois(workspace))
    if name not in taken:
        return name
    stem = name[:60]
    return next(f"{stem}-{i}" for i in range(2, len(taken) + 3) if f"{stem}-{i}" not in taken)


def delete_aoi(name: str, workspace: str | Path | None = None) -> None:
    """Remove a saved AOI."""
    path = _path(name, workspace)
    if not path.is_file():
        raise InputNotFoundError(f"no AOI named '{name}'", "see `ai4geo aoi list`")
    path.unlink()
