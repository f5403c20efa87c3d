"""An uploaded vector file (GeoJSON, GeoPackage, KML, zipped Shapefile...) saved as a named AOI."""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

from ai4geo_lab.aoi.geometry import AOI
from ai4geo_lab.aoi.workspace import load_aoi, save_aoi
from ai4geo_lab.errors import InvalidInputError

MAX_UPLOAD_BYTES = 20 * 2**20
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".kml", ".kmz", ".zip", ".shp.zip", ".fgb")


def decode_base64(content: str) -> bytes:
    """The bytes of a base64 text (strict: anything else is refused with a clear error)."""
    try:
        return base64.b64decode(content, validate=True)
    except ValueError as exc:
        raise InvalidInputError("the uploaded file is not valid base64") from exc


def upload_suffix(filename: str) -> str:
    """The file kind an upload's name announces (``.shp.zip`` before ``.zip``), or a clear error."""
    lower = filename.lower()
    suffix = next((s for s in sorted(UPLOAD_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), None)
    if suffix is None:
        raise InvalidInputError(f"cannot read '{filename}' as an AOI", "upload a GeoJSON, GeoPackage or KML file")
    return suffix


def default_name(filename: str) -> str:
    """An AOI name made from an uploaded file's name (its stem, with unusual characters replaced)."""
    suffix = upload_suffix(filename)
    stem = Path(filename).name[: -len(suffix)] or "upload"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("._-") or "upload"


def save_upload(filename: str, data: bytes | str, name: str | None = None, workspace: str | Path | None = None,
                overwrite: bool = True) -> AOI:
    """Read ``data`` (the content of a file called ``filename``: bytes, or base64 text as a JSON body carries
    them) as an AOI and save it under ``name`` (default: the file's stem); returns the saved AOI."""
    suffix = upload_suffix(filename)
    if isinstance(data, str):
        data = decode_base64(data)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MB",
                                "simplify the area, or save it from a notebook with save_aoi()")
    name = name or default_name(filename)
    with tempfile.TemporaryDirectory(prefix="ai4geo-upload-") as tmp:
        path = Path(tmp) / f"upload{'.zip' if suffix == '.shp.zip' else suffix}"
        path.write_bytes(data)
        try:
            save_aoi(path, name, workspace, overwrite=overwrite)
        except InvalidInputError as exc:  # said of the user's file, not of the server's temporary copy
            raise InvalidInputError(_plain(exc.message, path, Path(filename).name), exc.hint, field="file") from None
    return load_aoi(name, workspace)


def _plain(text: str, path: Path, filename: str) -> str:
    """A reading error about the temporary copy ``path`` told of ``filename``: one line, no server path."""
    text = text.replace(str(path), filename).replace(str(path.parent), "")
    text = re.sub(r"\s*;?\s*It might help.*$", "", text, flags=re.S)  # GDAL's advice about driver prefixes
    return text.strip().splitlines()[0].rstrip(".;: ")
