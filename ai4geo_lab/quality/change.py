"""Scores of change products: changed buildings as objects, change masks as pixels."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np

from ai4geo_lab.metrics import binary_scores, match_polygons

#: Per-building change labels → the names of the change legend (:data:`~ai4geo_lab.change.classes.CHANGE_CLASSES`).
BUILDING_CHANGE_NAMES = {"demolished": "demolished building", "new": "new building", "raised": "raised building"}


def _f1(tp: int, n_pred: int, n_ref: int) -> float:
    return 2 * tp / (n_pred + n_ref) if n_pred + n_ref else math.nan


def building_change_scores(pred: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, min_iou: float = 0.5,
                           pred_col: str = "change", truth_col: str = "change") -> dict[str, Any]:
    """Object precision/recall/F1 of changed buildings against a reference of changed objects.

    ``pred`` rows whose ``pred_col`` is demolished/new/raised (``lowered`` counts as a demolition: a partial
    collapse) are matched one-to-one to ``truth`` rows naming a building change (``demolished building``…),
    greedily by IoU ≥ ``min_iou``; a match counts when both name the same change. Returns the scores over all
    changed buildings (``f1``…) and per change type (``per_change``).
    """
    names = BUILDING_CHANGE_NAMES | {"lowered": "demolished building"}
    p = pred[pred[pred_col].isin(list(names))].copy()
    p["_label"] = p[pred_col].map(names)
    t = truth[truth[truth_col].isin(list(BUILDING_CHANGE_NAMES.values()))].copy()
    t["_label"] = t[truth_col]
    p = p.reset_index(drop=True)
    t = t.reset_index(drop=True)
    m = match_polygons(p, t, min_iou)
    same = m[p.loc[m["pred"], "_label"].to_numpy() == t.loc[m["ref"], "_label"].to_numpy()] if len(m) else m
    out: dict[str, Any] = {"n_pred": len(p), "n_ref": len(t), "n_matched": len(m), "n_correct": len(same),
                           "precision": len(same) / len(p) if len(p) else math.nan,
                           "recall": len(same) / len(t) if len(t) else math.nan,
                           "f1": _f1(len(same), len(p), len(t)), "per_change": {}}
    for label in BUILDING_CHANGE_NAMES.values():
        np_, nr = int((p["_label"] == label).sum()), int((t["_label"] == label).sum())
        tp = int((t.loc[same["ref"], "_label"] == label).sum()) if len(same) else 0
        out["per_change"][label] = {"f1": _f1(tp, np_, nr), "n_pred": np_, "n_ref": nr, "tp": tp}
    if len(same) and "volume_change_m3" in p.columns:
        out["matched_volume_change_m3"] = float(p.loc[same["pred"], "volume_change_m3"].sum())
    return out


def change_mask_scores(pred: np.ndarray, truth_classes: np.ndarray, codes: list[int] | None = None,
                       valid: np.ndarray | None = None) -> dict[str, Any]:
    """Pixel IoU/F1/precision/recall of a binary change mask against the change classes ``codes`` of a truth."""
    ref = np.isin(truth_classes, codes) if codes is not None else np.asarray(truth_classes) > 0
    return binary_scores(np.asarray(pred) > 0, ref, valid)
