"""2D change (index differences, Otsu, change vectors) and breaks along a time series, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ai4geo_lab.change.breaks import BreakParams, design_matrix, detect_breaks, fit_harmonic
from ai4geo_lab.change.spectral import (
    change_vector,
    clean_mask,
    from_to,
    from_to_table,
    index_difference,
    otsu_threshold,
    threshold_change,
)
from ai4geo_lab.errors import ConfigError, InvalidInputError

BANDS = ["red", "green", "blue", "nir"]


def test_otsu_splits_two_modes():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0.0, 0.05, 9000), rng.normal(1.0, 0.05, 1000), [np.nan]])
    t = otsu_threshold(v)
    assert 0.3 < t < 0.7
    assert otsu_threshold(np.full(10, 2.0)) == 2.0
    with pytest.raises(InvalidInputError):
        otsu_threshold(np.array([np.nan]))


def pair(seed=0):
    rng = np.random.default_rng(seed)
    grass = np.array([0.06, 0.10, 0.05, 0.40], np.float32)
    soil = np.array([0.24, 0.18, 0.12, 0.30], np.float32)
    before = np.broadcast_to(grass[:, None, None], (4, 60, 60)).copy()
    after = before.copy()
    after[:, 10:30, 10:30] = soil[:, None, None]            # vegetation lost
    before[:, 40:50, 40:55] = soil[:, None, None]           # vegetation gained
    before *= rng.uniform(0.95, 1.05, before.shape).astype(np.float32)
    after *= rng.uniform(0.95, 1.05, after.shape).astype(np.float32)
    return before, after


def test_ndvi_difference_and_thresholds_find_the_changes():
    before, after = pair()
    d = index_difference(before, after, BANDS, "ndvi")
    assert d[20, 20] < -0.3 and d[45, 45] > 0.3 and abs(d[0, 0]) < 0.1
    truth_loss = np.zeros(d.shape, bool)
    truth_loss[10:30, 10:30] = True
    loss, t = threshold_change(d, "decrease")
    assert t > 0.1 and (clean_mask(loss) == truth_loss).all()
    both, _ = threshold_change(d, "both")
    assert both[45, 45] and both[20, 20] and both.sum() == 400 + 150
    fixed, t = threshold_change(d, "increase", threshold=0.5)
    assert t == 0.5 and fixed[45, 45] and not fixed[20, 20]
    sigma, _ = threshold_change(d, "both", method="sigma", k=5)
    assert sigma[20, 20] and not sigma[0, 0]
    nir = index_difference(before, after, BANDS, "nir")  # a band works too
    assert nir[20, 20] < 0
    with pytest.raises(ConfigError):
        threshold_change(d, "sideways")


def test_change_vector_and_cleaning():
    before, after = pair(1)
    mag = change_vector(before, after)
    mask, _ = threshold_change(mag, "increase")
    assert clean_mask(mask)[10:30, 10:30].all() and clean_mask(mask)[40:50, 40:55].all()
    assert clean_mask(mask).sum() == 550
    speck = np.zeros((20, 20), bool)
    speck[5, 5] = speck[10:16, 10:16] = True
    assert clean_mask(speck, min_area_px=10).sum() == 36


def test_post_classification_transitions():
    b = np.array([[2, 2, 3], [3, 0, 8]], np.uint8)
    a = np.array([[2, 8, 3], [2, 8, 8]], np.uint8)
    codes = from_to(b, a)
    assert codes.tolist() == [[0, 2 * 256 + 8, 0], [3 * 256 + 2, 0, 0]]
    rows = from_to_table(codes, {2: "forest", 3: "grassland", 8: "artificial surface"})
    assert {(r["from_name"], r["to_name"], r["pixels"]) for r in rows} == {("forest", "artificial surface", 1),
                                                                         ("grassland", "forest", 1)}


def seasonal_series(n_px=200, break_day=500.0, drop=0.4, seed=0):
    """NDVI-like series: a seasonal cycle + noise; the first 60 pixels drop by ``drop`` at break_day."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 900, 70))
    season = 0.55 + 0.2 * np.cos(2 * np.pi * (times - 200) / 365.25)
    y = season[:, None] + rng.normal(0, 0.03, (70, n_px))
    y[times >= break_day, :60] -= drop
    valid = rng.random(y.shape) > 0.4                      # 40 % clouds
    y[~valid & (rng.random(y.shape) > 0.5)] = 0.05         # some clouds left in the data, masked
    return times, y.reshape(70, 10, n_px // 10), valid.reshape(70, 10, n_px // 10)


def test_harmonic_fit_recovers_coefficients():
    times = np.linspace(0, 730, 40)
    X = design_matrix(times, harmonics=1, trend=True)
    coef = np.array([0.5, 0.1, 0.2, -0.1])
    y = (X @ coef)[:, None] * np.ones((1, 3))
    valid = np.ones(y.shape, bool)
    valid[::3, 1] = False
    got, sigma, n = fit_harmonic(y, valid, X)
    np.testing.assert_allclose(got, np.tile(coef, (3, 1)), atol=1e-8)
    assert (sigma < 1e-6).all() and n.tolist() == [40, 26, 40]


def test_breaks_are_found_at_the_right_time_and_not_elsewhere():
    times, y, valid = seasonal_series()
    res = detect_breaks(y, times, valid, BreakParams(history_end=400.0))
    flat = res.breaks.reshape(-1)
    changed = np.zeros(flat.size, bool)
    changed[:60] = True
    assert res.decided.all()
    # a 5-10 % false-alarm rate is what a 19-observation history allows (its σ is itself uncertain)
    assert flat[changed].mean() >= 0.95 and flat[~changed].mean() <= 0.1
    # the break is dated at the first clear observation after it (for nearly every pixel)
    v = valid.reshape(70, -1)
    first_after = np.array([np.flatnonzero(v[:, p] & (times >= 500))[0] for p in range(60)])
    assert np.mean(res.index.reshape(-1)[:60] == first_after) > 0.9
    assert np.nanmedian(res.magnitude.reshape(-1)[changed]) == pytest.approx(-0.4, abs=0.05)
    up = detect_breaks(y, times, valid, BreakParams(history_end=400.0, direction="increase"))
    assert up.breaks.mean() < 0.05
    # a date on which the whole scene darkens (haze, snow) is not a break
    hazy = y.copy()
    hazy[np.argmax(times > 600)] -= 0.5
    hazy[np.argmax(times > 700)] -= 0.5
    res2 = detect_breaks(hazy, times, valid, BreakParams(history_end=400.0))
    assert res2.breaks.reshape(-1)[~changed].mean() <= 0.1
    no_check = detect_breaks(hazy, times, valid, BreakParams(history_end=400.0, scene_check=None))
    assert no_check.breaks.reshape(-1)[~changed].mean() > 0.3
    with pytest.raises(ConfigError, match="no history"):
        detect_breaks(y, times, valid, BreakParams(history_end=-1.0))
    none = detect_breaks(y, times, np.zeros_like(valid), BreakParams(history_end=400.0))
    assert not none.decided.any() and not none.breaks.any()


@pytest.mark.slow
def test_breaks_step_in_the_chain(tmp_path):
    """A dated NDVI series on disk (one GeoTIFF per date, listed in a YAML file) through the `breaks` step."""
    import datetime as dt

    import geopandas as gpd
    import rasterio
    from affine import Affine

    from ai4geo_lab.geo.raster import write_raster
    from ai4geo_lab.pipeline import RunConfig, run

    times, y, valid = seasonal_series(n_px=200, seed=3)   # (70, 10, 20); pixels 0–59 (rows 0–2) drop at day 500
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    transform = Affine(10.0, 0, 500_000, 0, -10.0, 5_000_000)
    lines = ["images:"]
    for k, t in enumerate(times):
        when = start + dt.timedelta(days=float(t))
        path = write_raster(tmp_path / f"ndvi_{k:02d}.tif", y[k].astype(np.float32), transform, "EPSG:32633",
                            nodata=-9999.0, cog=False)
        mask = write_raster(tmp_path / f"clear_{k:02d}.tif", valid[k].astype(np.uint8), transform, "EPSG:32633",
                            cog=False)
        lines.append(f"  - {{path: {path.name}, datetime: '{when.isoformat()}', mask: {mask.name}}}")
    (tmp_path / "series.yaml").write_text("\n".join(lines) + "\n")
    config = RunConfig.model_validate({
        "output": str(tmp_path / "out"), "tile_size": 64, "grid": {"like": str(tmp_path / "ndvi_00.tif")},
        "cluster": {"kind": "synchronous"}, "inputs": {"series": str(tmp_path / "series.yaml")},
        "steps": [{"id": "brk", "step": "breaks", "inputs": {"series": "series"},
                   "params": {"history_end": (start + dt.timedelta(days=400)).date().isoformat()}}]})
    result = run(config, progress=False, log=lambda m: None)
    with rasterio.open(result.products["brk.breaks"]) as src:
        flag, days, magnitude = src.read()
        assert list(src.descriptions) == ["break", "days", "magnitude"]
    assert flag[:3].mean() >= 0.95 and flag[3:].mean() <= 0.1
    assert np.nanmedian(days[:3]) == pytest.approx(500, abs=40) and np.nanmedian(magnitude[:3]) < -0.3
    polys = gpd.read_file(result.products["brk.polygons"])
    big = polys.loc[polys.area.idxmax()]
    assert big.geometry.area >= 0.9 * 60 * 100 and big["date"].startswith("2021-05")  # day ~500 after 2020-01-01
