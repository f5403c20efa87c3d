"""``stac/layers?path=…`` in a real Jupyter server (pytest-jupyter): the layers of a run's catalogue, the
catalogue and its assets kept inside the root, unreadable catalogues refused with one line."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

pytest_plugins = ["pytest_jupyter.jupyter_server"]


async def _get(jp_fetch, path):
    resp = await jp_fetch("ai4geo", "stac", "layers", params={"path": path})
    return json.loads(resp.body)


async def _error(jp_fetch, path, expect):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ai4geo", "stac", "layers", params={"path": path})
    assert err.value.code == expect, err.value.response.body
    return json.loads(err.value.response.body)


async def test_the_layers_of_a_catalogue(jp_fetch, jp_root_dir):
    from tests.maps.test_stac import write_catalogue

    write_catalogue(jp_root_dir / "runs" / "r1")
    answer = await _get(jp_fetch, "runs/r1/stac/catalog.json")
    assert answer["title"] == "Sample run" and answer["path"] == "runs/r1/stac/catalog.json"
    assert sorted((layer["type"], layer["path"]) for layer in answer["layers"]) == [
        ("raster", "runs/r1/dsm.tif"), ("vector", "runs/r1/buildings.geojson")]
    # each layer's path is one the map's own endpoints then open
    info = json.loads((await jp_fetch("ai4geo", "raster", "info", params={"path": "runs/r1/dsm.tif"})).body)
    assert info["path"] == "runs/r1/dsm.tif"


async def test_paths_kept_in_the_root(jp_fetch, jp_root_dir, tmp_path):
    from tests.maps.test_stac import write_catalogue

    outside = write_catalogue(tmp_path / "elsewhere")
    for bad in ("../elsewhere/stac/catalog.json", "runs/../../elsewhere/stac/catalog.json"):
        err = await _error(jp_fetch, bad, 403)
        assert "outside the server's root folder" in err["error"] and str(tmp_path) not in json.dumps(err)
    (jp_root_dir / "link.json").symlink_to(outside)
    assert "outside the server's root folder" in (await _error(jp_fetch, "link.json", 403))["error"]

    # a catalogue inside the root whose assets point out of it: those are left out, never served
    run = jp_root_dir / "run"
    (run / "stac").mkdir(parents=True)
    doc = json.loads(outside.read_text())
    doc["links"] = [link for link in doc["links"] if link["rel"] not in ("item", "child")]
    doc["links"] += [{"rel": "item", "href": str(outside.parent / "dsm" / "dsm.json"), "type": "application/json"}]
    (run / "stac" / "catalog.json").write_text(json.dumps(doc))
    answer = await _get(jp_fetch, "run/stac/catalog.json")
    assert answer["layers"] == []
    assert answer["left_out"] == ["run/stac/catalog.json: an item link outside the root folder"]
    assert str(tmp_path) not in json.dumps(answer)


async def test_unreadable(jp_fetch, jp_root_dir):
    (jp_root_dir / "catalog.json").write_text('{"type": "Catalog"')
    err = await _error(jp_fetch, "catalog.json", 400)
    assert err["error"].startswith("catalog.json cannot be read as a STAC catalogue") and "\n" not in err["error"]
    assert str(jp_root_dir) not in json.dumps(err) and "Traceback" not in json.dumps(err)
    assert (await _error(jp_fetch, "absent/catalog.json", 404))["error"] == "absent/catalog.json does not exist"


async def test_requires_the_token(http_server_client, jp_base_url, jp_root_dir):
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/stac/layers?path=catalog.json", raise_error=False)
    assert resp.code == 403
