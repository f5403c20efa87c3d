"""``aoi.resolve``: every kind of input a face receives, and one clear error line for bad input."""

from __future__ import annotations

import base64
import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from ai4geo_lab.aoi import AOI, list_aois, resolve, save_aoi, save_upload, to_aoi
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

TOULOUSE = (1.40, 43.58, 1.46, 43.62)


@pytest.fixture
def ws(tmp_path):
    save_aoi(TOULOUSE, "toulouse", tmp_path / "ws")
    return tmp_path / "ws"


def _same(aoi, ref=None):
    ref = ref or to_aoi(TOULOUSE)
    return aoi.geometry.symmetric_difference(ref.geometry).area < 1e-12


def test_every_kind_of_input(ws, tmp_path):
    gdf = gpd.GeoDataFrame(geometry=[box(*TOULOUSE)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "a.gpkg")
    gdf.to_file(tmp_path / "b.geojson")
    ref = to_aoi(TOULOUSE)
    sources = ["toulouse", " toulouse ", "1.40,43.58,1.46,43.62", "1.40 43.58 1.46 43.62", box(*TOULOUSE).wkt,
               json.dumps(ref.to_geojson()), ref.to_geojson(), str(tmp_path / "a.gpkg"), tmp_path / "b.geojson",
               box(*TOULOUSE), gdf, ref, list(TOULOUSE)]
    for src in sources:
        assert _same(resolve(src, ws)), src
    assert resolve("toulouse", ws).name == "toulouse"
    assert resolve(str(tmp_path / "a.gpkg"), ws).name == "a"
    assert resolve(ref) is ref


def test_a_name_wins_over_a_file_and_the_crs_applies_to_coordinates(ws, tmp_path, monkeypatch):
    other = (1.0, 43.0, 1.01, 43.01)
    save_aoi(other, "site.gpkg", ws)
    gpd.GeoDataFrame(geometry=[box(*TOULOUSE)], crs="EPSG:4326").to_file(tmp_path / "site.gpkg")
    monkeypatch.chdir(tmp_path)
    assert _same(resolve("site.gpkg", ws), to_aoi(other))
    utm = resolve(box(374000, 4829000, 375000, 4830000).wkt, ws, crs="EPSG:32631")
    assert utm.area_km2 == pytest.approx(1.0, rel=0.01)


def test_unknown_name_lists_the_saved_ones(ws):
    with pytest.raises(InputNotFoundError) as err:
        resolve("paris", ws)
    text = str(err.value)
    assert "no AOI named 'paris'" in text and "not a bbox, WKT, GeoJSON or vector file" in text
    assert "saved AOIs: toulouse" in err.value.hint and "\n" not in text
    with pytest.raises(InputNotFoundError, match="saved AOIs: none"):
        resolve("paris", ws / "empty")


def test_missing_file_and_files_refused(ws, tmp_path):
    with pytest.raises(InputNotFoundError, match=r"no AOI named '.*nope.gpkg' and no file") as err:
        resolve(str(tmp_path / "nope.gpkg"), ws)
    assert "toulouse" in err.value.hint
    (tmp_path / "a.geojson").write_text(json.dumps(to_aoi(TOULOUSE).to_geojson()))
    for src in (str(tmp_path / "a.geojson"), tmp_path / "a.geojson"):
        with pytest.raises(InvalidInputError, match="a file path cannot be given here"):
            resolve(src, ws, allow_files=False)
    assert resolve("toulouse", ws, allow_files=False).name == "toulouse"


@pytest.mark.parametrize(("source", "match"), [
    (None, "no AOI given"),
    ("  ", "no AOI given"),
    ("{not json", "as GeoJSON"),
    ("1,2,3", "a bbox needs 4 numbers"),
    ("10,50,11,40", "south 50.0 must be below north 40.0"),
    ("POLYGON ((0 0, 1 1", "as a bbox, WKT or GeoJSON"),
    ("POINT (1 2)", "must be an area"),
    (42, "cannot make an AOI from a int"),
])
def test_bad_input_is_one_clear_error(ws, source, match):
    with pytest.raises(InvalidInputError, match=match) as err:
        resolve(source, ws)
    assert "\n" not in str(err.value)


def test_area_limit(ws):
    with pytest.raises(InvalidInputError, match="more than the limit"):
        resolve("0,0,5,5", ws, max_area_km2=1000)
    assert resolve("0,0,5,5", ws, max_area_km2=None).area_km2 > 300_000


def test_upload_saved_as_named_aoi(tmp_path):
    gpkg = tmp_path / "My site.gpkg"
    gpd.GeoDataFrame(geometry=[box(*TOULOUSE)], crs="EPSG:4326").to_file(gpkg)
    ws = tmp_path / "ws"
    saved = save_upload(gpkg.name, gpkg.read_bytes(), workspace=ws)
    assert isinstance(saved, AOI) and saved.name == "My_site" and _same(saved)
    again = save_upload("x.geojson", base64.b64encode(json.dumps(saved.to_geojson()).encode()).decode(), "again",
                        ws)
    assert _same(again) and list_aois(ws) == ["My_site", "again"]
    with pytest.raises(InvalidInputError, match=r"cannot read 'x\.exe' as an AOI"):
        save_upload("x.exe", "!!!", workspace=ws)
    with pytest.raises(InvalidInputError, match="not valid base64"):
        save_upload("x.geojson", "!!!", workspace=ws)


def test_refused_paths_are_not_probed(ws, tmp_path):
    (tmp_path / "there").write_text("x")
    for text in (str(tmp_path / "there"), str(tmp_path / "absent")):
        with pytest.raises(InvalidInputError, match="a file path cannot be given here"):
            resolve(text, ws, allow_files=False)
