"""Coarse country outlines for maps that have no network (Natural Earth 1:110m, public domain, as EODAG ships it)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ai4geo_lab.errors import InputNotFoundError


def _source() -> Path:
    try:
        import eodag
    except ImportError as exc:
        from ai4geo_lab.errors import MissingDependencyError

        raise MissingDependencyError("the offline map's outlines come with the Python package 'eodag', which is "
                                     "not installed", "install it with: pip install 'eodag>=4.10,<5'") from exc
    path = Path(eodag.__file__).parent / "resources" / "shp" / "ne_110m_admin_0_map_units.shp"
    if not path.is_file():
        raise InputNotFoundError("no country outlines found in this EODAG installation",
                                 "the offline map then shows its graticule only")
    return path


@functools.lru_cache(maxsize=1)
def country_outlines_geojson(tolerance_deg: float = 0.05) -> str:
    """Country outlines as a GeoJSON FeatureCollection string (simplified, coordinates rounded to 0.01°)."""
    import geopandas as gpd

    gdf = gpd.read_file(_source(), columns=[])
    gdf = gdf.set_geometry(gdf.geometry.simplify(tolerance_deg, preserve_topology=True))
    data: dict[str, Any] = json.loads(gdf[["geometry"]].to_json(drop_id=True))
    return json.dumps(_rounded(data), separators=(",", ":"))


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 2)
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj
