"""The native DSM engine: rectification geometry on the real Pléiades pairs, matching of a pair with known
disparities, fusion of several pairs, a rendered tri-stereo scene through the ``dsm`` step, and its refusals."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import box
from shapely.ops import unary_union

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.ortho import ortho_window
from ai4geo_lab.geo.raster import read_window, write_raster
from ai4geo_lab.geo.sensor import centre_box, read_sensor
from ai4geo_lab.pipeline import run_step
from ai4geo_lab.sample.render import affine_view, ortho_reflectance, render_view
from ai4geo_lab.sample.scene import CRS, Building, compose, make_grid, pixel_xy
from ai4geo_lab.stereo.epipolar import rectify
from ai4geo_lab.stereo.heights import local_height_range
from ai4geo_lab.stereo.matching import refine_subpixel, sgm_disparity, to_uint8_pair
from ai4geo_lab.stereo.native import COARSE, EMPTY, FILLED, MEASURED
from ai4geo_lab.stereo.rasterize import bin_points, fill_small_holes, fuse
from ai4geo_lab.stereo.sensor_dsm import utm_epsg
from tests.conftest import shared_data

PAIRS = {"kahramanmaras": ("pre_event_img1.tif", "pre_event_img2.tif"), "gizeh": ("img1.tif", "img2.tif")}


@pytest.mark.parametrize("site", sorted(PAIRS))
def test_rectification_round_trip_on_real_pairs(site):
    """Over a 500 m tile of each shared pair and its heights, the rectified rows of a ground point agree in both
    views, and the point comes back from (row, disparity) to within 0.1 px (in the images' own pixels)."""
    images = [shared_data("pleiades", site, name) for name in PAIRS[site]]
    a, b = (read_sensor(p) for p in images)
    w, s, e, n = centre_box(images, 500, 500)
    crs = f"EPSG:{utm_epsg((w + e) / 2, (s + n) / 2)}"
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    cx, cy = to_map.transform((w + e) / 2, (s + n) / 2)
    hmin, hmax = a.rpc.height_off - 60, a.rpc.height_off + 90

    def local(sensor):
        return lambda x, y, h: sensor.project(*to_ll.transform(np.asarray(x) + cx, np.asarray(y) + cy), h)

    gx, gy = np.meshgrid(np.linspace(-250, 250, 9), np.linspace(-250, 250, 9))
    rect = rectify(local(a), local(b), gx, gy, hmin, hmax)
    assert rect.row_error_px < 0.1 and rect.disparity_error_px < 0.1
    rng = np.random.default_rng(4)
    x, y, h = rng.uniform(-240, 240, 500), rng.uniform(-240, 240, 500), rng.uniform(hmin, hmax, 500)
    (rl, cl), (rr, cr) = local(a)(x, y, h), local(b)(x, y, h)
    xl, vl = rect.to_rectified("left", rl, cl)
    xr, vr = rect.to_rectified("right", rr, cr)
    assert np.abs(vl - vr).max() < 0.1  # epipolar rows
    np.testing.assert_allclose(rect.height(xl - xr), h, atol=0.1 / rect.disparity_per_m)
    back = rect.to_image("left", xl, vl)
    np.testing.assert_allclose(np.column_stack(back), np.column_stack([rl, cl]), atol=1e-6)
    # triangulation: the ground point of (x, v, disparity) projects where it was seen, in both images
    px, py, ph = rect.ground(xl, vl, xl - xr)
    (rl2, cl2), (rr2, cr2) = local(a)(px, py, ph), local(b)(px, py, ph)
    assert np.hypot(rl2 - rl, cl2 - cl).max() < 0.1 and np.hypot(rr2 - rr, cr2 - cr).max() < 0.1


def test_matching_recovers_known_disparities():
    """A textured image and its copy shifted by a known field (a slanted plane and a raised block): SGM finds the
    disparities to a fraction of a pixel, and the block's edges stay sharp."""
    rng = np.random.default_rng(1)
    rows, cols = 240, 320
    texture = cv2.GaussianBlur(rng.uniform(0, 1000, (rows, cols)).astype(np.float32), (0, 0), 1.2)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    truth = 3.3 + 0.01 * xx + 0.005 * yy
    truth[80:160, 120:220] = 11.6
    # the right image: each left pixel x shows at x − d; sample the right from the left at x + d (d smooth enough)
    right = cv2.remap(texture, xx + truth, yy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    left8, right8 = to_uint8_pair(texture, right)
    disp = sgm_disparity(left8, right8, 0.0, 16.0, block=7)
    disp = refine_subpixel(texture, right, disp, window=7)
    inner = np.zeros((rows, cols), bool)
    inner[10:-10, 40:-10] = True
    near_edge = cv2.dilate((np.abs(np.diff(truth, axis=1, prepend=truth[:, :1])) > 1).astype(np.uint8),
                           np.ones((9, 9))).astype(bool)
    ok = inner & ~near_edge
    assert np.isfinite(disp[ok]).mean() > 0.97
    err = np.abs(disp - truth)[ok & np.isfinite(disp)]
    assert np.median(err) < 0.1 and np.percentile(err, 95) < 0.35
    assert np.nanmedian(disp[90:150, 130:210]) == pytest.approx(11.6, abs=0.1)


def test_binning_fusion_and_filling():
    # two points in one cell average; a point between cells spreads over the four
    (mean,), weight = bin_points(np.array([0.5, 0.5, 2.0]), np.array([0.5, 0.5, 2.0]),
                                 [np.array([1.0, 3.0, 8.0])], (3, 3))
    assert mean[0, 0] == pytest.approx(2.0) and weight[0, 0] == pytest.approx(2.0)
    assert mean[1, 1] == pytest.approx(8.0) and mean[2, 2] == pytest.approx(8.0) and weight[1, 1] == 0.25
    assert np.isnan(mean[0, 2])
    # three pairs: a blunder is outvoted; two pairs that disagree leave the cell empty
    a = np.array([[10.0, 10.0, np.nan]])
    b = np.array([[10.4, 30.0, 12.0]])
    c = np.array([[9.8, 10.2, 25.0]])
    fused, agree = fuse([a, b, c], tolerance_m=2.0)
    assert fused[0, 0] == pytest.approx(10.0667, abs=1e-3) and agree[0, 0] == 3
    assert fused[0, 1] == pytest.approx(10.1) and agree[0, 1] == 2
    assert np.isnan(fused[0, 2]) and agree[0, 2] == 0
    # a small hole inside the surface is filled and marked; one touching the edge is not
    dsm = np.full((20, 20), 5.0, np.float32)
    dsm[8:10, 8:10] = np.nan
    dsm[0:3, 0:3] = np.nan
    filled, mask = fill_small_holes(dsm, max_hole_px=10)
    assert mask[8:10, 8:10].all() and np.allclose(filled[8:10, 8:10], 5.0, atol=0.05)
    assert not mask[0:3, 0:3].any() and np.isnan(filled[0:3, 0:3]).all()


@pytest.fixture(scope="module")
def tri_scene(tmp_path_factory):
    """A 120 m scene at 1 m with a 20 m high rotated building, seen forward, backward and at nadir."""
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
    folder = tmp_path_factory.mktemp("tri")
    paths = []
    for angle in (12.0, -12.0, 1.0):
        view = affine_view(transform, shape, 90.0, 130.0, angle, str(angle))
        image = render_view(scene, refl, view, rng).image
        paths.append(write_raster(folder / f"view{angle:+.0f}.tif", (image * 4000).astype(np.uint16), None, None,
                                  rpcs=view.rpc.to_rasterio(), cog=False))
    grid = write_raster(folder / "grid.tif", np.zeros(shape, np.uint8), transform, CRS, cog=False)
    return scene, paths, GroundGrid.like(grid)


def test_tri_stereo_set_through_the_dsm_step(tri_scene, tmp_path):
    scene, (fwd, bwd, nadir), grid = tri_scene
    params = {"native": {"hmin": 95.0, "hmax": 125.0}}
    logs: list[str] = []
    pair = run_step("dsm", {"left": fwd, "right": bwd}, params, tmp_path / "pair", grid=grid, tile_size=64,
                    progress=False, log=logs.append)
    tri = run_step("dsm", {"left": fwd, "right": bwd, "third": nadir}, params, tmp_path / "tri", grid=grid,
                   tile_size=64, progress=False, log=logs.append)
    assert any("view+1.tif" in m and "view+12.tif" in m and "view-12.tif" in m for m in logs)  # three pairs
    truth = scene.dsm
    inner = np.zeros(truth.shape, bool)
    inner[6:-6, 6:-6] = True
    errors = {}
    for name, products in (("pair", pair), ("tri", tri)):
        dsm, _ = read_window(products["dsm"])
        ok = inner & np.isfinite(dsm)
        errors[name] = np.median(np.abs(dsm - truth)[ok])
        assert ok.sum() / inner.sum() > 0.9
        assert errors[name] < 0.25
        roof = inner & (scene.building_ids == 1)
        assert np.nanmedian(dsm[roof]) == pytest.approx(float(np.median(truth[roof])), abs=0.3)
        with rasterio.open(products["filled"]) as src:
            mask = src.read(1)
            assert set(np.unique(mask)) <= {MEASURED, COARSE, FILLED, EMPTY}
            assert "interpolated" in src.tags()["VALUES"]
        conf, _ = read_window(products["confidence"])
        assert np.nanmedian(conf) > 0.8 and np.isnan(conf[mask == EMPTY]).all()
        ortho, _ = read_window(products["ortho"])  # the forward view projected on the DSM the pair made
        on_truth = ortho_window(read_sensor(fwd), grid.transform, grid.crs, truth)
        assert _ncc(ortho, on_truth, inner) > 0.9
    assert errors["tri"] <= errors["pair"] * 1.2  # fusing three views is no worse than the best pair
    item = json.loads((tmp_path / "tri" / "stac" / "dsm-dsm" / "dsm-dsm.json").read_text())
    stats = item["properties"]["ai4geo:statistics"]
    assert len(stats["pairs"]) == 3 and stats["valid"] > 0.9 and stats["mean_confidence"] > 0.8
    shares = stats["matched"] + stats["matched_coarse"] + stats["interpolated"] + stats["empty"]
    assert shares == pytest.approx(1, abs=1e-3)


def test_a_pair_without_stereo_base_is_refused(tri_scene, tmp_path):
    _, (fwd, _, _), grid = tri_scene
    with pytest.raises(InvalidInputError, match="no stereo base"):
        run_step("dsm", {"left": fwd, "right": fwd}, {}, tmp_path / "same", grid=grid, progress=False,
                 log=lambda _: None)
    assert not (tmp_path / "same" / "dsm" / "dsm.tif").exists()


def test_tiles_search_the_heights_around_them():
    # two valleys 1000 m apart in height: a tile among the low points searches low, a tile without points all
    rng = np.random.default_rng(0)
    low = np.column_stack([rng.uniform(0, 100, 50), rng.uniform(0, 100, 50), rng.uniform(100, 120, 50)])
    high = np.column_stack([rng.uniform(900, 1000, 50), rng.uniform(0, 100, 50), rng.uniform(1100, 1130, 50)])
    points = np.concatenate([low, high])
    lo, hi = local_height_range(points, (0, 0, 100, 100), 80.0, 1200.0, precision_m=1.0)
    assert 80 <= lo < 100 and 120 < hi < 120 + 1 + 30 + 100 + 1  # margins and room for a tower
    assert local_height_range(points, (400, 0, 500, 100), 80.0, 1200.0, 1.0) == (80.0, 1200.0)


def _ncc(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    ok = where & np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def test_ortho_images_of_three_views_agree_on_the_true_surface_only(tri_scene):
    """Projected on the true surface, the forward, backward and nadir views give the same ortho image; 20 m too
    high, the forward and backward orthos slide apart (about 4 m each way) and stop agreeing."""
    scene, paths, grid = tri_scene
    sensors = [read_sensor(p) for p in paths]
    inner = np.zeros(grid.shape, bool)
    inner[10:-10, 10:-10] = True
    true = [ortho_window(s, grid.transform, grid.crs, scene.dsm) for s in sensors]
    high = [ortho_window(s, grid.transform, grid.crs, scene.dsm + 20.0) for s in sensors]
    assert all(np.isfinite(o[inner]).all() for o in true)
    agree = _ncc(true[0], true[1], inner)
    assert agree > 0.8 and _ncc(true[0], true[2], inner) > 0.8
    assert _ncc(high[0], high[1], inner) < agree - 0.2
    holes = scene.dsm.copy()
    holes[40:60, 40:60] = np.nan  # cells without a height take the window's median: still inside the image
    assert np.isfinite(ortho_window(sensors[0], grid.transform, grid.crs, holes)[inner]).all()
