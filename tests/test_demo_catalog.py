"""The demo puts its sample city in the local catalogue (as `ai4geo catalog add` does), so a fresh Lab finds it."""

from __future__ import annotations

from ai4geo_lab.catalog import collections, local_catalogs, local_extent
from ai4geo_lab.demo import register_city


def test_register_city_adds_the_catalogue_once(small_city, tmp_path):
    ws = tmp_path / "ws"
    assert local_extent(ws) == {"catalogs": [], "bbox": None, "items": 0}
    lines: list[str] = []
    cat = register_city(small_city, ws, lines.append)
    assert cat == small_city.catalog.resolve() and local_catalogs(ws) == [cat]
    assert "local catalogue" in lines[0]
    register_city(small_city, ws, lines.append)  # a second demo run adds nothing
    assert local_catalogs(ws) == [cat]
    assert {c["id"] for c in collections("local", ws)} >= {"sample-ortho"}

    extent = local_extent(ws)
    west, south, east, north = extent["bbox"]
    assert west < east and south < north and extent["items"] > 0
    (only,) = extent["catalogs"]
    assert only["bbox"] == extent["bbox"] and "sample-ortho" in only["collections"]
    assert str(small_city.root) not in str(extent)  # titles, never server paths


def test_a_workspace_that_cannot_be_written_is_reported_not_fatal(small_city, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    lines: list[str] = []
    assert register_city(small_city, blocker / "ws", lines.append) is None
    assert "not added to the local catalogue" in lines[0]
