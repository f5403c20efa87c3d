"""Plane-sweep stereo on a small rendered scene with known heights."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import box
from shapely.ops import unary_union

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.sample.render import affine_view, ortho_reflectance, render_view
from ai4geo_lab.sample.scene import CRS, Building, compose, make_grid, pixel_xy
from ai4geo_lab.stereo.algo import ground_heights, plane_sweep_ncc


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(2)
    transform, shape = make_grid(120.0, 1.0)
    x, y = pixel_xy(transform, shape)
    dtm = (100.0 + 0.02 * (x - x.mean())).astype(np.float32)
    cx, cy = x.mean(), y.mean()
    poly = affinity.translate(affinity.rotate(box(-15, -10, 15, 10), 25, origin=(0, 0)), cx, cy)
    b = Building(1, "rectangle", poly, (cx, cy), 25.0, 30.0, 20.0, 20.0, 0.0, "flat", 1)
    empty = unary_union([])
    scene = compose(transform, shape, dtm, empty, empty, empty, [b], [])
    refl = ortho_reflectance(scene, rng)
    views = [affine_view(transform, shape, 90.0, 130.0, a, str(a)) for a in (10.0, -10.0)]
    images = [render_view(scene, refl, v, rng).image for v in views]
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    sweeps = [v.rpc.height_sweep(lon, lat) for v in views]
    return scene, images, sweeps


def test_recovers_ground_and_roof(pair):
    scene, images, sweeps = pair
    heights = ground_heights(95.0, 125.0, 1.0, 2 * np.tan(np.radians(10)))
    res = plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], heights, window=5, min_score=0.5)
    valid = np.isfinite(res.dsm)
    assert valid.mean() > 0.7
    err = np.abs(res.dsm - scene.dsm)[valid]
    assert np.mean(err < 0.5) > 0.9
    roof = (scene.building_ids > 0) & valid
    assert np.median(np.abs(res.dsm[roof] - scene.dsm[roof])) < 1.0


def test_windows_cut_from_larger_images(pair):
    """A window of each image, with its origin, gives the same heights as the whole images."""
    _, images, sweeps = pair
    heights = ground_heights(95.0, 125.0, 1.0, 0.35)
    whole = plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], heights)
    cut = plane_sweep_ncc(images[0][3:, 2:], images[1][1:, 4:], sweeps[0], sweeps[1], heights,
                          left_origin=(3, 2), right_origin=(1, 4))
    inner = np.s_[10:-10, 10:-10]
    np.testing.assert_allclose(whole.dsm[inner], cut.dsm[inner], atol=0.01)  # float32 sums differ slightly


def test_nan_images_give_nan(pair):
    _, images, sweeps = pair
    left = images[0].copy()
    left[:] = np.nan
    res = plane_sweep_ncc(left, images[1], sweeps[0], sweeps[1], np.arange(95.0, 125.0, 1.0))
    assert np.isnan(res.dsm).all()


@pytest.mark.parametrize("window", [4, 1])
def test_bad_window(pair, window):
    _, images, sweeps = pair
    with pytest.raises(ConfigError):
        plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], np.arange(95.0, 125.0), window=window)


def test_nodata_stripe_gives_nan(pair):
    """Ground pixels seen in a nodata stripe of one image get no height."""
    scene, images, sweeps = pair
    left = images[0].copy()
    left[40:60] = np.nan
    heights = ground_heights(95.0, 125.0, 1.0, 0.35)
    res = plane_sweep_ncc(left, images[1], sweeps[0], sweeps[1], heights)
    rows, _ = sweeps[0].project(scene.dsm)
    hidden = (rows > 40) & (rows < 59)
    assert hidden.sum() > 1000
    assert np.isnan(res.dsm[hidden]).mean() > 0.95
    assert np.isfinite(res.dsm[~hidden]).mean() > 0.7


def test_occlusion_checks_remove_fattening(pair):
    """Shiftable windows and the one-point-per-image-pixel rule remove most blunders beside the roof."""
    scene, images, sweeps = pair
    heights = ground_heights(95.0, 125.0, 1.0, 0.35)
    plain = plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], heights, shiftable=False, unique_dh=0)
    checked = plane_sweep_ncc(images[0], images[1], sweeps[0], sweeps[1], heights)

    def blunders(dsm: np.ndarray) -> float:
        return float(np.mean(np.abs(dsm - scene.dsm)[np.isfinite(dsm)] > 3.0))

    assert blunders(checked.dsm) < 0.5 * blunders(plain.dsm)
    assert blunders(checked.dsm) < 0.01
    assert np.isfinite(checked.dsm).mean() > 0.85


def test_textureless_images_give_nan(pair):
    """Constant images correlate with nothing: no height, not a spurious one."""
    _, images, sweeps = pair
    flat = np.full_like(images[0], 0.3)
    res = plane_sweep_ncc(flat, flat, sweeps[0], sweeps[1], np.arange(95.0, 125.0, 1.0))
    assert np.isnan(res.dsm).all()
