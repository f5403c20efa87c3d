"""AOIs from every kind of input, validated, reprojected, split at the antimeridian, saved by name."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from ai4geo_lab.aoi import AOIWarning, list_aois, load_aoi, save_aoi, to_aoi
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

TOULOUSE = (1.40, 43.58, 1.46, 43.62)


def test_every_kind_of_input_gives_the_same_aoi(tmp_path):
    ref = to_aoi(TOULOUSE)
    gdf = gpd.GeoDataFrame(geometry=[box(*TOULOUSE)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "a.gpkg")
    gdf.to_file(tmp_path / "a.geojson")
    gdf.to_file(tmp_path / "a.shp")
    gdf.to_file(tmp_path / "a.kml", driver="KML")
    sources = [list(TOULOUSE), "1.40,43.58,1.46,43.62", box(*TOULOUSE).wkt, json.dumps(ref.to_geojson()),
               ref.to_geojson(), {"type": "FeatureCollection", "features": [ref.to_geojson()]}, box(*TOULOUSE), gdf,
               tmp_path / "a.gpkg", str(tmp_path / "a.geojson"), tmp_path / "a.shp", tmp_path / "a.kml"]
    for src in sources:
        aoi = to_aoi(src)
        assert aoi.geometry.symmetric_difference(ref.geometry).area < 1e-12, type(src)
    assert to_aoi(tmp_path / "a.gpkg").name == "a"
    assert 21.0 < ref.area_km2 < 22.0  # 0.06° × cos(43.6°) × 111.3 km = 4.83 km by 0.04° × 111.1 km = 4.44 km


def test_reprojection_from_utm():
    utm = box(374000, 4829000, 375000, 4830000)  # 1 km² in UTM 31N
    aoi = to_aoi(utm, crs="EPSG:32631")
    assert aoi.area_km2 == pytest.approx(1.0, rel=0.01)
    w, s, e, n = aoi.bounds
    assert 1.4 < w < e < 1.5 and 43.5 < s < n < 43.7
    with pytest.raises(InvalidInputError, match="latitudes"):
        to_aoi(utm)  # metres read as degrees


def test_invalid_geometry_repaired_with_a_warning_or_refused():
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    with pytest.warns(AOIWarning, match="Self-intersection"):
        aoi = to_aoi(bowtie)
    assert aoi.geometry.is_valid and aoi.geometry.area == pytest.approx(0.5)
    with pytest.raises(InvalidInputError, match="Self-intersection"):
        to_aoi(bowtie, repair=False)


@pytest.mark.parametrize("source, message", [
    ("POLYGON EMPTY", "empty"), ("POINT (1 2)", "must be an area"), ([1, 2, 3], "4 numbers"),
    ([0, 5, 1, 4], "below north"), ("not a geometry", "cannot read"), (42, "cannot make an AOI"),
])
def test_bad_input_is_refused_with_the_reason(source, message):
    with pytest.raises(InvalidInputError, match=message):
        to_aoi(source)


def test_area_limit_and_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match="more than the limit"):
        to_aoi([0, 0, 5, 5], max_area_km2=1000)
    assert to_aoi([0, 0, 5, 5], max_area_km2=None).area_km2 > 300_000
    with pytest.raises(InputNotFoundError):
        to_aoi(tmp_path / "nope.gpkg")


def test_antimeridian():
    aoi = to_aoi([179.0, -17.0, -179.0, -16.0])  # Fiji, across 180°
    assert isinstance(aoi.geometry, MultiPolygon) and len(aoi.geometry.geoms) == 2
    assert aoi.bounds == pytest.approx((179.0, -17.0, -179.0, -16.0))
    jumping = Polygon([(179, -17), (-179, -17), (-179, -16), (179, -16)])  # edges jump across ±180
    crossing = to_aoi(jumping)
    assert crossing.area_km2 == pytest.approx(aoi.area_km2, rel=1e-6)
    # the same 2° × 1° box elsewhere (edges along parallels are not geodesics: a split adds a vertex)
    assert crossing.area_km2 == pytest.approx(to_aoi([10.0, -17.0, 12.0, -16.0]).area_km2, rel=1e-4)


def test_named_aois_survive_in_the_workspace(tmp_path):
    save_aoi(TOULOUSE, "toulouse", tmp_path)
    save_aoi(box(374000, 4829000, 375000, 4830000), "utm-km", tmp_path, crs="EPSG:32631")
    assert list_aois(tmp_path) == ["toulouse", "utm-km"]
    assert load_aoi("toulouse", tmp_path).name == "toulouse"
    assert (tmp_path / "aois" / "toulouse.geojson").is_file()
    for bad in ("../escape", "a/b", "", ".hidden"):
        with pytest.raises(InvalidInputError, match="not a valid AOI name"):
            save_aoi(TOULOUSE, bad, tmp_path)
    with pytest.raises(InputNotFoundError, match="toulouse"):
        load_aoi("paris", tmp_path)


def test_cli(tmp_path):
    def ai4geo(*args):
        return subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "aoi", *args, "--workspace", str(tmp_path)],
                              capture_output=True, text=True, timeout=120)

    assert ai4geo("save", "t", "1.40,43.58,1.46,43.62").returncode == 0
    saved = ai4geo("save", "bow", "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "--max-area-km2", "1e7")
    assert saved.returncode == 0 and "warning" in saved.stderr and "repaired" in saved.stderr
    listed = ai4geo("list")
    assert "t " in listed.stdout and "bow" in listed.stdout
    shown = json.loads(ai4geo("show", "t").stdout)
    assert shown["properties"]["name"] == "t" and shown["geometry"]["type"] == "Polygon"
    bad = ai4geo("save", "x", "0,5,1,4")
    assert bad.returncode == 2 and "below north" in bad.stderr and "Traceback" not in bad.stderr
