import numpy as np
import pytest

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.geo.rpc import RPCModel
from ai4geo_lab.geo.sensor import read_rpc
from tests.conftest import shared_data


def test_read_pleiades_geom_and_round_trip():
    image = shared_data("pleiades", "gizeh", "img1.tif")
    rpc = read_rpc(image)
    assert rpc.lat_off == pytest.approx(29.9735013834584)
    rows, cols = np.meshgrid(np.linspace(0, 800, 9), np.linspace(0, 800, 9))
    for h in (20.0, 140.0, 260.0):
        lon, lat = rpc.localize(rows, cols, h)
        r2, c2 = rpc.project(lon, lat, h)
        assert np.abs(r2 - rows).max() < 1e-3 and np.abs(c2 - cols).max() < 1e-3
    # the height sweep evaluates the same polynomials
    lon, lat = rpc.localize(rows, cols, 100.0)
    sweep = rpc.height_sweep(lon, lat)
    for h in (0.0, 100.0, 300.0):
        assert np.allclose(sweep.project(h), rpc.project(lon, lat, h), atol=1e-9)


def test_geotiff_rpc_tags_round_trip(tmp_path):
    from ai4geo_lab.geo.raster import write_raster

    rpc = read_rpc(shared_data("pleiades", "gizeh", "img1.tif"))
    path = write_raster(tmp_path / "img.tif", np.zeros((20, 30), np.uint16), None, None, rpcs=rpc.to_rasterio())
    back = read_rpc(path)
    lon, lat = rpc.localize(np.array([5.0, 400.0]), np.array([7.0, 300.0]), 50.0)
    assert np.allclose(back.project(lon, lat, 50.0), rpc.project(lon, lat, 50.0), atol=1e-6)


def test_image_without_rpc_is_refused(tmp_path):
    from affine import Affine

    from ai4geo_lab.geo.raster import write_raster

    path = write_raster(tmp_path / "plain.tif", np.zeros((8, 8), np.uint8), Affine.identity(), "EPSG:32631")
    with pytest.raises(InvalidInputError, match="no RPC"):
        read_rpc(path)


def test_rpc_needs_twenty_coefficients():
    with pytest.raises(InvalidInputError):
        RPCModel(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, np.zeros(19), np.zeros(20), np.zeros(20), np.zeros(20))
