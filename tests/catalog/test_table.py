"""The results table the search panels share: rows, sorting with missing values last, short ids, field words;
and the search errors that name the form field at fault."""

from __future__ import annotations

import pytest

from ai4geo_lab.catalog.table import field_label, result_rows, short_id, sort_rows


def feature(item_id: str, when: str | None, cloud: float | None, platform: str | None = None,
            instruments: list[str] | None = None) -> dict:
    return {"type": "Feature", "id": item_id, "properties": {
        "id": item_id, "datetime": when, "cloud_cover": cloud, "collection": "c", "platform": platform,
        "instruments": instruments}}


ROWS = result_rows([feature("img-10", "2024-03-02T10:00:00Z", 30.0), feature("img-2", None, 5.0),
                    feature("IMG-1", "2024-01-05T10:00:00Z", None, "sentinel-2a", ["msi"]),
                    feature("img-3", "2024-01-05T10:00:00Z", 5.0)])


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def test_rows_carry_what_the_table_shows() -> None:
    assert ROWS[2] == {"id": "IMG-1", "datetime": "2024-01-05T10:00:00Z", "date": "2024-01-05", "cloud": None,
                       "collection": "c", "platform": "sentinel-2a / msi"}
    assert ROWS[1]["date"] is None and ROWS[0]["platform"] is None


@pytest.mark.parametrize(("key", "ascending", "expected"), [
    ("cloud", True, ["img-2", "img-3", "img-10", "IMG-1"]),  # ties in their first order, missing last
    ("cloud", False, ["img-10", "img-2", "img-3", "IMG-1"]),  # missing last descending too
    ("date", True, ["IMG-1", "img-3", "img-10", "img-2"]),
    ("date", False, ["img-10", "IMG-1", "img-3", "img-2"]),
    ("id", True, ["IMG-1", "img-2", "img-3", "img-10"]),  # numbers by value, case aside
    ("platform", True, ["IMG-1", "img-10", "img-2", "img-3"]),
])
def test_sort_rows(key, ascending, expected) -> None:
    assert ids(sort_rows(ROWS, key, ascending)) == expected
    assert ids(ROWS) == ["img-10", "img-2", "IMG-1", "img-3"]  # the page itself is left as it came


def test_short_id_and_field_words() -> None:
    long = "S2B_MSIL2A_20240615T103031_N0510_R108_T31TCJ_20240615T135500"
    assert short_id(long) == "S2B_MSIL2…5T135500" and len(short_id(long)) == 18
    assert short_id("ortho-date1") == "ortho-date1"
    assert field_label("max_cloud") == "Max cloud cover (%)" and field_label("start") == "Start date"
    assert field_label("view:off_nadir", {"title": "view:off_nadir"}) == "Off-nadir angle (°)"
    assert field_label("eo:snow_cover") == "Snow cover" and field_label("cloudCover") == "Cloud Cover"
    assert field_label("x", {"title": "Product level"}) == "Product level"


def test_search_errors_name_their_field(tmp_path, small_city) -> None:
    from ai4geo_lab.catalog import add_local_catalog, build_request, search
    from ai4geo_lab.errors import Ai4geoError
    from ai4geo_lab.server.base import error_body

    cases = [
        (lambda: build_request(None, ""), "collection"),
        (lambda: build_request(None, "c", "2024-02-30"), "start"),
        (lambda: build_request(None, "c", "2024-02-01", "2024-01-01"), "end"),
        (lambda: build_request(None, "c", max_cloud=140), "max_cloud"),
        (lambda: build_request("POLYGON((0 0, 1 1", "c"), "aoi"),
        (lambda: search(None, "sample-ortho", provider="no-such-provider", workspace=tmp_path), "provider"),
        (lambda: search(None, "sample-ortho", provider="local", workspace=tmp_path / "empty"), "provider"),
    ]
    add_local_catalog(small_city.root, workspace=tmp_path)
    cases.append((lambda: search(None, "sample-orto", provider="local", workspace=tmp_path), "collection"))
    for call, field in cases:
        with pytest.raises(Ai4geoError) as caught:
            call()
        assert caught.value.field == field, (field, str(caught.value))
        status, body = error_body(caught.value)  # what the server answers
        assert body["field"] == field and body["fields"][field] == caught.value.message and status >= 400
