"""``resolve``: the one way every face turns what a user typed or drew into an :class:`AOI`.

A saved AOI name (looked up in the workspace), ``'west,south,east,north'``, WKT, GeoJSON (text or dict), a vector
file path, an :class:`AOI`, a shapely geometry or a GeoDataFrame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai4geo_lab.aoi.geometry import AOI, DEFAULT_MAX_AREA_KM2, VECTOR_SUFFIXES, to_aoi
from ai4geo_lab.aoi.workspace import NAME, list_aois, load_aoi, workspace_dir
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

KINDS = "a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a vector file"


def _saved_hint(workspace: str | Path | None) -> str:
    names = list_aois(workspace)
    shown = ", ".join(names[:20]) + ("…" if len(names) > 20 else "")
    return f"saved AOIs: {shown or 'none'}; or give 'west,south,east,north', WKT, GeoJSON or a vector file path"


def _looks_like_file(text: str, probe: bool) -> bool:
    """Whether text names a file: by its suffix or a path separator, and (``probe``) by a file being there."""
    if text.startswith(("{", "[")):
        return False
    path = Path(text).expanduser()
    if path.suffix.lower() in VECTOR_SUFFIXES or "/" in text or "\\" in text:
        return True
    return probe and path.is_file()


def resolve(source: Any, workspace: str | Path | None = None, *, crs: str | None = None,
            max_area_km2: float | None = DEFAULT_MAX_AREA_KM2, allow_files: bool = True) -> AOI:
    """The :class:`AOI` that ``source`` stands for.

    Text is tried, in this order, as a name saved in ``workspace``, a vector file path, then a bbox, WKT or
    GeoJSON. ``crs`` is the CRS of coordinates that are not longitude/latitude; ``max_area_km2`` refuses larger
    areas (saved AOIs were checked when saved). ``allow_files=False`` refuses file paths (for requests that must
    not make the caller read a file of their choosing).
    """
    if isinstance(source, AOI):
        return source
    if source is None:
        raise InvalidInputError("no AOI given", f"give {KINDS}")
    if isinstance(source, Path):
        return _from_path(source, source, workspace, max_area_km2, allow_files)
    if not isinstance(source, str):
        return to_aoi(source, crs=crs, max_area_km2=max_area_km2)
    text = source.strip()
    if not text:
        raise InvalidInputError("no AOI given (empty text)", f"give {KINDS}")
    if NAME.match(text) and ".." not in text and text in list_aois(workspace):
        return load_aoi(text, workspace)
    if _looks_like_file(text, probe=allow_files):  # no probing of paths a request names
        return _from_path(Path(text).expanduser(), text, workspace, max_area_km2, allow_files)
    if NAME.match(text):  # one word: meant as a name, and no bbox, WKT or GeoJSON reads as one word
        folder = workspace_dir(workspace) / "aois"
        raise InputNotFoundError(f"no AOI named '{text}' in {folder}, and '{text}' is not a bbox, WKT, GeoJSON "
                                 "or vector file", _saved_hint(workspace))
    return to_aoi(text, crs=crs, max_area_km2=max_area_km2)


def _from_path(path: Path, text: str | Path, workspace: str | Path | None, max_area_km2: float | None,
               allow_files: bool) -> AOI:
    if not allow_files:
        raise InvalidInputError(f"a file path cannot be given here ('{text}')",
                                "save the file as a named AOI first, then give its name")
    if not path.exists() and not isinstance(text, Path):
        raise InputNotFoundError(f"no AOI named '{text}' and no file {path}", _saved_hint(workspace))
    return to_aoi(path, max_area_km2=max_area_km2)
