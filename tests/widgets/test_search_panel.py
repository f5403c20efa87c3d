"""SearchPanel in a kernel: the form, the results table and the map driven as a user would (fields set, buttons'
click handlers called, the map's own click and draw messages), over the sample city's offline catalogue."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from shapely.geometry import box, shape

LONG_ID = "S2B_MSIL2A_20240615T103031_N0510_R108_T31TCJ_20240615T135500"


@pytest.fixture
def city_ws(tmp_path, small_city):
    """A workspace whose local catalogue is the sample city."""
    from ai4geo_lab.catalog import add_local_catalog

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    return ws


@pytest.fixture
def scenes_ws(city_ws, tmp_path, small_city):
    """The sample city plus a catalogue of four scenes over it: cloud cover 30, none, 5 and 12 %, one long id."""
    from ai4geo_lab.catalog import add_local_catalog
    from ai4geo_lab.catalog.local import read_static_catalog

    city = shape(read_static_catalog(small_city.root / "catalog" / "catalog.json")[0]["geometry"])
    w_, s, e, n = city.bounds
    scenes = [("scene-10", "2024-03-02T10:00:00Z", 30.0), ("scene-2", "2024-05-01T10:00:00Z", None),
              (LONG_ID, "2024-06-15T10:30:31Z", 5.0), ("scene-1", None, 12.0)]
    features = []
    for i, (item_id, when, cloud) in enumerate(scenes):
        props = {"datetime": when, "platform": "sentinel-2b", "instruments": ["msi"]}
        if cloud is not None:
            props["eo:cloud_cover"] = cloud
        shift = i * (e - w_) / 8  # four footprints side by side, each over part of the city
        geom = box(w_ + shift, s, w_ + shift + (e - w_) / 2, n)
        features.append({"type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": "test-scenes",
                         "geometry": geom.__geo_interface__, "bbox": list(geom.bounds), "properties": props,
                         "assets": {}, "links": []})
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "catalog.json").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    add_local_catalog(folder, workspace=city_ws)
    return city_ws


def panel_of(ws, **kwargs):
    from ai4geo_lab.widgets import SearchPanel

    return SearchPanel(workspace=ws, **kwargs)


def feature_ids(layer) -> list[str]:
    return [f["properties"]["id"] for f in layer.data["features"]]


def click_feature(layer, item_id: str) -> None:
    """The message the browser sends when a feature of a GeoJSON layer is clicked."""
    feature = next(f for f in layer.data["features"] if f["properties"]["id"] == item_id)
    layer._handle_mouse_events(None, {"event": "click", "feature": feature, "properties": feature["properties"],
                                      "id": item_id}, None)


def test_form_fields_are_words_and_lists_from_the_catalogue(city_ws) -> None:
    from ai4geo_lab.widgets.basemap import CATALOGUE_NAME, OFFLINE_NAME

    panel = panel_of(city_ws, provider="local")
    labels = [panel.provider.description, panel.collection.description, panel.start.description,
              panel.end.description, panel.max_cloud.description, panel.limit.description]
    assert labels == ["Provider", "Collection", "Start date", "End date", "Max cloud cover (%)", "Results per page"]
    values = [v for _, v in panel.provider.options]
    assert values[:2] == ["", "local"] and panel.provider.value == "local"  # the local catalogue first
    assert panel.provider.label == "local catalogue (offline)"
    assert list(panel.collection.options) == ["sample-ortho", "sample-pan-stereo", "sample-truth"]
    assert panel.collection.value == "sample-ortho"
    # the collection's own filters, named in words, none of the common fields twice
    assert {"platform", "gsd"} <= set(panel.filter_fields) and "max_cloud" not in panel.filter_fields
    assert panel.filter_fields["gsd"][0].description == "Ground sample distance (m)"
    # the offline base, the catalogue's extent and its zoom button are on the map
    names = [lay.name for lay in panel.map.layers]
    assert OFFLINE_NAME in names and CATALOGUE_NAME in names and not panel.zoom_catalogue.disabled


def test_search_fills_the_table_and_the_footprints(city_ws) -> None:
    panel = panel_of(city_ws, provider="local", collection="sample-ortho")
    panel.search_button.click()
    assert "2 items" in panel.summary.value and "from local" in panel.summary.value
    assert [r["id"] for r in panel.rows] == feature_ids(panel.footprints) == ["ortho-date2", "ortho-date1"]
    # the header, then one line per item: checkbox, QL, date, cloud %, collection, platform, id
    headers = [c.description for c in panel.table.children[2:7]]
    assert headers == ["Date", "Cloud %", "Collection", "Platform", "Id"]
    first = panel._row_widgets[0]
    cells = [first.cells[k].description for k in ("date", "cloud", "collection", "platform", "id")]
    assert cells == ["2025-06-20", "27.3", "sample-ortho", "ai4geo-sample", "ortho-date2"]
    assert first.cells["date"].tooltip == "2025-06-20T10:30:00Z" and first.check.value is False
    assert len(panel.table.children) == 7 * 3

    panel.collection.value = "sample-truth"  # no cloud cover at all: the cells say so
    panel.search_button.click()
    assert "3 items" in panel.summary.value
    assert {w.cells["cloud"].description for w in panel._row_widgets[:3]} == {"—"}


def test_headers_sort_ascending_then_descending_missing_last(scenes_ws) -> None:
    panel = panel_of(scenes_ws, provider="local", collection="test-scenes")
    panel.search_button.click()
    assert len(panel.rows) == 4
    shown = lambda: [w.cells["id"].tooltip for w in panel._row_widgets[:4]]  # noqa: E731
    panel.sort_buttons["cloud"].click()
    assert shown() == [LONG_ID, "scene-1", "scene-10", "scene-2"]
    assert panel.sort_buttons["cloud"].description == "Cloud % ▲"
    panel.sort_buttons["cloud"].click()
    assert shown() == ["scene-10", "scene-1", LONG_ID, "scene-2"]  # the scene without a cover still last
    assert panel.sort_buttons["cloud"].description == "Cloud % ▼"
    panel.sort_buttons["date"].click()
    assert shown() == ["scene-10", "scene-2", LONG_ID, "scene-1"]
    assert panel.sort_buttons["cloud"].description == "Cloud %"
    panel.sort_buttons["id"].click()  # numbers in ids by value: scene-2 before scene-10
    assert shown() == [LONG_ID, "scene-1", "scene-2", "scene-10"]
    # the long id shortened, whole on hover; the platform with its instruments
    row = panel._row_widgets[0]
    assert row.cells["id"].description == LONG_ID[:9] + "…" + LONG_ID[-8:]
    assert len(row.cells["id"].description) == 18 and row.cells["id"].tooltip == LONG_ID
    assert row.cells["platform"].description == "sentinel-2b / msi"
    # a sort keeps the selection on its item
    panel._row_widgets[0].check.value = True
    panel.sort_buttons["id"].click()
    assert panel.selected == (LONG_ID,)
    assert [w.check.value for w in panel._row_widgets[:4]] == [False, False, False, True]


def test_rows_and_footprints_select_each_other_and_zoom(scenes_ws, tmp_path) -> None:
    panel = panel_of(scenes_ws, provider="local", collection="test-scenes")
    panel.search_button.click()
    panel.map.center, panel.map.zoom = (0.0, 0.0), 3
    # a click on a row's cell: selected, and the map zooms onto its footprint
    panel._row_widgets[2].cells["date"].click()
    item = panel._row_widgets[2].id
    assert panel.selected == (item,) and panel._row_widgets[2].check.value is True
    footprint = shape(next(f["geometry"] for f in panel.footprints.data["features"] if f["id"] == item))
    lat, lon = panel.map.center
    assert footprint.contains(shape({"type": "Point", "coordinates": [lon, lat]})) and panel.map.zoom >= 15
    assert feature_ids(panel.highlight) == [item]
    assert panel.download_button.description == "Download selected (1)" and not panel.download_button.disabled
    # a click on another footprint checks its row; a click on a selected one (drawn on top) unchecks it
    other = next(i for i in feature_ids(panel.footprints) if i != item)
    click_feature(panel.footprints, other)
    row = next(w for w in panel._row_widgets if w.id == other)
    assert row.check.value is True and set(panel.selected) == {item, other}
    assert sorted(feature_ids(panel.highlight)) == sorted([item, other])
    click_feature(panel.highlight, item)
    assert panel.selected == (other,) and panel._row_widgets[2].check.value is False
    # unchecking the last row leaves nothing to download
    row.check.value = False
    assert panel.selected == () and panel.download_button.disabled and feature_ids(panel.highlight) == []


def test_quicklook_drawn_on_its_footprint_and_download(city_ws, tmp_path) -> None:
    from ipyleaflet import ImageOverlay

    panel = panel_of(city_ws, provider="local", collection="sample-ortho", dest=tmp_path / "dl")
    panel.search_button.click()
    row = panel._row_widgets[1]
    row.look.value = True
    (look,) = panel.looks.layers
    assert isinstance(look, ImageOverlay) and look.url.startswith("data:image/png;base64,")
    w_, s, e, n = shape(next(f["geometry"] for f in panel.footprints.data["features"] if f["id"] == row.id)).bounds
    assert [list(c) for c in look.bounds] == [[s, w_], [n, e]]
    assert look.pane in panel.map.panes
    row.look.value = False
    assert panel.looks.layers == ()
    # download the checked item into dest, with the progress bar
    row.check.value = True
    panel.download_button.click()
    files = [p for p in (tmp_path / "dl").rglob("*") if p.is_file()]
    assert files and panel.progress.value == panel.progress.max and "downloaded" in panel.status.value


def test_pages(city_ws) -> None:
    panel = panel_of(city_ws, provider="local", collection="sample-truth", limit=2)
    panel.search_button.click()
    first = [r["id"] for r in panel.rows]
    assert len(first) == 2 and "more on the next page" in panel.summary.value and not panel.next_button.disabled
    assert panel.prev_button.disabled
    panel.next_button.click()
    assert "page 2" in panel.summary.value and len(panel.rows) == 1 and panel.rows[0]["id"] not in first
    assert feature_ids(panel.footprints) == [panel.rows[0]["id"]] and panel.next_button.disabled
    panel.prev_button.click()
    assert [r["id"] for r in panel.rows] == first and "page 1" in panel.summary.value


def test_errors_beside_the_field_at_fault_and_stale_results_cleared(city_ws) -> None:
    panel = panel_of(city_ws, provider="local", collection="sample-ortho")
    panel.search_button.click()
    assert len(panel.rows) == 2

    panel.start.value, panel.end.value = dt.date(2025, 1, 1), dt.date(2024, 1, 1)
    assert panel.search() is None
    assert "end date" in panel.errors["end"].value and "swap them" in panel.errors["end"].value
    assert all(not panel.errors[k].value for k in panel.errors if k != "end")
    assert panel.rows == [] and feature_ids(panel.footprints) == [] and panel.results is None
    assert panel.table.children == () and panel.summary.value == ""

    panel.end.value = None
    panel.collection.value = "sample-orto"
    panel.search_button.click()
    assert "unknown collection" in panel.errors["collection"].value
    assert "did you mean sample-ortho" in panel.errors["collection"].value and not panel.errors["end"].value

    panel.collection.value = "sample-ortho"
    panel.filter_fields["gsd"][0].value = "fine"
    panel.search_button.click()
    assert "is not a number" in panel.errors["queryables"].value
    panel.filter_fields["gsd"][0].value = "1.0"
    panel.search_button.click()
    assert not any(box.value for box in panel.errors.values()) and panel.rows
    assert panel.results.request.queryables == {"gsd": 1.0}  # the text made a number, as the schema says


def test_an_empty_local_catalogue_is_said_beside_the_provider(tmp_path) -> None:
    panel = panel_of(tmp_path / "empty", provider="local")
    assert "local catalogue is empty" in panel.errors["provider"].value
    assert "add_local_catalog" in panel.errors["provider"].value
    assert panel.provider.label == "local catalogue (offline — empty)" and panel.zoom_catalogue.disabled


def test_drawn_aoi_limits_the_search(city_ws, small_city) -> None:
    from ai4geo_lab.catalog.local import read_static_catalog

    panel = panel_of(city_ws, provider="local", collection="sample-ortho")
    far = box(10.0, 10.0, 10.01, 10.01).__geo_interface__
    panel.draw._handle_leaflet_event(None, {"event": "draw:created", "geo_json": {
        "type": "Feature", "properties": {}, "geometry": far}}, None)
    assert "drawn" in panel.aoi_status.value and panel.aoi_name_field.value == "drawn-1" and panel.aoi_name is None
    panel.search_button.click()
    assert panel.rows == [] and "0 items" in panel.summary.value
    city = shape(read_static_catalog(small_city.root / "catalog" / "catalog.json")[0]["geometry"])
    panel.draw._handle_leaflet_event(None, {"event": "draw:created", "geo_json": {
        "type": "Feature", "properties": {}, "geometry": city.centroid.buffer(1e-4).__geo_interface__}}, None)
    assert panel.aoi_name_field.value == "drawn-2"
    panel.search_button.click()
    assert len(panel.rows) == 2


def test_upload_save_and_overwrite_saved_aois(city_ws) -> None:
    from ai4geo_lab.aoi import list_aois, load_aoi

    panel = panel_of(city_ws, provider="local", collection="sample-ortho")
    # a bow tie: an invalid polygon, repaired on the way, which the panel says beside the AOI fields
    bowtie = {"type": "Polygon", "coordinates": [[[1.0, 43.0], [1.01, 43.01], [1.01, 43.0], [1.0, 43.01],
                                                  [1.0, 43.0]]]}
    data = json.dumps({"type": "Feature", "properties": {}, "geometry": bowtie}).encode()
    upload = {"name": "bow tie.geojson", "type": "application/geo+json", "size": len(data),
              "last_modified": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
              "content": memoryview(data)}
    panel.upload.value = (upload,)
    assert list_aois(city_ws) == ["bow_tie"] and panel.aoi_name == "bow_tie" and panel.saved.value == "bow_tie"
    assert "repaired" in panel.errors["aoi"].value and "ai4geo-field-warning" in panel.errors["aoi"].value
    assert "bow_tie (saved)" in panel.aoi_status.value
    # the same file again: saved under a new name, never over the first one
    panel.aoi_name_field.value = ""
    panel.upload.value = (upload,)
    assert list_aois(city_ws) == ["bow_tie", "bow_tie-2"] and panel.aoi_name == "bow_tie-2"
    assert "saved as 'bow_tie-2'" in panel.errors["aoi"].value

    # saving a drawn AOI under a taken name asks first; Cancel keeps the saved one, Overwrite replaces it
    panel.draw._handle_leaflet_event(None, {"event": "draw:created", "geo_json": {
        "type": "Feature", "properties": {}, "geometry": box(2.0, 44.0, 2.01, 44.01).__geo_interface__}}, None)
    panel.aoi_name_field.value = "bow_tie"
    assert panel.save_aoi() is None and panel.confirm.layout.display is None
    assert "bow_tie" in panel.overwrite_text.value and load_aoi("bow_tie", city_ws).bounds[0] == pytest.approx(1.0)
    panel.keep_button.click()
    assert panel.confirm.layout.display == "none" and load_aoi("bow_tie", city_ws).bounds[0] == pytest.approx(1.0)
    panel.save_aoi_button.click()
    panel.overwrite_button.click()
    assert load_aoi("bow_tie", city_ws).bounds[0] == pytest.approx(2.0) and panel.confirm.layout.display == "none"
    assert panel.aoi_name == "bow_tie"

    # picking a saved AOI uses it for the search
    panel.saved.value = "bow_tie-2"
    assert panel.aoi_name == "bow_tie-2" and panel.aoi.bounds[0] == pytest.approx(1.0)
    panel.search_button.click()
    assert panel.rows == []

    # a file that is no AOI: the reason beside the AOI fields, nothing saved
    bad = b"not a vector file"
    panel.upload.value = ({**upload, "name": "notes.txt", "size": len(bad), "content": memoryview(bad)},)
    assert "cannot read 'notes.txt'" in panel.errors["aoi"].value and len(list_aois(city_ws)) == 2


def test_zoom_to_catalogue(city_ws) -> None:
    from ai4geo_lab.catalog import local_extent

    panel = panel_of(city_ws, provider="local", center=(0.0, 0.0), zoom=3)
    panel.zoom_catalogue.click()
    w_, s, e, n = local_extent(city_ws)["bbox"]
    lat, lon = panel.map.center
    assert s <= lat <= n and w_ <= lon <= e and panel.map.zoom >= 15
