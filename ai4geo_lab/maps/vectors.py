"""Vector files on a map: GeoPackage, GeoJSON, FlatGeobuf or Shapefile (any CRS) as compact GeoJSON in EPSG:4326.

A map draws thousands of building polygons smoothly when what it receives is small: coordinates are rounded to
:data:`DECIMALS` decimals (about 1 cm on the ground, far below a screen pixel at any useful zoom), empty geometries
are dropped, only plain attribute columns are kept, and the answer is made once per file version (and gzipped once
for the server to send).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

#: decimals of degrees kept (1e-7° ≈ 1 cm)
DECIMALS = 7
#: more features than this are not sent to a browser
MAX_FEATURES = 300_000
#: attribute columns kept (the first ones), for the feature pop-ups
MAX_COLUMNS = 16
#: file names a map opens as vectors
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".fgb", ".shp")

HINT = "give a GeoPackage (.gpkg), GeoJSON (.geojson), FlatGeobuf (.fgb) or Shapefile (.shp with its .shx and .dbf)"


def _one_line(text: str, path: Path) -> str:
    """A reader's complaint on one line, with the file named by its name only (no folder of the server)."""
    text = " ".join(str(text).split()).replace(str(path.resolve()), path.name).replace(str(path), path.name)
    text = text.replace(str(path.parent.resolve()) + "/", "")
    return text if len(text) <= 160 else text[:157] + "…"


def _check(path: Path) -> Path:
    if not path.exists():
        raise InputNotFoundError(f"{path.name} does not exist", "check the path")
    if path.is_dir():
        raise InvalidInputError(f"{path.name} is a folder, not a vector file", HINT)
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise InvalidInputError(f"{path.name} is not a vector file the map opens", HINT)
    return path


def _read(path: Path) -> Any:
    import geopandas as gpd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gpd.read_file(path)
    except Exception as exc:  # GDAL's reasons vary by driver: all mean the file cannot be used
        raise InvalidInputError(f"{path.name} cannot be read as vector data: {_one_line(str(exc), path)}",
                                HINT) from None


def _to_wgs84(frame: Any, path: Path) -> Any:
    if frame.crs is None:
        bounds = frame.total_bounds
        if len(frame) and np.all(np.isfinite(bounds)) and -180 <= bounds[0] <= bounds[2] <= 180 \
                and -90 <= bounds[1] <= bounds[3] <= 90:
            return frame.set_crs("EPSG:4326")  # GeoJSON's own CRS, and values that fit it
        raise InvalidInputError(f"{path.name} has no coordinate reference system",
                                "write the file with its CRS (e.g. a .prj beside a Shapefile)")
    if frame.crs.to_epsg() == 4326:
        return frame
    try:
        return frame.to_crs("EPSG:4326")
    except Exception as exc:
        raise InvalidInputError(f"{path.name} cannot be put in longitude/latitude: {_one_line(str(exc), path)}",
                                "check the file's CRS") from None


def _properties(frame: Any) -> list[dict[str, Any]]:
    """Plain attribute values per feature (numbers, text, booleans; dates as text; NaN as null)."""
    columns = [c for c in frame.columns if c != frame.geometry.name][:MAX_COLUMNS]
    if not columns:
        return [{} for _ in range(len(frame))]
    table = frame[columns]
    keep = [c for c in columns if table[c].dtype.kind in "biufcOSUMmb"]
    return json.loads(table[keep].to_json(orient="records", date_format="iso", default_handler=str))


def _collection(path: str, stamp: tuple[int, int]) -> tuple[dict[str, Any], bytes]:
    """The layer's summary and its gzipped GeoJSON (see :func:`vector_layer`)."""
    del stamp  # part of the cache key only
    import shapely

    file = Path(path)
    frame = _read(file)
    source_crs = frame.crs.to_string() if frame.crs is not None else "none (taken as EPSG:4326)"
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if len(frame) > MAX_FEATURES:
        raise InvalidInputError(f"{file.name} has {len(frame):,} features, more than a map draws ({MAX_FEATURES:,})",
                                "open a part of it (clip it to your area) in a notebook")
    frame = _to_wgs84(frame, file)
    geoms = shapely.transform(np.asarray(frame.geometry.values), lambda xy: np.round(xy, DECIMALS))
    geoms = shapely.force_2d(geoms)
    texts = shapely.to_geojson(geoms)
    props = _properties(frame)
    types = sorted({str(t) for t in shapely.get_type_id(geoms)})
    names = {"0": "Point", "1": "LineString", "3": "Polygon", "4": "MultiPoint", "5": "MultiLineString",
             "6": "MultiPolygon", "7": "GeometryCollection", "2": "LinearRing"}
    bounds = [float(v) for v in shapely.total_bounds(geoms)] if len(geoms) else None
    if bounds is not None and not all(math.isfinite(v) for v in bounds):
        bounds = None
    summary = {"name": file.name, "count": len(geoms), "bounds": bounds, "crs": source_crs,
               "geometry_types": [names.get(t, t) for t in types],
               "columns": [c for c in frame.columns if c != frame.geometry.name][:MAX_COLUMNS]}
    parts = [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{json.dumps(p, separators=(",", ":"))}}}'
             for i, (g, p) in enumerate(zip(texts, props, strict=True))]
    head = json.dumps(summary, separators=(",", ":"))
    summary = json.loads(head)  # exactly what is sent (however the process's JSON encoder writes floats)
    body = '{"type":"FeatureCollection","ai4geo":' + head + ',"features":[' + ",".join(parts) + "]}"
    return summary, gzip.compress(body.encode(), compresslevel=5)


_cached = functools.lru_cache(maxsize=16)(_collection)


def vector_layer(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """``(summary, gzipped GeoJSON)`` of a vector file for a map: its features in EPSG:4326 with coordinates
    rounded to :data:`DECIMALS` decimals and their plain attributes; the GeoJSON's ``ai4geo`` member and the
    summary hold ``name, count, bounds ([west, south, east, north]), crs`` (the file's), ``geometry_types`` and
    ``columns``. Made once per file version. Errors are one line naming the file by its name only."""
    file = _check(Path(path))
    st = file.stat()
    return _cached(str(file), (st.st_mtime_ns, st.st_size))


__all__ = ["DECIMALS", "MAX_FEATURES", "VECTOR_SUFFIXES", "vector_layer"]
