"""footprint_heights: per-footprint statistics with hand-computed answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from ai4geo_lab.buildings.algo import footprint_heights, grouped_percentile
from ai4geo_lab.errors import InvalidInputError

#: 1 m pixels; pixel (row r, col c) covers x in [c, c+1], y in [10-r-1, 10-r]
T = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 10.0)


def test_grouped_percentile_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 6, size=(30, 30))
    values = rng.normal(size=(30, 30))
    values[rng.random((30, 30)) < 0.1] = np.nan
    for q in (0.0, 37.5, 50.0, 90.0, 100.0):
        got = grouped_percentile(labels, values, 7, q)
        for lab in range(1, 7):
            v = values[(labels == lab) & np.isfinite(values)]
            expected = np.percentile(v, q) if v.size else np.nan
            np.testing.assert_allclose(got[lab - 1], expected, equal_nan=True)
    assert np.isnan(got[5])  # label 6 does not occur


def test_heights_base_and_pixel_counts() -> None:
    ndsm = np.zeros((10, 10))
    dtm = np.full((10, 10), 100.0)
    # building A over cols 0..3, rows 0..1 (8 px): heights 1..8
    ndsm[0:2, 0:4] = np.arange(1, 9).reshape(2, 4)
    dtm[0:2, 0:4] = [[100, 101, 102, 103], [104, 105, 106, 107]]
    # building B over cols 5..9, rows 5..9 (25 px): 12 m with NaN holes, ground 50 m
    ndsm[5:10, 5:10] = 12.0
    ndsm[5, 5] = np.nan
    dtm[5:10, 5:10] = 50.0
    footprints = gpd.GeoDataFrame(
        {"name": ["A", "B", "tiny"]},
        geometry=[box(0, 8, 4, 10), box(5, 0, 10, 5), box(7.1, 8.1, 7.4, 8.4)], crs="EPSG:32631")
    out = footprint_heights(footprints, ndsm, dtm, T, percentile=90.0)
    assert list(out["name"]) == ["A", "B", "tiny"] and out.crs == footprints.crs
    assert out["n_pixels"].tolist() == [8, 25, 0]
    assert out["height"].iloc[0] == pytest.approx(np.percentile(np.arange(1, 9), 90))  # 7.3
    assert out["base_elevation"].iloc[0] == pytest.approx(103.5)
    assert out["height"].iloc[1] == pytest.approx(12.0)
    assert out["base_elevation"].iloc[1] == pytest.approx(50.0)
    assert np.isnan(out["height"].iloc[2]) and np.isnan(out["base_elevation"].iloc[2])
    assert "height" not in footprints.columns  # a copy


def test_empty_footprints_and_bad_shapes() -> None:
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs="EPSG:32631")
    out = footprint_heights(empty, np.zeros((4, 4)), np.zeros((4, 4)), T)
    assert {"height", "base_elevation", "n_pixels"} <= set(out.columns) and len(out) == 0
    with pytest.raises(InvalidInputError):
        footprint_heights(empty, np.zeros((4, 4)), np.zeros((4, 5)), T)


def test_blunders_above_the_roof_do_not_raise_the_height():
    ndsm = np.zeros((40, 40))
    ndsm[10:30, 10:30] = 12.0
    ndsm[10:30, 10:14] = 45.0  # 20 % of the roof: a taller neighbour's facade matched onto it
    fp = gpd.GeoDataFrame(geometry=[box(10, 10, 30, 30)], crs="EPSG:32631")
    t = Affine(1, 0, 0, 0, -1, 40)
    assert footprint_heights(fp, ndsm, np.zeros_like(ndsm), t)["height"].iloc[0] == pytest.approx(12.0)
    raw = footprint_heights(fp, ndsm, np.zeros_like(ndsm), t, outlier_margin_m=None)["height"].iloc[0]
    assert raw == pytest.approx(45.0)
