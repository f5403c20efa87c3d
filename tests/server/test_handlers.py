"""The REST handlers of the server extension, in a real Jupyter server (pytest-jupyter), under a base URL."""

from __future__ import annotations

import asyncio
import base64
import json
from http.cookies import SimpleCookie

import pytest

from tests.server.conftest import api_json, server_config

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def workspace(tmp_path, small_city):
    from ai4geo_lab.catalog import add_local_catalog

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    return ws


@pytest.fixture
def jp_server_config(workspace, tmp_path):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# A recipe\n\nIt does things.\n"},
                    {"cell_type": "code", "metadata": {}, "execution_count": 3, "outputs": [{"output_type": "stream",
                     "name": "stdout", "text": "x"}], "source": "print(1)"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (recipes / "01_first.ipynb").write_text(json.dumps(nb))
    return server_config(workspace=str(workspace), recipes_dir=str(recipes))


async def test_config_under_base_url(jp_fetch, jp_base_url, workspace):
    assert jp_base_url != "/"  # the fixture's base URL (/a%40b/): the extension must work under it
    cfg = await api_json(jp_fetch, "config")
    assert cfg["tile_url"] == "" and cfg["workspace"] == str(workspace)


async def test_requires_the_token(http_server_client, jp_base_url):
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/aois", raise_error=False)
    assert resp.code == 403
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/aois", method="POST", raise_error=False,
                                          body=json.dumps({"name": "x", "geometry": None}))
    assert resp.code == 403


async def test_cookie_session_needs_xsrf(http_server_client, jp_base_url, jp_auth_header, workspace):
    # a browser session: logged in by a cookie, so every POST must carry the XSRF token
    login = await http_server_client.fetch(f"{jp_base_url}login", raise_error=False)
    first = await http_server_client.fetch(f"{jp_base_url}api/status", headers=jp_auth_header)
    jar = SimpleCookie()
    for header in [*login.headers.get_list("Set-Cookie"), *first.headers.get_list("Set-Cookie")]:
        jar.load(header)
    assert "_xsrf" in jar and any(k.startswith("username-") for k in jar)
    cookie = "; ".join(f"{k}={v.value}" for k, v in jar.items())
    body = json.dumps({"name": "box", "geometry": {"type": "Polygon", "coordinates": [
        [[1.0, 43.0], [1.01, 43.0], [1.01, 43.01], [1.0, 43.01], [1.0, 43.0]]]}})
    denied = await http_server_client.fetch(f"{jp_base_url}ai4geo/aois", method="POST", body=body,
                                            headers={"Cookie": cookie}, raise_error=False)
    assert denied.code == 403
    assert not (workspace / "aois" / "box.geojson").exists()
    ok = await http_server_client.fetch(f"{jp_base_url}ai4geo/aois", method="POST", body=body, raise_error=False,
                                        headers={"Cookie": cookie, "X-XSRFToken": jar["_xsrf"].value})
    assert ok.code == 201, ok.body
    assert (workspace / "aois" / "box.geojson").is_file()


async def test_search_pages_by_token_and_code(jp_fetch):
    providers = await api_json(jp_fetch, "providers")
    assert providers[0]["name"] == "local"
    cols = await api_json(jp_fetch, "collections", params={"provider": "local"})
    assert "sample-ortho" in [c["id"] for c in cols]
    q = await api_json(jp_fetch, "queryables", params={"collection": "sample-ortho", "provider": "local"})
    assert {"aoi", "start", "end", "max_cloud"} <= set(q)
    assert q["max_cloud"]["label"] == "Max cloud cover (%)"  # in words for forms, not the API name
    assert all(v["label"] and ":" not in v["label"] for v in q.values())

    first = await api_json(jp_fetch, "search", method="POST",
                        body={"collection": "sample-ortho", "provider": "local", "limit": 1})
    assert first["type"] == "FeatureCollection" and first["count"] == 1 and first["next_token"]
    second = await api_json(jp_fetch, "search", method="POST", body={"token": first["next_token"]})
    assert second["page"] == 2 and second["features"][0]["id"] != first["features"][0]["id"]
    # two clients paging at once do not disturb each other: the state is in their tokens
    again = await api_json(jp_fetch, "search", method="POST", body={"request": first["request"]})
    assert again["features"][0]["id"] == first["features"][0]["id"]

    code = await api_json(jp_fetch, "code", method="POST", body={"collection": "sample-ortho", "provider": "local",
                                                              "aoi_name": "box", "start": "2024-01-01"},
                       expect=404)
    assert "no AOI named 'box'" in code["error"] and code["hint"]


