import numpy as np

from ai4geo_lab.terrain.algo import fill_nodata, morphological_dtm, ndsm


def synthetic(gsd=1.0, n=300, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] * gsd
    ground = 120 + 0.05 * x - 0.03 * y + 3 * np.sin(x / 60) + 2 * np.cos(y / 45)
    dsm = ground.copy()
    boxes = []
    cells = [(r, c) for r in range(0, n - 50, 75) for c in range(0, n - 50, 75)]
    for r0, c0 in cells:  # one building per 75 m cell, up to 40 m wide
        w, h = rng.integers(10, 40, 2)
        r, c = r0 + rng.integers(0, 75 - h), c0 + rng.integers(0, 75 - w)
        height = rng.uniform(10, 40)
        dsm[r:r + h, c:c + w] = ground[r:r + h, c:c + w] + height
        boxes.append((slice(r, r + h), slice(c, c + w), height))
    noise = rng.normal(0, 0.1, dsm.shape)
    return ground.astype(np.float32), (dsm + noise).astype(np.float32), boxes


def test_dtm_follows_the_terrain_under_buildings():
    ground, dsm, boxes = synthetic()
    dtm = morphological_dtm(dsm, 1.0, max_object_size_m=60)
    assert np.sqrt(np.mean((dtm - ground) ** 2)) < 1.0
    assert (dtm <= dsm + 1e-4).all()
    h = ndsm(dsm, dtm)
    for rs, cs, height in boxes:
        assert abs(np.median(h[rs, cs]) - height) < 1.0


def test_low_outliers_do_not_sink_the_dtm():
    ground, dsm, _ = synthetic(seed=1)
    rng = np.random.default_rng(5)
    spikes = rng.random(dsm.shape) < 0.01
    dsm = dsm.copy()
    dsm[spikes] -= 15  # sparse matching blunders
    dtm = morphological_dtm(dsm, 1.0)
    assert np.median(np.abs(dtm - ground)[~spikes]) < 0.5


def test_nan_preserved_and_filled():
    _, dsm, _ = synthetic(n=120)
    dsm = dsm.copy()
    dsm[50:60, 50:60] = np.nan
    dtm = morphological_dtm(dsm, 1.0)
    assert np.isnan(dtm[50:60, 50:60]).all() and np.isfinite(dtm[:50]).all()
    filled = fill_nodata(dsm)
    assert np.isfinite(filled).all()
    assert filled[55, 50] == dsm[55, 49] or filled[55, 50] == dsm[49, 50]
    assert np.isnan(fill_nodata(dsm, max_distance_px=2)[55, 55])


def test_ndsm_clips_at_zero():
    assert ndsm(np.array([[1.0, 5.0, np.nan]]), np.array([[2.0, 1.0, 0.0]])).tolist()[0][:2] == [0.0, 4.0]


def hill_with_buildings(n=300, seed=0):
    """A 25 m hill on a slope with a building every 60 m, some on its flanks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n].astype(float)
    ground = 100 + 25 * np.exp(-((x - 150) ** 2 + (y - 150) ** 2) / (2 * 50**2)) + 0.03 * x
    dsm = ground.copy()
    boxes = []
    for r0 in range(5, n - 45, 60):
        for c0 in range(5, n - 45, 60):
            if abs(r0 + 20 - 150) < 30 and abs(c0 + 20 - 150) < 30:
                continue  # the hill top itself stays bare
            w, h = rng.integers(12, 40, 2)
            r, c = r0 + rng.integers(0, 15), c0 + rng.integers(0, 15)
            height = rng.uniform(4, 30)
            dsm[r:r + h, c:c + w] += height
            boxes.append((np.s_[r:r + h, c:c + w], height))
    dsm += rng.normal(0, 0.1, dsm.shape)
    return ground.astype(np.float32), dsm.astype(np.float32), boxes


def test_hill_top_is_not_cut():
    """A plain opening flattens the hill top; the slope test puts it back and keeps the buildings out."""
    ground, dsm, boxes = hill_with_buildings()
    plain = morphological_dtm(dsm, 1.0, slope_tolerance=0)
    dtm = morphological_dtm(dsm, 1.0)
    assert ground[150, 150] - plain[150, 150] > 3
    assert abs(dtm[150, 150] - ground[150, 150]) < 1
    assert np.sqrt(np.mean((dtm - ground) ** 2)) < 0.5
    h = ndsm(dsm, dtm)
    errors = [abs(np.median(h[box]) - height) for box, height in boxes]
    assert np.median(errors) < 0.5 and max(errors) < 1.5
