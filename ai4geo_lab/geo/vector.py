"""Vector I/O: GeoPackages written atomically, read with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.atomic import atomic_path


def write_vector(gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> Path:
    """Write a GeoDataFrame as a GeoPackage atomically (the file appears complete or not at all)."""
    path = Path(path)
    tmp = atomic_path(path)
    tmp.unlink()
    tmp = tmp.with_suffix(".gpkg")
    try:
        gdf.to_file(tmp, layer=layer or path.stem, driver="GPKG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_vector(path: str | Path, layer: str | None = None, bbox: tuple[float, float, float, float] | None = None,
                hint: str = "give a GeoPackage, GeoJSON, Shapefile or another vector format GDAL reads",
                ) -> gpd.GeoDataFrame:
    """Read an input vector file (GeoPackage, GeoJSON, Shapefile, OSM...): one ``layer`` (default: the first),
    the features meeting ``bbox`` (in the file's CRS) if given. Errors name the file; ``hint`` says what to give."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"vector file {path} does not exist", "check the path")
    try:
        return gpd.read_file(path, layer=layer, bbox=bbox)
    except Exception as exc:
        reason = " ".join(str(exc).split())
        raise InvalidInputError(f"{path} cannot be read as vector data: {reason}", hint) from exc
