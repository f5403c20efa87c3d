"""The sample city: deterministic, consistent geometry (RPC ↔ rendering ↔ truth), complete truth and catalogue."""

from __future__ import annotations

import numpy as np
import pystac
import pytest
from pyproj import Transformer

from ai4geo_lab.errors import ConfigError, OutputNotWritableError
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.sensor import read_rpc
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.sample import make_sample_city
from ai4geo_lab.sample.render import affine_view, ortho_reflectance, render_view
from ai4geo_lab.sample.scene import CODES, CRS, make_scene, roof_surface

TO_LL = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def pixel_index(scene, x, y):
    t = scene.transform
    rows = np.clip(((y - t.f) / t.e).astype(int), 0, scene.shape[0] - 1)
    cols = np.clip(((x - t.c) / t.a).astype(int), 0, scene.shape[1] - 1)
    return rows, cols


@pytest.fixture(scope="module")
def scene_and_views():
    rng = np.random.default_rng(11)
    scene, _ = make_scene(rng, 200.0, 0.5)
    refl = ortho_reflectance(scene, rng)
    hmin, hmax = float(scene.dsm.min()) - 2, float(scene.dsm.max()) + 2
    views = {a: affine_view(scene.transform, scene.shape, hmin, hmax, a, str(a)) for a in (8.0, -8.0)}
    renders = {a: render_view(scene, refl, v, rng) for a, v in views.items()}
    return scene, views, renders


def test_same_seed_same_city_other_seed_other_city(tmp_path, small_city):
    again = make_sample_city(tmp_path / "again", seed=3, size_m=200.0, gsd=1.0)
    other = make_sample_city(tmp_path / "other", seed=4, size_m=200.0, gsd=1.0)
    for name in ("dsm", "landcover"):
        a = read_window(small_city.truth("date1", name))[0]
        np.testing.assert_array_equal(a, read_window(again.truth("date1", name))[0])
        assert not np.array_equal(a, read_window(other.truth("date1", name))[0])
    np.testing.assert_array_equal(read_window(small_city.image("date2", "pan_fwd"))[0],
                                  read_window(again.image("date2", "pan_fwd"))[0])


def test_rendered_pixels_reproject_through_the_rpc(scene_and_views):
    """Every 3D point the renderer saw projects, through the RPC, onto the pixel that shows it."""
    scene, views, renders = scene_and_views
    for angle, view in views.items():
        r = renders[angle]
        ok = np.isfinite(r.hit_x)
        assert ok.mean() > 0.9
        lon, lat = TO_LL.transform(r.hit_x[ok], r.hit_y[ok])
        rows, cols = view.rpc.project(lon, lat, r.hit_h[ok])
        rr, cc = np.nonzero(ok)
        assert np.abs(rows - rr).max() < 0.5 and np.abs(cols - cc).max() < 0.5
        # the hit points lie on the truth surface (roofs and ground; walls are vertical)
        dsm_at = scene.dsm[pixel_index(scene, r.hit_x[ok], r.hit_y[ok])]
        flat = ~r.wall[ok]
        assert np.median(np.abs(dsm_at[flat] - r.hit_h[ok][flat])) < 0.3


def test_truth_roof_points_land_on_their_roof_in_both_views(scene_and_views):
    """Truth 3D points (centres of roofs) projected through each RPC land where the image shows that roof."""
    scene, views, renders = scene_and_views
    checked = 0
    for b in scene.buildings:
        x, y = b.polygon.representative_point().coords[0]
        z = scene.building_base[b.building_id] + b.eave_height + float(roof_surface(b, np.array(x), np.array(y)))
        lon, lat = TO_LL.transform(x, y)
        for angle, view in views.items():
            row, col = (float(v) for v in view.rpc.project(lon, lat, z))
            r = renders[angle]
            i, j = round(row), round(col)
            if not (0 <= i < r.hit_x.shape[0] and 0 <= j < r.hit_x.shape[1]) or np.isnan(r.hit_x[i, j]):
                continue
            if abs(r.hit_h[i, j] - z) > 1.0:  # hidden behind a taller building in this view
                continue
            # the pixel shows a point of this roof within half a pixel (0.25 m) of the truth point
            gap = np.hypot(r.hit_x[i, j] - x, r.hit_y[i, j] - y)
            expected = np.hypot(i - row, j - col) * 0.5
            assert gap <= expected + 0.5 * 0.5 * np.sqrt(2), (b.building_id, angle, gap)
            checked += 1
    assert checked >= len(scene.buildings)


