"""``catalog/local``: the local catalogue's extent, and a catalogue folder of the root added from the Lab."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.server.conftest import api_json, server_config

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def workspace(tmp_path):
    return tmp_path / "empty-ws"


@pytest.fixture
def jp_server_config(workspace):
    return server_config(workspace=str(workspace))


async def test_add_a_catalogue_folder_of_the_root(jp_fetch, jp_root_dir, small_city, tmp_path):
    assert await api_json(jp_fetch, "catalog", "local") == {"catalogs": [], "bbox": None, "items": 0}
    shutil.copytree(small_city.root, jp_root_dir / "city")
    (jp_root_dir / "empty").mkdir()

    err = await api_json(jp_fetch, "catalog", "local", method="POST", body={"path": "empty"}, expect=404)
    assert err["error"] == "empty holds no catalog.json or collection.json" and err["hint"]
    assert str(jp_root_dir) not in json.dumps(err)  # no server path reaches the browser
    err = await api_json(jp_fetch, "catalog", "local", method="POST", body={"path": "../elsewhere"}, expect=403)
    assert "outside the server's root folder" in err["error"]
    err = await api_json(jp_fetch, "catalog", "local", method="POST", body={"path": ""}, expect=400)
    assert err["error"].startswith("invalid request")

    added = await api_json(jp_fetch, "catalog", "local", method="POST", body={"path": "city"}, expect=201)
    assert added["items"] > 0 and len(added["catalogs"]) == 1 and "sample-ortho" in added["catalogs"][0]["collections"]
    assert await api_json(jp_fetch, "catalog", "local") == added


async def test_needs_auth(http_server_client, jp_base_url):
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/catalog/local", raise_error=False)
    assert resp.code == 403
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/catalog/local", method="POST", body='{"path": "x"}',
                                          raise_error=False)
    assert resp.code == 403
