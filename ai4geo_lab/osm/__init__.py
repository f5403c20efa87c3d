"""OpenStreetMap for an AOI: buildings, roads and land use as GeoDataFrames, for labels and map layers.

Sources: an Overpass API (``overpass_url``, else ``$AI4GEO_OVERPASS_URL``, else the public one), or a local
``.osm`` / ``.osm.pbf`` file (read by GDAL's OSM driver) or a GeoJSON/GeoPackage file of OSM features with their
tags as columns. Every frame is in EPSG:4326 with columns ``osm_id``, ``name``, ``kind`` (the value of the
``building`` / ``highway`` / ``landuse`` tag) and ``geometry``; buildings also carry ``height`` and ``levels`` when
tagged.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ai4geo_lab.aoi import to_aoi, workspace_dir
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, ProviderError
from ai4geo_lab.geo.vector import read_vector

__all__ = ["DEFAULT_OVERPASS_URL", "LAYERS", "buildings", "landuse", "osm_features", "overpass_query", "roads"]

DEFAULT_OVERPASS_URL = "https://overpass-api.de/api/interpreter"
# layer -> (OSM key, geometry kinds kept, GDAL OSM layer)
LAYERS = {
    "buildings": ("building", ("Polygon", "MultiPolygon"), "multipolygons"),
    "roads": ("highway", ("LineString", "MultiLineString"), "lines"),
    "landuse": ("landuse", ("Polygon", "MultiPolygon"), "multipolygons"),
}
COLUMNS = ["osm_id", "name", "kind", "geometry"]
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def overpass_query(bounds: tuple[float, float, float, float], layers: list[str], timeout: int = 60) -> str:
    """The Overpass QL query of ``layers`` within ``bounds`` (west, south, east, north), answered as OSM XML."""
    west, south, east, north = bounds
    box = f"{south:.7f},{west:.7f},{north:.7f},{east:.7f}"
    parts = []
    for layer in layers:
        key = LAYERS[layer][0]
        parts.append(f'way["{key}"]({box});')
        if layer != "roads":
            parts.append(f'relation["{key}"]["type"="multipolygon"]({box});')
    return f"[out:xml][timeout:{int(timeout)}];\n({''.join(parts)});\n(._;>;);\nout body;\n"


def _fetch_overpass(url: str, query: str, timeout: float, cache: Path | None) -> Path:
    import requests

    from ai4geo_lab.catalog.sources import safe_url

    if cache is not None:
        cached = cache / f"{hashlib.sha256((url + query).encode()).hexdigest()[:24]}.osm"
        if cached.is_file():
            return cached
    try:
        resp = requests.post(url, data={"data": query}, timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError(f"the Overpass API {safe_url(url)} did not answer within {timeout:g} s",
                            "try again later or with a smaller AOI") from exc
    except requests.RequestException as exc:
        raise ProviderError(f"cannot reach the Overpass API {safe_url(url)} ({type(exc).__name__})",
                            "check overpass_url / $AI4GEO_OVERPASS_URL and your network, or read a local "
                            ".osm/.osm.pbf file") from exc
    if resp.status_code in (429, 504):
        raise ProviderError(f"the Overpass API {safe_url(url)} is busy (HTTP {resp.status_code})",
                            "wait a minute and try again, or use another Overpass server")
    if resp.status_code >= 400:
        raise ProviderError(f"the Overpass API {safe_url(url)} answered HTTP {resp.status_code}",
                            "check the URL points at an Overpass 'interpreter' endpoint")
    if b"<osm" not in resp.content[:2000]:
        raise ProviderError(f"the Overpass API {safe_url(url)} did not answer with OSM XML",
                            "check the URL points at an Overpass 'interpreter' endpoint")
    folder = cache or Path(tempfile.mkdtemp(prefix="ai4geo-osm-"))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (f"{hashlib.sha256((url + query).encode()).hexdigest()[:24]}.osm" if cache else "overpass.osm")
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(resp.content)
    os.replace(tmp, target)
    return target


def _tags(other: Any) -> dict[str, str]:
    if not isinstance(other, str):
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(other)}


def _number(text: Any) -> float | None:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    match = re.match(r"\s*([0-9]+(?:[.,][0-9]+)?)", str(text))
    return float(match.group(1).replace(",", ".")) if match else None


def _shape(frame: gpd.GeoDataFrame, layer: str, aoi_geom: Any) -> gpd.GeoDataFrame:
    key, kinds, _ = LAYERS[layer]
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    frame = frame.to_crs("EPSG:4326")
    if key not in frame.columns:
        tags = frame["other_tags"].map(_tags) if "other_tags" in frame.columns else pd.Series([{}] * len(frame))
        frame = frame.assign(**{key: [t.get(key) for t in tags]})
    frame = frame[frame[key].notna() & frame.geometry.notna()]
    frame = frame[frame.geometry.geom_type.isin(kinds) & frame.geometry.intersects(aoi_geom)]
    if "osm_id" in frame.columns and frame["osm_id"].notna().any():
        ids = frame["osm_id"]
    elif "osm_way_id" in frame.columns:
        ids = frame["osm_way_id"]
    else:
        ids = frame.get("id", pd.Series([None] * len(frame), index=frame.index))
    if "osm_way_id" in frame.columns and "osm_id" in frame.columns:  # GDAL: ways carry osm_way_id, relations osm_id
        ids = frame["osm_id"].where(frame["osm_id"].notna(), frame["osm_way_id"])
    out = gpd.GeoDataFrame({"osm_id": ids.astype("string").values,
                            "name": frame["name"].values if "name" in frame.columns else None,
                            "kind": frame[key].astype("string").values},
                           geometry=frame.geometry.values, crs="EPSG:4326")
    if layer == "buildings":
        tags = frame["other_tags"].map(_tags) if "other_tags" in frame.columns else None
        height = frame["height"] if "height" in frame.columns else \
            (tags.map(lambda t: t.get("height")) if tags is not None else pd.Series([None] * len(frame)))
        levels = frame["building:levels"] if "building:levels" in frame.columns else \
            (tags.map(lambda t: t.get("building:levels")) if tags is not None else pd.Series([None] * len(frame)))
        out["height"] = [_number(v) for v in height.values]
        out["levels"] = [_number(v) for v in levels.values]
    return out.reset_index(drop=True)


def _read_osm_file(path: Path, layer: str, bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    return read_vector(path, layer=LAYERS[layer][2], bbox=bounds, hint="give a .osm (XML) or .osm.pbf file")


def osm_features(aoi: Any, layers: list[str] | tuple[str, ...] = ("buildings", "roads", "landuse"),
                 source: str | Path | None = None, overpass_url: str | None = None, timeout: float = 120.0,
                 workspace: str | Path | None = None, cache: bool = True) -> dict[str, gpd.GeoDataFrame]:
    """OSM features intersecting ``aoi`` (anything :func:`ai4geo_lab.aoi.to_aoi` takes), one GeoDataFrame per
    layer ('buildings', 'roads', 'landuse'). ``source``: a local .osm / .osm.pbf / GeoJSON / GeoPackage file; if
    None, the Overpass API at ``overpass_url`` (answers cached in ``WORKSPACE/osm`` when ``cache``)."""
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown:
        raise InvalidInputError(f"unknown OSM layer(s): {', '.join(unknown)}", f"choose from {', '.join(LAYERS)}")
    area = to_aoi(aoi)
    bounds = area.geometry.bounds
    if source is None:
        url = overpass_url or os.environ.get("AI4GEO_OVERPASS_URL") or DEFAULT_OVERPASS_URL
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"overpass_url must be an http(s) URL, got {url!r}")
        query = overpass_query(bounds, list(layers), int(timeout))
        path = _fetch_overpass(url, query, timeout, workspace_dir(workspace) / "osm" if cache else None)
        return {layer: _shape(_read_osm_file(path, layer, bounds), layer, area.geometry) for layer in layers}
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputNotFoundError(f"no OSM file at {path}", "give a .osm, .osm.pbf, GeoJSON or GeoPackage file")
    name = path.name.lower()
    if name.endswith((".osm", ".osm.pbf", ".pbf", ".osm.xml")):
        return {layer: _shape(_read_osm_file(path, layer, bounds), layer, area.geometry) for layer in layers}
    if name.endswith((".geojson", ".json", ".gpkg", ".fgb")):
        frame = read_vector(path, bbox=bounds, hint="give a valid GeoJSON/GeoPackage")
        return {layer: _shape(frame, layer, area.geometry) for layer in layers}
    raise InvalidInputError(f"unsupported OSM file type: {path.name}",
                            "give a .osm, .osm.pbf, .geojson or .gpkg file")


def buildings(aoi: Any, source: str | Path | None = None, **kwargs: Any) -> gpd.GeoDataFrame:
    """OSM buildings (polygons) intersecting ``aoi``; see :func:`osm_features`."""
    return osm_features(aoi, ["buildings"], source, **kwargs)["buildings"]


def roads(aoi: Any, source: str | Path | None = None, **kwargs: Any) -> gpd.GeoDataFrame:
    """OSM roads (``highway`` lines) intersecting ``aoi``; see :func:`osm_features`."""
    return osm_features(aoi, ["roads"], source, **kwargs)["roads"]


def landuse(aoi: Any, source: str | Path | None = None, **kwargs: Any) -> gpd.GeoDataFrame:
    """OSM land use (``landuse`` polygons) intersecting ``aoi``; see :func:`osm_features`."""
    return osm_features(aoi, ["landuse"], source, **kwargs)["landuse"]
