"""The base of the notebook maps, as the Lab's maps draw it: online tiles when asked for, else an offline base that
needs no tile server (country outlines from the EODAG package, and a graticule whose spacing follows the view),
plus the extent of the local catalogue, so a user who does not know its coordinates can find it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

OFFLINE_NAME = "countries (offline)"
GRATICULE_NAME = "graticule"
CATALOGUE_NAME = "local catalogue"
COUNTRY_STYLE = {"color": "#8a94a6", "weight": 0.8, "opacity": 0.9, "fillColor": "#e6ebf2", "fillOpacity": 1.0}
GRID_STYLE = {"color": "#8a94a6", "weight": 1, "opacity": 0.6, "dash_array": "3 4"}
EXTENT_STYLE = {"color": "#7c3aed", "weight": 2, "dashArray": "6 4", "fillColor": "#7c3aed", "fillOpacity": 0.06}
#: Graticule spacings (degrees), the first that puts at least three lines across the view is used.
STEPS = (30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)


def tile_layer(basemap: Any) -> Any:
    """An ipyleaflet tile layer from ``"osm"``, a URL template, an ipyleaflet basemap or a TileLayer."""
    from ipyleaflet import TileLayer, basemap_to_tiles, basemaps

    if isinstance(basemap, TileLayer):
        return basemap
    if basemap == "osm":
        return basemap_to_tiles(basemaps.OpenStreetMap.Mapnik)
    if isinstance(basemap, str):
        return TileLayer(url=basemap, max_zoom=20, name="base")
    return basemap_to_tiles(basemap)


def country_outlines() -> Any:
    """The offline base: country outlines (Natural Earth 1:110 m) as a GeoJSON layer."""
    from ipyleaflet import GeoJSON

    from ai4geo_lab.geo.outlines import country_outlines_geojson

    return GeoJSON(data=json.loads(country_outlines_geojson()), style=COUNTRY_STYLE, name=OFFLINE_NAME)


def graticule_step(span_deg: float) -> float:
    """The spacing of the graticule for a view ``span_deg`` wide: at least three lines across."""
    return next((s for s in STEPS if span_deg / s >= 3), STEPS[-1])


def graticule_lines(south: float, west: float, north: float, east: float) -> list[list[tuple[float, float]]]:
    """Meridians and parallels over a view (latitude, longitude pairs), at :func:`graticule_step`."""
    step = graticule_step(max(east - west, north - south))
    def ticks(lo: float, hi: float) -> list[float]:  # multiples of step in [lo, hi], edges included
        return [round(i * step, 10) for i in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1)]

    return ([[(south, x), (north, x)] for x in ticks(west, east)]
            + [[(y, west), (y, east)] for y in ticks(south, north)])


def view_bounds(center: tuple[float, float] | list[float], zoom: float, width_px: int = 1000,
                height_px: int = 500) -> tuple[tuple[float, float], tuple[float, float]]:
    """The bounds ((south, west), (north, east)) of a Web Mercator view of that size around ``center``."""
    lat, lon = float(center[0]), float(center[1])
    deg = 360.0 / (256 * 2 ** float(zoom))  # longitude degrees per pixel
    half_w, half_h = width_px / 2 * deg, height_px / 2 * deg * math.cos(math.radians(lat))
    return (max(lat - half_h, -85.0), lon - half_w), (min(lat + half_h, 85.0), lon + half_w)


def _mercator_y(lat: float) -> float:
    """Web Mercator y of a latitude, in units of the world's width (0 at the equator)."""
    lat = max(min(lat, 85.0), -85.0)
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)


def view_size(m: Any) -> tuple[float, float]:
    """The map's size in pixels: from the view the browser reports, else 1000 px by its layout height (or 500)."""
    if m.bounds:
        (south, west), (north, east) = m.bounds
        world = 256 * 2 ** float(m.zoom)
        return (east - west) / 360 * world, (_mercator_y(north) - _mercator_y(south)) * world
    height = str(getattr(m.layout, "height", "") or "")
    return 1000.0, float(height[:-2]) if height.endswith("px") else 500.0


