"""Max tangent-angle error and polygon_scores on outlines with known differences."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import affinity
from shapely.geometry import box

from ai4geo_lab.quality.polygons import max_tangent_angle_error, polygon_scores


def test_tangent_error_is_zero_for_the_same_outline_and_the_rotation_otherwise() -> None:
    a = box(0, 0, 40, 20)
    assert max_tangent_angle_error(a, a) == pytest.approx(0.0, abs=1e-6)
    # a small rotation about the centre: every edge turns by it
    assert max_tangent_angle_error(affinity.rotate(a, 7, origin="centroid"), a) == pytest.approx(7.0)
    # a chamfered corner: its 45° edge is the largest error
    chamfer = a.difference(affinity.rotate(box(36, 16, 44, 24), 45, origin=(40, 20)))
    assert max_tangent_angle_error(chamfer, a) == pytest.approx(45.0)


def test_polygon_scores_of_a_denser_outline() -> None:
    ref = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), box(50, 0, 60, 10)])
    dense = box(0, 0, 10, 10).segmentize(5)  # 8 vertices instead of 4, same shape
    pred = gpd.GeoDataFrame(geometry=[dense, box(50.5, 0, 60.5, 10)])
    s = polygon_scores(pred, ref)
    assert s["n_matched"] == 2 and s["n_ratio"] == pytest.approx(1.5)
    assert s["iou"] == pytest.approx((1.0 + 95 / 105) / 2)
    assert 0 < s["polis"] < 0.5 and s["c_iou"] < s["iou"]
