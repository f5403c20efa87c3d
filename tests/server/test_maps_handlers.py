"""``tiles``, ``raster/info`` and ``raster/value`` in a real Jupyter server (pytest-jupyter), under a base URL."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def rasters(jp_root_dir):
    from tests.maps.conftest import write_products

    return write_products(jp_root_dir / "out")


async def _get(jp_fetch, *parts, expect=200, **params):
    try:
        resp = await jp_fetch("ai4geo", *parts, params=params)
    except HTTPClientError as exc:
        assert exc.code == expect, exc.response.body if exc.response else exc
        return exc.response
    assert resp.code == expect, resp.body
    return resp


async def test_tiles_info_value(jp_fetch, rasters):
    try:
        import rio_tiler  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("rio-tiler is not installed")
        pytest.skip("rio-tiler is not installed")
    import morecantile
    from PIL import Image
    from rasterio.warp import transform

    info = json.loads((await _get(jp_fetch, "raster", "info", path="out/dsm.tif")).body)
    assert info["path"] == "out/dsm.tif" and info["kind"] == "height" and info["crs"] == "EPSG:32631"
    assert info["legend"]["type"] == "ramp" and len(info["legend"]["stops"]) >= 2
    west, south, east, north = info["bounds"]
    t = morecantile.tms.get("WebMercatorQuad").tile((west + east) / 2, (south + north) / 2, 16)
    resp = await _get(jp_fetch, "tiles", str(t.z), str(t.x), f"{t.y}.png", path="out/dsm.tif")
    assert resp.headers["Content-Type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(resp.body)).convert("RGBA"))
    assert (png[..., 3] == 255).mean() > 0.3 and png[png[..., 3] == 255][:, :3].std() > 5

    resp = await _get(jp_fetch, "tiles", str(t.z), str(t.x), f"{t.y}.png", path="out/landcover.tif", kind="classes")
    png = np.asarray(Image.open(io.BytesIO(resp.body)).convert("RGBA"))
    lc = json.loads((await _get(jp_fetch, "raster", "info", path="out/landcover.tif")).body)
    legend = {bytes.fromhex(i["color"][1:]) for i in lc["legend"]["items"]}
    assert {bytes(c) for c in png[png[..., 3] == 255][:, :3].tolist()} <= legend

    far = morecantile.tms.get("WebMercatorQuad").tile(-60.0, -10.0, 16)
    resp = await _get(jp_fetch, "tiles", "16", str(far.x), f"{far.y}.png", path="out/dsm.tif")
    assert (np.asarray(Image.open(io.BytesIO(resp.body)).convert("RGBA"))[..., 3] == 0).all()

    (lon,), (lat,) = transform("EPSG:32631", "EPSG:4326", [500_100.5], [4_799_900.5])
    v = json.loads((await _get(jp_fetch, "raster", "value", path="out/landcover.tif", lon=str(lon),
                               lat=str(lat))).body)
    assert v["inside"] and v["value"] == 2 and v["label"] == "forest"
    v = json.loads((await _get(jp_fetch, "raster", "value", path="/out/dsm.tif", lon=str(lon), lat=str(lat))).body)
    assert v["value"] == pytest.approx(100 + 100 * 0.1 + 99 * 0.05, abs=1e-3)


async def test_nan_nodata_answers_strict_json(jp_fetch, jp_root_dir):
    """The chain's DSMs have NaN as nodata: their info must still be JSON a browser parses (no bare NaN)."""
    from affine import Affine

    from ai4geo_lab.geo.raster import write_raster

    write_raster(jp_root_dir / "dsm.tif", np.full((50, 50), 120.0, np.float32),
                 Affine(1.0, 0, 500_000.0, 0, -1.0, 4_800_000.0), "EPSG:32631", nodata=float("nan"))
    body = (await _get(jp_fetch, "raster", "info", path="dsm.tif")).body.decode()

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    info = json.loads(body, parse_constant=refuse)
    assert info["nodata"] is None and info["kind"] == "height"


async def test_bad_requests(jp_fetch, jp_root_dir, rasters, tmp_path):
    async def error(*parts, expect, **params):
        return json.loads((await _get(jp_fetch, *parts, expect=expect, **params)).body)

    outside = tmp_path / "elsewhere"
    from tests.maps.conftest import write_products

    secret = write_products(outside)["dsm"]
    for bad in ("../elsewhere/products/dsm.tif", "out/../../elsewhere/dsm.tif", "/../elsewhere/dsm.tif"):
        err = await error("raster", "info", path=bad, expect=403)
        assert "outside the server's root folder" in err["error"]
    assert (await error("raster", "info", path=str(secret), expect=404))["error"].endswith("does not exist")
    (jp_root_dir / "link.tif").symlink_to(secret)
    assert "outside" in (await error("tiles", "1", "0", "0.png", path="link.tif", expect=403))["error"]
    assert "outside" in (await error("raster", "value", path="link.tif", lon="3", lat="43", expect=403))["error"]

    (jp_root_dir / "notes.tif").write_text("not a raster")
    err = await error("raster", "info", path="notes.tif", expect=400)
    assert "cannot be read as a raster" in err["error"] and err["hint"]
    assert "no 'path'" in (await error("raster", "info", expect=400))["error"]
    assert "folder" in (await error("raster", "info", path="out", expect=400))["error"]
    assert "unknown product kind" in (await error("raster", "info", path="out/dsm.tif", kind="x", expect=400))["error"]
    assert "not a number" in (await error("raster", "value", path="out/dsm.tif", lon="a", lat="1", expect=400))["error"]
    assert "no tile" in (await error("tiles", "2", "9", "0.png", path="out/dsm.tif", expect=400))["error"]


async def test_requires_the_token(http_server_client, jp_base_url, rasters):
    for url in ("tiles/1/0/0.png?path=out/dsm.tif", "raster/info?path=out/dsm.tif",
                "raster/value?path=out/dsm.tif&lon=3&lat=43"):
        resp = await http_server_client.fetch(f"{jp_base_url}ai4geo/{url}", raise_error=False)
        assert resp.code == 403