def fit_view(m: Any, bounds: tuple[float, float, float, float], max_zoom: int = 18, padding_px: int = 20) -> None:
    """Centre map ``m`` on ``bounds`` (west, south, east, north) at the largest zoom that shows them whole."""
    west, south, east, north = bounds
    width, height = view_size(m)
    dx = max(east - west, 1e-9) / 360
    dy = max(_mercator_y(north) - _mercator_y(south), 1e-9)
    fit = min((width - 2 * padding_px) / (256 * dx), (height - 2 * padding_px) / (256 * dy))
    zoom = max(0, min(max_zoom, math.floor(math.log2(max(fit, 1e-9)))))
    m.center = ((south + north) / 2, (west + east) / 2)
    m.zoom = zoom


def add_graticule(m: Any) -> Any:
    """A graticule on map ``m``, redrawn when the view changes (the map's ``bounds`` come from the browser)."""
    from ipyleaflet import LayerGroup, Polyline

    group = LayerGroup(name=GRATICULE_NAME)

    def draw(_: Any = None) -> None:
        # the browser sends the view's bounds once the map has moved; until then, those of a 1000 × 500 px view
        (south, west), (north, east) = m.bounds or view_bounds(m.center, m.zoom)
        group.layers = tuple(Polyline(locations=line, fill=False, **GRID_STYLE)
                             for line in graticule_lines(south, west, north, east))

    m.observe(draw, names="bounds")
    draw()
    m.add(group)
    return group


def catalogue_extent(workspace: str | Path | None = None) -> Any | None:
    """The local catalogue's extent (one dashed box per catalogue, with its title), or None when it is empty."""
    from ipyleaflet import GeoJSON

    from ai4geo_lab.catalog import local_extent
    from ai4geo_lab.errors import Ai4geoError

    try:
        extent = local_extent(workspace)
    except Ai4geoError:
        return None
    features = []
    for cat in extent["catalogs"]:
        if cat["bbox"]:
            w, s, e, n = cat["bbox"]
            features.append({"type": "Feature", "properties": {"title": cat["title"], "items": cat["items"]},
                             "geometry": {"type": "Polygon",
                                          "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}})
    if not features:
        return None
    return GeoJSON(data={"type": "FeatureCollection", "features": features}, style=EXTENT_STYLE,
                   name=CATALOGUE_NAME)


def add_catalogue_zoom(m: Any, workspace: str | Path | None = None) -> Any:
    """A "zoom to catalogue" button under map ``m``'s zoom buttons; returns it (disabled while the local
    catalogue is empty)."""
    import ipywidgets as w
    from ipyleaflet import WidgetControl

    from ai4geo_lab.catalog import local_extent
    from ai4geo_lab.errors import Ai4geoError

    button = w.Button(icon="crosshairs", tooltip="zoom to the local catalogue",
                      layout=w.Layout(width="34px", height="30px", padding="0"))
    button.add_class("ai4geo-zoom-catalogue")

    def zoom(_: Any = None) -> None:
        try:
            bbox = local_extent(workspace)["bbox"]
        except Ai4geoError:
            bbox = None
        if bbox:
            fit_view(m, tuple(bbox))

    try:
        button.disabled = not local_extent(workspace)["bbox"]
    except Ai4geoError:
        button.disabled = True
    button.on_click(zoom)
    m.add(WidgetControl(widget=button, position="topleft"))
    return button


def add_base(m: Any, basemap: Any = None, workspace: str | Path | None = None, catalogue: bool = False) -> None:
    """Put the base on map ``m``: ``basemap``'s tiles, else the offline base (country outlines and a graticule);
    with ``catalogue``, the local catalogue's extent over it."""
    if basemap is None:
        m.add(country_outlines())
        add_graticule(m)
    else:
        m.add(tile_layer(basemap))
    if catalogue:
        extent = catalogue_extent(workspace)
        if extent is not None:
            m.add(extent)
