"""Quality metrics on small inputs whose answers are computed by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.metrics import (
    binary_scores,
    classification_scores,
    confusion_matrix,
    height_errors,
    height_rmse,
    match_polygons,
    object_scores,
)


def test_height_errors_by_hand() -> None:
    ref = np.zeros((2, 3))
    ref[1, 2] = np.nan  # outside the domain
    pred = np.array([[1.0, -1.0, 2.0], [0.0, np.nan, 5.0]])
    e = height_errors(pred, ref)
    # errors 1, -1, 2, 0 over 5 reference pixels
    assert e["n"] == 4 and e["valid_fraction"] == pytest.approx(4 / 5)
    assert e["bias"] == pytest.approx(0.5)
    assert e["rmse"] == pytest.approx(math.sqrt(6 / 4))
    assert e["mae"] == pytest.approx(1.0)
    # median 0.5; |e − 0.5| = 0.5, 1.5, 1.5, 0.5 → median 1.0
    assert e["nmad"] == pytest.approx(1.4826)
    # |e| sorted 0, 1, 1, 2: 90th percentile at position 2.7 → 1 + 0.7
    assert e["le90"] == pytest.approx(1.7)


def test_height_errors_mask_and_empty() -> None:
    pred = np.array([[1.0, 10.0]])
    ref = np.zeros((1, 2))
    e = height_errors(pred, ref, mask=np.array([[True, False]]))
    assert e["n"] == 1 and e["rmse"] == 1.0 and e["valid_fraction"] == 1.0
    e = height_errors(np.full((2, 2), np.nan), np.zeros((2, 2)))
    assert e["n"] == 0 and e["valid_fraction"] == 0.0 and math.isnan(e["rmse"])
    with pytest.raises(InvalidInputError):
        height_errors(np.zeros(3), np.zeros(4))


def test_binary_scores_by_hand() -> None:
    pred = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)
    ref = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    s = binary_scores(pred, ref)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["iou"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert math.isnan(binary_scores(np.zeros(3), np.zeros(3))["iou"])
    s = binary_scores(pred, ref, valid=np.array([1, 1, 0, 0, 1, 1], dtype=bool))
    assert (s["tp"], s["fp"], s["fn"]) == (2, 0, 0)


def test_confusion_matrix_and_scores_by_hand() -> None:
    ref = np.array([1, 1, 1, 2, 2, 3, 0, 0])
    pred = np.array([1, 1, 2, 2, 2, 1, 3, 0])  # the last two have no reference: ignored
    cm = confusion_matrix(pred, ref, [1, 2, 3])
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 2, 0], [1, 0, 0]])
    s = classification_scores(pred, ref, [1, 2, 3])
    assert s["n"] == 6
    assert s["overall_accuracy"] == pytest.approx(4 / 6)
    pe = (3 * 3 + 2 * 3 + 1 * 0) / 36
    assert s["kappa"] == pytest.approx((4 / 6 - pe) / (1 - pe))
    c1 = s["per_class"][1]
    assert c1["precision"] == pytest.approx(2 / 3) and c1["recall"] == pytest.approx(2 / 3)
    assert c1["iou"] == pytest.approx(0.5) and c1["support"] == 3
    assert s["per_class"][2]["iou"] == pytest.approx(2 / 3)
    assert s["per_class"][3]["iou"] == 0.0
    assert s["mean_iou"] == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)
    assert s["confusion_matrix"] == cm.tolist()
    # class order follows ``classes``, not sorted order
    np.testing.assert_array_equal(confusion_matrix(pred, ref, [3, 1, 2]), [[0, 1, 0], [0, 2, 1], [0, 0, 2]])
    with pytest.raises(ConfigError):
        confusion_matrix(pred, ref, [])


def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    ref = gpd.GeoDataFrame({"height": [10.0, 20.0, 5.0]},
                           geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), box(50, 50, 55, 55)],
                           index=["r0", "r1", "r2"], crs="EPSG:32631")
    pred = gpd.GeoDataFrame({"height": [12.0, 19.0, 7.0, np.nan]},
                            geometry=[box(0, 0, 10, 8),      # IoU 0.8 with r0
                                      box(22, 0, 30, 10),    # IoU 0.8 with r1
                                      box(0, 8, 10, 10),     # IoU 0.2 with r0: below 0.5
                                      box(100, 100, 101, 101)],
                            index=[10, 11, 12, 13], crs="EPSG:32631")
    return pred, ref


def test_match_polygons_one_to_one() -> None:
    pred, ref = frames()
    m = match_polygons(pred, ref)
    assert list(m.columns) == ["pred", "ref", "iou"]
    assert sorted(zip(m["pred"], m["ref"], strict=True)) == [(10, "r0"), (11, "r1")]
    np.testing.assert_allclose(m["iou"], [0.8, 0.8])
    # at a low threshold, r0 still goes to its best candidate only
    m = match_polygons(pred, ref, min_iou=0.1)
    assert len(m) == 2 and 12 not in set(m["pred"])
    assert len(match_polygons(pred.iloc[:0], ref)) == 0


def test_greedy_matching_takes_the_best_pair_first() -> None:
    ref = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10)])
    pred = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 6), box(0, 0, 10, 9)])  # IoU 0.6 and 0.9
    m = match_polygons(pred, ref)
    assert m["pred"].tolist() == [1] and m["iou"].iloc[0] == pytest.approx(0.9)


def test_object_scores_and_height_rmse() -> None:
    pred, ref = frames()
    s = object_scores(pred, ref)
    assert (s["n_pred"], s["n_ref"], s["n_matched"]) == (4, 3, 2)
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(4 / 7) and s["mean_iou"] == pytest.approx(0.8)
    h = height_rmse(match_polygons(pred, ref), pred, ref)
    # errors +2 and −1
    assert h["n"] == 2 and h["bias"] == pytest.approx(0.5) and h["rmse"] == pytest.approx(math.sqrt(2.5))
    empty = height_rmse(pd.DataFrame({"pred": [], "ref": [], "iou": []}), pred, ref)
    assert empty["n"] == 0 and math.isnan(empty["rmse"])


def test_match_reprojects_the_reference() -> None:
    pred, ref = frames()
    ref_geo = ref.copy()
    ref_geo.geometry = ref_geo.geometry.translate(500_000, 4_000_000)
    pred_utm = pred.copy()
    pred_utm.geometry = pred_utm.geometry.translate(500_000, 4_000_000)
    m = match_polygons(pred_utm, ref_geo.to_crs("EPSG:4326"))
    assert len(m) == 2 and m["iou"].min() > 0.79
