"""Heights to search from sparse tie points: triangulation, the derived range on the sample city and on real
Pléiades pairs, the refusals, and the ``dsm`` step's native engine without given heights."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from ai4geo_lab.errors import InvalidInputError, NoOverlapError
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import read_window, write_raster
from ai4geo_lab.geo.sensor import centre_box, read_sensor
from ai4geo_lab.pipeline import RunConfig, run
from ai4geo_lab.sample.render import affine_view
from ai4geo_lab.sample.scene import CRS, make_grid
from ai4geo_lab.stereo.heights import derive_height_range
from ai4geo_lab.stereo.sensor_dsm import utm_epsg
from ai4geo_lab.stereo.tiepoints import search_range, triangulate
from tests.conftest import shared_data


def test_triangulation_recovers_known_points():
    transform, shape = make_grid(100.0, 1.0)
    views = [affine_view(transform, shape, 0.0, 200.0, a, str(a)) for a in (12.0, -9.0)]
    rng = np.random.default_rng(0)
    x = transform.c + rng.uniform(0, 100, 50)
    y = transform.f - rng.uniform(0, 100, 50)
    h = rng.uniform(20, 180, 50)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    left, right = (np.column_stack(v.rpc.project(lon, lat, h)) for v in views)
    right[0] += (0.0, 3.0)  # a match 3 px across the epipolar lines (the views tilt along rows): the rays miss
    start = (float(np.mean(lon)), float(np.mean(lat)), 100.0)
    lon2, _, h2, residual = triangulate(left, right, views[0].rpc.project, views[1].rpc.project, start)
    assert np.abs(h2 - h)[1:].max() < 1e-3 and np.abs(lon2 - lon)[1:].max() < 1e-8
    assert residual[1:].max() < 1e-4 and residual[0] > 2.0


def test_search_range_is_percentiles_plus_margins():
    heights = np.r_[np.linspace(100, 120, 98), -50.0, 900.0]  # two blunders beyond the percentiles
    lo, hi = search_range(heights, precision_m=1.0, percentiles=(2, 98), below_m=10, above_m=30)
    assert 89 <= lo <= 89.5 and 150.5 <= hi <= 151


def city_pair(city):
    return city.image("date1", "pan_fwd"), city.image("date1", "pan_bwd")


def test_sample_city_range_holds_its_ground(small_city):
    found = derive_height_range(*city_pair(small_city), GroundGrid.like(small_city.image("date1", "ortho")))
    ground_lo, ground_hi = small_city.terrain_range
    assert found.hmin <= ground_lo and found.hmax >= ground_hi
    assert found.hmax >= small_city.hmax - 5  # the roofs too
    # the tie points' own heights are the scene's (the range is then clipped to the models' fitted heights)
    assert ground_lo - 3 <= found.observed[0] < found.observed[1] <= small_city.hmax + 3
    assert found.hmax - found.hmin < (small_city.hmax - small_city.hmin) + 60
    assert found.points >= 50 and "tie points" in found.describe()


def test_no_stereo_base_and_no_overlap_are_refused(small_city):
    fwd, bwd = city_pair(small_city)
    grid = GroundGrid.like(small_city.image("date1", "ortho"))
    with pytest.raises(InvalidInputError, match="no stereo base"):
        derive_height_range(fwd, fwd, grid)
    minx, miny, maxx, maxy = grid.bounds
    away = GroundGrid.from_bounds((minx + 5000, miny, maxx + 5000, maxy), grid.crs, grid.gsd)
    with pytest.raises(NoOverlapError, match=r"is outside pan_fwd\.tif"):
        derive_height_range(fwd, bwd, away)


def test_too_few_tie_points_say_what_to_do(small_city, tmp_path):
    flat = []
    for path in city_pair(small_city):  # the same geometry, no texture
        with rasterio.open(path) as src:
            rpcs, shape = src.rpcs, (src.height, src.width)
        flat.append(write_raster(tmp_path / path.name, np.full(shape, 500, np.uint16), None, None, rpcs=rpcs,
                                 cog=False))
    with pytest.raises(InvalidInputError, match=r"only 0 tie points.*give native\.hmin and native\.hmax"):
        derive_height_range(*flat, GroundGrid.like(small_city.image("date1", "ortho")))


def test_dsm_step_derives_the_heights_it_searches(small_city, tmp_path):
    said = []
    cfg = RunConfig.model_validate({
        "output": str(tmp_path / "run"), "tile_size": 100, "cluster": {"kind": "synchronous"},
        "grid": {"like": str(small_city.image("date1", "ortho"))},
        "inputs": {"fwd": str(small_city.image("date1", "pan_fwd")), "bwd": str(small_city.image("date1", "pan_bwd"))},
        "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "fwd", "right": "bwd"}}],
    })
    result = run(cfg, progress=False, log=said.append)
    assert any("heights to search from" in line and "tie points" in line for line in said)
    dsm, _ = read_window(result.products["dsm.dsm"])
    truth, _ = read_window(small_city.truth("date1", "dsm"))
    ok = np.isfinite(dsm)
    assert ok.mean() > 0.5 and np.median(np.abs(dsm[ok] - truth[ok])) < 1.0


def pleiades_grid(images, size_m: float = 300.0) -> GroundGrid:
    w, s, e, n = centre_box(images, size_m, size_m)
    epsg = utm_epsg((w + e) / 2, (s + n) / 2)
    to_map = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    (x0, x1), (y0, y1) = to_map.transform([w, e], [s, n])
    return GroundGrid.from_bounds((x0, y0, x1, y1), f"EPSG:{epsg}", 0.5)


@pytest.mark.realdata
@pytest.mark.parametrize("site,left,right", [("gizeh", "img1", "img2"),
                                             ("kahramanmaras", "pre_event_img1", "pre_event_img2")])
def test_real_pleiades_pairs_give_a_plausible_range(site, left, right):
    """No CARS reference DSM is kept with the data: the range must lie in the models' heights and be narrow."""
    images = [shared_data("pleiades", site, f"{name}.tif") for name in (left, right)]
    found = derive_height_range(*images, pleiades_grid(images))
    rpc = read_sensor(images[0]).rpc
    assert rpc.height_off - rpc.height_scale <= found.hmin < found.hmax <= rpc.height_off + rpc.height_scale
    assert found.hmax - found.hmin < 500.0 and found.points >= 100