async def test_errors_are_json_with_hint(jp_fetch):
    err = await api_json(jp_fetch, "search", method="POST", body={"collection": "nope", "provider": "local"},
                      expect=404)
    assert "unknown collection 'nope'" in err["error"] and err["hint"]
    err = await api_json(jp_fetch, "search", method="POST",
                      body={"collection": "sample-ortho", "start": "2025-01-01", "end": "2024-01-01"}, expect=400)
    assert "before the start" in err["error"]
    err = await api_json(jp_fetch, "search", method="POST", body={"token": "not-a-token"}, expect=400)
    assert err["error"] == "the page token is not valid"
    # a request cannot make the server read a catalogue file of its choosing
    err = await api_json(jp_fetch, "collections", params={"provider": "/etc/passwd.json"}, expect=400)
    assert "path cannot be given" in err["error"]


async def test_aois_upload_and_code(jp_fetch, tmp_path, workspace):
    import geopandas as gpd
    from shapely.geometry import box

    gpkg = tmp_path / "site.gpkg"
    gpd.GeoDataFrame(geometry=[box(1.0, 43.0, 1.02, 43.02)], crs="EPSG:4326").to_file(gpkg)
    saved = await api_json(jp_fetch, "aois", method="POST", expect=201, body={
        "filename": "site.gpkg", "content": base64.b64encode(gpkg.read_bytes()).decode()})
    assert saved["name"] == "site" and saved["area_km2"] > 1
    kml = ('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><Polygon><outerBoundaryIs>'
           '<LinearRing><coordinates>1,43 1.01,43 1.01,43.01 1,43.01 1,43</coordinates></LinearRing>'
           '</outerBoundaryIs></Polygon></Placemark></kml>')
    content = base64.b64encode(kml.encode()).decode()
    saved = await api_json(jp_fetch, "aois", method="POST", expect=201,
                        body={"name": "kml-site", "filename": "x.kml", "content": content})
    assert saved["feature"]["geometry"]["type"] == "Polygon"
    err = await api_json(jp_fetch, "aois", method="POST", expect=400,
                      body={"name": "bad", "filename": "x.exe", "content": "AAAA"})
    assert "GeoJSON, GeoPackage or KML" in err["hint"]
    names = [a["name"] for a in await api_json(jp_fetch, "aois")]
    assert names == ["kml-site", "site"]
    one = await api_json(jp_fetch, "aois", "site")
    assert one["feature"]["geometry"]["type"] == "Polygon"
    code = await api_json(jp_fetch, "code", method="POST", body={"collection": "sample-ortho", "provider": "local",
                                                              "aoi_name": "site", "max_cloud": 20})
    assert "load_aoi('site')" in code["code"] and "POLYGON" not in code["code"]
    assert "max_cloud=20" in code["code"] and "provider='local'" in code["code"]


async def test_paths_stay_in_the_root(jp_fetch, jp_root_dir, tmp_path):
    outside = tmp_path / "secret.geojson"
    outside.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[1.0, 43.0], [1.01, 43.0], [1.01, 43.01], [1.0, 43.01], [1.0, 43.0]]]}))
    for bad in ("../secret.geojson", "sub/../../secret.geojson", "/../secret.geojson"):
        err = await api_json(jp_fetch, "aois", method="POST", body={"name": "leak", "path": bad}, expect=403)
        assert "outside the server's root folder" in err["error"]
    # an absolute path is read inside the root, as Jupyter's contents API does
    err = await api_json(jp_fetch, "aois", method="POST", body={"name": "leak", "path": str(outside)}, expect=404)
    assert str(jp_root_dir / str(outside).lstrip("/")) in err["error"]
    (jp_root_dir / "link.geojson").symlink_to(outside)
    err = await api_json(jp_fetch, "aois", method="POST", body={"name": "leak", "path": "link.geojson"}, expect=403)
    assert "outside" in err["error"]
    err = await api_json(jp_fetch, "recipes", "01_first", method="POST", body={"dest": "../.."}, expect=403)
    assert err["hint"]
    err = await api_json(jp_fetch, "downloads", method="POST", expect=403,
                      body={"ids": ["x"], "dest": "../elsewhere", "request": {"collection": "sample-ortho"}})
    assert not (tmp_path / "elsewhere").exists()
    inside = jp_root_dir / "site.geojson"
    inside.write_text(outside.read_text())
    saved = await api_json(jp_fetch, "aois", method="POST", body={"name": "inside", "path": "site.geojson"}, expect=201)
    assert saved["name"] == "inside"


