"""Core pieces behind the Lab extension: path confinement, search code, recipes, cluster records."""

from __future__ import annotations

import json
import os

import pytest

from ai4geo_lab.errors import InputNotFoundError, OutputNotWritableError


def test_confine(tmp_path):
    from ai4geo_lab.geo.paths import confine, relative_to

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    assert confine(root, "a/b.txt") == (root / "a" / "b.txt").resolve()
    assert confine(root, "/a") == (root / "a").resolve()  # read inside the root, as the contents API does
    assert confine(root, "") == root.resolve()
    for bad in ("..", "a/../../x", "../root-other/x"):
        with pytest.raises(OutputNotWritableError, match="outside the server's root folder"):
            confine(root, bad)
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(OutputNotWritableError):
        confine(root, "out/x")
    assert relative_to(root, root / "a" / "b.txt") == "a/b.txt"


def test_search_code_runs_to_the_same_results(small_city, tmp_path):
    from ai4geo_lab.aoi import save_aoi
    from ai4geo_lab.catalog import add_local_catalog, build_request, search
    from ai4geo_lab.catalog.code import search_code

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    everything = search(None, "sample-ortho", provider="local", workspace=ws)
    west, south, east, north = everything.frame.total_bounds
    bbox = (west, south, (west + east) / 2, (south + north) / 2)
    triangle = {"type": "Polygon", "coordinates": [[[west, south], [east, south], [west, north], [west, south]]]}
    save_aoi(triangle, "tri", ws)
    old = os.environ.get("AI4GEO_WORKSPACE")
    os.environ["AI4GEO_WORKSPACE"] = str(ws)  # the kernel's workspace, as a Lab server gives it
    try:
        for aoi, name in ((bbox, None), (triangle, None), (None, "tri"), (None, None)):
            req = build_request(aoi if name is None else triangle, "sample-ortho", "2024-01-01", "2025-12-31",
                                max_cloud=50, provider="local", limit=5)
            code = search_code(req, aoi_name=name)
            if name:
                assert "load_aoi('tri')" in code and "POLYGON" not in code
            scope: dict = {}
            exec(code.replace("results.frame", "None"), scope)
            want = search(req.aoi, "sample-ortho", "2024-01-01", "2025-12-31", max_cloud=50, provider="local",
                          limit=5, workspace=ws)
            assert scope["results"].ids == want.ids
    finally:
        if old is None:
            os.environ.pop("AI4GEO_WORKSPACE", None)
        else:
            os.environ["AI4GEO_WORKSPACE"] = old


def test_recipes_are_the_notebooks(tmp_path):
    from ai4geo_lab.recipes import copy_recipe, list_recipes

    found = list_recipes()
    assert len(found) >= 4 and all(r["title"] and not r["title"].startswith("#") for r in found)
    path = copy_recipe(found[0]["name"], tmp_path)
    nb = json.loads(path.read_text())
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    with pytest.raises(InputNotFoundError, match="no recipe"):
        copy_recipe("missing", tmp_path)


def test_cluster_records_of_ended_processes_are_dropped(tmp_path):
    from ai4geo_lab.cluster.registry import announce, list_records, write_record

    class Cluster:
        scheduler_address, dashboard_link, scheduler_info = "tcp://127.0.0.1:1", "http://127.0.0.1:2/status", {
            "workers": {"a": {}, "b": {}}}

    with announce(Cluster(), "local", tmp_path) as cid:
        (rec,) = list_records(tmp_path)
        assert rec["id"] == cid and rec["workers"] == 2 and rec["pid"] == os.getpid()
    assert list_records(tmp_path) == []
    write_record("gone", {"id": "gone", "pid": 2**22 + 12345}, tmp_path)  # no such process
    assert list_records(tmp_path) == [] and not (tmp_path / "clusters" / "gone.json").exists()


@pytest.mark.slow
def test_connect_announces_its_cluster(tmp_path, monkeypatch):
    from ai4geo_lab.cluster import connect
    from ai4geo_lab.cluster.registry import list_records

    monkeypatch.setenv("AI4GEO_WORKSPACE", str(tmp_path))
    with connect("local:1", label="flood") as client:
        (rec,) = list_records()
        assert rec["scheduler_address"] == client.scheduler.address and rec["origin"] == "kernel"
        assert rec["label"] == "flood"
    assert list_records() == []
