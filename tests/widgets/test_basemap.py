"""The notebook maps' base: offline country outlines and a graticule that follows the view, tiles when asked for,
and the local catalogue's extent."""

from __future__ import annotations

import pytest
from ipyleaflet import GeoJSON, LayerGroup, Map, TileLayer

from ai4geo_lab.widgets.basemap import (
    CATALOGUE_NAME,
    GRATICULE_NAME,
    OFFLINE_NAME,
    add_base,
    graticule_lines,
    graticule_step,
)


def named(m: Map, name: str):
    return next((layer for layer in m.layers if layer.name == name), None)


@pytest.mark.parametrize(("span", "step"), [(360.0, 30), (20.0, 5), (1.0, 0.2), (0.01, 0.002), (1e-6, 0.0001)])
def test_graticule_step_puts_three_lines_across(span: float, step: float) -> None:
    assert graticule_step(span) == step


def test_graticule_lines_cover_the_view() -> None:
    lines = graticule_lines(45.1, 5.13, 45.3, 5.41)  # 0.28° wide: lines every 0.05°
    lons = sorted(line[0][1] for line in lines if line[0][1] == line[1][1])
    lats = sorted(line[0][0] for line in lines if line[0][0] == line[1][0])
    assert lons == pytest.approx([5.15, 5.2, 5.25, 5.3, 5.35, 5.4])
    assert lats == pytest.approx([45.1, 45.15, 45.2, 45.25, 45.3])


def test_offline_base_has_countries_and_a_graticule_that_follows_the_view() -> None:
    m = Map(center=(45.2, 5.7), zoom=10, layers=())
    add_base(m)
    countries = named(m, OFFLINE_NAME)
    assert isinstance(countries, GeoJSON) and len(countries.data["features"]) > 150
    assert not any(isinstance(layer, TileLayer) for layer in m.layers)
    grid = named(m, GRATICULE_NAME)
    assert isinstance(grid, LayerGroup)
    m.set_trait("bounds", ((45.0, 5.0), (45.4, 5.6)))  # what the browser sends when the view changes
    wide = len(grid.layers)
    assert wide >= 6
    m.set_trait("bounds", ((45.0, 5.0), (45.04, 5.06)))
    assert len(grid.layers) >= 6 and grid.layers[0].locations != []
    assert {tuple(map(tuple, g.locations)) for g in grid.layers}.isdisjoint(
        {((45.0, 5.0), (45.4, 5.0))})  # redrawn at the new spacing


def test_tiles_when_asked_and_the_catalogue_extent(small_city, tmp_path) -> None:
    from shapely.geometry import shape

    from ai4geo_lab.catalog import add_local_catalog
    from ai4geo_lab.catalog.local import read_static_catalog

    m = Map(layers=())
    add_base(m, "https://example.invalid/{z}/{x}/{y}.png", workspace=tmp_path / "empty", catalogue=True)
    assert isinstance(m.layers[0], TileLayer) and named(m, OFFLINE_NAME) is None
    assert named(m, CATALOGUE_NAME) is None  # an empty catalogue draws nothing

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    m = Map(layers=())
    add_base(m, workspace=ws, catalogue=True)
    extent = named(m, CATALOGUE_NAME)
    assert isinstance(extent, GeoJSON)
    box = shape(extent.data["features"][0]["geometry"])
    items = read_static_catalog(small_city.root / "catalog" / "catalog.json")
    assert all(box.buffer(1e-9).contains(shape(i["geometry"])) for i in items)


def test_search_panel_and_raster_map_use_the_offline_base(small_city, tmp_path) -> None:
    from ai4geo_lab.catalog import add_local_catalog
    from ai4geo_lab.widgets import SearchPanel
    from ai4geo_lab.widgets.rastermap import raster_map, raster_overlay

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    panel = SearchPanel(provider="local", workspace=ws)
    assert named(panel.map, OFFLINE_NAME) is not None and named(panel.map, CATALOGUE_NAME) is not None
    m = raster_map([raster_overlay(small_city.truth("date1", "dsm"), "ndsm", max_px=32)])
    assert named(m, OFFLINE_NAME) is not None and named(m, GRATICULE_NAME) is not None


@pytest.mark.parametrize("bounds", [(1.437, 43.602, 1.441, 43.605), (-10.0, 35.0, 30.0, 60.0), (5.0, -1.0, 5.001, 1.0)])
def test_fit_view_shows_the_bounds_whole_at_the_largest_zoom(bounds) -> None:
    from ipyleaflet import Map

    from ai4geo_lab.widgets.basemap import fit_view, view_bounds

    m = Map(layers=(), center=(0, 0), zoom=2, layout={"height": "420px"})
    fit_view(m, bounds, padding_px=0)
    w, s, e, n = bounds
    (south, west), (north, east) = view_bounds(m.center, m.zoom, 1000, 420)
    assert south <= s and west <= w and north >= n and east >= e  # all of it in the view
    (south, west), (north, east) = view_bounds(m.center, m.zoom + 1, 1000, 420)
    assert south > s or west > w or north < n or east < e  # one zoom more would cut it