async def test_download_with_progress_and_inventory(jp_fetch, jp_root_dir, workspace):
    page = await api_json(jp_fetch, "search", method="POST", body={"collection": "sample-ortho", "provider": "local"})
    ids = [f["id"] for f in page["features"]][:1]
    job = await api_json(jp_fetch, "downloads", method="POST", expect=202,
                      body={"request": page["request"], "ids": ids, "dest": "data"})
    for _ in range(200):
        job = await api_json(jp_fetch, "downloads", job["id"])
        if job["state"] != "running":
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "done", job
    files = job["files"][ids[0]]
    assert files and all(p.startswith(str(jp_root_dir / "data")) for p in files)
    assert job["done_bytes"] > 0 and job["done_bytes"] == job["total_bytes"]
    inv = await api_json(jp_fetch, "inventory")
    assert {r["item"] for r in inv} == set(ids)
    looks = await api_json(jp_fetch, "quicklooks", method="POST", body={"request": page["request"], "ids": ids})
    resp = await jp_fetch(*looks[ids[0]].split("/")[2:], method="GET")  # the URL carries the base URL
    assert resp.body[:8] == b"\x89PNG\r\n\x1a\n"


async def test_recipes_list_and_copy(jp_fetch, jp_root_dir):
    found = await api_json(jp_fetch, "recipes")
    assert found == [{"name": "01_first", "file": "01_first.ipynb", "title": "A recipe", "summary": "It does things."}]
    first = await api_json(jp_fetch, "recipes", "01_first", method="POST", body={}, expect=201)
    second = await api_json(jp_fetch, "recipes", "01_first", method="POST", body={}, expect=201)
    assert (first["path"], second["path"]) == ("01_first.ipynb", "01_first-2.ipynb")
    nb = json.loads((jp_root_dir / "01_first.ipynb").read_text())
    assert nb["cells"][1]["outputs"] == [] and nb["cells"][1]["execution_count"] is None
    err = await api_json(jp_fetch, "recipes", "nope", method="POST", body={}, expect=404)
    assert "01_first" in err["hint"]


@pytest.mark.slow
async def test_clusters_start_scale_list_stop(jp_fetch, workspace):
    from ai4geo_lab.cluster.registry import announce

    started = await api_json(jp_fetch, "clusters", method="POST", body={"spec": "local:1", "name": "t"}, expect=201)
    try:
        assert started["managed"] and started["workers"] == 1
        assert started["scheduler_address"].startswith("tcp://127.0.0.1:") and started["dashboard_url"]
        scaled = await api_json(jp_fetch, "clusters", started["id"], method="PATCH", body={"workers": 2})
        assert scaled["target"] == 2  # the real count follows in the list as workers arrive

        class Kernel:  # what a kernel's connect() announces, seen by the server
            scheduler_address, dashboard_link, scheduler_info = "tcp://127.0.0.1:1", None, {"workers": {}}

        with announce(Kernel(), "local", workspace):
            listed = await api_json(jp_fetch, "clusters")
            assert [c["origin"] for c in listed] == ["server", "kernel"]
            err = await api_json(jp_fetch, "clusters", listed[1]["id"], method="DELETE", expect=400)
            assert "started by a kernel" in err["error"]
    finally:
        await api_json(jp_fetch, "clusters", started["id"], method="DELETE", expect=204)
    assert await api_json(jp_fetch, "clusters") == []
    err = await api_json(jp_fetch, "clusters", method="POST", body={"spec": "nonsense"}, expect=400)
    assert "invalid cluster spec" in err["error"]


async def test_steps_with_parameter_schemas(jp_fetch):
    from ai4geo_lab.pipeline import get_step, list_steps

    steps = await api_json(jp_fetch, "steps")
    assert [s["name"] for s in steps] == [s.name for s in list_steps()]
    assert set(steps[0]) == {"name", "description", "inputs", "optional_inputs", "outputs", "schema"}
    one = await api_json(jp_fetch, "steps", "terrain")
    spec = get_step("terrain")
    assert one == next(s for s in steps if s["name"] == "terrain")
    assert one["inputs"] == list(spec.inputs) and one["outputs"] == list(spec.outputs)
    assert one["schema"] == spec.params.model_json_schema() and one["schema"]["type"] == "object"
    err = await api_json(jp_fetch, "steps", "nope", expect=404)
    assert err["error"] == "unknown step 'nope'" and "terrain" in err["hint"]


