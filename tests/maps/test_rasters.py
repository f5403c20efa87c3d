"""Map tiles, information and values of rasters in UTM: colours per kind, nodata transparent, legends."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.landcover.legend import LULC10

from .conftest import need_rio_tiler


def _tile_at(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    import morecantile

    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    return t.z, t.x, t.y


def _rgba(png: bytes) -> np.ndarray:
    from PIL import Image

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_kind_from_the_name():
    from ai4geo_lab.maps import guess_kind

    assert guess_kind("run/bulldozer/ndsm.tif") == "height"
    assert guess_kind("S2_dtm_v2.tif") == "height"
    assert guess_kind("run/landcover/prediction.tif") == "classes"
    assert guess_kind("building_probability.tif") == "probability"
    assert guess_kind("cloud_mask.tif") == "mask"
    assert guess_kind("scene.tif") is None


def test_info(products):
    from ai4geo_lab.maps import raster_info

    info = raster_info(products["dsm"])
    assert info["kind"] == "height" and info["crs"] == "EPSG:32631" and info["count"] == 1
    assert (info["width"], info["height"], info["dtype"]) == (400, 400, "float32")
    west, south, east, north = info["bounds"]
    assert 2.99 < west < east < 3.01 and 43.34 < south < north < 43.36
    assert info["range"][0] == pytest.approx(101.0) and info["range"][1] == pytest.approx(159.85, abs=0.01)
    lo, hi = info["stretch"]
    assert 101 < lo < 110 and 150 < hi < 160  # 2–98 %
    stops = info["legend"]["stops"]
    assert info["legend"]["type"] == "ramp" and stops[0]["value"] == lo and stops[-1]["value"] == hi

    lc = raster_info(products["landcover"])
    assert lc["kind"] == "classes" and lc["legend"]["name"] == "lulc10"
    assert [(i["value"], i["label"]) for i in lc["legend"]["items"]] == [(c, LULC10.names[c]) for c in (1, 2, 3, 4)]
    assert raster_info(products["landcover"], legend="lulc30")["legend"]["items"][0]["label"] == "class 1"
    assert raster_info(products["change"])["kind"] == "mask"
    ortho = raster_info(products["ortho"])
    assert ortho["kind"] == "image" and ortho["indexes"] == [1, 2, 3] and "red, green, blue" in ortho["legend"]["label"]
    with pytest.raises(InvalidInputError, match="unknown product kind"):
        raster_info(products["dsm"], kind="fancy")
    with pytest.raises(InvalidInputError, match="unknown legend"):
        raster_info(products["landcover"], legend="/etc/passwd")


def test_tiles_coloured_by_kind(products):
    need_rio_tiler()
    from ai4geo_lab.maps import raster_info, raster_tile
    from ai4geo_lab.maps.rasters import HEIGHT_RAMP

    info = raster_info(products["dsm"])
    west, south, east, north = info["bounds"]
    z, x, y = _tile_at((west + east) / 2, (south + north) / 2, 15)
    dsm = _rgba(raster_tile(products["dsm"], z, x, y))
    assert dsm.shape == (256, 256, 4)
    opaque = dsm[..., 3] == 255
    assert 0.01 < opaque.mean() < 1  # the raster, and transparent around it
    colours = dsm[opaque][:, :3].astype(int)
    ramp = np.array([c for _, c in HEIGHT_RAMP])
    # every opaque pixel lies near the height ramp: distance to the ramp's segments is small
    assert np.min(np.abs(colours[:, None, :] - ramp[None]).sum(-1), axis=1).max() < 120
    assert colours[:, 1].std() > 5  # a ramp, not one colour

    lc = _rgba(raster_tile(products["landcover"], z, x, y))
    seen = {tuple(c) for c in lc[lc[..., 3] == 255][:, :3].tolist()}
    assert seen == {tuple(LULC10.classes[i].color) for i in range(4)}  # nearest: only legend colours
    ch = _rgba(raster_tile(products["change"], z, x, y))
    on = ch[..., 3] > 0
    assert on.any() and (ch[on][:, :3] == (228, 26, 28)).all()
    ortho = _rgba(raster_tile(products["ortho"], z, x, y))
    assert (ortho[..., 3] == 255).any()

    far = _rgba(raster_tile(products["dsm"], *_tile_at(-60.0, -10.0, 15)))
    assert far.shape == (256, 256, 4) and (far[..., 3] == 0).all()
    with pytest.raises(InvalidInputError, match="no tile"):
        raster_tile(products["dsm"], 3, 8, 0)


def test_nodata_is_transparent(products):
    need_rio_tiler()
    from ai4geo_lab.maps import raster_info, raster_tile

    west, _, _, north = raster_info(products["dsm"])["bounds"]
    # the middle of the nodata corner (upper left, 20 m) at zoom 22 (a tile of ~7 m): all transparent
    z, x, y = _tile_at(west + 10 / 80_900, north - 10 / 111_100, 22)
    assert (_rgba(raster_tile(products["dsm"], z, x, y))[..., 3] == 0).all()
    # 100 m inside: all opaque
    z, x, y = _tile_at(west + 100 / 80_900, north - 100 / 111_100, 22)
    assert (_rgba(raster_tile(products["dsm"], z, x, y))[..., 3] == 255).all()


def test_value_at_a_point(products):
    from rasterio.warp import transform

    from ai4geo_lab.maps import raster_value

    (lon,), (lat,) = transform("EPSG:32631", "EPSG:4326", [500_250.5], [4_799_700.5])  # col 250, row 299
    v = raster_value(products["dsm"], lon, lat)
    assert v["inside"] and v["value"] == pytest.approx(100 + 250 * 0.1 + 299 * 0.05, abs=1e-3) and v["label"] == "m"
    c = raster_value(products["landcover"], lon, lat)
    assert c["value"] == 3 and c["label"] == LULC10.names[3]
    (lon0,), (lat0,) = transform("EPSG:32631", "EPSG:4326", [500_005.5], [4_799_995.5])  # nodata corner
    nodata = raster_value(products["dsm"], lon0, lat0)
    assert nodata["inside"] and nodata["value"] is None
    out = raster_value(products["dsm"], 10.0, 50.0)
    assert not out["inside"] and out["value"] is None
    with pytest.raises(InvalidInputError):
        raster_value(products["dsm"], 200.0, 0.0)


def _mosaic(path, z: int):
    """Every tile of the raster at zoom ``z``, put together, with the Web-Mercator bounds of its top-left tile."""
    import morecantile

    from ai4geo_lab.maps import raster_info, raster_tile

    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = list(tms.tiles(*raster_info(path)["bounds"], [z]))
    x0, y0 = min(t.x for t in tiles), min(t.y for t in tiles)
    w, h = max(t.x for t in tiles) - x0 + 1, max(t.y for t in tiles) - y0 + 1
    out = np.zeros((h * 256, w * 256, 4), np.uint8)
    for t in tiles:
        out[(t.y - y0) * 256:(t.y - y0 + 1) * 256, (t.x - x0) * 256:(t.x - x0 + 1) * 256] = _rgba(
            raster_tile(path, z, t.x, t.y))
    return out, tms.xy_bounds(x0, y0, z), tms


@pytest.mark.parametrize("nodata", [-9999.0, float("nan")])
def test_every_corner_of_a_full_raster_is_drawn(tmp_path, nodata):
    """A DSM with no nodata pixel is drawn up to each of its corners, at every zoom a map shows it (no notch at
    a tile edge or corner); the test DSM's own notch is its 20 m nodata corner, nothing more."""
    need_rio_tiler()
    from affine import Affine
    from rasterio.warp import transform

    from ai4geo_lab.geo.raster import write_raster
    from tests.maps.conftest import ORIGIN, UTM

    yy, xx = np.mgrid[0:300, 0:300]
    path = write_raster(tmp_path / "dsm.tif", (100 + xx * 0.1 + yy * 0.05).astype(np.float32),
                        Affine(1.0, 0, ORIGIN[0], 0, -1.0, ORIGIN[1]), UTM, nodata=nodata)
    for z in (15, 16, 17, 18, 19):
        picture, first, tms = _mosaic(path, z)
        res = (first.right - first.left) / 256
        for cx, cy, dx, dy in ((0, 0, 1, 1), (300, 0, -1, 1), (0, 300, 1, -1), (300, 300, -1, -1)):
            for inset_m in (1.5, 4.0, 10.0):  # just inside each corner, along its diagonal
                (lon,), (lat,) = transform(UTM, "EPSG:4326", [ORIGIN[0] + cx + dx * inset_m],
                                           [ORIGIN[1] - cy - dy * inset_m])
                mx, my = tms.xy(lon, lat)
                col, row = int((mx - first.left) / res), int((first.top - my) / res)
                assert picture[row, col, 3] == 255, (z, cx, cy, inset_m)
