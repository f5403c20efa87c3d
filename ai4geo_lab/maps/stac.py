"""A static STAC catalogue on a map: the layers of the products it lists.

:func:`catalogue_layers` reads a catalogue, collection or item JSON (with pystac), follows its ``child`` and ``item``
links and answers one layer per asset the map can draw: GeoTIFFs as rasters, GeoPackage / GeoJSON / FlatGeobuf /
Shapefile assets as vectors (the kind from the asset's media type, else from its file name). Everything is kept
inside a root folder: a link or an asset whose file lies outside it (``..``, an absolute path elsewhere, a symlink
out, a URL) is not read and not served, only named in the answer's ``left_out``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.maps.vectors import VECTOR_SUFFIXES

#: more STAC objects than this (catalogues, collections, items) are not walked
MAX_OBJECTS = 2000
#: more layers than this are not sent to a map
MAX_LAYERS = 200

RASTER_MEDIA = ("image/tiff", "image/geotiff", "application/x-geotiff", "image/vnd.stac.geotiff")
VECTOR_MEDIA = ("application/geopackage+sqlite3", "application/geo+json", "application/flatgeobuf",
                "application/vnd.flatgeobuf", "application/x-shapefile", "application/vnd.shp")
RASTER_SUFFIXES = (".tif", ".tiff")
SKIPPED_ROLES = {"thumbnail", "overview", "metadata"}

HINT = "give a STAC catalog.json, collection.json or item JSON inside the folder JupyterLab was started in"


def asset_type(href: str, media_type: str | None) -> str | None:
    """``'raster'``, ``'vector'`` or None (not drawn) for an asset: by its media type, else its file name."""
    media = (media_type or "").split(";")[0].strip().lower()
    if media.startswith(RASTER_MEDIA):
        return "raster"
    if media in VECTOR_MEDIA:
        return "vector"
    suffix = Path(urlparse(href).path).suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return "raster"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    return None


def _local(href: str) -> Path | None:
    """The local file an absolute href names (None for a URL of another scheme)."""
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http(s), s3…: not a file of the root ("C:" is a drive)
        return None
    return Path(href)


def _inside(base: Path, href: str) -> str | None:
    """``href`` relative to ``base`` (POSIX) when its file, symlinks resolved, lies inside ``base``; else None."""
    path = _local(href)
    if path is None:
        return None
    target = path.resolve()
    if target != base and base not in target.parents:
        return None
    return target.relative_to(base).as_posix()


def _read(path: Path, shown: str) -> Any:
    import pystac

    if not path.is_file():
        raise InputNotFoundError(f"{shown} does not exist", HINT)
    try:
        return pystac.read_file(str(path))
    except Exception as exc:  # pystac's reasons vary (JSON, STAC type, version): all mean it cannot be used
        text = " ".join(str(exc).split()).replace(str(path.parent) + "/", "")
        text = text if len(text) <= 120 else text[:117] + "…"
        raise InvalidInputError(f"{shown} cannot be read as a STAC catalogue: {text}", HINT) from None


def catalogue_layers(root: str | Path, path: str | Path) -> dict[str, Any]:
    """The map layers of the STAC catalogue, collection or item at ``path`` (inside ``root``).

    Answers ``{"path", "title", "layers": [{"path", "type", "title", "item", "asset"}], "left_out": [...],
    "items"}``: ``path`` values relative to ``root``; ``left_out`` names what lies outside the root (or could not
    be read) and is not drawn. Raises :class:`InvalidInputError` when the file itself is not a STAC object.
    """
    import pystac

    base = Path(root).expanduser().resolve()
    start = Path(path).resolve()
    shown = _inside(base, str(start))
    if shown is None:
        raise InvalidInputError(f"{Path(path).name} lies outside the server's root folder", HINT)
    top = _read(start, shown)
    title = getattr(top, "title", None) or top.id
    layers: list[dict[str, Any]] = []
    left_out: list[str] = []
    seen_files: set[str] = set()
    items = 0
    queue: list[tuple[Any, str]] = [(top, shown)]
    visited = {str(start)}
    while queue and len(visited) <= MAX_OBJECTS:
        obj, where = queue.pop(0)
        if isinstance(obj, pystac.Item):
            items += 1
            for key, asset in obj.assets.items():
                if SKIPPED_ROLES & set(asset.roles or []) and "data" not in (asset.roles or []):
                    continue
                href = asset.get_absolute_href() or asset.href
                kind = asset_type(href, asset.media_type)
                if kind is None:
                    continue
                rel = _inside(base, href)
                if rel is None:
                    left_out.append(f"{obj.id}/{key}: outside the root folder")
                    continue
                if rel in seen_files or len(layers) >= MAX_LAYERS:
                    continue
                seen_files.add(rel)
                layers.append({"path": rel, "type": kind, "title": asset.title or Path(rel).name,
                               "item": obj.id, "asset": key})
            continue
        for link in obj.links:
            if link.rel not in ("child", "item"):
                continue
            href = link.get_absolute_href() or link.href
            rel = _inside(base, href)
            if rel is None:
                article = "an" if link.rel == "item" else "a"
                left_out.append(f"{where}: {article} {link.rel} link outside the root folder")
                continue
            child = base / rel
            if str(child) in visited:
                continue
            visited.add(str(child))
            try:
                queue.append((_read(child, rel), rel))
            except (InputNotFoundError, InvalidInputError) as exc:
                left_out.append(exc.message)
    return {"path": shown, "title": title, "layers": layers, "left_out": left_out, "items": items}