async def test_bodies_are_validated(jp_fetch):
    err = await api_json(jp_fetch, "search", method="POST", expect=400,
                      body={"collection": "sample-ortho", "provider": "local", "limit": "many", "max_cloud": 120})
    assert err["type"] == "ValidationError" and err["error"].startswith("invalid request: ")
    assert "limit: " in err["error"] and "max_cloud: " in err["error"]
    err = await api_json(jp_fetch, "code", method="POST", expect=400, body={"collection": "x", "aoi_name": "../x"})
    assert "aoi_name: " in err["error"]
    err = await api_json(jp_fetch, "aois", method="POST", expect=400, body={"name": "x", "geometry": "/etc/x.geojson"})
    assert "a file path cannot be given here" in err["error"]
    err = await api_json(jp_fetch, "clusters", "c1", method="PATCH", expect=400, body={"workers": "two"})
    assert "workers: " in err["error"]
    err = await api_json(jp_fetch, "recipes", "01_first", method="POST", expect=400, body=[1])
    assert err["error"] == "the request body must be a JSON object"


async def test_a_step_registered_at_run_time_is_listed_with_its_schema(jp_fetch):
    from pydantic import BaseModel, Field

    from ai4geo_lab.pipeline import StepSpec, register
    from ai4geo_lab.pipeline.registry import unregister

    class HalveParams(BaseModel):
        """Halve a raster."""

        factor: float = Field(default=0.5, gt=0, description="multiplier")

    register(StepSpec("toy_halve", HalveParams, ("src",), ("halved",), lambda ctx, inputs, params: {},
                      "a raster halved (a step added at run time)"))
    try:
        one = await api_json(jp_fetch, "steps", "toy_halve")
        assert one["inputs"] == ["src"] and one["outputs"] == ["halved"]
        assert one["schema"]["properties"]["factor"]["default"] == 0.5
        assert "toy_halve" in [s["name"] for s in await api_json(jp_fetch, "steps")]
    finally:
        unregister("toy_halve")
    await api_json(jp_fetch, "steps", "toy_halve", expect=404)


async def test_form_errors_name_their_field_in_words(jp_fetch):
    err = await api_json(jp_fetch, "search", method="POST", expect=400,
                         body={"collection": "sample-ortho", "provider": "local", "max_cloud": 150})
    assert err["field"] == "max_cloud" and err["fields"]["max_cloud"] == "at most 100"
    err = await api_json(jp_fetch, "search", method="POST", expect=400, body={
        "collection": "sample-ortho", "provider": "local", "start": "2024-02-01", "end": "2024-01-01"})
    assert err["field"] == "end"
    assert err["error"] == "the end date 2024-01-01 is before the start date 2024-02-01"  # no ISO time stamps
    err = await api_json(jp_fetch, "search", method="POST", expect=400,
                         body={"collection": "sample-ortho", "provider": "local", "limit": "many"})
    assert err["field"] == "limit" and err["fields"] == {"limit": "a whole number is needed here"}


async def test_aoi_upload_errors_warnings_and_replacing(jp_fetch, workspace):
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    # a file that is no vector data: one line about the user's file, nothing of the server's temporary copy
    err = await api_json(jp_fetch, "aois", method="POST", expect=400,
                         body={"filename": "junk.gpkg", "content": b64("garbage" * 20)})
    assert err["field"] == "file" and err["error"].startswith("junk.gpkg cannot be read")
    assert "/tmp" not in err["error"] and "ai4geo-upload" not in err["error"] and "\n" not in err["error"]
    assert "It might help" not in err["error"]
    # a self-intersecting polygon is repaired, and the answer says so
    bowtie = {"type": "Polygon", "coordinates": [[[1.0, 43.0], [1.01, 43.01], [1.01, 43.0], [1.0, 43.01],
                                                  [1.0, 43.0]]]}
    saved = await api_json(jp_fetch, "aois", method="POST", expect=201,
                           body={"filename": "bowtie.geojson", "content": b64(json.dumps(bowtie))})
    assert saved["name"] == "bowtie" and len(saved["warnings"]) == 1
    assert "repaired" in saved["warnings"][0] and "Self-intersection" in saved["warnings"][0]
    # the same name again: refused unless replacing is asked for, and nothing replaced
    square = {"type": "Polygon", "coordinates": [[[2.0, 44.0], [2.01, 44.0], [2.01, 44.01], [2.0, 44.01],
                                                  [2.0, 44.0]]]}
    err = await api_json(jp_fetch, "aois", method="POST", expect=409,
                         body={"name": "bowtie", "geometry": square, "overwrite": False})
    assert err["type"] == "NameTakenError" and err["field"] == "name" and "already saved" in err["error"]
    from shapely.geometry import shape

    kept = await api_json(jp_fetch, "aois", "bowtie")
    assert shape(kept["feature"]["geometry"]).bounds[0] < 1.5
    saved = await api_json(jp_fetch, "aois", method="POST", expect=201,
                           body={"name": "bowtie", "geometry": square, "overwrite": True})
    assert saved["warnings"] == [] and shape(saved["feature"]["geometry"]).bounds[0] > 1.5
