"""``vector?path=…`` in a real Jupyter server (pytest-jupyter): auth required, path kept in the root, gzipped
GeoJSON in EPSG:4326, bad files refused with one line."""

from __future__ import annotations

import gzip
import json

import pytest
from tornado.httpclient import HTTPClientError

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def vectors(jp_root_dir):
    from tests.maps.test_vectors import write_vectors

    return write_vectors(jp_root_dir / "out")


async def _error(jp_fetch, path, expect):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ai4geo", "vector", params={"path": path})
    assert err.value.code == expect, err.value.response.body
    return json.loads(err.value.response.body)


async def test_vector_as_geojson(jp_fetch, vectors):
    for name in ("out/buildings.gpkg", "/out/buildings.fgb", "out/buildings.shp", "out/buildings.geojson"):
        resp = await jp_fetch("ai4geo", "vector", params={"path": name}, headers={"Accept-Encoding": "gzip"})
        assert resp.code == 200 and resp.headers["Content-Type"] == "application/geo+json"
        body = resp.body
        if resp.headers.get("Content-Encoding") == "gzip":  # the client may hand it over decoded or not
            body = gzip.decompress(body)
        doc = json.loads(body)
        assert doc["ai4geo"]["count"] == 100 == len(doc["features"])
        west, south, east, north = doc["ai4geo"]["bounds"]
        assert 2.9 < west < east < 3.1 and 43.2 < south < north < 43.5
    resp = await jp_fetch("ai4geo", "vector", params={"path": "out/buildings.gpkg"},
                          headers={"Accept-Encoding": "identity"}, decompress_response=False)
    assert "Content-Encoding" not in resp.headers and json.loads(resp.body)["type"] == "FeatureCollection"


async def test_bad_requests(jp_fetch, jp_root_dir, vectors, tmp_path):
    from tests.maps.test_vectors import write_vectors

    secret = write_vectors(tmp_path / "elsewhere")["gpkg"]
    for bad in ("../elsewhere/buildings.gpkg", "out/../../elsewhere/buildings.gpkg", str(secret)):
        err = await _error(jp_fetch, bad, 403 if not bad.startswith("/") else 404)
        assert str(tmp_path) not in json.dumps(err)
    (jp_root_dir / "link.gpkg").symlink_to(secret)
    assert "outside the server's root folder" in (await _error(jp_fetch, "link.gpkg", 403))["error"]

    (jp_root_dir / "junk.gpkg").write_bytes(b"\x00 not a geopackage" * 40)
    err = await _error(jp_fetch, "junk.gpkg", 400)
    assert err["error"].startswith("junk.gpkg cannot be read as vector data")
    assert "\n" not in err["error"] and str(jp_root_dir) not in json.dumps(err) and err["hint"]
    assert "Traceback" not in json.dumps(err)
    (jp_root_dir / "broken.geojson").write_text("{")
    assert (await _error(jp_fetch, "broken.geojson", 400))["error"].startswith("broken.geojson cannot be read")
    assert "no 'path'" in (await _no_path(jp_fetch))["error"]


async def _no_path(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ai4geo", "vector")
    assert err.value.code == 400
    return json.loads(err.value.response.body)


async def test_requires_the_token(http_server_client, jp_base_url, vectors):
    resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/vector?path=out/buildings.gpkg", raise_error=False)
    assert resp.code == 403
