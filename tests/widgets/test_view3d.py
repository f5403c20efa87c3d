"""The 3D view: CityJSON solids triangulated without losing area; an offline HTML page; the parameter form."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio.transform
from pydantic import ValidationError
from shapely.geometry import box

from ai4geo_lab.buildings.cityjson import buildings_cityjson
from ai4geo_lab.buildings.roofs import RoofFit
from ai4geo_lab.buildings.step import Lod2Params
from ai4geo_lab.widgets.forms import ParamsForm
from ai4geo_lab.widgets.view3d import View3D, building_meshes, save_html, scene_figure

X0, Y0 = 652_000.0, 6_862_000.0


def _doc() -> dict:
    court = box(X0 + 30, Y0, X0 + 60, Y0 + 30).difference(box(X0 + 40, Y0 + 10, X0 + 50, Y0 + 20))
    gable = RoofFit("gable", X0 + 5, Y0 + 10, [(9.0, -0.5, 0.0), (9.0, 0.5, 0.0)], 90.0, 6.5, 9.0, 0.1, 1.0, 100)
    flat = RoofFit("flat", X0 + 45, Y0 + 15, [(7.0, 0.0, 0.0)], 0.0, 7.0, 7.0, 0.1, 1.0, 100)
    gdf = gpd.GeoDataFrame({"height": [9.0, 7.0], "base_elevation": [100.0, 101.0],
                            "roof_type": ["gable", "flat"],
                            "roof_planes": [gable.planes_json(), flat.planes_json()]},
                           geometry=[box(X0, Y0, X0 + 10, Y0 + 20), court], crs="EPSG:2154")
    return buildings_cityjson(gdf, 2154)


def _area(verts: np.ndarray, tri: np.ndarray, horizontal: bool) -> float:
    a, b, c = verts[tri[:, 0]], verts[tri[:, 1]], verts[tri[:, 2]]
    n = np.cross(b - a, c - a)
    return float(np.sum(np.abs(n[:, 2]) if horizontal else np.linalg.norm(n, axis=1)) / 2)


def test_meshes_cover_the_footprints() -> None:
    doc = _doc()
    for lod in ("1", "2"):
        meshes = building_meshes(doc, lod)
        assert set(meshes) == {"GroundSurface", "RoofSurface", "WallSurface"}
        footprint_area = 10 * 20 + 30 * 30 - 10 * 10
        assert _area(*meshes["GroundSurface"], horizontal=True) == pytest.approx(footprint_area, rel=1e-6)
        assert _area(*meshes["RoofSurface"], horizontal=True) == pytest.approx(footprint_area, rel=1e-6)
    # LOD2 walls of the gable building reach the ridge: more wall area than the LOD1 box at eave height
    walls1 = _area(*building_meshes(doc, "1")["WallSurface"], horizontal=False)
    walls2 = _area(*building_meshes(doc, "2")["WallSurface"], horizontal=False)
    assert walls2 != pytest.approx(walls1)


def test_scene_figure_and_offline_page(tmp_path) -> None:
    dsm = np.full((60, 80), 100.0)
    transform = rasterio.transform.from_origin(X0 - 5, Y0 + 35, 1.0, 1.0)
    fig = scene_figure(_doc(), dsm, transform, lod="2", max_dsm_pixels=40)
    kinds = [t.type for t in fig.data]
    assert kinds.count("mesh3d") == 3 and kinds.count("surface") == 1
    assert fig.data[0].z.shape == (30, 40)  # decimated
    page = save_html(fig, tmp_path / "view.html").read_text()
    assert "<script src=\"http" not in page and "plotly" in page.lower() and len(page) > 1_000_000
    view = View3D(_doc(), dsm, transform)
    view.lod.value = "1"
    assert view.figure().data[-1].type == "mesh3d"
    view.terrain.value = False
    assert all(t.type == "mesh3d" for t in view.figure().data)
    # the widget's output holds the figure drawn for the switches (one plotly output, terrain left out)
    (shown,) = view.output.outputs
    traces = shown["data"]["application/vnd.plotly.v1+json"]["data"]
    assert traces and all(t["type"] == "mesh3d" for t in traces)
    view.terrain.value = True
    assert any(t["type"] == "surface" for t in view.output.outputs[0]["data"]["application/vnd.plotly.v1+json"]["data"])


def test_params_form_validates_like_the_config() -> None:
    form = ParamsForm(Lod2Params)
    assert form.params() == Lod2Params()
    form.inputs["percentile"].value = "75"
    form.inputs["erode_px"].value = "2"
    assert form.params().percentile == 75.0
    form.inputs["percentile"].value = "150"
    with pytest.raises(ValidationError):
        form.params()
    assert "percentile" in form.message.value