def test_views_differ_by_occlusion(scene_and_views):
    """Some ground seen in one view is hidden in the other (behind buildings)."""
    scene, _, renders = scene_and_views
    seen = {}
    for angle, r in renders.items():
        ok = np.isfinite(r.hit_x) & ~r.wall
        mask = np.zeros(scene.shape, bool)
        mask[pixel_index(scene, r.hit_x[ok], r.hit_y[ok])] = True
        seen[angle] = mask
    only_fwd, only_bwd = seen[8.0] & ~seen[-8.0], seen[-8.0] & ~seen[8.0]
    assert only_fwd.sum() > 50 and only_bwd.sum() > 50
    assert all(r.wall.sum() > 50 for r in renders.values())  # facades are visible


def test_truth_is_consistent(small_city):
    lc = read_window(small_city.truth("date1", "landcover"), dtype="uint8")[0]
    dsm = read_window(small_city.truth("date1", "dsm"))[0]
    dtm = read_window(small_city.truth("date1", "dtm"))[0]
    b = read_vector(small_city.truth("date1", "buildings"))
    assert {"building_id", "height", "roof_type", "base_elevation", "shape"} <= set(b.columns)
    assert b["height"].between(3, 75).all()
    assert len(np.unique(lc[lc > 0])) >= 5
    from rasterio.features import rasterize

    with __import__("rasterio").open(small_city.truth("date1", "dsm")) as src:
        burned = rasterize(((g, i) for g, i in zip(b.geometry, b.building_id, strict=True)), out_shape=src.shape,
                           transform=src.transform)
    assert np.array_equal(burned > 0, lc == CODES["building"])
    for _, row in b.iterrows():
        inside = burned == row.building_id
        if inside.any():
            assert (dsm - dtm)[inside].max() == pytest.approx(row.height, abs=1.0)
    assert (dsm >= dtm - 1e-3).all()


def test_second_date_changes(small_city):
    change = read_window(small_city.change_raster, dtype="uint8")[0]
    assert set(np.unique(change)) >= {0, 1, 2, 3, 4}
    cv = read_vector(small_city.change_vector)
    before = read_vector(small_city.truth("date1", "buildings"))
    after = read_vector(small_city.truth("date2", "buildings"))
    demolished = {int(s.split("-")[1]) for s in cv.loc[cv["code"] == 1, "object_id"]}
    assert demolished and not demolished & set(after.building_id)
    assert demolished <= set(before.building_id)
    raised = {int(s.split("-")[1]) for s in cv.loc[cv["code"] == 3, "object_id"]}
    h0, h1 = before.set_index("building_id").height, after.set_index("building_id").height
    assert all(h1[i] - h0[i] >= 6 for i in raised)


def test_catalogue(small_city):
    cat = pystac.Catalog.from_file(str(small_city.catalog))
    items = list(cat.get_items(recursive=True))
    pan = [i for i in items if i.id.startswith("pan-stereo")]
    assert {i.datetime.year for i in pan} == {2024, 2025}
    assert all(0 <= i.properties["eo:cloud_cover"] <= 30 for i in pan)
    for item in items:
        for asset in item.assets.values():
            assert (small_city.catalog.parent / asset.href).resolve().exists() or \
                __import__("pathlib").Path(asset.get_absolute_href()).exists()
    rpc = read_rpc(small_city.image("date1", "pan_fwd"))
    assert rpc.line_num[3] != 0  # the view sees height


@pytest.mark.parametrize("kwargs", [{"gsd": -1}, {"gsd": 10}, {"size_m": 50}, {"size_m": 5000, "gsd": 0.5},
                                    {"seed": -2}])
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        make_sample_city(tmp_path / "c", **kwargs)
    assert not (tmp_path / "c").exists()


def test_refuses_to_overwrite(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    with pytest.raises(OutputNotWritableError, match="not empty"):
        make_sample_city(tmp_path / "c", size_m=100, gsd=2)
    assert (tmp_path / "c" / "keep.txt").read_text() == "mine"
