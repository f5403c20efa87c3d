"""Accuracy classes, polygon metrics, co-registration and error tables, with answers known in advance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely import affinity
from shapely.geometry import box

from ai4geo_lab.metrics import classification_scores, confusion_matrix, height_errors
from ai4geo_lab.quality.classes import NOT_ASSESSED, asprs_class, ce90, citygml_lod_class, le90
from ai4geo_lab.quality.coregistration import nuth_kaab
from ai4geo_lab.quality.polygons import orientation_error, pair_metrics, polis
from ai4geo_lab.quality.tables import height_table


def test_dsm_offset_by_one_metre():
    rng = np.random.default_rng(0)
    ref = rng.uniform(100, 150, (50, 50))
    e = height_errors(ref + 1.0, ref)
    assert e["bias"] == pytest.approx(1.0) and e["rmse"] == pytest.approx(1.0)
    assert e["nmad"] == pytest.approx(0.0, abs=1e-9) and e["le90"] == pytest.approx(1.0)
    assert asprs_class(e["rmse"]) == "ASPRS 2023 100-cm"
    assert le90(np.full(10, -2.0)) == pytest.approx(2.0)


def test_asprs_and_citygml_classes():
    assert asprs_class(0.05) == "ASPRS 2023 5-cm"
    assert asprs_class(0.051) == "ASPRS 2023 10-cm"
    assert asprs_class(5.0) == "beyond ASPRS 2023 333.3-cm"
    assert asprs_class(math.nan) == NOT_ASSESSED
    assert citygml_lod_class(1.5, 1.0) == "meets LOD2 accuracy (≤ 2 m)"
    assert citygml_lod_class(0.3, 0.4) == "meets LOD3 accuracy (≤ 0.5 m)"
    assert citygml_lod_class(6.0, 1.0).startswith("below LOD1")
    assert citygml_lod_class(math.nan, 1.0) == NOT_ASSESSED
    assert ce90(np.array([3.0] * 10), np.array([4.0] * 10)) == pytest.approx(5.0)


def test_checkerboard_classification():
    ref = np.ones((10, 10), np.uint8)
    pred = np.where((np.indices((10, 10)).sum(axis=0) % 2) == 0, 1, 2).astype(np.uint8)
    cm = confusion_matrix(pred, ref, [1, 2])
    assert cm.tolist() == [[50, 50], [0, 0]]
    s = classification_scores(pred, ref, [1, 2])
    assert s["overall_accuracy"] == pytest.approx(0.5)
    assert s["kappa"] == pytest.approx(0.0)


def test_square_and_rotated_square():
    a = box(0, 0, 10, 10)
    b = affinity.rotate(a, 45, origin="center")
    m = pair_metrics(b, a)
    assert m["iou"] == pytest.approx((2 * math.sqrt(2) - 2) / (2 - (2 * math.sqrt(2) - 2)), rel=1e-6)
    # each rotated corner lies 10/√2 − 5 from the square's boundary, and vice versa
    assert polis(a, b) == pytest.approx(10 / math.sqrt(2) - 5, rel=1e-6)
    assert m["orientation_error_deg"] == pytest.approx(45.0)
    assert m["n_ratio"] == 1.0 and m["c_iou"] == pytest.approx(m["iou"])


def test_shifted_square_and_vertex_counts():
    a = box(0, 0, 10, 10)
    assert polis(affinity.translate(a, 1, 0), a) == pytest.approx(0.5)
    octagon = a.buffer(1, quad_segs=2)  # 8+ vertices around the same square
    m = pair_metrics(octagon, a)
    n_oct = len(octagon.exterior.coords) - 1
    assert m["n_ratio"] == pytest.approx(n_oct / 4)
    assert m["c_iou"] == pytest.approx(m["iou"] * (1 - (n_oct - 4) / (n_oct + 4)))
    assert orientation_error(affinity.rotate(a, 10), a) == pytest.approx(10.0, abs=1e-6)


def test_nuth_kaab_recovers_a_known_shift():
    y, x = np.mgrid[0:300, 0:300] * 1.0
    north = -y

    def hill(e, n):
        return 50 * np.sin(e / 40) * np.cos(n / 55) + 0.3 * e

    ref = hill(x, north)
    dem = hill(x - 1.5, north - 0.7) + 2.0  # features 1.5 m east, 0.7 m north, 2 m up
    off = nuth_kaab(dem, ref, 1.0)
    assert off["dx_m"] == pytest.approx(1.5, abs=0.05) and off["dy_m"] == pytest.approx(0.7, abs=0.05)
    assert off["dz_m"] == pytest.approx(2.0, abs=0.05)
    assert math.isnan(nuth_kaab(np.zeros((20, 20)), np.zeros((20, 20)), 1.0)["dx_m"])  # flat: no slope to use


def test_height_table_by_slope_and_class():
    x = np.mgrid[0:100, 0:100][1] * 1.0
    ref = np.where(x < 50, 0.0, np.tan(np.radians(20)) * (x - 50))  # flat half, 20° half
    pred = ref + np.where(x < 50, 0.5, -1.0)
    lc = np.where(x < 50, 4, 5).astype(np.uint8)
    t = height_table(pred, ref, 1.0, lc, {4: ("grass", (0, 0, 0)), 5: ("bare soil", (0, 0, 0))})
    zones = t.set_index("zone")
    assert zones.loc["slope 0–5°", "bias_m"] == pytest.approx(0.5, abs=0.02)
    assert zones.loc["slope 15–30°", "bias_m"] == pytest.approx(-1.0, abs=0.02)
    assert zones.loc["land cover: bare soil", "rmse_m"] == pytest.approx(1.0)
    assert zones.loc["all", "n"] == 10000


def test_surface_zones_split_ground_roofs_and_the_wall_band():
    lc = np.full((60, 60), 2, np.uint8)  # road
    lc[20:40, 20:40] = 1  # a 20 m square building at 1 m/px
    lc[0:5, 0:5] = 3  # a tree
    ref = np.where(lc == 1, 10.0, 0.0)
    pred = ref.copy()
    pred[19:41, 19:41] = 10.0  # edge smeared outwards by one pixel
    pred[25:30, 25:30] = np.nan  # a hole on the roof
    pred[lc == 2] += 0.2
    t = height_table(pred, ref, 1.0, lc, None, wall_band_m=2.0).set_index("zone")
    # roofs: 16×16 px minus the hole, exact heights
    assert t.loc["surface: roofs", "n"] == 16 * 16 - 25
    assert t.loc["surface: roofs", "completeness"] == pytest.approx(1 - 25 / 256)
    assert t.loc["surface: roofs", "rmse_m"] == pytest.approx(0.0)
    # ground: away from the building (3 corner pixels of the 24 px box lie farther than 2 m) and the tree
    assert t.loc["surface: ground", "bias_m"] == pytest.approx(0.2)
    assert t.loc["surface: ground", "n"] == 60 * 60 - (24 * 24 - 4 * 3) - 25
    # the wall band holds the smeared edge: the first ring outside (84 of 308 px) is 10.2 m too high
    assert t.loc["surface: walls", "n"] == (20 * 20 - 16 * 16) + (24 * 24 - 4 * 3 - 20 * 20)
    assert t.loc["surface: walls", "le90_m"] == pytest.approx(10.2)
    assert t.loc["surface: roofs + ground", "n"] == t.loc["surface: roofs", "n"] + t.loc["surface: ground", "n"]
