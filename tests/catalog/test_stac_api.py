"""Searching a real STAC API on 127.0.0.1 through EODAG and pystac-client; downloading assets over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai4geo_lab.catalog import collections, inventory, search
from ai4geo_lab.catalog.local import read_static_catalog
from ai4geo_lab.errors import ProcessingError, ProviderAuthError, UnknownCollectionError


@pytest.fixture
def city_items(small_city):
    return read_static_catalog(small_city.root / "catalog" / "catalog.json")


def _aoi(items):
    from shapely.geometry import shape

    return shape(items[0]["geometry"]).centroid.buffer(0.0003)


def test_eodag_search_of_a_stac_api(stac_api, eodag_env, workspace, city_items):
    assert {c["id"] for c in collections(stac_api)} == {"sample-ortho", "sample-pan-stereo", "sample-truth"}
    res = search(_aoi(city_items), "sample-pan-stereo", "2024-01-01", "2025-12-31", provider=stac_api)
    expected = sorted(it["id"] for it in city_items if it["collection"] == "sample-pan-stereo")
    assert sorted(res.ids) == expected
    assert set(res.frame["collection"]) == {"sample-pan-stereo"}
    assert res.frame["datetime"].notna().all() and res.frame["cloud_cover"].notna().all()
    assert all(a["href"].startswith("http://127.0.0.1:") for it in res.items for a in it["assets"].values())
    one_year = search(_aoi(city_items), "sample-pan-stereo", "2025-01-01", "2025-12-31", provider=stac_api)
    assert [d.year for d in one_year.frame["datetime"]] == [2025]


def test_cloud_cover_is_filtered_on_the_client_and_said(stac_api, eodag_env, workspace, city_items):
    clouds = {it["id"]: it["properties"]["eo:cloud_cover"] for it in city_items if it["collection"] == "sample-ortho"}
    threshold = min(clouds.values())
    res = search(_aoi(city_items), "sample-ortho", max_cloud=threshold, provider=stac_api)
    assert sorted(res.ids) == sorted(k for k, v in clouds.items() if v <= threshold)
    assert any("not by the provider" in n for n in res.notes)
    assert res.to_geojson()["notes"] == res.notes


def test_paging_through_eodag(stac_api, eodag_env, workspace, city_items):
    first = search(_aoi(city_items), "sample-truth", provider=stac_api, limit=2)
    assert len(first) == 2 and first.next_token
    second = first.next_page()
    assert len(second) == 1 and not set(second.ids) & set(first.ids)
    assert sorted(first.ids + second.ids) == sorted(it["id"] for it in city_items
                                                    if it["collection"] == "sample-truth")


def test_pystac_client_sees_the_same_items(stac_api, eodag_env, workspace, city_items):
    from pystac_client import Client

    client = Client.open(stac_api)
    found = sorted(i.id for i in client.search(collections=["sample-ortho"], intersects=_aoi(city_items),
                                               datetime="2024-01-01/2025-12-31").items())
    ours = search(_aoi(city_items), "sample-ortho", "2024-01-01", "2025-12-31", provider=stac_api)
    assert found == sorted(ours.ids) and len(found) == 2


def test_unknown_collection_on_the_api(stac_api, eodag_env, workspace):
    with pytest.raises(UnknownCollectionError, match="sample-ortho"):
        search(None, "sample-orthoo", provider=stac_api)


def test_http_download_with_checksum_and_resume(stac_api, file_server, eodag_env, workspace, city_items, tmp_path):
    _, handler = file_server
    res = search(_aoi(city_items), "sample-ortho", "2024-01-01", "2024-12-31", provider=stac_api)
    asset = res.items[0]["assets"]["ortho"]
    assert asset["file:checksum"].startswith("1220")
    src_path = "/" + asset["href"].split("/", 3)[3]
    dest = tmp_path / "dl"
    target = dest / "sample-ortho" / res.ids[0] / "ortho.tif"
    target.parent.mkdir(parents=True)
    whole = Path(next(it for it in city_items if it["id"] == res.ids[0])["assets"]["ortho"]["href"]).read_bytes()
    cut = len(whole) // 3
    (target.parent / "ortho.tif.part").write_bytes(whole[:cut])
    before = handler.sent.get(src_path, 0)
    files = res.download(dest, progress=False)
    assert files == {res.ids[0]: [target]} and target.read_bytes() == whole
    assert handler.sent[src_path] - before == len(whole) - cut  # only the missing bytes crossed the wire
    assert any(r.startswith(src_path) and f"bytes={cut}-" in r for r in handler.ranges)
    row = inventory(workspace).iloc[0]
    assert row["checksum"] == asset["file:checksum"] and row["provider"].startswith("stac_api_")


def test_checksum_mismatch_is_refused(stac_api, eodag_env, workspace, city_items, tmp_path):
    res = search(_aoi(city_items), "sample-ortho", "2025-01-01", "2025-12-31", provider=stac_api)
    res.items[0]["assets"]["ortho"]["file:checksum"] = "1220" + "00" * 32
    with pytest.raises(ProcessingError, match="checksum mismatch"):
        res.download(tmp_path / "dl", progress=False)
    assert not list((tmp_path / "dl").rglob("*.tif")) and len(inventory(workspace)) == 0


def test_refused_credentials(stac_api, file_server, eodag_env, workspace, city_items, tmp_path):
    res = search(_aoi(city_items), "sample-ortho", "2025-01-01", "2025-12-31", provider=stac_api)
    res.items[0]["assets"]["ortho"]["href"] = f"{file_server[0]}/private/ortho.tif"
    with pytest.raises(ProviderAuthError, match="refused"):
        res.download(tmp_path / "dl", progress=False)
    json.dumps(res.to_geojson())


def test_refused_credentials_at_search(file_server, eodag_env, workspace):
    with pytest.raises(ProviderAuthError, match="HTTP 401"):
        search(None, "sample-ortho", provider=f"{file_server[0]}/private/stac")


def test_timeout_names_the_provider(eodag_env, workspace, monkeypatch):
    import socket

    from ai4geo_lab.errors import ProviderError

    monkeypatch.setenv("AI4GEO_SEARCH_TIMEOUT", "1")
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        with pytest.raises(ProviderError, match="did not answer within 1 s"):
            search(None, "sample-ortho", provider=f"http://127.0.0.1:{port}")


def test_tokens_cannot_name_files_for_a_server(small_city, workspace):
    from ai4geo_lab.catalog import SearchRequest, search_page
    from ai4geo_lab.errors import InvalidInputError

    token = SearchRequest(collection="sample-ortho", provider=str(small_city.root / "catalog")).token()
    assert len(search_page(token)) == 2
    with pytest.raises(InvalidInputError, match="catalogue path"):
        search_page(token, allow_paths=False)


def test_resume_on_a_server_ignoring_ranges_starts_over(stac_api, file_server, eodag_env, workspace, city_items,
                                                         tmp_path):
    res = search(_aoi(city_items), "sample-ortho", "2025-01-01", "2025-12-31", provider=stac_api)
    asset = res.items[0]["assets"]["ortho"]
    rel = asset["href"].split("/", 3)[3]
    asset["href"] = f"{file_server[0]}/norange/{rel}"
    whole = Path(next(it for it in city_items if it["id"] == res.ids[0])["assets"]["ortho"]["href"]).read_bytes()
    target = tmp_path / "dl" / "sample-ortho" / res.ids[0] / "ortho.tif"
    target.parent.mkdir(parents=True)
    (target.parent / "ortho.tif.part").write_bytes(b"x" * 1000)  # not even the right bytes
    res.download(tmp_path / "dl", progress=False)  # the checksum holds: the partial was dropped, not appended to
    assert target.read_bytes() == whole
