"""A STAC catalogue on a map: the layers of the products it lists (rasters, vectors), its title, and nothing read
or served from outside the root folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pystac
import pytest

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.maps import catalogue_layers
from ai4geo_lab.maps.stac import asset_type

FOOTPRINT = {"type": "Polygon", "coordinates": [[[3.0, 43.3], [3.01, 43.3], [3.01, 43.31], [3.0, 43.31], [3.0, 43.3]]]}


def _item(item_id: str, href: str, media: str | None, title: str | None = None) -> pystac.Item:
    item = pystac.Item(item_id, FOOTPRINT, [3.0, 43.3, 3.01, 43.31], dt.datetime(2024, 5, 1, tzinfo=dt.UTC), {})
    item.add_asset("data", pystac.Asset(href, media_type=media, roles=["data"], title=title))
    return item


def write_catalogue(run: Path, title: str = "Sample run") -> Path:
    """``run/stac/catalog.json``: a catalogue titled ``title`` of two products beside it, ``run/dsm.tif`` (a DSM)
    and ``run/buildings.geojson`` (100 buildings 450 m east of the DSM, so that both show side by side), with a
    thumbnail asset that is no layer."""
    from tests.maps.conftest import write_products
    from tests.maps.test_vectors import buildings

    run.mkdir(parents=True, exist_ok=True)
    write_products(run / "made")["dsm"].rename(run / "dsm.tif")
    buildings().translate(xoff=450.0).to_crs("EPSG:4326").to_file(run / "buildings.geojson", driver="GeoJSON")
    catalog = pystac.Catalog("sample-run", "Two products of a run", title=title)
    dsm = _item("dsm", str(run / "dsm.tif"), pystac.MediaType.COG, "dsm.tif")
    dsm.add_asset("thumbnail", pystac.Asset(str(run / "dsm.png"), media_type=pystac.MediaType.PNG,
                                            roles=["thumbnail"]))
    catalog.add_item(dsm)
    catalog.add_item(_item("buildings", str(run / "buildings.geojson"), "application/geo+json"))
    catalog.normalize_hrefs(str(run / "stac"))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return run / "stac" / "catalog.json"


def test_the_layers_of_a_run_catalogue(tmp_path):
    path = write_catalogue(tmp_path / "runs" / "r1")
    answer = catalogue_layers(tmp_path, path)
    assert answer["path"] == "runs/r1/stac/catalog.json" and answer["title"] == "Sample run"
    assert answer["items"] == 2 and answer["left_out"] == []
    by_type = {layer["type"]: layer for layer in answer["layers"]}
    assert set(by_type) == {"raster", "vector"} and len(answer["layers"]) == 2
    assert by_type["raster"]["path"] == "runs/r1/dsm.tif" and by_type["raster"]["item"] == "dsm"
    assert by_type["vector"]["path"] == "runs/r1/buildings.geojson"


def test_a_collection_with_nested_children(small_city):
    """Collections under a catalogue (the sample city's layout) are walked; their items' assets become layers."""
    answer = catalogue_layers(small_city.root.parent, small_city.catalog)
    assert answer["title"] == "ai4geo_lab sample city"
    paths = {layer["path"] for layer in answer["layers"]}
    assert "city/truth/date1/dsm.tif" in paths and "city/truth/date1/buildings.gpkg" in paths
    assert {layer["type"] for layer in answer["layers"] if layer["path"].endswith(".gpkg")} == {"vector"}
    assert answer["left_out"] == []


def test_assets_and_links_outside_the_root_are_left_out(tmp_path):
    root = tmp_path / "root"
    elsewhere = write_catalogue(tmp_path / "elsewhere")  # a catalogue outside the root, with its products
    run = root / "run"
    run.mkdir(parents=True)
    (run / "inside.tif").write_bytes(b"")
    (run / "link.tif").symlink_to(tmp_path / "elsewhere" / "dsm.tif")
    catalog = pystac.Catalog("mixed", "inside and outside", title="Mixed")
    catalog.add_item(_item("in", str(run / "inside.tif"), pystac.MediaType.COG))
    catalog.add_item(_item("abs", str(tmp_path / "elsewhere" / "dsm.tif"), pystac.MediaType.COG))
    catalog.add_item(_item("up", "../../../../elsewhere/buildings.geojson", "application/geo+json"))
    catalog.add_item(_item("link", str(run / "link.tif"), pystac.MediaType.COG))
    catalog.add_item(_item("web", "https://example.org/dsm.tif", pystac.MediaType.COG))
    catalog.normalize_hrefs(str(run / "stac"))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    # a child link to the catalogue outside the root: not followed
    doc = json.loads((run / "stac" / "catalog.json").read_text())
    doc["links"].append({"rel": "child", "href": str(elsewhere), "type": "application/json"})
    (run / "stac" / "catalog.json").write_text(json.dumps(doc))

    answer = catalogue_layers(root, run / "stac" / "catalog.json")
    assert [layer["path"] for layer in answer["layers"]] == ["run/inside.tif"]
    assert sorted(answer["left_out"]) == sorted([
        "abs/data: outside the root folder", "up/data: outside the root folder", "link/data: outside the root folder",
        "web/data: outside the root folder", "run/stac/catalog.json: a child link outside the root folder"])
    assert str(tmp_path) not in json.dumps(answer)
    with pytest.raises(InvalidInputError, match="outside the server's root folder"):
        catalogue_layers(root, elsewhere)


def test_unreadable_catalogues(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "plain.json").write_text('{"hello": 1}')
    for name in ("broken.json", "plain.json"):
        with pytest.raises(InvalidInputError) as err:
            catalogue_layers(tmp_path, tmp_path / name)
        assert err.value.message.startswith(f"{name} cannot be read as a STAC catalogue")
        assert "\n" not in err.value.message and str(tmp_path) not in err.value.message
    with pytest.raises(InputNotFoundError):
        catalogue_layers(tmp_path, tmp_path / "absent.json")


@pytest.mark.parametrize(("href", "media", "kind"), [
    ("a.tif", "image/tiff; application=geotiff; profile=cloud-optimized", "raster"),
    ("a.bin", "image/tiff; application=geotiff", "raster"),
    ("a.TIFF", None, "raster"),
    ("b.gpkg", "application/geopackage+sqlite3", "vector"),
    ("b.data", "application/geo+json", "vector"),
    ("b.fgb", None, "vector"),
    ("c.json", "application/city+json", None),
    ("c.png", "image/png", None),
])
def test_asset_kind(href, media, kind):
    assert asset_type(href, media) == kind
