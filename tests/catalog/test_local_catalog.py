"""Searching, paging, exporting and downloading from the embedded local catalogue (no network)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ai4geo_lab.catalog import (
    add_local_catalog,
    collections,
    inventory,
    local_catalogs,
    queryables,
    search,
    search_page,
)
from ai4geo_lab.catalog.local import read_static_catalog
from ai4geo_lab.errors import (
    DiskFullError,
    InputNotFoundError,
    InvalidInputError,
    ProviderError,
    UnknownCollectionError,
)


@pytest.fixture
def city_items(small_city):
    return read_static_catalog(small_city.root / "catalog" / "catalog.json")


@pytest.fixture
def local(small_city, workspace):
    add_local_catalog(small_city.root, workspace)
    return small_city


def _aoi(items):
    from shapely.geometry import shape

    return shape(items[0]["geometry"]).centroid.buffer(0.0003)


def test_add_and_list(local, workspace, small_city):
    assert local_catalogs(workspace) == [(small_city.root / "catalog" / "catalog.json").resolve()]
    assert {c["id"] for c in collections("local")} == {"sample-ortho", "sample-pan-stereo", "sample-truth"}
    q = queryables("sample-ortho", "local")
    assert {"aoi", "start", "end", "max_cloud", "platform", "gsd"} <= set(q)
    with pytest.raises(InputNotFoundError):
        add_local_catalog(small_city.root / "nowhere")


def test_search_filters_like_the_catalogue_says(local, city_items):
    aoi = _aoi(city_items)
    for coll in ("sample-ortho", "sample-pan-stereo", "sample-truth"):
        res = search(aoi, coll, "2024-01-01", "2025-12-31", provider="local")
        expected = sorted(it["id"] for it in city_items if it["collection"] == coll)
        assert sorted(res.ids) == expected
        assert set(res.frame["collection"]) == {coll}
        assert list(res.frame["provider"].unique()) == ["local"]
    first = search(aoi, "sample-ortho", "2024-01-01", "2024-12-31", provider="local")
    assert [d.year for d in first.frame["datetime"]] == [2024]
    clouds = {it["id"]: it["properties"]["eo:cloud_cover"] for it in city_items if it["collection"] == "sample-ortho"}
    threshold = min(clouds.values())
    low = search(aoi, "sample-ortho", None, None, max_cloud=threshold, provider="local")
    assert low.ids == [k for k, v in clouds.items() if v <= threshold]
    assert low.frame["cloud_cover"].max() <= threshold
    assert any("cloud cover" in n for n in low.notes)
    far = search((10.0, 10.0, 10.01, 10.01), "sample-ortho", provider="local")
    assert len(far) == 0 and far.next_token is None
    # with no provider named, the local catalogue answers for its own collections
    assert sorted(search(aoi, "sample-ortho").ids) == sorted(clouds)


def test_paging_without_total(local, city_items):
    aoi = _aoi(city_items)
    seen = []
    res = search(aoi, "sample-truth", provider="local", limit=1)
    pages = 0
    while True:
        pages += 1
        assert len(res) == 1
        seen += res.ids
        if res.next_token is None:
            break
        json.dumps(res.to_geojson())  # tokens travel as JSON
        res = search_page(res.next_token)
    assert pages == 3
    assert sorted(seen) == sorted(it["id"] for it in city_items if it["collection"] == "sample-truth")
    assert len(res.next_page()) == 0


def test_exports(local, city_items):
    import pystac

    res = search(_aoi(city_items), "sample-pan-stereo", provider="local")
    gj = json.loads(json.dumps(res.to_geojson()))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(res)
    assert {"id", "collection", "provider", "datetime", "cloud_cover", "quicklook"} <= set(gj["features"][0]
                                                                                             ["properties"])
    first = gj["features"][0]["properties"]
    assert first["platform"] == "ai4geo-sample" and first["instruments"] == ["pan"]
    ic = pystac.ItemCollection.from_dict(res.to_stac())
    assert sorted(i.id for i in ic) == sorted(res.ids)
    assert all(Path(a.href).is_file() for i in ic for a in i.assets.values())


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"collection": "sample-orth"}, UnknownCollectionError, "sample-ortho"),
    ({"start": "2025-01-01", "end": "2024-01-01"}, InvalidInputError, "before the start"),
    ({"max_cloud": 120}, InvalidInputError, "0–100"),
    ({"max_cloud": -1}, InvalidInputError, "0–100"),
    ({"aoi": "POLYGON EMPTY"}, InvalidInputError, "empty"),
    ({"aoi": (0, 10, 1, 5)}, InvalidInputError, "south"),
    ({"start": "June 2024"}, InvalidInputError, "YYYY-MM-DD"),
    ({"provider": "http://127.0.0.1:9"}, ProviderError, "cannot reach"),
    ({"provider": "no_such_provider"}, InvalidInputError, "unknown provider"),
])
def test_clear_errors(local, city_items, kwargs, error, words):
    args = {"aoi": _aoi(city_items), "collection": "sample-ortho", "provider": "local", **kwargs}
    with pytest.raises(error, match=words):
        search(**args)


def test_empty_local_catalogue_says_what_to_do(workspace):
    with pytest.raises(InputNotFoundError, match="ai4geo catalog add"):
        search(None, "sample-ortho", provider="local")


def test_download_resume_and_inventory(local, city_items, tmp_path, workspace):
    res = search(_aoi(city_items), "sample-ortho", "2024-01-01", "2024-12-31", provider="local")
    src = Path(res.items[0]["assets"]["ortho"]["href"])
    dest = tmp_path / "data"
    target = dest / "sample-ortho" / res.ids[0] / src.name
    target.parent.mkdir(parents=True)
    half = src.read_bytes()[: src.stat().st_size // 2]
    (target.parent / (target.name + ".part")).write_bytes(half)
    calls = []
    files = res.download(dest, progress=lambda done, total, name: calls.append((done, total)))
    assert files == {res.ids[0]: [target]}
    assert target.read_bytes() == src.read_bytes()
    assert not (target.parent / (target.name + ".part")).exists()
    assert calls[0][0] == len(half) and calls[-1] == (src.stat().st_size, src.stat().st_size)  # resumed, not redone
    inv = inventory(workspace)
    assert list(inv["item"]) == [res.ids[0]] and inv["path"][0] == str(target.resolve())
    assert json.loads(inv["search"][0])["collection"] == "sample-ortho"
    mtime = target.stat().st_mtime_ns
    again = res.download(tmp_path / "elsewhere", progress=False)  # already there: not downloaded twice
    assert again == {res.ids[0]: [target.resolve()]} and target.stat().st_mtime_ns == mtime
    assert not (tmp_path / "elsewhere").exists() and len(inventory(workspace)) == 1


def test_quicklooks_are_pngs(local, city_items, tmp_path):
    from PIL import Image

    res = search(_aoi(city_items), "sample-ortho", provider="local")
    qls = res.quicklooks(tmp_path / "ql")
    assert set(qls) == set(res.ids)
    for path in qls.values():
        with Image.open(path) as im:
            assert im.format == "PNG" and max(im.size) <= 256 and im.getextrema() != ((0, 0),) * 3


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a small tmpfs: {done.stderr.decode()}")
        pytest.skip("mounting a small tmpfs needs root")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_keeps_partial_and_records_nothing(local, city_items, tiny_disk, workspace):
    res = search(_aoi(city_items), "sample-pan-stereo", "2024-01-01", "2024-12-31", provider="local")
    src = Path(res.items[0]["assets"]["pan_fwd"]["href"])
    assert src.stat().st_size > 48 * 1024
    with pytest.raises(DiskFullError, match="resumes"):
        res.download(tiny_disk, progress=False, assets=["pan_fwd"])
    parts = list(tiny_disk.rglob("*.part"))
    assert len(parts) == 1 and 0 < parts[0].stat().st_size < src.stat().st_size
    assert not list(tiny_disk.rglob("*.tif"))
    assert len(inventory(workspace)) == 0


def test_eodag_is_isolated_in_the_workspace(workspace, monkeypatch):
    from ai4geo_lab.catalog import providers
    from ai4geo_lab.catalog.sources import gateway

    monkeypatch.delenv("EODAG_CFG_DIR", raising=False)
    dag = gateway(workspace)
    assert Path(dag.settings.cfg_dir) == workspace / "eodag" and (workspace / "eodag" / "eodag.yml").is_file()
    assert dag.settings.strict_collections and "EODAG_CFG_DIR" not in os.environ
    names = [p["name"] for p in providers(workspace)]
    assert names[0] == "local" and len(names) > 5  # the local catalogue, then EODAG's providers
