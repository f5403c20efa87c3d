"""Vector files for the map: any of the four formats, any CRS → compact GeoJSON in EPSG:4326; clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.maps import vector_layer
from tests.maps.conftest import ORIGIN, UTM


def buildings(n_side: int = 10, size_m: float = 12.0, step_m: float = 20.0) -> gpd.GeoDataFrame:
    """A grid of ``n_side``² square buildings in UTM 31N near the map tests' rasters, with a height each."""
    x0, y0 = ORIGIN[0] + 10, ORIGIN[1] - 10 - n_side * step_m
    boxes = [shapely.box(x0 + i * step_m, y0 + j * step_m, x0 + i * step_m + size_m, y0 + j * step_m + size_m)
             for j in range(n_side) for i in range(n_side)]
    return gpd.GeoDataFrame({"height": np.arange(len(boxes), dtype=float) / 3, "name": [f"b{i}" for i in
                                                                                     range(len(boxes))]},
                            geometry=boxes, crs=UTM)


def write_vectors(folder: Path, n_side: int = 10) -> dict[str, Path]:
    """The buildings as buildings.gpkg (UTM), .geojson (EPSG:4326), .fgb (UTM) and .shp (UTM)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = buildings(n_side)
    out = {"gpkg": folder / "buildings.gpkg", "geojson": folder / "buildings.geojson",
           "fgb": folder / "buildings.fgb", "shp": folder / "buildings.shp"}
    frame.to_file(out["gpkg"], driver="GPKG")
    frame.to_crs("EPSG:4326").to_file(out["geojson"], driver="GeoJSON")
    frame.to_file(out["fgb"], driver="FlatGeobuf")
    frame.to_file(out["shp"])
    return out


@pytest.mark.parametrize("kind", ["gpkg", "geojson", "fgb", "shp"])
def test_every_format_in_lon_lat(tmp_path, kind):
    path = write_vectors(tmp_path)[kind]
    summary, packed = vector_layer(path)
    doc = json.loads(gzip.decompress(packed))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 100 == summary["count"]
    assert doc["ai4geo"] == summary and summary["name"] == path.name
    assert summary["geometry_types"] == ["Polygon"] and "height" in summary["columns"]
    expected = buildings().to_crs("EPSG:4326")
    west, south, east, north = summary["bounds"]
    assert np.allclose([west, south, east, north], expected.total_bounds, atol=1e-6)
    assert 2.9 < west < east < 3.1 and 43.2 < south < north < 43.5
    (first,) = [f for f in doc["features"] if f["properties"]["name"] == "b0"]  # FlatGeobuf orders by place
    assert first["geometry"]["type"] == "Polygon" and first["properties"]["height"] == 0
    ring = np.array(first["geometry"]["coordinates"][0])
    assert np.allclose(ring, np.round(ring, 7)) and shapely.Polygon(ring).area > 0
    sent = shapely.from_geojson(json.dumps(first["geometry"]))
    assert shapely.hausdorff_distance(sent, expected.geometry.iloc[0]) < 1e-6  # (Shapefiles turn rings round)


def test_compact_enough_for_thousands_of_buildings(tmp_path):
    path = write_vectors(tmp_path, n_side=70)["gpkg"]  # 4,900 buildings
    summary, packed = vector_layer(path)
    assert summary["count"] == 4900
    assert len(packed) < 120 * 4900  # under 120 bytes a building on the wire


def test_errors_are_one_line_without_folders(tmp_path):
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"\x00not a geopackage" * 50)
    with pytest.raises(InvalidInputError) as err:
        vector_layer(junk)
    message = str(err.value)
    assert message.startswith("junk.gpkg cannot be read as vector data") and "\n" not in message
    assert str(tmp_path) not in message
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InvalidInputError, match=r"broken\.geojson cannot be read"):
        vector_layer(broken)
    with pytest.raises(InputNotFoundError, match=r"^gone\.gpkg does not exist"):
        vector_layer(tmp_path / "gone.gpkg")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="not a vector file the map opens"):
        vector_layer(tmp_path / "notes.txt")
