"""Turning bboxes, WKT, GeoJSON, vector files, shapely geometries and GeoDataFrames into one valid AOI."""

from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from pyproj import CRS, Geod
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.vector import read_vector

WGS84 = "EPSG:4326"
DEFAULT_MAX_AREA_KM2 = 50_000.0
VECTOR_SUFFIXES = {".gpkg", ".shp", ".kml", ".geojson", ".json", ".fgb", ".gml"}
_GEOD = Geod(ellps="WGS84")


class AOIWarning(UserWarning):
    """An AOI was accepted after a repair (invalid geometry made valid)."""


@dataclass(frozen=True)
class AOI:
    """An area of interest: a (multi)polygon in EPSG:4326 longitude/latitude, and an optional name."""

    geometry: Polygon | MultiPolygon
    name: str | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north); across the antimeridian west > east."""
        parts = list(getattr(self.geometry, "geoms", [self.geometry]))
        west = min(p.bounds[0] for p in parts)
        east = max(p.bounds[2] for p in parts)
        south, north = self.geometry.bounds[1], self.geometry.bounds[3]
        if len(parts) > 1 and west <= -180 + 1e-9 and east >= 180 - 1e-9:  # split at the antimeridian
            west = min(p.bounds[0] for p in parts if p.bounds[0] > -180 + 1e-9)
            east = max(p.bounds[2] for p in parts if p.bounds[2] < 180 - 1e-9)
        return west, south, east, north

    @property
    def area_km2(self) -> float:
        """Geodesic area on the WGS84 ellipsoid (km²)."""
        return abs(_GEOD.geometry_area_perimeter(self.geometry)[0]) / 1e6

    @property
    def wkt(self) -> str:
        """The geometry as WKT."""
        return self.geometry.wkt

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature with the name as a property."""
        return {"type": "Feature", "geometry": mapping(self.geometry), "properties": {"name": self.name}}


