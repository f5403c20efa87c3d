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


def read_vector(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file (GeoPackage, GeoJSON, Shapefile...)."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"vector file {path} does not exist", "check the path")
    try:
        return gpd.read_file(path, layer=layer)
    except Exception as exc:
        raise InvalidInputError(f"{path} cannot be read as vector data: {exc}") from exc