def _parse_bbox(values: Any) -> Polygon:
    try:
        west, south, east, north = (float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a bbox needs 4 numbers (west, south, east, north), got {values!r}") from exc
    if south >= north:
        raise InvalidInputError(f"bbox south {south} must be below north {north}", "give west, south, east, north")
    if west == east:
        raise InvalidInputError("bbox has no width (west == east)")
    if west > east:  # across the antimeridian
        return Polygon(box(west, south, east + 360, north).exterior)
    return box(west, south, east, north)


def _from_text(text: str) -> BaseGeometry:
    t = text.strip()
    if t.startswith(("{", "[")):
        try:
            obj = json.loads(t)
        except ValueError as exc:
            raise InvalidInputError(f"cannot read {t[:60]!r} as GeoJSON: {exc}", "check the JSON text") from exc
        return _from_geojson(obj)
    parts = [p for p in t.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if numbers:  # only numbers: meant as a bbox
        return _parse_bbox(numbers)
    try:
        return shapely.from_wkt(t)
    except shapely.errors.GEOSException as exc:
        raise InvalidInputError(f"cannot read {t[:60]!r} as a bbox, WKT or GeoJSON",
                                "give 'west,south,east,north', a WKT polygon, GeoJSON or a file") from exc


def _from_geojson(obj: dict | list) -> BaseGeometry:
    if isinstance(obj, list):
        return _parse_bbox(obj)
    kind = obj.get("type")
    if kind == "FeatureCollection":
        return unary_union([shape(f["geometry"]) for f in obj.get("features", []) if f.get("geometry")])
    if kind == "Feature":
        return shape(obj["geometry"])
    try:
        return shape(obj)
    except (KeyError, ValueError, AttributeError, TypeError) as exc:
        raise InvalidInputError(f"not a GeoJSON geometry, Feature or FeatureCollection: {str(obj)[:80]}") from exc


def _from_file(path: Path) -> tuple[BaseGeometry, str | None]:
    if not path.exists():
        raise InputNotFoundError(f"AOI file {path} does not exist", "check the path")
    gdf = read_vector(path, hint="give a GeoPackage, Shapefile, KML or GeoJSON file")
    if gdf.empty:
        raise InvalidInputError(f"{path} holds no feature", "give a file with at least one polygon")
    return _from_frame(gdf), path.stem


def _from_frame(gdf: gpd.GeoDataFrame) -> BaseGeometry:
    if gdf.crs is not None and CRS.from_user_input(gdf.crs) != CRS.from_user_input(WGS84):
        gdf = gdf.to_crs(WGS84)
    return unary_union(list(gdf.geometry.dropna()))


def _split_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Longitudes beyond 180 (an antimeridian-crossing shape) folded back as a MultiPolygon."""
    minx, _, maxx, _ = geom.bounds
    if maxx <= 180 and minx >= -180:
        return geom
    west = geom.intersection(box(-540, -90, 180, 90))
    east = affinity.translate(geom.intersection(box(180, -90, 540, 90)), xoff=-360)
    parts = [g for g in (west, east) if not g.is_empty]
    return unary_union(parts) if len(parts) > 1 else parts[0]


def _unwrap_jumps(geom: BaseGeometry) -> BaseGeometry:
    """A polygon whose edges jump by more than 180° of longitude crosses the antimeridian: unwrap it to 0–360."""
    polys = list(getattr(geom, "geoms", [geom]))
    out = []
    for p in polys:
        if not isinstance(p, Polygon):
            out.append(p)
            continue
        xs = [x for x, _ in p.exterior.coords]
        if any(abs(b - a) > 180 for a, b in itertools.pairwise(xs)):
            p = shapely.transform(p, lambda c: c + [[360, 0]] * (c[:, :1] < 0))
        out.append(p)
    return unary_union(out) if len(out) > 1 else out[0]


def to_aoi(source: Any, crs: str | None = None, name: str | None = None, repair: bool = True,
           max_area_km2: float | None = DEFAULT_MAX_AREA_KM2) -> AOI:
    """An :class:`AOI` from a bbox (4 numbers), WKT, GeoJSON (dict or string), a vector file, a shapely
    geometry, a GeoDataFrame or an AOI.

    ``crs`` is the CRS of a geometry, bbox or WKT given in other coordinates than longitude/latitude. Invalid
    geometry is repaired with an :class:`AOIWarning` (or refused with the reason if ``repair`` is False);
    empty geometry, non-areal geometry and areas above ``max_area_km2`` are refused.
    """
    if isinstance(source, AOI):
        return source if name is None else AOI(source.geometry, name)
    file_name = None
    if isinstance(source, gpd.GeoDataFrame | gpd.GeoSeries):
        geom = _from_frame(gpd.GeoDataFrame(geometry=source.geometry if isinstance(source, gpd.GeoDataFrame)
                                            else source, crs=source.crs))
        crs = None
    elif isinstance(source, BaseGeometry):
        geom = source
    elif isinstance(source, dict | list | tuple):
        geom = _from_geojson(source) if isinstance(source, dict) else _parse_bbox(source)
    elif isinstance(source, Path) or (isinstance(source, str) and Path(source).suffix.lower() in VECTOR_SUFFIXES
                                      and not source.lstrip().startswith("{")):
        geom, file_name = _from_file(Path(source))
        crs = None
    elif isinstance(source, str):
        geom = _from_text(source)
    else:
        raise InvalidInputError(f"cannot make an AOI from a {type(source).__name__}",
                                "give a bbox, WKT, GeoJSON, a vector file, a shapely geometry or a GeoDataFrame")
    if crs is not None and CRS.from_user_input(crs) != CRS.from_user_input(WGS84):
        geom = gpd.GeoSeries([geom], crs=crs).to_crs(WGS84).iloc[0]
    if geom is None or geom.is_empty:
        raise InvalidInputError("the AOI is empty", "draw or give a polygon with an area")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            raise InvalidInputError(f"an AOI must be an area, got a {geom.geom_type}",
                                    "give a polygon, or buffer points and lines first")
        geom = unary_union(polys)
    west, south, east, north = geom.bounds
    if south < -90 or north > 90 or west < -180 or east > 540:
        raise InvalidInputError(f"coordinates out of range for longitude/latitude: {geom.bounds}",
                                "latitudes must lie within ±90° and longitudes within ±180°: are the coordinates "
                                "in another CRS? pass crs=")
    geom = _split_antimeridian(_unwrap_jumps(geom))
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        if not repair:
            raise InvalidInputError(f"the AOI geometry is invalid: {reason}", "fix it, or allow repair")
        fixed = shapely.make_valid(geom)
        polys = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type in ("Polygon", "MultiPolygon")]
        if not polys:
            raise InvalidInputError(f"the AOI geometry is invalid ({reason}) and has no area once repaired")
        geom = unary_union(polys)
        warnings.warn(f"the AOI geometry was invalid ({reason}); it was repaired", AOIWarning, stacklevel=2)
    aoi = AOI(geom, name or file_name)
    if max_area_km2 is not None and aoi.area_km2 > max_area_km2:
        raise InvalidInputError(f"the AOI covers {aoi.area_km2:,.0f} km², more than the limit of "
                                f"{max_area_km2:,.0f} km²", "draw a smaller area or raise max_area_km2")
    return aoi
